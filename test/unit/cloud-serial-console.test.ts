import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConsoleChannel } from '../../src/channels/console.js';
import { CloudApiError, type SerialChunk } from '../../runners/cloud/cloud-provider.js';
import { SerialConsole } from '../../runners/cloud/serial-console.js';

/**
 * A serial port as GCE documents it: output accumulates; only the last `window` bytes are kept; a
 * read from a discarded offset starts at the oldest kept byte and says so in `start`.
 */
function serialPort(window: number) {
  let all = '';
  return {
    write: (text: string) => (all += text),
    read: async (start: number): Promise<SerialChunk> => {
      const oldest = Math.max(0, all.length - window);
      const from = Math.max(start, oldest);
      return { contents: all.slice(from), start: from, next: all.length };
    },
  };
}

const tmp = () => join(mkdtempSync(join(tmpdir(), 'tsuite-serial-')), 'console.log');

describe('the cloud serial console', () => {
  it('reads incrementally from next, into the console channel and console.log, with nothing repeated', async () => {
    const port = serialPort(1 << 20);
    const console = new ConsoleChannel();
    const log = tmp();
    const serial = new SerialConsole(port.read, console, log, 10);
    port.write('line one\nline t');
    await serial.readOnce();
    port.write('wo\nline three\n');
    await serial.readOnce();
    await serial.readOnce();
    await serial.close();
    expect(console.lines.map((l) => l.text)).toEqual(['line one', 'line two', 'line three']);
    expect(readFileSync(log, 'utf8')).toBe('line one\nline two\nline three\n');
    expect(serial.gaps).toEqual([]);
  });

  it('a jump in the returned start is a reported gap, written where it happened, never silently lost', async () => {
    const port = serialPort(16);
    const console = new ConsoleChannel();
    const log = tmp();
    const serial = new SerialConsole(port.read, console, log, 10);
    port.write('boot 1\n');
    await serial.readOnce();
    port.write('0123456789abcdefghijklmnopqrstuvwxyz\nready\n');
    await serial.readOnce();
    await serial.close();
    expect(serial.gaps).toEqual([{ from: 7, to: 43 - 16 + 7 }]);
    const text = readFileSync(log, 'utf8');
    expect(text).toMatch(/^boot 1\n\n\[tsuite: the provider discarded serial output bytes 7-34 before tsuite could read them: 27 bytes lost\]\n/);
    expect(text.endsWith('ready\n')).toBe(true);
    expect(console.lines.some((l) => l.text === 'ready')).toBe(true);
  });

  it('keeps polling through a transient error, and fails for good after repeated ones', async () => {
    let failing = 1;
    const port = serialPort(1 << 20);
    port.write('hello\n');
    const read = async (start: number) => {
      if (failing-- > 0) throw new CloudApiError('reading the serial console: backend error (HTTP 503)', 503);
      return port.read(start);
    };
    const console = new ConsoleChannel();
    const serial = new SerialConsole(read, console, tmp(), 5);
    serial.start();
    await console.expect(/hello/, { timeoutMs: 2_000 });
    expect(serial.readErrors).toBe(1);
    failing = 100;
    await expect(serial.lost).rejects.toThrow(/HTTP 503/);
    expect(serial.failure).toBeInstanceOf(CloudApiError);
    await serial.close();
  });
});
