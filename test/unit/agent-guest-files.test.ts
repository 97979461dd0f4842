import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EM_AARCH64, EM_X86_64, ElfFormatError, multiarchTriplet, readElfDynamic } from '../../kernel/reference/elf-dynamic.js';
import { libraryClosure, resolveInRoot } from '../../kernel/reference/shared-libraries.js';

/**
 * How the guest agent's files are found for the initramfs: its ELF dynamic section read without
 * running it (a foreign arch cannot run here), and its libraries resolved inside unpacked packages.
 */

/** A minimal 64-bit little-endian ELF: PT_LOAD over the whole file, optional PT_INTERP, PT_DYNAMIC. */
function elf(opts: { machine?: number; interp?: string; needed?: string[]; soname?: string; vaddr?: bigint }): Buffer {
  const machine = opts.machine ?? EM_AARCH64;
  const vaddr = opts.vaddr ?? 0x400000n;
  const names = [...(opts.needed ?? []), ...(opts.soname ? [opts.soname] : [])];
  const strtab = Buffer.from(`\0${names.map((n) => `${n}\0`).join('')}`, 'latin1');
  const interp = opts.interp ? Buffer.from(`${opts.interp}\0`, 'latin1') : Buffer.alloc(0);
  const phnum = opts.interp ? 3 : 2;
  const interpAt = 64 + 56 * phnum;
  const strtabAt = interpAt + interp.length;
  const dynAt = Math.ceil((strtabAt + strtab.length) / 8) * 8;
  const entries: [bigint, bigint][] = [];
  let off = 1;
  for (const n of opts.needed ?? []) {
    entries.push([1n, BigInt(off)]);
    off += n.length + 1;
  }
  if (opts.soname) entries.push([14n, BigInt(off)]);
  entries.push([5n, vaddr + BigInt(strtabAt)], [0n, 0n]);
  const size = dynAt + entries.length * 16;
  const b = Buffer.alloc(size);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2;
  b[5] = 1;
  b[6] = 1;
  b.writeUInt16LE(3, 16); // ET_DYN
  b.writeUInt16LE(machine, 18);
  b.writeBigUInt64LE(64n, 32); // e_phoff
  b.writeUInt16LE(64, 52);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(phnum, 56);
  const ph = (i: number, type: number, offset: number, filesz: number, va: bigint) => {
    const at = 64 + i * 56;
    b.writeUInt32LE(type, at);
    b.writeBigUInt64LE(BigInt(offset), at + 8);
    b.writeBigUInt64LE(va, at + 16);
    b.writeBigUInt64LE(BigInt(filesz), at + 32);
    b.writeBigUInt64LE(BigInt(filesz), at + 40);
  };
  ph(0, 1, 0, size, vaddr);
  ph(1, 2, dynAt, entries.length * 16, vaddr + BigInt(dynAt));
  if (opts.interp) ph(2, 3, interpAt, interp.length, vaddr + BigInt(interpAt));
  interp.copy(b, interpAt);
  strtab.copy(b, strtabAt);
  entries.forEach(([tag, val], i) => {
    b.writeBigInt64LE(tag, dynAt + i * 16);
    b.writeBigUInt64LE(val, dynAt + i * 16 + 8);
  });
  return b;
}

describe('readElfDynamic', () => {
  it('reads the interpreter, DT_NEEDED in order, and the soname', () => {
    const info = readElfDynamic(elf({ interp: '/lib/ld-linux-aarch64.so.1', needed: ['libglib-2.0.so.0', 'libc.so.6'] }));
    expect(info).toEqual({ machine: EM_AARCH64, interpreter: '/lib/ld-linux-aarch64.so.1', needed: ['libglib-2.0.so.0', 'libc.so.6'], soname: undefined });
    expect(readElfDynamic(elf({ machine: EM_X86_64, needed: ['libc.so.6'], soname: 'libfoo.so.1' }))).toMatchObject({ machine: EM_X86_64, interpreter: undefined, soname: 'libfoo.so.1' });
  });

  it('maps the string table through the loaded segment, wherever it is linked', () => {
    expect(readElfDynamic(elf({ needed: ['libm.so.6'], vaddr: 0n })).needed).toEqual(['libm.so.6']);
  });

  it('reads a real host binary the same way readelf does', () => {
    const ls = readElfDynamic(readFileSync('/bin/ls'));
    expect(ls.interpreter).toMatch(/^\/lib.*\/ld-linux/);
    expect(ls.needed).toContain('libc.so.6');
  });

  it('a static binary has no interpreter and needs nothing', () => {
    const b = elf({});
    b.writeUInt16LE(1, 56); // only PT_LOAD
    expect(readElfDynamic(b)).toMatchObject({ interpreter: undefined, needed: [] });
  });

  it('refuses what is not a 64-bit little-endian ELF, or is cut short', () => {
    expect(() => readElfDynamic(Buffer.from('#!/bin/sh\necho not an elf file at all, just a script\n'.repeat(2)))).toThrow(ElfFormatError);
    const b32 = elf({});
    b32[4] = 1;
    expect(() => readElfDynamic(b32)).toThrow(/64-bit little-endian/);
    expect(() => readElfDynamic(elf({ needed: ['libc.so.6'] }).subarray(0, 100))).toThrow(ElfFormatError);
  });

  it('knows the Debian multiarch triplet of each guest arch', () => {
    expect(multiarchTriplet(EM_X86_64)).toBe('x86_64-linux-gnu');
    expect(multiarchTriplet(EM_AARCH64)).toBe('aarch64-linux-gnu');
    expect(() => multiarchTriplet(40)).toThrow(/no Debian multiarch triplet/);
  });
});

