import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError } from './agent-error.js';
import { encodeCommand, encodeSync, fromBase64, ReplyFramer, type QgaReply } from './agent-protocol.js';

/** Default limit for one reply: generous, since a TCG guest under load answers slowly. */
export const DEFAULT_REPLY_TIMEOUT_MS = 10_000;
/** Default limit for one resynchronisation; an agent that is running answers in milliseconds. */
export const DEFAULT_SYNC_TIMEOUT_MS = 3_000;
/** Default time `connect` keeps trying: the agent may come up just after the boot landmark. */
export const DEFAULT_CONNECT_WAIT_MS = 10_000;

export const FIX_DEAD = 'check that the guest runs a QEMU guest agent on the virtio-serial port org.qemu.guest_agent.0 (the tsuite initramfs starts qemu-ga); the console log shows why it stopped';
const FIX_SLOW = 'the guest may be overloaded or hung: see the console log; raise timeoutMs if the guest is merely slow';
const FIX_GARBLED = 'is something other than a QEMU guest agent listening on the port?';

export interface AgentOptions {
  /** Limit for each reply, unless a call sets its own. */
  timeoutMs?: number;
  syncTimeoutMs?: number;
}

export interface AgentConnectOptions extends AgentOptions {
  /** How long to keep trying to connect and resynchronise. */
  waitMs?: number;
  /** Stop retrying once this says the machine is gone. */
  alive?: () => boolean;
  /** Settles when the machine is gone: a retry pending then is not waited for. */
  gone?: Promise<unknown>;
}

export interface CallOptions {
  timeoutMs?: number;
}

type Waiter = { command: string; onReply: (reply: QgaReply) => void; fail: (err: AgentError) => void };
type Take<T> = (reply: QgaReply, done: (v: T) => void, fail: (e: AgentError) => void) => void;

/**
 * The QGA transport over the unix socket of QEMU's chardev for the port `org.qemu.guest_agent.0`.
 * Commands go one at a time (QGA replies carry no id), each with a time limit; after a time-out, a
 * garbled reply or a port close, the stream is resynchronised with `guest-sync-delimited` before
 * the next command. Every failure rejects with AgentError: nothing here can hang.
 */
export class AgentConnection {
  private readonly framer = new ReplyFramer();
  private waiter?: Waiter;
  private chain: Promise<unknown> = Promise.resolve();
  private needsSync = true;
  private closedBy?: string;
  private portClosed = false;
  protected readonly timeoutMs: number;
  protected readonly syncTimeoutMs: number;

  constructor(private readonly socket: Socket, options: AgentOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
    this.syncTimeoutMs = options.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS;
    socket.on('data', (chunk: Buffer) => {
      for (const reply of this.framer.push(chunk)) this.waiter?.onReply(reply);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closedBy ??= 'the agent socket closed (QEMU exited or the chardev went away)';
      this.waiter?.fail(this.deadError(this.waiter.command));
    });
  }

  /**
   * Connects to the chardev socket and resynchronises, retrying until the agent answers or
   * `waitMs` runs out (then AgentError `dead`, with the last reason).
   */
  static async connect<C extends AgentConnection>(this: new (socket: Socket, options?: AgentOptions) => C, path: string, options: AgentConnectOptions = {}): Promise<C> {
    const waitMs = options.waitMs ?? DEFAULT_CONNECT_WAIT_MS;
    const deadline = Date.now() + waitMs;
    const alive = options.alive ?? (() => true);
    let lastError: unknown;
    for (;;) {
      const socket = await new Promise<Socket>((resolve, reject) => {
        const s = connect(path, () => resolve(s));
        s.once('error', reject);
      }).catch((err: unknown) => void (lastError = err));
      if (socket) {
        const client = new this(socket, options);
        for (;;) {
          try {
            await client.sync(Math.max(1, Math.min(client.syncTimeoutMs, deadline - Date.now())));
            return client;
          } catch (err) {
            lastError = err;
            if (client.isClosed || Date.now() >= deadline || !alive()) break;
          }
        }
        client.close();
      }
      if (Date.now() >= deadline || !alive()) break;
      await Promise.race([sleep(50), options.gone]);
    }
    const why = lastError instanceof Error ? lastError.message : String(lastError);
    throw new AgentError('dead', 'guest-sync-delimited', `no guest agent answered on ${path} within ${waitMs} ms: ${why}`, FIX_DEAD);
  }

  get isClosed(): boolean {
    return this.closedBy !== undefined;
  }

