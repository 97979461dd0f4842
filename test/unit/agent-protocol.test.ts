import { describe, expect, it } from 'vitest';
import { encodeCommand, encodeSync, fromBase64, parseReply, ReplyFramer, SENTINEL, toBase64 } from '../../src/channels/agent-protocol.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');

describe('QGA framing', () => {
  it('encodes a command as one JSON line, arguments only when there are some', () => {
    expect(encodeCommand('guest-ping').toString()).toBe('{"execute":"guest-ping"}\n');
    expect(encodeCommand('guest-exec-status', { pid: 42 }).toString()).toBe('{"execute":"guest-exec-status","arguments":{"pid":42}}\n');
  });

  it('a sync request starts with the 0xFF that flushes the agent parser', () => {
    const sync = encodeSync(7);
    expect(sync[0]).toBe(SENTINEL);
    expect(JSON.parse(sync.subarray(1).toString())).toEqual({ execute: 'guest-sync-delimited', arguments: { id: 7 } });
  });

  it('reads return and error replies', () => {
    expect(parseReply('{"return": {}}')).toEqual({ kind: 'return', value: {} });
    expect(parseReply('{"return": 5}')).toEqual({ kind: 'return', value: 5 });
    expect(parseReply('{"error": {"class": "CommandNotFound", "desc": "no such command"}}')).toEqual({ kind: 'error', errorClass: 'CommandNotFound', desc: 'no such command' });
  });

  it('flags anything else as garbled, shortened', () => {
    expect(parseReply('not json')).toEqual({ kind: 'garbled', text: 'not json' });
    expect(parseReply('[1,2]').kind).toBe('garbled');
    expect(parseReply('{"hello": 1}').kind).toBe('garbled');
    expect(parseReply('{"error": "flat"}').kind).toBe('garbled');
    const long = parseReply(`"${'x'.repeat(500)}"`);
    expect(long.kind === 'garbled' && long.text.length).toBeLessThan(130);
  });

  it('splits replies across and within chunks', () => {
    const f = new ReplyFramer();
    expect(f.push(bytes('{"return": 1}\n{"ret'))).toEqual([{ kind: 'return', value: 1 }]);
    expect(f.push(bytes('urn": 2}'))).toEqual([]);
    expect(f.push(bytes('\n\n{"return": 3}\n'))).toEqual([{ kind: 'return', value: 2 }, { kind: 'return', value: 3 }]);
  });

  it('after a sync request, drops whole lines until the sentinel', () => {
    const f = new ReplyFramer();
    f.push(bytes('{"return": "half a stale li'));
    f.expectSentinel();
    expect(f.waitingForSentinel).toBe(true);
    expect(f.push(bytes('ne"}\n{"return": "stale"}\n'))).toEqual([]);
    expect(f.push(Buffer.concat([bytes('{"error": {"class": "GenericError", "desc": "JSON parse error"}}\n'), Buffer.from([SENTINEL]), bytes('{"return": 99}\n')]))).toEqual([
      { kind: 'return', value: 99 },
    ]);
    expect(f.waitingForSentinel).toBe(false);
  });

  it('a 0xFF mid-line resets the parser: the partial line before it is dropped', () => {
    const f = new ReplyFramer();
    expect(f.push(Buffer.concat([bytes('{"return": "cut'), Buffer.from([SENTINEL]), bytes('{"return": 4}\n')]))).toEqual([{ kind: 'return', value: 4 }]);
  });

  it('a reply is UTF-8, even split inside a character', () => {
    const f = new ReplyFramer();
    const line = Buffer.from('{"return": "héllo"}\n', 'utf8');
    const at = line.indexOf(0xc3) + 1;
    expect(f.push(line.subarray(0, at))).toEqual([]);
    expect(f.push(line.subarray(at))).toEqual([{ kind: 'return', value: 'héllo' }]);
  });
});

describe('QGA base64', () => {
  it('round-trips bytes', () => {
    const data = Buffer.from([0, 1, 2, 0xfe, 0xff, 10]);
    expect(fromBase64(toBase64(data))!.equals(data)).toBe(true);
    expect(fromBase64('')!.length).toBe(0);
  });

  it('rejects text that is not base64 instead of decoding part of it', () => {
    expect(fromBase64('not base64!')).toBeUndefined();
    expect(fromBase64('QUJD')!.toString()).toBe('ABC');
  });
});
