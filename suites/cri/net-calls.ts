import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from '../../src/index.js';
import { podStatus } from './lifecycle-calls.js';
import { RUN_UNTIL_STOPPED, type CriScope, type Pod } from './scope.js';

/**
 * TCP round trips with the `net` test image (`net serve` echoes, `net call` sends and reads the
 * echo), from inside pods and from this host: what the network tests measure a pod's reach with.
 */

/** The port the echo servers listen on inside their pods. */
export const ECHO_PORT = 8080;

/** What `net call` prints. */
export interface CallReport {
  sent: number;
  received: number;
  reply?: string;
  ok: boolean;
  error?: string;
}

/** Starts `net serve <port>` as container `name` and returns once it echoes from inside its own network namespace. */
export async function startEchoServer(scope: CriScope, pod: Pod, port = ECHO_PORT, name = 'echo'): Promise<string> {
  const id = await scope.startContainer(pod, name, { image: { image: scope.images.net }, command: ['net', 'serve', String(port)] });
  await expectEcho(scope, id, '127.0.0.1', port, 'ready', `the echo server's own check on 127.0.0.1:${port}`);
  return id;
}

/** A container of the `net` image that idles, for `net call`s. */
export const startNetClient = (scope: CriScope, pod: Pod, name = 'client') => scope.startContainer(pod, name, { image: { image: scope.images.net }, command: RUN_UNTIL_STOPPED });

/**
 * `net call host port msg` in container `id`, killed after `limitS` (a connect to an address
 * nobody answers ARP for blocks long, and `net call` retries for 10 s); the report, or undefined
 * when it printed none (killed).
 */
export async function netCall(scope: CriScope, id: string, host: string, port: number, msg: string, limitS = 20): Promise<{ report?: CallReport; output: string }> {
  const r = await scope.exec(id, ['timeout', '-s', 'KILL', String(limitS), 'net', 'call', host, String(port), msg], limitS + 15);
  const output = `${r.stdout}${r.stderr}`.trim();
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  return { report: line ? (JSON.parse(line) as CallReport) : undefined, output: output || `no output (exit ${r.exitCode})` };
}

/** Fails unless `msg` sent to host:port from container `id` comes back. */
export async function expectEcho(scope: CriScope, id: string, host: string, port: number, msg: string, what: string): Promise<void> {
  const { report, output } = await netCall(scope, id, host, port, msg);
  if (!report?.ok || report.reply !== msg) throw new Error(`${what}: \`net call ${host} ${port} ${msg}\` got no echo: ${output}`);
}

/** Fails if `msg` sent to host:port from container `id` comes back within `limitS`. */
export async function expectNoEcho(scope: CriScope, id: string, host: string, port: number, msg: string, what: string, limitS = 6): Promise<void> {
  const { report, output } = await netCall(scope, id, host, port, msg, limitS);
  if (report?.ok) throw new Error(`${what}: \`net call ${host} ${port} ${msg}\` was echoed, expected no answer: ${output}`);
}

/** The pod's IP from PodSandboxStatus; fails when it has none. */
export async function podIp(scope: CriScope, pod: Pod): Promise<string> {
  const ip = (await podStatus(scope, pod.id)).status.network?.ip ?? '';
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) throw new Error(`PodSandboxStatus of pod ${pod.id.slice(0, 12)} gives network.ip '${ip}', not an IPv4 address`);
  return ip;
}

/** The default route's gateway as the container sees it (`ip route`), or undefined. */
export async function defaultGateway(scope: CriScope, id: string): Promise<string | undefined> {
  const routes = await scope.sh(id, 'ip -4 route show default');
  return /^default via (\d+\.\d+\.\d+\.\d+)/m.exec(routes)?.[1];
}

/** One TCP round trip from this host: what came back before the peer closed (a refused or reset connection rejects). */
function echoOnce(host: string, port: number, msg: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    let got = '';
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    sock.on('connect', () => sock.end(msg));
    sock.on('data', (c: Buffer) => (got += c.toString('utf8')));
    sock.on('end', () => resolve(got));
    sock.on('error', reject);
  });
}

/**
 * Sends `msg` from this host to host:port until it comes back or `deadlineMs` passes (port-mapping
 * rules and QEMU's forwards may take a moment, and a forward accepts before the guest side does).
 * Returns undefined on success, else what the last try saw.
 */
export async function echoFromHost(ctx: TestContext, host: string, port: number, msg: string, deadlineMs = 30_000): Promise<string | undefined> {
  const deadline = Date.now() + deadlineMs;
  let last = 'no try';
  for (;;) {
    try {
      const got = await echoOnce(host, port, msg, 5_000);
      if (got === msg) return undefined;
      last = `the connection closed after ${JSON.stringify(got.slice(0, 100))}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) return last;
    ctx.signal.throwIfAborted();
    await sleep(500);
  }
}
