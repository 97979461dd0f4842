import { describe, expect, it } from 'vitest';
import type { SerialChunk } from '../../runners/cloud/cloud-provider.js';
import { ConsoleMerge, LATE_NOTE, MIN_OVERLAP, suffixPrefixOverlap } from '../../runners/aws/console-merge.js';

/**
 * EC2's console as GetConsoleOutput documents it, simulated: output accumulates; the default reply
 * is what was posted at the last state change (the last 64 KB at that moment, or nothing before the
 * first post); `Latest=true` is the last 64 KB now. The merge must turn both into one stream.
 */
const W = 64 * 1024;

function ec2Console(window = W) {
  let all = '';
  let posted: string | undefined;
  return {
    write: (text: string) => (all += text),
    post: () => (posted = all.slice(-window)),
    head: () => posted ?? '',
    tail: () => all.slice(-window),
    get all() {
      return all;
    },
  };
}

/** Numbered lines as a kernel prints them, CRLF as EC2 returns them: unique, so a duplicate shows. */
const line = (n: number) => `[ ${String(n).padStart(6, ' ')}.000000] tsuite boot line ${String(n).padStart(6, '0')} of a long boot\r\n`;
const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => line(from + i)).join('');

/**
 * What the provider and the lifecycle do together: a read asks EC2 only when nothing is pending
 * past `start` (a reply stops at a gap); a reply whose start is later than asked is a gap, written
 * into the log as the lifecycle writes it.
 */
function reader(con: ReturnType<typeof ec2Console>, opts: { latest?: boolean } = {}) {
  const merge = new ConsoleMerge();
  let next = 0;
  let log = '';
  const gaps: { from: number; to: number }[] = [];
  const readSerial = (start: number): SerialChunk => {
    if (!merge.hasAfter(start)) {
      merge.add(con.head());
      if (opts.latest !== false) merge.add(con.tail());
    }
    return merge.read(start);
  };
  const poll = () => {
    // Like SerialConsole: one read per poll; what a gap held back comes with the following polls.
    const chunk = readSerial(next);
    if (chunk.start > next) {
      gaps.push({ from: next, to: chunk.start });
      log += '<GAP>';
    }
    log += chunk.contents;
    next = Math.max(next, chunk.next);
    return chunk;
  };
  const drain = () => {
    while (merge.hasAfter(next)) poll();
  };
  return { merge, poll, drain, get log() { return log; }, gaps, get next() { return next; } };
}

const numbersIn = (text: string) => [...text.matchAll(/boot line (\d{6})/g)].map((m) => Number(m[1]));

