import { request } from 'node:http';
import { NGINX_MARKER, PROBES_IN_IMAGE, UPSTREAM_IMAGES } from '../../oci-images/index.js';
import { flattenKtap, parseKtapAll, type TestDef } from '../../src/index.js';
import { dockerTest, type Scope } from './scope.js';
import { followLogs, pollUntil } from './streams.js';

/**
 * The one JSON line a custom image prints as its report (the last line of `out` that parses as a
 * JSON object); an error naming the image and what it printed when there is none.
 */
export function jsonReport<T>(out: string, image: string): T {
  const lines = out.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  for (const line of lines.reverse()) {
    try {
      return JSON.parse(line) as T;
    } catch {
      // Not this line: look at the one before.
    }
  }
  throw new Error(`${image} printed no JSON report; its output was ${JSON.stringify(out.slice(-500))}`);
}

/** Publishes `containerPort` on a port the channel hands out; `port()` reads the bound one from inspect. */
export function publish(s: Scope, containerPort: number) {
  const reservation = s.docker.reservePort();
  s.defer(() => reservation.release());
  const key = `${containerPort}/tcp`;
  return {
    ExposedPorts: { [key]: {} },
    PortBindings: { [key]: [{ HostPort: reservation.hostPort }] },
    key,
    /** The engine-side host port the engine bound (it chooses one when the reservation is ''). */
    async port(c: { inspect(): Promise<{ NetworkSettings: { Ports: Record<string, { HostIp: string; HostPort: string }[] | null> } }> }): Promise<number> {
      const bound = (await c.inspect()).NetworkSettings.Ports?.[key] ?? [];
      const hostPort = Number(bound.find((b) => !b.HostIp.includes(':'))?.HostPort ?? bound[0]?.HostPort);
      if (!(hostPort > 0)) throw new Error(`inspect shows no host port bound for ${key}: ${JSON.stringify(bound)}`);
      if (reservation.hostPort && String(hostPort) !== reservation.hostPort) throw new Error(`${key} was bound to host port ${hostPort}, not the requested ${reservation.hostPort}`);
      return hostPort;
    },
  };
}