describe('libraryClosure in unpacked packages', () => {
  let root: string;
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const put = (path: string, data: Buffer) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), data);
  };
  const link = (path: string, target: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    symlinkSync(target, join(root, path));
  };

  it('finds the loader and every library transitively, following links inside the root only', async () => {
    root = mkdtempSync(join(tmpdir(), 'tsuite-agent-libs-'));
    put('usr/sbin/qemu-ga', elf({ interp: '/lib/ld-linux-aarch64.so.1', needed: ['libglib-2.0.so.0', 'libc.so.6'] }));
    // Debian's layout: an absolute link to the loader, versioned files behind soname links.
    put('lib/aarch64-linux-gnu/ld-linux-aarch64.so.1', elf({ soname: 'ld-linux-aarch64.so.1' }));
    link('lib/ld-linux-aarch64.so.1', '/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1');
    put('usr/lib/aarch64-linux-gnu/libglib-2.0.so.0.7400.6', elf({ needed: ['libpcre2-8.so.0', 'libc.so.6', 'ld-linux-aarch64.so.1'] }));
    link('usr/lib/aarch64-linux-gnu/libglib-2.0.so.0', 'libglib-2.0.so.0.7400.6');
    put('lib/aarch64-linux-gnu/libc.so.6', elf({ needed: ['ld-linux-aarch64.so.1'] }));
    put('usr/lib/aarch64-linux-gnu/libpcre2-8.so.0.11.2', elf({ needed: ['libc.so.6'] }));
    link('usr/lib/aarch64-linux-gnu/libpcre2-8.so.0', '../../../usr/lib/aarch64-linux-gnu/libpcre2-8.so.0.11.2');

    const closure = await libraryClosure(root, '/usr/sbin/qemu-ga');
    expect(closure.missing).toEqual([]);
    expect(closure.machine).toBe(EM_AARCH64);
    expect(closure.files.map((f) => f.to)).toEqual([
      '/usr/sbin/qemu-ga',
      '/lib/ld-linux-aarch64.so.1',
      '/usr/lib/aarch64-linux-gnu/libglib-2.0.so.0',
      '/lib/aarch64-linux-gnu/libc.so.6',
      '/usr/lib/aarch64-linux-gnu/libpcre2-8.so.0',
    ]);
    // Sources are the real files, never the links, and never outside the root.
    expect(closure.files.map((f) => f.from)).toEqual([
      join(root, 'usr/sbin/qemu-ga'),
      join(root, 'lib/aarch64-linux-gnu/ld-linux-aarch64.so.1'),
      join(root, 'usr/lib/aarch64-linux-gnu/libglib-2.0.so.0.7400.6'),
      join(root, 'lib/aarch64-linux-gnu/libc.so.6'),
      join(root, 'usr/lib/aarch64-linux-gnu/libpcre2-8.so.0.11.2'),
    ]);
  });

  it('names what it cannot find', async () => {
    root = mkdtempSync(join(tmpdir(), 'tsuite-agent-libs-'));
    put('usr/sbin/qemu-ga', elf({ interp: '/lib/ld-linux-aarch64.so.1', needed: ['libnuma.so.1'] }));
    const closure = await libraryClosure(root, '/usr/sbin/qemu-ga');
    expect(closure.missing).toEqual(['/lib/ld-linux-aarch64.so.1', 'libnuma.so.1']);
    expect(await libraryClosure(root, '/usr/sbin/absent')).toMatchObject({ files: [], missing: ['/usr/sbin/absent'] });
  });

  it('an absolute link resolves inside the root, not to the host file of that name', async () => {
    root = mkdtempSync(join(tmpdir(), 'tsuite-agent-libs-'));
    link('lib64/ld-linux-x86-64.so.2', '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
    // The host (x86_64 Debian) has this file; the root does not.
    expect(await resolveInRoot(root, '/lib64/ld-linux-x86-64.so.2')).toBeUndefined();
    link('loop', 'loop');
    expect(await resolveInRoot(root, '/loop')).toBeUndefined();
  });
});