describe('the EC2 console merge', () => {
  it('keeps the head and the tail of a boot longer than 64 KiB read in several polls, with one gap where the output was lost', () => {
    const con = ec2Console();
    const r = reader(con);
    con.write(lines(0, 100));
    con.post(); // EC2 posts the console shortly after the instance starts
    con.write(lines(100, 200));
    r.poll();
    con.write(lines(200, 800));
    r.poll();
    const knownBefore = r.next;
    con.write(lines(800, 5000)); // far more than 64 KiB between two polls
    r.poll();
    con.write(lines(5000, 5100));
    r.poll();
    r.drain();

    expect(con.all.length).toBeGreaterThan(3 * W);
    expect(r.gaps).toHaveLength(1);
    expect(r.gaps[0]!.from).toBe(knownBefore);
    expect(r.merge.gaps).toEqual(r.gaps);
    const n = numbersIn(r.log);
    // The head: every line from the first; the tail: the last 64 KiB; nothing twice, in order.
    expect(new Set(n).size).toBe(n.length);
    expect(n).toEqual([...n].sort((a, b) => a - b));
    expect(n.slice(0, 800)).toEqual(Array.from({ length: 800 }, (_, i) => i));
    expect(n.at(-1)).toBe(5099);
    const [before, after] = r.log.split('<GAP>');
    expect(before).toBe(lines(0, 800));
    // After the gap: exactly EC2's last window at that poll, then what followed.
    expect(con.all.endsWith(after!)).toBe(true);
    expect(after!.length).toBeGreaterThanOrEqual(W);
  });

  it('never duplicates across overlapping polls, whatever the cut (mid-line, between CR and LF)', () => {
    const con = ec2Console();
    const r = reader(con);
    con.write(lines(0, 3));
    con.post();
    const text = lines(3, 3000);
    let at = 0;
    // Steps of varied sizes, all under the window: every byte is seen once.
    for (let i = 0; at < text.length; i++) {
      const step = [1, 7, 500, 4096, 30_000, 63 * 1024][i % 6]!;
      con.write(text.slice(at, at + step));
      at += step;
      r.poll();
    }
    r.drain();
    expect(r.gaps).toEqual([]);
    expect(r.log).toBe(con.all);
  });

  it('CRLF output whose windows cut between CR and LF is kept byte for byte', () => {
    const con = ec2Console();
    const r = reader(con);
    const text = lines(0, 40);
    const cuts = [...text.matchAll(/\r/g)].map((m) => m.index! + 1); // just after each CR
    let at = 0;
    for (const cut of cuts) {
      con.write(text.slice(at, cut));
      at = cut;
      r.poll();
    }
    con.write(text.slice(at));
    r.poll();
    expect(r.log).toBe(text);
    expect(r.log.split('\r\n').filter(Boolean)).toHaveLength(40);
  });

  it('a tail that has not grown returns nothing and does not move', () => {
    const con = ec2Console();
    const r = reader(con);
    con.write(lines(0, 10));
    const first = r.poll();
    expect(first.contents).toBe(lines(0, 10));
    const again = r.poll();
    expect(again).toEqual({ contents: '', start: first.next, next: first.next });
    con.post(); // a head that is all known changes nothing
    expect(r.poll().contents).toBe('');
  });

  it('a head posted only after the first tail adds nothing it already has', () => {
    const con = ec2Console();
    const r = reader(con);
    con.write(lines(0, 50));
    r.poll(); // no head yet: EC2 has not posted
    con.post();
    con.write(lines(50, 60));
    r.poll();
    r.drain();
    expect(r.log).toBe(lines(0, 60));
    expect(r.gaps).toEqual([]);
  });

  it('earlier output posted late (the first tail had already moved past it) is kept once, after a note, and later tails still join', () => {
    const con = ec2Console();
    const r = reader(con);
    con.write(lines(0, 3000)); // over 64 KiB before the first read, and nothing posted yet
    const firstTail = r.poll().contents;
    const tailStart = con.all.length - firstTail.length;
    expect(tailStart).toBeGreaterThan(0);
    // What EC2 posted for the start arrives late, reaching 2000 bytes into the first tail's window.
    expect(r.merge.add(con.all.slice(0, tailStart + 2000))).toBe('late');
    r.drain();
    con.write(lines(3000, 3100));
    r.poll();
    r.drain();
    const n = numbersIn(r.log);
    expect(new Set(n).size).toBe(n.length);
    const [known, rest] = r.log.split(LATE_NOTE);
    expect(known).toBe(firstTail);
    expect(rest).toBe(con.all.slice(0, tailStart) + lines(3000, 3100));
    expect(r.gaps).toEqual([]);
  });

  it('a late beginning that does not reach the first tail follows a gap and a note', () => {
    const con = ec2Console();
    const r = reader(con);
    con.write(lines(0, 3000));
    const firstTail = r.poll().contents;
    expect(r.merge.add(lines(0, 500))).toBe('late');
    r.drain();
    con.write(lines(3000, 3010));
    r.poll();
    r.drain();
    expect(r.gaps).toHaveLength(1);
    expect(r.log).toBe(`${firstTail}<GAP>${LATE_NOTE}${lines(0, 500)}${lines(3000, 3010)}`);
  });

  it('a beginning posted again, longer (EC2 posting from the start at terminate), adds only what it did not have, once, after a note', () => {
    const m = new ConsoleMerge();
    const early = lines(0, 50);
    m.add(early); // the first post: the start of the boot
    const all = lines(0, 3000); // far more than one window
    m.add(all.slice(-W)); // the tail: a gap after the first 50 lines
    const again = all.slice(0, W); // the start once more, now a whole window
    expect(m.add(again)).toBe('late');
    expect(m.add(again)).toBe('known');
    const text = m.text;
    expect(text.split(LATE_NOTE)).toHaveLength(2);
    // Every line of the second beginning appears exactly once in the stream.
    for (const n of [0, 49, 50, 400]) expect(text.split(line(n)).length - 1, `line ${n}`).toBe(1);
    expect(m.gaps).toHaveLength(1);
  });

  it('the console posted at terminate brings the last lines once', () => {
    const con = ec2Console();
    const r = reader(con);
    con.write(lines(0, 100));
    con.post();
    r.poll();
    con.write(lines(100, 130)); // written just before the power-off, never polled
    con.post(); // EC2 posts at terminate; the latest window is no longer served
    const merge = r.merge;
    merge.add(con.head());
    r.poll();
    expect(r.log).toBe(lines(0, 130));
  });

  it('without Latest (not Nitro) the heads alone make the stream, with a gap when they do not meet', () => {
    const con = ec2Console();
    const r = reader(con, { latest: false });
    con.write(lines(0, 100));
    con.post();
    r.poll();
    con.write(lines(100, 4000));
    con.post(); // terminate
    r.poll();
    r.drain();
    expect(r.gaps).toHaveLength(1);
    const n = numbersIn(r.log);
    expect(n.slice(0, 100)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(n.at(-1)).toBe(3999);
    expect(new Set(n).size).toBe(n.length);
  });

  it('a short chance match across a loss is not taken for an overlap', () => {
    const merge = new ConsoleMerge();
    merge.add('boot\nready\n');
    // After a loss, a window that happens to start with a newline: a gap, and the window whole.
    const piece = '\nlater output that EC2 still has\n';
    expect(merge.add(piece)).toBe('gap');
    expect(merge.read(0)).toEqual({ contents: 'boot\nready\n', start: 0, next: 11 });
    const after = merge.read(11);
    expect(after.start).toBeGreaterThan(11);
    expect(after.contents).toBe(piece);
    expect(merge.read(after.next)).toEqual({ contents: '', start: after.next, next: after.next });
  });

  it('overlap is the longest end of the known text that begins the piece', () => {
    expect(suffixPrefixOverlap('abcabc', 'abcabcx')).toBe(6);
    expect(suffixPrefixOverlap('xxabab', 'ababab')).toBe(4);
    expect(suffixPrefixOverlap('abc', 'def')).toBe(0);
    expect(suffixPrefixOverlap('', 'a')).toBe(0);
    expect(suffixPrefixOverlap('aaaa', 'aa')).toBe(2);
    expect(suffixPrefixOverlap('hello\r', '\r\nworld')).toBe(1);
    const big = lines(0, 2000);
    expect(suffixPrefixOverlap(big, big.slice(-1000) + 'new')).toBe(1000);
    expect(MIN_OVERLAP).toBeGreaterThan(2);
  });
});