  /**
   * Tells the connection that the guest opened or closed its end of the port (QMP VSERPORT_CHANGE):
   * a close means the agent exited or was killed, so the command in flight fails now, not at its time-out.
   */
  setPortOpen(open: boolean): void {
    this.portClosed = !open;
    this.needsSync = true;
    if (!open) this.waiter?.fail(this.portClosedError(this.waiter.command));
  }

  /** Resynchronises now: flushes the agent's parser and discards stale replies. */
  sync(timeoutMs = this.syncTimeoutMs): Promise<void> {
    return this.serialize(() => this.syncNow('guest-sync-delimited', timeoutMs));
  }

  /** Sends one command and resolves with its `return` value. */
  call<T = unknown>(command: string, args?: Record<string, unknown>, options: CallOptions = {}): Promise<T> {
    return this.serialize(async () => {
      if (this.needsSync) await this.syncNow(command, this.syncTimeoutMs);
      return (await this.roundTrip(command, args, options.timeoutMs ?? this.timeoutMs)) as T;
    });
  }

  /**
   * Sends a command that has no reply on success (`guest-shutdown`): resolves unless an error reply
   * comes within `graceMs`. What follows on the stream is unknown, so the next command resyncs.
   */
  callWithoutReply(command: string, args: Record<string, unknown> | undefined, graceMs: number): Promise<void> {
    return this.serialize(async () => {
      if (this.needsSync) await this.syncNow(command, this.syncTimeoutMs);
      this.needsSync = true;
      await this.roundTrip(command, args, graceMs).then(
        () => undefined,
        (err: unknown) => {
          if (err instanceof AgentError && err.kind === 'rejected') throw err;
        },
      );
    });
  }

  close(): void {
    this.closedBy ??= 'the agent client was closed';
    this.socket.destroy();
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private deadError(command: string): AgentError {
    return new AgentError('dead', command, `guest agent unreachable during ${command}: ${this.closedBy}`, FIX_DEAD);
  }

  private portClosedError(command: string): AgentError {
    return new AgentError('dead', command, `the guest closed the agent port during ${command}: the guest agent exited or was killed`, FIX_DEAD);
  }

  /** Writes `request` and waits for the reply `take` accepts, under a time limit. */
  private exchange<T>(command: string, request: Buffer, timeoutMs: number, onTimeout: () => AgentError, take: Take<T>): Promise<T> {
    if (this.closedBy) return Promise.reject(this.deadError(command));
    if (this.portClosed) return Promise.reject(this.portClosedError(command));
    return new Promise<T>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        this.waiter = undefined;
      };
      const done = (v: T) => (finish(), resolve(v));
      const fail = (e: AgentError) => (finish(), reject(e));
      const timer = setTimeout(() => {
        this.needsSync = true;
        fail(onTimeout());
      }, timeoutMs);
      this.waiter = { command, onReply: (reply) => take(reply, done, fail), fail };
      this.socket.write(request);
    });
  }

  private async syncNow(command: string, timeoutMs: number): Promise<void> {
    const id = Math.floor(Math.random() * 2 ** 31);
    this.framer.expectSentinel();
    await this.exchange<void>(command, encodeSync(id), timeoutMs,
      () => new AgentError('dead', command, `the guest agent did not answer guest-sync-delimited within ${timeoutMs} ms: it is not running, or hung`, FIX_DEAD),
      // Stale replies, and the error for the flush byte, come before ours: skip them.
      (r, done) => r.kind === 'return' && r.value === id && done());
    this.needsSync = false;
  }

  private roundTrip(command: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<unknown> {
    return this.exchange<unknown>(command, encodeCommand(command, args), timeoutMs,
      () => new AgentError('timeout', command, `the guest agent did not answer ${command} within ${timeoutMs} ms`, FIX_SLOW),
      (r, done, fail) => {
        if (r.kind === 'return') return done(r.value);
        if (r.kind === 'error') return fail(new AgentError('rejected', command, `the guest agent refused ${command}: ${r.desc}`, undefined, r.errorClass));
        this.needsSync = true;
        fail(new AgentError('garbled', command, `the guest agent answered ${command} with something that is not QGA JSON: ${JSON.stringify(r.text)}`, FIX_GARBLED));
      });
  }

  /** Decodes a base64 field of a reply; anything else is a garbled reply. */
  protected bytes(command: string, b64: unknown): Buffer {
    if (b64 === undefined) return Buffer.alloc(0);
    const bytes = typeof b64 === 'string' ? fromBase64(b64) : undefined;
    if (!bytes) throw new AgentError('garbled', command, `the guest agent sent data for ${command} that is not base64`, FIX_GARBLED);
    return bytes;
  }
}
