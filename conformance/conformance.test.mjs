// Camunda's own TypeScript client, @camunda8/orchestration-cluster-api,
// against camundatest's emulated gateway, one release at a time: every
// answer the client receives is validated against the schemas it was
// generated from (CAMUNDA_SDK_VALIDATION strict, and fanatical where the
// spec is the client's own), a job worker built with the client's worker
// API runs jobs to completion, and the client's own backpressure handling
// must engage on the emulator's refusals. A test fails when the client
// rejects an answer.
//
// Run with `node --test` after `npm ci`; EBB_GATEWAY_BIN may name a built
// examples/gateway, otherwise it is built once per run.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { backpressureEvents, newClient, retryReasons, STRING_KEYS, validationWarnings } from './lib/client.mjs';
import { routeCounters, startGateway } from './lib/gateway.mjs';

const CLIENT_88 = 'camunda-client-8.8'; // @camunda8/orchestration-cluster-api 8.8.4
const CLIENT_9 = 'camunda-client-9'; // @camunda8/orchestration-cluster-api 9.1.5

const CREATE = '/v2/process-instances';
const ACTIVATE = '/v2/jobs/activation';

// What each emulated release refuses an overload with, per route: status,
// title, and a pattern the detail must match; and the reason the client
// must give for retrying it.
const tooMany = { status: 429, title: 'RESOURCE_EXHAUSTED', detail: /Reached maximum capacity/, reason: 'http-429' };
const exhausted = { status: 503, title: 'RESOURCE_EXHAUSTED', detail: /all retries have been exhausted|maximum capacity/, reason: 'backpressure-503' };
const inDetail = { status: 500, title: 'java.lang.RuntimeException', detail: /RESOURCE_EXHAUSTED/, reason: 'backpressure-500-detail' };

// The 8.6 and 8.7 answers lack members the 8.8 client's schemas require:
// these, and only these, may the 8.8 client report about them.
const ADDED_IN_88 = { getTopology: ['lastCompletedChangeId'], activateJobs: ['kind', 'listenerEventType'] };

const RELEASES = [
  { version: '8.6', pkg: CLIENT_88, legacy: true, refusals: { [CREATE]: tooMany, [ACTIVATE]: tooMany } },
  { version: '8.7', pkg: CLIENT_88, legacy: true, refusals: { [CREATE]: tooMany, [ACTIVATE]: tooMany } },
  { version: '8.8.0', pkg: CLIENT_88, refusals: { [CREATE]: exhausted, [ACTIVATE]: inDetail } },
  { version: '8.8.3', pkg: CLIENT_88, refusals: { [CREATE]: exhausted, [ACTIVATE]: exhausted } },
  { version: '8.9', pkg: CLIENT_9, refusals: { [CREATE]: exhausted, [ACTIVATE]: exhausted } },
  // No client is published for Camunda's main yet: the 9.x client checks
  // that 8.10's answers still satisfy the 8.9 schemas they extend.
  { version: '8.10', pkg: CLIENT_9, refusals: { [CREATE]: exhausted, [ACTIVATE]: exhausted } },
];

// The path of each issue of a validation error: "jobs.0.kind: ..." is
// jobs.0.kind.
const issuePaths = (issues) => issues.map((i) => i.split(':')[0]).sort();

// expectProblem awaits p, which must fail with an HTTP problem of status
// (and title, if given).
async function expectProblem(p, status, title) {
  await assert.rejects(p, (e) => {
    assert.equal(e.name, 'HttpSdkError', `${e.name}: ${e.message}`);
    assert.equal(e.status, status, `status of ${e.message}`);
    if (title) assert.equal(e.title, title);
    return true;
  });
}

// waitFor polls cond until it holds, for at most ms.
async function waitFor(cond, ms, what) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