/** GET http://host:port/ from tsuite's host: status and body. */
export function httpGet(host: string, port: number, signal: AbortSignal, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', method: 'GET', signal, timeout: timeoutMs, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const MiB = 1024 * 1024;

export const customImageTests: TestDef[] = [
  dockerTest({
    name: 'custom-memstress',
    title: 'memstress allocates and touches every page of 16 MiB and reports it',
    async run(s) {
      const r = await s.run(s.images.memstress, ['16']);
      const rep = jsonReport<{ allocated_mib: number; touched_pages: number; page_size: number; ok: boolean }>(r.stdout, 'memstress');
      if (r.exitCode !== 0 || !rep.ok || rep.allocated_mib !== 16) throw new Error(`memstress 16 exited ${r.exitCode} reporting ${JSON.stringify(rep)}`);
      if (rep.touched_pages * rep.page_size !== 16 * MiB) throw new Error(`memstress touched ${rep.touched_pages} pages of ${rep.page_size} bytes: not 16 MiB`);
    },
  }),
  dockerTest({
    name: 'custom-net',
    title: 'net: an echo server and a client sharing its network namespace round-trip a message over 127.0.0.1',
    async run(s) {
      const server = await s.startContainer({ Image: s.images.net, Cmd: ['serve', '7000'] });
      await (await followLogs(s.api, server, s.signal)).stdout.waitFor('{"listening":7000}', s.signal);
      const msg = `tsuite-${s.ctx.runId}-echo`;
      const r = await s.run(s.images.net, ['call', '127.0.0.1', '7000', msg], { HostConfig: { NetworkMode: `container:${server.id}` } });
      const rep = jsonReport<{ sent: number; received: number; reply: string; ok: boolean }>(r.stdout, 'net call');
      if (r.exitCode !== 0 || !rep.ok || rep.reply !== msg || rep.received !== msg.length) throw new Error(`net call exited ${r.exitCode} reporting ${JSON.stringify(rep)}`);
    },
  }),
  dockerTest({
    name: 'custom-fsio',
    title: 'fsio writes 8 MiB, fsyncs, reads it back and the checksums agree',
    async run(s) {
      const r = await s.run(s.images.fsio, ['/data', '8']);
      const rep = jsonReport<{ written: number; read: number; crc: string; expected_crc: string; verified: boolean }>(r.stdout, 'fsio');
      if (r.exitCode !== 0 || !rep.verified) throw new Error(`fsio exited ${r.exitCode} reporting ${JSON.stringify(rep)}`);
      if (rep.written !== 8 * MiB || rep.read !== 8 * MiB || rep.crc !== rep.expected_crc) throw new Error(`fsio reported ${JSON.stringify(rep)}: not 8 MiB written and read with equal CRCs`);
    },
  }),
  dockerTest({
    name: 'custom-procs',
    title: 'procs spawns, signals and reaps 5 children as PID 1 of its own namespace, sees only them, and reports its hostname',
    async run(s) {
      const r = await s.run(s.images.procs, ['5'], { Hostname: 'tsuite-procs' });
      const rep = jsonReport<{ pid: number; spawned: number; signalled: number; reaped: number; visible_pids: number[]; hostname: string; ok: boolean }>(r.stdout, 'procs');
      if (r.exitCode !== 0 || !rep.ok) throw new Error(`procs 5 exited ${r.exitCode} reporting ${JSON.stringify(rep)}`);
      if (rep.pid !== 1 || rep.spawned !== 5 || rep.signalled !== 5 || rep.reaped !== 5) throw new Error(`procs reported ${JSON.stringify(rep)}`);
      // Its own namespace: itself (1) and its five children, nothing else.
      if (rep.visible_pids.length !== 6 || !rep.visible_pids.includes(1)) throw new Error(`procs saw pids ${JSON.stringify(rep.visible_pids)}, not itself and its 5 children`);
      if (rep.hostname !== 'tsuite-procs') throw new Error(`procs saw hostname ${rep.hostname}, not tsuite-procs`);
    },
  }),
  dockerTest({
    name: 'custom-probes',
    title: 'the probes image runs a syscall probe (signals) in a container and it prints well-formed KTAP with every behaviour passing',
    async run(s) {
      const r = await s.run(s.images.probes, [`${PROBES_IN_IMAGE}/signals`]);
      const docs = parseKtapAll(r.stdout.split('\n'));
      if (docs.length === 0) throw new Error(`the signals probe printed no KTAP (exit ${r.exitCode}): ${JSON.stringify((r.stdout + r.stderr).slice(-500))}`);
      const tests = docs.flatMap((d) => flattenKtap(d)).filter((t) => t.leaf);
      const bad = tests.filter((t) => t.test.status !== 'passed' && t.test.status !== 'skipped');
      if (tests.length === 0) throw new Error('the signals probe printed KTAP with no results');
      if (bad.length) throw new Error(`signals probe results in a container: ${bad.map((t) => `${t.id} ${t.test.status}${t.test.reason ? ` (${t.test.reason})` : ''}`).join(', ')}`);
      if (r.exitCode !== 0) throw new Error(`the signals probe exited ${r.exitCode} with all results passing`);
      s.ctx.metric({ name: 'probe-results', unit: 'results', value: tests.length });
    },
  }),
  dockerTest({
    name: 'custom-nginx',
    title: 'the nginx image serves its page, fetched from the host through a published port, and logs the request',
    async run(s) {
      const pub = publish(s, 80);
      const c = await s.startContainer({ Image: s.images.nginx, ExposedPorts: pub.ExposedPorts, HostConfig: { PortBindings: pub.PortBindings } });
      const { host, port } = s.docker.reach(await pub.port(c));
      // Upstream nginx serves its own welcome page; tsuite's image serves a page with a marker.
      const marker = s.images.nginx === UPSTREAM_IMAGES.nginx ? 'Welcome to nginx!' : NGINX_MARKER;
      const page = await pollUntil(`nginx answering on ${host}:${port}`, async () => {
        const res = await httpGet(host, port, s.signal);
        return res.status === 200 ? res : undefined;
      }, s.signal, 60_000, 500);
      if (!page.body.includes(marker)) throw new Error(`the page from ${host}:${port} does not carry ${marker}: ${JSON.stringify(page.body.slice(0, 300))}`);
      // The access log (stdout) proves this container served it, not something else on that port.
      const logs = await followLogs(s.api, c, s.signal);
      await logs.stdout.waitFor(/"GET \/ HTTP\/1\.1" 200/, s.signal, 30_000);
    },
  }),
];
