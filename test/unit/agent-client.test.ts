import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient, AgentError, FILE_CHUNK_BYTES } from '../../src/channels/agent.js';
import { ExitCode, InfraError } from '../../src/core/errors.js';

type Command = { execute: string; arguments?: Record<string, unknown> };
/** What the fake agent sends for a command: a reply object, raw bytes, or nothing. */
type Answer = object | Buffer | undefined;

/**
 * A fake QGA agent on a unix socket: reads commands the way qemu-ga does (a 0xFF byte flushes its
 * parser), answers guest-sync-delimited with the sentinel, and everything else through `answer`.
 */
class FakeAgent {
  readonly received: Command[] = [];
  readonly sockets: Socket[] = [];
  answer: (cmd: Command) => Answer = () => ({ return: {} });
  /** Sync requests left to ignore (an agent not yet running). */
  ignoreSyncs = 0;
  private readonly server: Server;

  constructor(readonly path: string) {
    this.server = createServer((socket) => {
      this.sockets.push(socket);
      let buf = Buffer.alloc(0);
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        const ff = buf.lastIndexOf(0xff);
        if (ff >= 0) buf = buf.subarray(ff + 1);
        let nl: number;
        while ((nl = buf.indexOf(0x0a)) >= 0) {
          const cmd = JSON.parse(buf.subarray(0, nl).toString()) as Command;
          buf = buf.subarray(nl + 1);
          this.received.push(cmd);
          this.reply(socket, cmd);
        }
      });
    });
  }

  listen(): Promise<this> {
    return new Promise((resolve) => this.server.listen(this.path, () => resolve(this)));
  }

  commands(): string[] {
    return this.received.map((c) => c.execute);
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private reply(socket: Socket, cmd: Command): void {
    if (cmd.execute === 'guest-sync-delimited') {
      if (this.ignoreSyncs > 0) return void this.ignoreSyncs--;
      socket.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ return: cmd.arguments!.id }) + '\n')]));
      return;
    }
    const answer = this.answer(cmd);
    if (answer === undefined) return;
    socket.write(Buffer.isBuffer(answer) ? answer : JSON.stringify(answer) + '\n');
  }
}

let dir: string;
let fake: FakeAgent | undefined;
let client: AgentClient | undefined;

async function setup(opts: { timeoutMs?: number } = {}): Promise<{ fake: FakeAgent; client: AgentClient }> {
  dir = mkdtempSync(join(tmpdir(), 'tsuite-agent-unit-'));
  fake = await new FakeAgent(join(dir, 'qga.sock')).listen();
  client = await AgentClient.connect(fake.path, { waitMs: 2_000, timeoutMs: opts.timeoutMs ?? 500, syncTimeoutMs: 200 });
  return { fake, client };
}

