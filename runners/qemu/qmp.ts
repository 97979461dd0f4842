import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A QMP event, e.g. `SHUTDOWN` with `{ guest, reason }`. */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/**
 * A minimal QMP client (JSON lines over QEMU's control socket): enough to quit the machine and to
 * hear SHUTDOWN/RESET/GUEST_PANICKED events. QMP has no maintained Node client, and this is the
 * whole protocol we need.
 */
export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  private buffer = '';
  private pending: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  /** Resolves once the socket has closed (QEMU exited or we closed it): every event is in by then. */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    super();
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('close', () => {
      for (const p of this.pending.splice(0)) p.reject(new Error('QMP connection closed'));
      this.emit('close');
    });
    socket.on('error', () => undefined);
  }

  /** Connects to QEMU's QMP unix socket, retrying while QEMU is still creating it. */
  static async connect(path: string, timeoutMs: number, alive: () => boolean): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path, () => resolve(s));
          s.once('error', reject);
        });
        const client = new QmpClient(socket);
        await client.command('qmp_capabilities');
        return client;
      } catch (err) {
        if (!alive() || Date.now() > deadline) throw err;
        await sleep(20);
      }
    }
  }

  command(execute: string, args?: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(JSON.stringify(args ? { execute, arguments: args } : { execute }) + '\n');
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(data: string): void {
    this.buffer += data;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as { QMP?: unknown; event?: string; return?: unknown; error?: { desc: string } };
      if (msg.QMP) continue; // greeting
      if (msg.event) this.emit('event', msg as QmpEvent);
      else if ('return' in msg) this.pending.shift()?.resolve(msg.return);
      else if (msg.error) this.pending.shift()?.reject(new Error(`QMP: ${msg.error.desc}`));
    }
  }
}
