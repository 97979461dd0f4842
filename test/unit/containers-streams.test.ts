import Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import { Collector, demuxBuffer, engineTimeNs, parseTimestamped } from '../../suites/containers/streams.js';

/** One frame of the Engine API's multiplexed stream: type (1 stdout, 2 stderr), 3 zero bytes, big-endian length, payload. */
function frame(type: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('parseTimestamped', () => {
  it('reads an RFC3339Nano time to the nanosecond, and the text after the first space', () => {
    const l = parseTimestamped('2024-05-06T07:08:09.123456789Z hello world');
    expect(l).toEqual({ time: '2024-05-06T07:08:09.123456789Z', ns: BigInt(Date.parse('2024-05-06T07:08:09Z')) * 1_000_000n + 123_456_789n, text: 'hello world' });
  });

  it('orders lines microseconds apart, which milliseconds could not', () => {
    const a = parseTimestamped('2024-05-06T07:08:09.000000100Z a')!;
    const b = parseTimestamped('2024-05-06T07:08:09.000000200Z b')!;
    expect(b.ns - a.ns).toBe(100n);
  });

  it('takes short fractions (Go trims trailing zeros), no fraction, and zone offsets', () => {
    expect(parseTimestamped('2024-05-06T07:08:09.5Z x')!.ns % 1_000_000_000n).toBe(500_000_000n);
    expect(parseTimestamped('2024-05-06T07:08:09Z x')!.ns % 1_000_000_000n).toBe(0n);
    expect(parseTimestamped('2024-05-06T09:08:09.1+02:00 x')!.ns).toBe(parseTimestamped('2024-05-06T07:08:09.1Z x')!.ns);
  });

  it('keeps an empty text and rejects lines without a leading time', () => {
    expect(parseTimestamped('2024-05-06T07:08:09.1Z ')!.text).toBe('');
    expect(parseTimestamped('hello 2024-05-06T07:08:09Z')).toBeUndefined();
    expect(parseTimestamped('2024-05-06T07:08:09.1Z')).toBeUndefined();
  });

  it('engineTimeNs reads a State time and refuses anything else', () => {
    expect(engineTimeNs('2024-05-06T07:08:09.000000001Z') - engineTimeNs('2024-05-06T07:08:09Z')).toBe(1n);
    expect(() => engineTimeNs('0001-01-01')).toThrow(/RFC 3339/);
  });
});

describe('demuxBuffer', () => {
  const api = new Dockerode({ socketPath: '/nonexistent' });

  it('splits a multiplexed body into stdout and stderr, in order', async () => {
    const body = Buffer.concat([frame(1, 'out-1\n'), frame(2, 'err-1\n'), frame(1, 'out-2\n'), frame(2, '')]);
    expect(await demuxBuffer(api, body)).toEqual({ stdout: 'out-1\nout-2\n', stderr: 'err-1\n' });
  });

  it('passes a TTY body through as stdout', async () => {
    expect(await demuxBuffer(api, Buffer.from('raw\r\n'), true)).toEqual({ stdout: 'raw\r\n', stderr: '' });
  });
});

describe('Collector', () => {
  it('resolves once the text appears, even in pieces', async () => {
    const c = new Collector();
    const seen = c.waitFor(/<(\w+)>/, new AbortController().signal, 1000);
    c.push('<he');
    c.push('llo>');
    await expect(seen).resolves.toBe('<hello>');
  });

  it('rejects when the stream ends first, and names what it held', async () => {
    const c = new Collector();
    const seen = c.waitFor('never', new AbortController().signal, 1000);
    c.push('something else');
    c.end();
    await expect(seen).rejects.toThrow(/ended without never.*something else/);
  });

  it('rejects on timeout and on abort', async () => {
    await expect(new Collector().waitFor('x', new AbortController().signal, 20)).rejects.toThrow(/did not appear within 20 ms/);
    const ac = new AbortController();
    const seen = new Collector().waitFor('x', ac.signal, 10_000);
    ac.abort(new Error('test timed out'));
    await expect(seen).rejects.toThrow('test timed out');
  });
});
