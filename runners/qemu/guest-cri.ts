import { CriChannel } from '../../src/channels/cri.js';
import type { CriRequest } from '../../src/core/runner.js';
import type { ConsoleChannel } from '../../src/channels/console.js';
import { waitForEngine } from './guest-docker.js';
import type { PortMap } from './qemu-args.js';

/** What of a booted machine the connection reads and sets (a QemuSession). */
export interface CriGuest {
  readonly console: ConsoleChannel;
  readonly landmarkLine?: number;
  criReadyMs?: number;
  criProblem?: string;
  attachCri(channel: CriChannel): void;
}

/** The node init's line when containerd did not come up: it ends the wait for the ready line at once. */
export const CONTAINERD_FAILED = /tsuite-node: containerd failed\b/;
const RUNTIME_NOTE = /tsuite-node: .*containerd/;
/** After the ready line the runtime already answers in the guest: connecting gets at least this long. */
const CONNECT_AFTER_READY_MS = 15_000;

/**
 * Connects the `cri` channel of a booted guest: waits for the runtime's ready line on the console
 * (QEMU's forward accepts before the guest listens), then asks Version through the forwarded port.
 * The channel maps the guest's streaming server and host ports to their forwards. Failing is not a
 * boot failure: the session then has no `cri` channel and `criProblem` says why.
 */
export async function connectGuestCri(session: CriGuest, cri: CriRequest, ports: PortMap, signal: AbortSignal): Promise<void> {
  const started = Date.now();
  const fromLine = session.landmarkLine ?? 0;
  const url = `tcp://127.0.0.1:${ports.get(cri.guestPort)}`;
  try {
    if (cri.readyPattern) {
      const ready = await waitForEngine(session.console, cri.readyPattern, cri.readyTimeoutMs, fromLine, signal, CONTAINERD_FAILED);
      session.criReadyMs = ready.atMs;
    }
    const left = cri.readyTimeoutMs - (Date.now() - started);
    const forwards = new Map<number, number>();
    for (const guest of [...(cri.streamGuestPort ? [cri.streamGuestPort] : []), ...cri.hostPorts]) {
      const host = ports.get(guest);
      if (host !== undefined) forwards.set(guest, host);
    }
    const channel = await CriChannel.connect({ url, certPath: cri.certPath }, {
      timeoutMs: cri.readyPattern ? Math.max(left, CONNECT_AFTER_READY_MS) : cri.readyTimeoutMs,
      signal,
      // The guest reaches this host's loopback at QEMU's gateway (hostAddress): services for it listen on 127.0.0.1.
      node: { address: '127.0.0.1', forwards, hostPorts: cri.hostPorts, hostAddress: cri.hostAddress, hostListen: '127.0.0.1', registryConfigDir: cri.registryConfigDir },
    });
    session.attachCri(channel);
  } catch (err) {
    if (signal.aborted) throw err;
    const notes = session.console.lines.slice(fromLine).map((l) => l.text.trim()).filter((t) => RUNTIME_NOTE.test(t)).slice(-10);
    const said = notes.length > 0 ? `; the guest said: ${notes.join(' | ')}` : '; the guest printed nothing about its CRI runtime';
    session.criProblem = `no CRI runtime at ${url} (guest port ${cri.guestPort}): ${err instanceof Error ? err.message : String(err)}${said}`;
  }
}