afterEach(async () => {
  client?.close();
  await fake?.close();
  client = fake = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe('AgentClient: connecting and resynchronising', () => {
  it('opens with guest-sync-delimited and discards what the agent sent before its sentinel', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsuite-agent-unit-'));
    fake = await new FakeAgent(join(dir, 'qga.sock')).listen();
    fake.answer = () => ({ return: { pong: true } });
    // Stale output of an earlier client, then the real replies.
    const original = fake['reply'].bind(fake);
    fake['reply'] = (socket: Socket, cmd: Command) => {
      if (cmd.execute === 'guest-sync-delimited') socket.write('{"return": "stale"}\n{"return": {"half');
      original(socket, cmd);
    };
    client = await AgentClient.connect(fake.path, { waitMs: 2_000 });
    expect(await client.call('guest-ping')).toEqual({ pong: true });
    expect(fake.commands()).toEqual(['guest-sync-delimited', 'guest-ping']);
  });

  it('retries until the agent comes up: the socket appears late, and the first syncs go unanswered', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsuite-agent-unit-'));
    const path = join(dir, 'qga.sock');
    const connecting = AgentClient.connect(path, { waitMs: 5_000, syncTimeoutMs: 100 });
    await sleep(200);
    fake = await new FakeAgent(path).listen();
    fake.ignoreSyncs = 2;
    client = await connecting;
    await client.ping();
    expect(fake.commands().filter((c) => c === 'guest-sync-delimited')).toHaveLength(3);
  });

  it('an agent that never answers is a dead AgentError (an InfraError) once the wait is over', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsuite-agent-unit-'));
    fake = await new FakeAgent(join(dir, 'qga.sock')).listen();
    fake.ignoreSyncs = Infinity;
    const err = await failure(AgentClient.connect(fake.path, { waitMs: 400, syncTimeoutMs: 100 }));
    expect(err).toBeInstanceOf(AgentError);
    expect(err).toBeInstanceOf(InfraError);
    expect(err).toMatchObject({ kind: 'dead', exitCode: ExitCode.infra, message: expect.stringMatching(/no guest agent answered .* within 400 ms/) });
    expect((err as AgentError).fix).toMatch(/org\.qemu\.guest_agent\.0/);
  });

  it('a socket nobody listens on is a dead AgentError too', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsuite-agent-unit-'));
    const err = await failure(AgentClient.connect(join(dir, 'nothing.sock'), { waitMs: 200 }));
    expect(err).toMatchObject({ kind: 'dead', message: expect.stringContaining('ENOENT') });
  });
});

describe('AgentClient: failures end in AgentError, never a hang', () => {
  it('a reply that does not come is a timeout; the next command resyncs past the late reply', async () => {
    const { fake, client } = await setup({ timeoutMs: 150 });
    let late: Socket | undefined;
    fake.answer = (cmd) => {
      if (cmd.execute !== 'guest-info') return { return: {} };
      late = fake.sockets[0];
      return undefined;
    };
    const err = await failure(client.call('guest-info'));
    expect(err).toMatchObject({ kind: 'timeout', command: 'guest-info', message: expect.stringContaining('within 150 ms') });
    late!.write('{"return": {"version": "late"}}\n');
    expect(await client.call('guest-ping')).toEqual({});
    expect(fake.commands()).toEqual(['guest-sync-delimited', 'guest-info', 'guest-sync-delimited', 'guest-ping']);
  });

  it('a garbled reply is an AgentError naming what came, and the stream is resynced after it', async () => {
    const { fake, client } = await setup();
    fake.answer = (cmd) => (cmd.execute === 'guest-info' ? Buffer.from('*** this is not JSON ***\n') : { return: {} });
    const err = await failure(client.call('guest-info'));
    expect(err).toBeInstanceOf(InfraError);
    expect(err).toMatchObject({ kind: 'garbled', command: 'guest-info', message: expect.stringContaining('*** this is not JSON ***') });
    await client.ping();
    expect(fake.commands().slice(-2)).toEqual(['guest-sync-delimited', 'guest-ping']);
  });

  it('data that is not base64 where QGA promises base64 is garbled', async () => {
    const { fake, client } = await setup();
    fake.answer = (cmd) => (cmd.execute === 'guest-exec' ? { return: { pid: 1 } } : { return: { exited: true, exitcode: 0, 'out-data': '%%% not base64 %%%' } });
    expect(await failure(client.exec(['true']))).toMatchObject({ kind: 'garbled', command: 'guest-exec-status' });
  });

  it('an error reply is a rejected AgentError with the agent class, and the stream stays in step', async () => {
    const { fake, client } = await setup();
    fake.answer = (cmd) => (cmd.execute === 'guest-file-open' ? { error: { class: 'GenericError', desc: 'failed to open file' } } : { return: {} });
    const err = await failure(client.readFile('/nope'));
    expect(err).toMatchObject({ kind: 'rejected', command: 'guest-file-open', errorClass: 'GenericError', message: expect.stringContaining('failed to open file') });
    await client.ping();
    expect(fake.commands().slice(-1)).toEqual(['guest-ping']);
  });

  it('the connection closing mid-command rejects at once (dead), and so does every later call', async () => {
    const { fake, client } = await setup({ timeoutMs: 60_000 });
    fake.answer = () => {
      fake.sockets[0]!.destroy();
      return undefined;
    };
    const err = await failure(client.call('guest-exec-status', { pid: 3 }));
    expect(err).toMatchObject({ kind: 'dead', command: 'guest-exec-status', message: expect.stringContaining('socket closed') });
    expect(client.isClosed).toBe(true);
    expect(await failure(client.ping())).toMatchObject({ kind: 'dead', command: 'guest-ping' });
  });

  it('the guest closing the agent port (QMP VSERPORT_CHANGE) rejects the command in flight at once', async () => {
    const { fake, client } = await setup({ timeoutMs: 60_000 });
    fake.answer = () => undefined;
    const pending = failure(client.call('guest-exec-status', { pid: 3 }));
    await sleep(20);
    client.setPortOpen(false);
    expect(await pending).toMatchObject({ kind: 'dead', message: expect.stringContaining('closed the agent port') });
    expect(await failure(client.ping())).toMatchObject({ kind: 'dead' });
    // An agent that comes back is usable again, after a resync.
    fake.answer = () => ({ return: {} });
    client.setPortOpen(true);
    await client.ping();
    expect(fake.commands().slice(-2)).toEqual(['guest-sync-delimited', 'guest-ping']);
  });
});

