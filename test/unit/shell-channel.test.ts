import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConsoleChannel } from '../../src/channels/console.js';
import { ShellChannel, ShellClosed, ShellTimeout, type ShellSettings } from '../../src/channels/shell.js';
import { outputBeforePrompt, TerminalTranscript, terminalText } from '../../src/channels/shell-text.js';
import { FIXTURE_SHELL_PROMPT } from '../../kernel/fixture/fixture-protocol.js';

/**
 * The shell channel against a fake console that answers with real bytes: the fixture kernel's
 * shell booted from two IDE disks (fixtures/shell/README.md says how they were captured). Each
 * command typed gets the guest's own reply to it: its echo, its output and the next prompt.
 */
const CAPTURE = readFileSync(new URL('../../fixtures/shell/fixture-shell-x86_64.log', import.meta.url), 'latin1');
/** The bold prompt exactly as the kernel sends it. */
const RAW_PROMPT = '\x1b[1mfixture>\x1b[0m ';
/** The commands typed during the capture, in order. */
const TYPED = ['help', 'echo hello shell', 'ls', 'cat hello.txt', 'pci', 'cat hellX\x7fo.txt', 'uptime'];

/** The capture cut after each prompt: [0] is the boot up to the first prompt, [i] the reply to TYPED[i-1]. */
function replies(capture: string): string[] {
  const parts = capture.split(RAW_PROMPT);
  return parts.slice(0, -1).map((p) => p + RAW_PROMPT);
}

interface FakeGuest {
  console: ConsoleChannel;
  typed: string[];
  writes: string[];
}

/**
 * A console whose guest replies to each completed line with the next captured reply, delivered in
 * chunks of `chunk` bytes (1: byte by byte, so escapes and the prompt arrive split).
 */
function fakeGuest(replyList: readonly string[], chunk = 7, answer: 'reply' | 'echo only' = 'reply'): FakeGuest {
  const typed: string[] = [];
  const writes: string[] = [];
  let line = '';
  let next = 1;
  const feed = (text: string) => {
    for (let i = 0; i < text.length; i += chunk) console.push(text.slice(i, i + chunk));
  };
  const console: ConsoleChannel = new ConsoleChannel(Date.now(), (text) => {
    writes.push(text);
    line += text;
    if (!line.endsWith('\r')) return;
    typed.push(line);
    line = '';
    const reply = answer === 'echo only' ? `${typed.at(-1)!.slice(0, -1)}\r\n` : replyList[next++];
    if (reply !== undefined) setImmediate(() => feed(reply));
  });
  feed(replyList[0]!);
  return { console, typed, writes };
}

const SETTINGS: ShellSettings = { prompt: FIXTURE_SHELL_PROMPT, timeoutMs: 2_000 };
const REPLIES = replies(CAPTURE);

describe('the captured fixture shell', () => {
  it('holds a reply to every command typed', () => {
    expect(REPLIES).toHaveLength(TYPED.length + 1);
    expect(CAPTURE.endsWith(RAW_PROMPT)).toBe(true);
  });
});

describe('terminalText', () => {
  it("removes GRUB's clear-screen escapes, the prompt's bold, \\r, and applies the echo of an erased character", () => {
    const text = terminalText(CAPTURE);
    expect(text).not.toMatch(/[\x1b\r\b]/);
    expect(text).toContain("  Booting `tsuite'");
    expect(text).toContain('fixture> cat hello.txt\nhello from the second IDE disk');
    // `cat hellX<DEL>o.txt` was echoed as `cat hellX\b \bo.txt`.
    expect(text.split('\n').filter((l) => l === 'fixture> cat hello.txt')).toHaveLength(2);
  });

  it('keeps an escape sequence cut short until the rest arrives, and never erases across a line break', () => {
    expect(terminalText('a\x1b[1')).toBe('a\x1b[1');
    expect(terminalText('a\x1b[1mb\x1b]0;title\x07c')).toBe('abc');
    expect(terminalText('line\n\b\bx')).toBe('line\nx');
  });
});

describe('TerminalTranscript', () => {
  it('gives the same text as converting the whole capture at once, whatever the chunks', () => {
    for (const size of [1, 3, 17, 4096]) {
      const t = new TerminalTranscript();
      for (let i = 0; i < CAPTURE.length; i += size) t.push(CAPTURE.slice(i, i + size));
      expect(t.text).toBe(terminalText(CAPTURE));
      expect(t.text.slice(t.lastLineStart)).toBe('fixture> ');
    }
  });
});

describe('outputBeforePrompt', () => {
  it('waits for the end of the echoed line, then for the prompt', () => {
    const prompt = /fixture> $/;
    expect(outputBeforePrompt('l', prompt, true)).toBeUndefined();
    expect(outputBeforePrompt('ls\nd 0 etc/\n', prompt, true)).toBeUndefined();
    expect(outputBeforePrompt('ls\nd 0 etc/\nfixture> ', prompt, true)).toEqual({ output: 'd 0 etc/', echoed: 'ls' });
    // Without echo, the whole text before the prompt is output.
    expect(outputBeforePrompt('d 0 etc/\nfixture> ', prompt, false)).toEqual({ output: 'd 0 etc/' });
  });

  it('searches from a given line start only, so text already searched is not searched again', () => {
    expect(outputBeforePrompt('ls\nfixture> \nmore\nfixture> ', /fixture> $/, true, 13)).toEqual({ output: 'fixture> \nmore', echoed: 'ls' });
    expect(outputBeforePrompt('ls\nout\n', /fixture> $/, true, 7)).toBeUndefined();
  });

  it('does not take a prompt-shaped echo for the prompt', () => {
    // A command that is itself the prompt's text: with echo the first line is never searched.
    expect(outputBeforePrompt('x> \n', /x> $/, true)).toBeUndefined();
    expect(outputBeforePrompt('x> \nout\nx> ', /x> $/, true)).toEqual({ output: 'out', echoed: 'x> ' });
  });
});

