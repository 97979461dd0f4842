import { DockerChannel } from '../../src/channels/docker.js';
import { ConsoleClosed, ExpectTimeout, type ConsoleChannel } from '../../src/channels/console.js';
import type { DockerRequest } from '../../src/core/runner.js';
import type { PortMap } from './qemu-args.js';

/** What of a booted machine the connection reads and sets (a QemuSession). */
export interface DockerGuest {
  readonly console: ConsoleChannel;
  readonly landmarkLine?: number;
  dockerReadyMs?: number;
  dockerProblem?: string;
  attachDocker(channel: DockerChannel): void;
}

/** The node init's line when dockerd did not come up: it ends the wait for the ready line at once. */
export const DOCKERD_FAILED = /tsuite-node: dockerd failed\b/;
/** Console lines the node init prints about the engine, quoted in `dockerProblem`. */
const ENGINE_NOTE = /tsuite-node: /;
/** After the ready line the API already answers in the guest: connecting gets at least this long. */
const CONNECT_AFTER_READY_MS = 15_000;

/**
 * Connects the `docker` channel of a booted guest: waits for the engine's ready line on the console
 * (QEMU's forward accepts a connection before the guest listens, and that connection hangs), then
 * connects through the forwarded API port. Failing is not a boot failure: the session then has no
 * `docker` channel and `dockerProblem` says why, with what the guest printed about its engine.
 */
export async function connectGuestDocker(session: DockerGuest, docker: DockerRequest, ports: PortMap, signal: AbortSignal): Promise<void> {
  const started = Date.now();
  const fromLine = session.landmarkLine ?? 0;
  const hostPort = ports.get(docker.guestPort);
  const url = `tcp://127.0.0.1:${hostPort}`;
  try {
    if (docker.readyPattern) {
      const ready = await waitForEngine(session.console, docker.readyPattern, docker.readyTimeoutMs, fromLine, signal);
      session.dockerReadyMs = ready.atMs;
    }
    const left = docker.readyTimeoutMs - (Date.now() - started);
    const channel = await DockerChannel.connect({ url, certPath: docker.certPath }, {
      timeoutMs: docker.readyPattern ? Math.max(left, CONNECT_AFTER_READY_MS) : docker.readyTimeoutMs,
      signal,
      portMap: ports,
      publishPorts: docker.publishPorts,
    });
    session.attachDocker(channel);
  } catch (err) {
    if (signal.aborted) throw err;
    const notes = session.console.lines.slice(fromLine).map((l) => l.text.trim()).filter((t) => ENGINE_NOTE.test(t)).slice(-10);
    const said = notes.length > 0 ? `; the guest said: ${notes.join(' | ')}` : '; the guest printed nothing about its engine';
    session.dockerProblem = `no Docker Engine API at ${url} (guest port ${docker.guestPort}): ${err instanceof Error ? err.message : String(err)}${said}`;
  }
}

/**
 * The engine's ready line, or an error as soon as the guest says the engine failed (`failedLine`), the machine
 * ends, or `timeoutMs` passes.
 */
export async function waitForEngine(console: ConsoleChannel, ready: RegExp, timeoutMs: number, fromLine: number, signal: AbortSignal, failedLine = DOCKERD_FAILED) {
  const stop = new AbortController();
  const both = AbortSignal.any([signal, stop.signal]);
  try {
    const failed = console.expect(failedLine, { timeoutMs, signal: both, fromLine }).then((m) => {
      throw new Error(`the guest's engine did not start: ${m.line.text.trim()}`);
    });
    failed.catch(() => undefined); // settles after the race when ready wins and the wait is stopped
    const seen = await Promise.race([console.expect(ready, { timeoutMs, signal: both, fromLine }), failed]);
    // A ready pattern may also match the failure line (`dockerd (?:ready|failed)`).
    if (failedLine.test(seen.line.text)) throw new Error(`the guest's engine did not start: ${seen.line.text.trim()}`);
    return seen.line;
  } catch (err) {
    if (err instanceof ExpectTimeout) {
      throw new Error(`no console line matched ${ready} within ${timeoutMs} ms after the boot landmark`);
    }
    if (err instanceof ConsoleClosed) throw new Error(`the machine ended before its engine was ready (${ready})`);
    throw err;
  } finally {
    stop.abort();
  }
}
