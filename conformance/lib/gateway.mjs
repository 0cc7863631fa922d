// The emulated gateway under test: examples/gateway, built once per run and
// started per emulated release on a free loopback port.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..', '..');

let built;

// gatewayBinary returns the path of examples/gateway, built on first use
// into a temporary folder (removed at exit), or EBB_GATEWAY_BIN if set.
export function gatewayBinary() {
  if (process.env.EBB_GATEWAY_BIN) return process.env.EBB_GATEWAY_BIN;
  if (!built) {
    const dir = mkdtempSync(join(tmpdir(), 'ebb-conformance-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    built = join(dir, 'gateway');
    execFileSync('go', ['build', '-o', built, './examples/gateway'], { cwd: repo, stdio: 'inherit' });
  }
  return built;
}

// startGateway runs the gateway with args on 127.0.0.1:0 and resolves once
// it listens. The handle's stop() ends it with SIGINT and resolves with
// everything it printed, its counters included.
export async function startGateway(args) {
  const child = spawn(gatewayBinary(), ['-addr', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  const url = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`gateway ${args.join(' ')} did not start: ${out}${err}`)), 15000);
    const check = () => {
      const m = out.match(/gateway at (\S+)/);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    };
    child.stdout.on('data', check);
    exited.then(({ code }) => {
      clearTimeout(timer);
      rej(new Error(`gateway ${args.join(' ')} exited ${code}: ${err}`));
    });
  });
  return {
    url,
    async stop() {
      child.kill('SIGINT');
      const { code } = await exited;
      if (code !== 0) throw new Error(`gateway exited ${code}: ${err}`);
      return out;
    },
  };
}

// routeCounters reads the per-route counters the gateway prints when it
// stops, such as "/v2/jobs/activation: requests 3, accepted 2, ...".
export function routeCounters(output) {
  const routes = {};
  for (const line of output.split('\n')) {
    const m = line.match(/^(\/v2\/\S+): (.*)$/);
    if (!m) continue;
    const counts = {};
    for (const part of m[2].split(', ')) {
      const kv = part.match(/^(.*) (\d+)$/);
      if (kv) counts[kv[1]] = Number(kv[2]);
    }
    routes[m[1]] = counts;
  }
  return routes;
}
