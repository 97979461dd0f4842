import { connect } from 'node:net';
import type Dockerode from 'dockerode';
import type { TestDef } from '../../src/index.js';
import { execIn } from './container-exec.js';
import { jsonReport, publish } from './custom-images.js';
import { dockerTest, type Scope } from './scope.js';
import { followLogs, pollUntil } from './streams.js';

interface CallReport {
  sent: number;
  received: number;
  reply?: string;
  ok: boolean;
  error?: string;
}

/** Starts `net serve 7000` and waits until it listens. */
async function echoServer(s: Scope, opts: Omit<Dockerode.ContainerCreateOptions, 'Image' | 'Cmd'> = {}): Promise<Dockerode.Container> {
  const c = await s.startContainer({ ...opts, Image: s.images.net, Cmd: ['serve', '7000'] });
  await (await followLogs(s.api, c, s.signal)).stdout.waitFor('{"listening":7000}', s.signal);
  return c;
}

/** Sends `msg` to host:port over TCP from tsuite's host and resolves with what comes back before the server closes. */
function echoFromHost(host: string, port: number, msg: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    let got = '';
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`no echo from ${host}:${port} within ${timeoutMs} ms`)));
    sock.on('connect', () => sock.end(msg));
    sock.on('data', (c) => (got += c.toString()));
    sock.on('end', () => resolve(got));
    sock.on('error', reject);
  });
}

/** The network interfaces a container sees, and whether it has any route, from /sys and /proc. */
const LINKS_AND_ROUTES = 'ls /sys/class/net | tr "\\n" " "; echo; tail -n +2 /proc/net/route | wc -l';

export const networkTests: TestDef[] = [
  dockerTest({
    name: 'network-user-defined-dns',
    title: 'on a user-defined network two containers reach each other by container name, both ways, through the embedded DNS',
    timeoutMs: 150_000,
    async run(s) {
      const net = await s.network({ Driver: 'bridge' });
      const netName = (await net.inspect()).Name as string;
      const names = [s.name('alpha'), s.name('beta')];
      const [a, b] = await Promise.all(names.map((name) => echoServer(s, { name, HostConfig: { NetworkMode: netName } })));
      const pairs: [Dockerode.Container, string][] = [
        [a!, names[1]!],
        [b!, names[0]!],
      ];
      for (const [from, to] of pairs) {
        const msg = `hello-${to}`;
        const r = await execIn(s, from, ['net', 'call', to, '7000', msg]);
        const rep = jsonReport<CallReport>(r.stdout, 'net call');
        if (r.exitCode !== 0 || !rep.ok || rep.reply !== msg) throw new Error(`from ${from.id.slice(0, 12)}, \`net call ${to} 7000\` exited ${r.exitCode}: ${r.stdout.trim()} ${r.stderr.trim()}`);
      }
      // The name resolved to the address the engine gave that container on this network.
      const ip = (await b!.inspect()).NetworkSettings.Networks[netName]?.IPAddress;
      const lookup = await execIn(s, a!, ['nslookup', names[1]!]);
      if (!ip || !lookup.stdout.includes(ip)) throw new Error(`nslookup ${names[1]} in the other container gave ${JSON.stringify(lookup.stdout.trim())}, not its address ${ip}`);
    },
  }),
  dockerTest({
    name: 'network-published-port',
    title: 'a container port published on the engine host is reached from the test host: an echo round trip',
    timeoutMs: 120_000,
    async run(s) {
      const pub = publish(s, 7000);
      const c = await echoServer(s, { ExposedPorts: pub.ExposedPorts, HostConfig: { PortBindings: pub.PortBindings } });
      const { host, port } = s.docker.reach(await pub.port(c));
      const msg = `tsuite-${s.ctx.runId}-published`;
      // A port forward may accept before the path to the container is up: retry with short timeouts.
      const reply = await pollUntil(`an echo through ${host}:${port}`, async () => {
        const got = await echoFromHost(host, port, msg, 5_000);
        return got === msg ? got : undefined;
      }, s.signal, 60_000, 500);
      if (reply !== msg) throw new Error(`the echo through ${host}:${port} was ${JSON.stringify(reply)}`);
    },
  }),
  dockerTest({
    name: 'network-none',
    title: '--network none: only the loopback interface, no route, and connecting out fails with ENETUNREACH (a bridged twin has eth0 and a route)',
    timeoutMs: 120_000,
    async run(s) {
      const sh = { Entrypoint: ['sh', '-c'] };
      const none = await s.run(s.images.net, [`${LINKS_AND_ROUTES}; net call 10.0.2.2 80 x`], { ...sh, HostConfig: { NetworkMode: 'none' } });
      const [links = '', routes = ''] = none.stdout.split('\n');
      if (links.trim() !== 'lo') throw new Error(`with --network none the container sees interfaces "${links.trim()}", not just lo`);
      if (routes.trim() !== '0') throw new Error(`with --network none the container has ${routes.trim()} routes`);
      const rep = jsonReport<CallReport>(none.stdout, 'net call');
      if (rep.ok || !/Network is unreachable/.test(rep.error ?? '')) throw new Error(`connecting to 10.0.2.2:80 with --network none: ${JSON.stringify(rep)}, not "Network is unreachable"`);
      const nets = Object.keys(none.info.NetworkSettings.Networks ?? {});
      if (nets.join() !== 'none') throw new Error(`inspect lists networks ${JSON.stringify(nets)}, not just "none"`);

      // The same look on the default network: the check above can tell the difference.
      const bridged = await s.run(s.images.net, [LINKS_AND_ROUTES], sh);
      const [bLinks = '', bRoutes = ''] = bridged.stdout.split('\n');
      if (!bLinks.split(' ').includes('eth0') || !(Number(bRoutes) > 0)) throw new Error(`a container on the default network sees interfaces "${bLinks.trim()}" and ${bRoutes.trim()} routes`);
    },
  }),
];
