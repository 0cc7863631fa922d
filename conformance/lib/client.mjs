// Camunda's TypeScript client, configured from code only (never from this
// process's environment), with a fetch that records what went over the
// wire and a log transport that records what the client decided.

export const STRING_KEYS = 'application/vnd.camunda.api.keys.string+json';

// newClient builds a client of the package pkg (one of the aliases in
// package.json) for the gateway at url. validation is CAMUNDA_SDK_VALIDATION;
// accept, if set, is sent as every request's Accept header.
export async function newClient(pkg, url, { validation = 'strict', accept, retries } = {}) {
  const { createCamundaClient } = await import(pkg);
  const wire = { requests: [], problems: [] };
  const events = [];
  const recordingFetch = async (input, init) => {
    let req = input instanceof Request ? input : new Request(input, init);
    if (accept) {
      const headers = new Headers(req.headers);
      headers.set('Accept', accept);
      req = new Request(req, { headers });
    }
    const body = req.method === 'POST' ? await req.clone().text() : '';
    wire.requests.push({ method: req.method, path: new URL(req.url).pathname, body, contentType: req.headers.get('content-type') });
    const resp = await fetch(req);
    if (resp.status >= 400) {
      let problem = {};
      try {
        problem = JSON.parse(await resp.clone().text());
      } catch {
        // not a problem body: recorded with its status alone
      }
      wire.problems.push({ status: resp.status, contentType: resp.headers.get('content-type'), ...problem });
    }
    return resp;
  };
  const config = {
    CAMUNDA_REST_ADDRESS: url,
    CAMUNDA_AUTH_STRATEGY: 'NONE',
    CAMUNDA_SDK_VALIDATION: validation,
    CAMUNDA_SDK_LOG_LEVEL: 'trace',
  };
  if (retries) config.CAMUNDA_SDK_HTTP_RETRY_MAX_ATTEMPTS = String(retries);
  const client = createCamundaClient({
    config,
    env: {},
    fetch: recordingFetch,
    log: { level: 'trace', transport: (e) => events.push(e) },
  });
  return { client, wire, events };
}

// retryReasons counts the reasons the client gave for the retries it
// scheduled (http-429, backpressure-503, backpressure-500-detail, ...).
export function retryReasons(events) {
  const reasons = {};
  for (const e of events) {
    if (e.args?.[0] === 'http.retry.scheduled') {
      const r = e.args[1]?.reason;
      reasons[r] = (reasons[r] ?? 0) + 1;
    }
  }
  return reasons;
}

// backpressureEvents counts the events of the client's backpressure manager
// (scope "bp"), such as backpressure.permits.scale.
export function backpressureEvents(events) {
  const counts = {};
  for (const e of events) {
    if (e.scope === 'bp' && typeof e.args?.[0] === 'string' && e.args[0].startsWith('backpressure.')) {
      counts[e.args[0]] = (counts[e.args[0]] ?? 0) + 1;
    }
  }
  return counts;
}

// validationWarnings lists the issues the client logged, per operation,
// when its response validation is "warn".
export function validationWarnings(events) {
  const out = [];
  for (const e of events) {
    if (e.level !== 'warn' || e.scope !== 'validation') continue;
    const text = e.args.map(String).join('\n');
    const op = text.match(/Invalid (\w+) response/)?.[1];
    const issues = [...text.matchAll(/^\s+- (.*)$/gm)].map((m) => m[1]);
    out.push({ op, issues });
  }
  return out;
}
