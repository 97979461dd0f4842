import { describe, expect, it } from 'vitest';
import {
  Channel,
  closeStdinFrame,
  decodeFrame,
  encodeFrame,
  encodePortPrefix,
  exitCodeOf,
  parseStatus,
  redactStreamUrl,
  resizeFrame,
  splitPortPrefix,
  webSocketUrl,
} from '../../src/channels/cri-stream-wire.js';

describe('channel frames', () => {
  it('puts the channel byte before the payload, for bytes and text', () => {
    expect([...encodeFrame(Channel.stdin, 'hi\n')]).toEqual([0, 0x68, 0x69, 0x0a]);
    expect([...encodeFrame(Channel.stdin, Uint8Array.of(1, 2))]).toEqual([0, 1, 2]);
    expect([...encodeFrame(Channel.stdout)]).toEqual([1]);
  });

  it('decodes a frame into channel and payload; the ready frame has an empty payload; no bytes, no frame', () => {
    const f = decodeFrame(Buffer.from([2, 0x65, 0x72, 0x72]));
    expect(f?.channel).toBe(Channel.stderr);
    expect(f?.payload.toString()).toBe('err');
    expect(decodeFrame(Buffer.from([1]))?.payload.length).toBe(0);
    expect(decodeFrame(new Uint8Array(0))).toBeUndefined();
    // A Uint8Array view into a larger buffer decodes its own bytes only.
    const backing = Uint8Array.of(9, 9, 3, 0x7b, 0x7d, 9);
    expect(decodeFrame(backing.subarray(2, 5))).toMatchObject({ channel: 3 });
    expect(decodeFrame(backing.subarray(2, 5))!.payload.toString()).toBe('{}');
  });

  it("sends a resize as Go's TerminalSize JSON on channel 4, and refuses sizes the server would ignore", () => {
    const f = resizeFrame({ width: 123, height: 45 });
    expect(f[0]).toBe(4);
    expect(JSON.parse(f.subarray(1).toString())).toEqual({ Width: 123, Height: 45 });
    expect(() => resizeFrame({ width: 0, height: 45 })).toThrow(RangeError);
    expect(() => resizeFrame({ width: 80, height: 70_000 })).toThrow(/height/);
    expect(() => resizeFrame({ width: 80.5, height: 24 })).toThrow(/width/);
  });

  it("closes stdin with v5's close message [255, 0]", () => {
    expect([...closeStdinFrame()]).toEqual([255, 0]);
  });
});

describe('status on the error channel', () => {
  const nonZero = {
    metadata: {},
    status: 'Failure',
    message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: '3' }] },
  };

  it('reads exit 0 from Success and N from NonZeroExitCode with an ExitCode cause', () => {
    expect(exitCodeOf(parseStatus(Buffer.from('{"metadata":{},"status":"Success"}'))!)).toBe(0);
    expect(exitCodeOf(parseStatus(Buffer.from(JSON.stringify(nonZero)))!)).toBe(3);
    expect(exitCodeOf({ ...nonZero, details: { causes: [{ reason: 'ExitCode', message: '255' }] } })).toBe(255);
  });

  it('gives no exit code for a failure to run, or a NonZeroExitCode without a readable cause', () => {
    const internal = { status: 'Failure', reason: 'InternalError', code: 500, message: 'Internal error occurred: error executing command in container: …' };
    expect(exitCodeOf(internal)).toBeUndefined();
    expect(exitCodeOf({ ...nonZero, details: { causes: [] } })).toBeUndefined();
    expect(exitCodeOf({ ...nonZero, details: { causes: [{ reason: 'ExitCode', message: 'three' }] } })).toBeUndefined();
  });

  it('treats an empty error channel as no status, and non-JSON text as a failure message', () => {
    expect(parseStatus(Buffer.alloc(0))).toBeUndefined();
    expect(parseStatus(Buffer.from('  \n'))).toBeUndefined();
    expect(parseStatus(Buffer.from('error attaching to container: boom'))).toEqual({ status: 'Failure', message: 'error attaching to container: boom' });
  });
});

describe('port-forward prefixes', () => {
  it('opens each channel with the port as 2 bytes little-endian', () => {
    expect([...encodePortPrefix(8080)]).toEqual([0x90, 0x1f]);
    expect(splitPortPrefix(Buffer.from([0x90, 0x1f]))).toEqual({ port: 8080, rest: Buffer.alloc(0) });
    expect(splitPortPrefix(Buffer.from([0x50, 0x00, 0x61]))).toEqual({ port: 80, rest: Buffer.from('a') });
    expect(splitPortPrefix(Buffer.from([0x50]))).toBeUndefined();
  });
});

describe('streaming URLs', () => {
  it('maps http(s) to ws(s) and keeps the path', () => {
    expect(webSocketUrl('http://10.0.2.15:10010/exec/AbC')).toBe('ws://10.0.2.15:10010/exec/AbC');
    expect(webSocketUrl('https://[fd00::1]:10010/attach/x')).toBe('wss://[fd00::1]:10010/attach/x');
    expect(() => webSocketUrl('ftp://host/exec/secret')).toThrow(/ftp:\/\/host\/exec\/<token>/);
  });

  it('keeps the one-time token and any query out of what it prints', () => {
    expect(redactStreamUrl('http://10.0.2.15:10010/exec/Zm9vYmFy')).toBe('http://10.0.2.15:10010/exec/<token>');
    expect(redactStreamUrl('http://127.0.0.1:4000/prefix/portforward/tok/?port=80')).toBe('http://127.0.0.1:4000/prefix/portforward/<token>/');
    expect(redactStreamUrl('not a url')).toBe('<unparsable streaming URL>');
  });
});