for (const release of RELEASES) {
  const { version, pkg, legacy } = release;
  // The flow's client: strict validation both ways. An 8.6 or 8.7 answer
  // cannot pass the 8.8 client's strict response validation (see
  // ADDED_IN_88), so there the client asks for string keys, as it would
  // have to against a real 8.6 cluster, warns instead of failing, and the
  // warnings are checked.
  const flowOptions = legacy ? { validation: 'req:strict,res:warn', accept: STRING_KEYS } : { validation: 'strict' };
  const checkWarnings = (events) => {
    for (const w of validationWarnings(events)) {
      const allowed = ADDED_IN_88[w.op] ?? [];
      for (const path of issuePaths(w.issues)) {
        assert.ok(allowed.includes(path.split('.').at(-1)), `${w.op}: the 8.8 client rejects ${path} of the ${version} answer`);
      }
    }
  };

  describe(`Camunda ${version} emulation, client ${pkg}`, () => {
    let gw;
    before(async () => {
      gw = await startGateway(['-version', version, '-slots', '2', '-service-time', '5ms', '-process', 'order=ship']);
    });
    after(async () => {
      const counters = routeCounters(await gw.stop());
      // The flow stays within capacity: nothing is refused.
      for (const [route, c] of Object.entries(counters)) {
        assert.equal(c.backpressure, 0, `${route} refused during the flow`);
      }
    });

    const modes = legacy ? ['strict'] : ['strict', 'fanatical'];
    for (const mode of modes) {
      it(`answers pass the client's ${mode} validation: topology, create, activate`, async () => {
        const process = `answers-${mode}`;
        const { client, wire } = await newClient(pkg, gw.url, { validation: mode });
        if (legacy) {
          // As a real 8.6 cluster does, the emulator writes keys as
          // numbers, which the 8.8 client's strict validation rejects...
          const rejectsWith = async (p, op, paths) => {
            await assert.rejects(p, (e) => {
              assert.equal(e.name, 'ValidationSdkError', e.message);
              assert.deepEqual(issuePaths(e.issues), [...paths].sort(), `${op} issues`);
              return true;
            });
          };
          await rejectsWith(client.getTopology(), 'getTopology', ['lastCompletedChangeId']);
          await rejectsWith(client.createProcessInstance({ processDefinitionId: process }), 'createProcessInstance', ['processDefinitionKey', 'processInstanceKey']);
          await rejectsWith(client.activateJobs({ type: process, maxJobsToActivate: 1, timeout: 60000, requestTimeout: -1 }), 'activateJobs',
            ['jobs.0.elementInstanceKey', 'jobs.0.jobKey', 'jobs.0.kind', 'jobs.0.listenerEventType', 'jobs.0.processDefinitionKey', 'jobs.0.processInstanceKey']);
          // ...and with the string-keys media type asked for, the only
          // complaints left are the members 8.8 added.
          const s = await newClient(pkg, gw.url, { validation: mode, accept: STRING_KEYS });
          await rejectsWith(s.client.getTopology(), 'getTopology', ADDED_IN_88.getTopology);
          const created = await s.client.createProcessInstance({ processDefinitionId: process });
          assert.match(created.processInstanceKey, /^\d+$/);
          await rejectsWith(s.client.activateJobs({ type: process, maxJobsToActivate: 1, timeout: 60000, requestTimeout: -1 }), 'activateJobs',
            ['jobs.0.kind', 'jobs.0.listenerEventType']);
          return;
        }
        const topo = await client.getTopology();
        assert.equal(topo.brokers.length, 1);
        assert.equal(topo.gatewayVersion.slice(0, version.length), version);
        const created = await client.createProcessInstance({ processDefinitionId: process, variables: { orderId: 42 } });
        assert.equal(created.processDefinitionId, process);
        assert.match(created.processInstanceKey, /^\d+$/);
        const { jobs } = await client.activateJobs({ type: process, maxJobsToActivate: 5, timeout: 60000, requestTimeout: -1, worker: 'conformance' });
        assert.equal(jobs.length, 1);
        assert.equal(jobs[0].processInstanceKey, created.processInstanceKey);
        assert.deepEqual({ ...jobs[0].variables }, { orderId: 42 });
        if (mode === 'strict' && pkg === CLIENT_88) {
          // The 8.8 client in strict mode sends int64 fields as strings;
          // the gateway reads them as numbers, and so must the emulator.
          const activation = wire.requests.find((r) => r.path === ACTIVATE);
          assert.match(activation.body, /"timeout":"60000"/);
        }
      });
    }

    it('complete, fail and throw an error, with the 404 and 409 answers', async () => {
      const { client, wire, events } = await newClient(pkg, gw.url, flowOptions);
      for (let i = 0; i < 3; i++) await client.createProcessInstance({ processDefinitionId: 'commands' });
      const { jobs } = await client.activateJobs({ type: 'commands', maxJobsToActivate: 3, timeout: 60000, requestTimeout: -1 });
      assert.equal(jobs.length, 3);
      const [done, failed, errored] = jobs.map((j) => j.jobKey);

      await client.completeJob({ jobKey: done, variables: { ok: true } });
      await expectProblem(client.completeJob({ jobKey: done }), 404, 'NOT_FOUND');

      await client.failJob({ jobKey: failed, retries: 0, errorMessage: 'gave up', retryBackOff: 0 });
      await expectProblem(client.throwJobError({ jobKey: failed, errorCode: 'E' }), 409, 'INVALID_STATE');
      await expectProblem(client.completeJob({ jobKey: failed }), 409, 'INVALID_STATE');

      await client.throwJobError({ jobKey: errored, errorCode: 'NOT_IN_STOCK', errorMessage: 'sold out' });
      await expectProblem(client.throwJobError({ jobKey: errored, errorCode: 'E' }), 404, 'NOT_FOUND');
      await expectProblem(client.throwJobError({ jobKey: '2251799813699999', errorCode: 'E' }), 404, 'NOT_FOUND');

      // A failure with retries left and a back-off: the job comes back.
      await client.createProcessInstance({ processDefinitionId: 'retry' });
      const first = (await client.activateJobs({ type: 'retry', maxJobsToActivate: 1, timeout: 60000, requestTimeout: -1 })).jobs[0];
      await client.failJob({ jobKey: first.jobKey, retries: 2, errorMessage: 'flaky', retryBackOff: 50 });
      const again = (await client.activateJobs({ type: 'retry', maxJobsToActivate: 1, timeout: 60000, requestTimeout: 5000 })).jobs;
      assert.equal(again.length, 1);
      assert.equal(again[0].jobKey, first.jobKey);
      assert.equal(again[0].retries, 2);

      for (const p of wire.problems) {
        assert.equal(p.contentType, 'application/problem+json');
        for (const k of ['type', 'title', 'status', 'detail', 'instance']) assert.ok(p[k] !== undefined, `problem lacks ${k}: ${JSON.stringify(p)}`);
      }
      checkWarnings(events);
    });

    it('throwing an error answered 500 (forced) reaches the caller once, unretried', async () => {
      const forced = await startGateway(['-version', version, '-force', '/v2/jobs/{jobKey}/error=500']);
      try {
        const { client } = await newClient(pkg, forced.url, flowOptions);
        await expectProblem(client.throwJobError({ jobKey: '2251799813685252', errorCode: 'E' }), 500, 'java.lang.IllegalStateException');
      } finally {
        const counters = routeCounters(await forced.stop());
        assert.equal(counters['/v2/jobs/{jobKey}/error'].requests, 1);
        assert.equal(counters['/v2/jobs/{jobKey}/error'].forced, 1);
      }
    });

    it("a job worker built with the client's worker API completes every job", async () => {
      const { client, events } = await newClient(pkg, gw.url, flowOptions);
      const handled = new Set();
      const worker = client.createJobWorker({
        jobType: 'ship',
        maxParallelJobs: 4,
        jobTimeoutMs: 30000,
        pollTimeoutMs: 1000,
        pollIntervalMs: 10,
        autoStart: true,
        jobHandler: (job) => {
          handled.add(job.jobKey);
          return job.complete({ variables: { shipped: true } });
        },
      });
      try {
        const keys = [];
        for (let i = 0; i < 6; i++) keys.push((await client.createProcessInstance({ processDefinitionId: 'order' })).processInstanceKey);
        await waitFor(() => handled.size === 6, 15000, 'the worker to handle 6 jobs');
      } finally {
        await worker.stopGracefully({ waitUpToMs: 5000 });
      }
      const left = await client.activateJobs({ type: 'ship', maxJobsToActivate: 10, timeout: 1000, requestTimeout: -1 });
      assert.equal(left.jobs.length, 0, 'jobs left uncompleted');
      checkWarnings(events);
    });

    it("an overload is refused in the release's shape, and the client's backpressure handling engages", async (t) => {
      const small = await startGateway(['-version', version, '-slots', '2', '-service-time', '20ms']);
      // One client creates instances, another activates jobs, at once:
      // each starts ungated, so its first wave overloads the gateway's two
      // slots on its route whatever the other does.
      const loads = {
        [CREATE]: { n: 60, call: (c) => c.createProcessInstance({ processDefinitionId: 'load' }) },
        [ACTIVATE]: { n: 30, call: (c) => c.activateJobs({ type: 'nothing', maxJobsToActivate: 1, timeout: 1000, requestTimeout: -1 }) },
      };
      let counters;
      try {
        await Promise.all(Object.values(loads).map(async (load) => {
          load.client = await newClient(pkg, small.url, flowOptions);
          load.results = await Promise.allSettled(Array.from({ length: load.n }, () => load.call(load.client.client)));
        }));
      } finally {
        counters = routeCounters(await small.stop());
      }
      for (const [route, load] of Object.entries(loads)) {
        const want = release.refusals[route];
        const { client, wire, events } = load.client;
        const state = client.getBackpressureState();
        const reasons = retryReasons(events);
        const bp = backpressureEvents(events);
        const shapes = {};
        for (const p of wire.problems) shapes[`${p.status} ${p.title}`] = (shapes[`${p.status} ${p.title}`] ?? 0) + 1;
        const failures = load.results.filter((r) => r.status === 'rejected').map((r) => r.reason);
        t.diagnostic(`${version} ${route}: ${load.n - failures.length}/${load.n} calls succeeded; refusals seen ${JSON.stringify(shapes)} ` +
          `(gateway counted ${counters[route].backpressure}); client retries ${JSON.stringify(reasons)}; ` +
          `backpressure events ${JSON.stringify(bp)}; final state ${JSON.stringify(state)}`);

        // Every answer but success was the release's backpressure answer,
        // and the client retried it for the reason it gives backpressure.
        assert.ok(wire.problems.length > 0, `no refusal on ${route}`);
        for (const p of wire.problems) {
          assert.equal(p.instance, route, JSON.stringify(p));
          assert.equal(p.status, want.status, JSON.stringify(p));
          assert.equal(p.title, want.title, JSON.stringify(p));
          assert.match(p.detail, want.detail);
        }
        assert.ok(reasons[want.reason] > 0, `no retry for ${want.reason}: ${JSON.stringify(reasons)}`);
        for (const reason of Object.keys(reasons)) assert.equal(reason, want.reason, JSON.stringify(reasons));
        // Its adaptive limiter engaged: permits lowered, state no longer
        // healthy.
        assert.ok(bp['backpressure.permits.scale'] > 0, JSON.stringify(bp));
        assert.ok(bp['backpressure.severity'] > 0, JSON.stringify(bp));
        assert.notEqual(state.permitsMax, null);
        // What the client gave up on after its attempts is backpressure,
        // never an answer it rejected.
        for (const e of failures) assert.equal(e.name, 'HttpSdkError', `${e.name}: ${e.message}`);
        checkWarnings(events);
      }
      assert.equal(counters[CREATE].backpressure + counters[ACTIVATE].backpressure,
        loads[CREATE].client.wire.problems.length + loads[ACTIVATE].client.wire.problems.length, 'refusals the clients did not see');
    });
  });
}