describe('AgentClient: commands', () => {
  it('exec sends argv, env and stdin, polls status until exited, and decodes the output', async () => {
    const { fake, client } = await setup();
    let polls = 0;
    fake.answer = (cmd) => {
      if (cmd.execute === 'guest-exec') return { return: { pid: 77 } };
      return ++polls < 3
        ? { return: { exited: false } }
        : { return: { exited: true, exitcode: 4, 'out-data': Buffer.from('out\n').toString('base64'), 'err-data': Buffer.from([0xff, 0]).toString('base64') } };
    };
    const r = await client.exec(['/bin/sh', '-c', 'x'], { env: { A: '1', B: 'two words' }, input: Buffer.from([1, 2, 3]) });
    expect(r).toEqual({ exitCode: 4, signal: undefined, stdout: Buffer.from('out\n'), stderr: Buffer.from([0xff, 0]), truncated: false });
    expect(fake.received.find((c) => c.execute === 'guest-exec')!.arguments).toEqual({
      path: '/bin/sh', arg: ['-c', 'x'], env: ['A=1', 'B=two words'], 'input-data': 'AQID', 'capture-output': true,
    });
    expect(fake.received.filter((c) => c.execute === 'guest-exec-status').map((c) => c.arguments)).toEqual([{ pid: 77 }, { pid: 77 }, { pid: 77 }]);
  });

  it('exec reports a signal death and truncated output', async () => {
    const { fake, client } = await setup();
    fake.answer = (cmd) => (cmd.execute === 'guest-exec' ? { return: { pid: 5 } } : { return: { exited: true, signal: 9, 'out-truncated': true } });
    expect(await client.exec(['x'])).toMatchObject({ exitCode: undefined, signal: 9, truncated: true, stdout: Buffer.alloc(0) });
  });

  it('a command still running at its time limit is a still-running AgentError', async () => {
    const { fake, client } = await setup();
    fake.answer = (cmd) => (cmd.execute === 'guest-exec' ? { return: { pid: 9 } } : { return: { exited: false } });
    const err = await failure(client.exec(['sleep', '100'], { timeoutMs: 100 }));
    expect(err).toMatchObject({ kind: 'still-running', message: expect.stringContaining('`sleep 100` (guest pid 9) was still running after 100 ms') });
  });

  it('writeFile and readFile move data in FILE_CHUNK_BYTES pieces and close the handle', async () => {
    const { fake, client } = await setup();
    const files = new Map<string, Buffer>();
    const open = new Map<number, { path: string; at: number }>();
    fake.answer = ({ execute, arguments: a = {} }) => {
      if (execute === 'guest-file-open') {
        open.set(open.size + 1, { path: a.path as string, at: 0 });
        if (a.mode === 'w') files.set(a.path as string, Buffer.alloc(0));
        return { return: open.size };
      }
      const h = open.get(a.handle as number)!;
      if (execute === 'guest-file-write') {
        // A short write: the client must carry on from where the agent stopped.
        const data = Buffer.from(a['buf-b64'] as string, 'base64').subarray(0, FILE_CHUNK_BYTES - 1);
        files.set(h.path, Buffer.concat([files.get(h.path)!, data]));
        return { return: { count: data.length, eof: false } };
      }
      if (execute === 'guest-file-read') {
        const data = files.get(h.path)!.subarray(h.at, h.at + (a.count as number));
        h.at += data.length;
        return { return: { count: data.length, 'buf-b64': data.toString('base64'), eof: h.at >= files.get(h.path)!.length } };
      }
      return { return: {} };
    };
    const data = Buffer.from(Array.from({ length: 2 * FILE_CHUNK_BYTES + 10 }, (_, i) => (i * 7) % 256));
    await client.writeFile('/tmp/f', data);
    expect(files.get('/tmp/f')!.equals(data)).toBe(true);
    expect(await client.readFile('/tmp/f')).toEqual(data);
    const names = fake.commands().filter((c) => c !== 'guest-sync-delimited');
    expect(names.filter((c) => c === 'guest-file-write')).toHaveLength(3);
    expect(names.filter((c) => c === 'guest-file-read')).toHaveLength(3);
    expect(names.filter((c) => c === 'guest-file-close')).toHaveLength(2);
    expect(fake.received.filter((c) => c.execute === 'guest-file-read').every((c) => c.arguments!.count === FILE_CHUNK_BYTES)).toBe(true);
  });

  it('info and osInfo are camel-cased from QGA names', async () => {
    const { fake, client } = await setup();
    fake.answer = (cmd) =>
      cmd.execute === 'guest-info'
        ? { return: { version: '7.2.0', supported_commands: [{ name: 'guest-shutdown', enabled: true, 'success-response': false }] } }
        : { return: { 'kernel-release': '6.1.0', machine: 'x86_64', 'pretty-name': 'P', id: 'tsuite' } };
    expect(await client.info()).toEqual({ version: '7.2.0', commands: [{ name: 'guest-shutdown', enabled: true, successResponse: false }] });
    expect(await client.osInfo()).toMatchObject({ kernelRelease: '6.1.0', machine: 'x86_64', prettyName: 'P', id: 'tsuite' });
  });

  it('shutdown resolves without a reply (QGA sends none on success) but reports a refusal', async () => {
    const { fake, client } = await setup();
    fake.answer = () => undefined;
    await client.shutdown();
    expect(fake.received.at(-1)).toEqual({ execute: 'guest-shutdown', arguments: { mode: 'powerdown' } });
    fake.answer = () => ({ error: { class: 'GenericError', desc: 'child process has failed to shutdown' } });
    expect(await failure(client.shutdown('reboot'))).toMatchObject({ kind: 'rejected', message: expect.stringContaining('failed to shutdown') });
  });

  it('commands are sent one at a time, each after the previous reply', async () => {
    const { fake, client } = await setup();
    let inFlight = 0;
    let most = 0;
    fake.answer = () => {
      most = Math.max(most, ++inFlight);
      setTimeout(() => {
        inFlight--;
        fake.sockets[0]!.write('{"return": {}}\n');
      }, 5);
      return undefined;
    };
    await Promise.all(Array.from({ length: 5 }, () => client.ping()));
    expect(most).toBe(1);
    expect(fake.commands().filter((c) => c === 'guest-ping')).toHaveLength(5);
  });
});