describe('ShellChannel on the captured bytes', () => {
  for (const chunk of [1, 7, 4096]) {
    it(`runs each command and returns its output, echo and escapes stripped (replies in chunks of ${chunk} bytes)`, async () => {
      const guest = fakeGuest(REPLIES, chunk);
      const shell = new ShellChannel(guest.console, SETTINGS);
      // The first prompt was already waiting, unterminated, when the channel was made.
      expect(await shell.ready()).toBe('');
      expect(await shell.run('help')).toBe('commands: help, echo <words>, mem, disks, ls, cat <file>, pci, uptime, ticks');
      expect(await shell.run('echo hello shell')).toBe('hello shell');
      expect(await shell.run('ls')).toBe('d 0 etc/\n- 110 etc/motd\n- 31 hello.txt');
      expect(await shell.run('cat hello.txt')).toBe('hello from the second IDE disk');
      expect(await shell.run('pci')).toMatch(/^00:00\.0 8086:1237 class 06\.00\.00\n(.*\n)*00:01\.1 8086:7010 class 01\.01\.80\n.*\npci: 4 function\(s\)$/);
      expect(await shell.run('cat hellX\x7fo.txt')).toBe('hello from the second IDE disk');
      expect(await shell.run('uptime')).toMatch(/^up \d+\.\d{3} s \(\d+ ticks at 1000 Hz\)$/);
      // Exactly what the capture's guest was sent: each command and the default line ending, \r.
      expect(guest.typed).toEqual(TYPED.map((c) => `${c}\r`));
      shell.close();
    });
  }

  it('waits for the first prompt, returning what the kernel printed before it', async () => {
    const console = new ConsoleChannel(Date.now(), () => undefined);
    const shell = new ShellChannel(console, SETTINGS);
    const ready = shell.ready();
    for (let i = 0; i < REPLIES[0]!.length; i += 5) console.push(REPLIES[0]!.slice(i, i + 5));
    expect(await ready).toMatch(/tsuite-fixture: ready\n(.*\n)*tsuite-fixture: shell on COM1; no power-off, no exit device$/);
  });

  it('runs commands one at a time when they are issued together', async () => {
    const guest = fakeGuest(REPLIES);
    const shell = new ShellChannel(guest.console, SETTINGS);
    await shell.ready();
    const [help, echo] = await Promise.all([shell.run('help'), shell.run('echo hello shell')]);
    expect(help).toMatch(/^commands: /);
    expect(echo).toBe('hello shell');
  });

  it('types one character at a time with charDelayMs', async () => {
    const guest = fakeGuest(REPLIES);
    const shell = new ShellChannel(guest.console, { ...SETTINGS, charDelayMs: 2 });
    await shell.ready();
    const started = Date.now();
    expect(await shell.run('help')).toMatch(/^commands: /);
    expect(guest.writes).toEqual([...'help\r']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(8);
  });

  it('reads a shell that does not echo (the same replies with their echo line removed), recording what it types', async () => {
    const noEcho = REPLIES.map((r, i) => (i === 0 ? r : r.slice(r.indexOf('\n') + 1)));
    const guest = fakeGuest(noEcho);
    const recorded: string[] = [];
    const shell = new ShellChannel(guest.console, { ...SETTINGS, echo: false }, { record: (t) => recorded.push(t) });
    await shell.ready();
    expect(await shell.run('help')).toMatch(/^commands: help, /);
    expect(await shell.run('echo hello shell')).toBe('hello shell');
    expect(recorded).toEqual(['help\r', 'echo hello shell\r']);
  });

  it('fails a command whose prompt never returns with a timeout naming the command and the last console lines', async () => {
    // The guest echoes the command and then says nothing more.
    const guest = fakeGuest(REPLIES, 7, 'echo only');
    const shell = new ShellChannel(guest.console, { ...SETTINGS, timeoutMs: 200 });
    await shell.ready();
    const err = await shell.run('ls').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ShellTimeout);
    expect((err as ShellTimeout).command).toBe('ls');
    expect((err as Error).message).toMatch(/the prompt after 'ls' \(\/fixture> \$\/m\) did not appear within 200 ms/);
    expect((err as Error).message).toMatch(/tsuite-fixture: shell on COM1; no power-off, no exit device\nfixture> ls$/);
  });

  it('fails a shell whose prompt never appears, and a command the machine dies during', async () => {
    const silent = new ConsoleChannel(Date.now(), () => undefined);
    silent.push('tsuite-fixture: ready\r\n');
    await expect(new ShellChannel(silent, { ...SETTINGS, timeoutMs: 100 }).ready()).rejects.toThrow(/the first prompt .* did not appear within 100 ms/);

    const guest = fakeGuest(REPLIES, 7, 'echo only');
    const shell = new ShellChannel(guest.console, SETTINGS);
    await shell.ready();
    guest.console.onData((chunk) => {
      if (chunk.includes('\n')) setImmediate(() => {
        guest.console.push('PANIC: unexpected exception 13');
        guest.console.end();
      });
    });
    const err = await shell.run('ls').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ShellClosed);
    expect((err as Error).message).toMatch(/while waiting for the output of 'ls'(.|\n)*PANIC: unexpected exception 13$/);
    await expect(shell.run('ls')).rejects.toBeInstanceOf(ShellClosed);
  });

  it('refuses a command with a line break in it', async () => {
    const guest = fakeGuest(REPLIES);
    await expect(new ShellChannel(guest.console, SETTINGS).run('ls\nrm x')).rejects.toThrow(/one line/);
  });
});
