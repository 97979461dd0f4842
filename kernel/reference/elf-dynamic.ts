/**
 * The dynamic-linking facts of an ELF file: its interpreter (PT_INTERP) and the libraries it names
 * (DT_NEEDED). Read from the program headers alone, so stripped binaries work, and without running
 * the file, so a foreign arch's binary (aarch64 on an x86 host, where `ldd` cannot run) works too.
 * No maintained npm ELF reader exists, and this is all of ELF tsuite needs: 64-bit little-endian,
 * the class of both guest arches.
 */

export interface ElfDynamic {
  /** e_machine: 62 x86_64, 183 aarch64. */
  machine: number;
  /** The loader path PT_INTERP names, e.g. `/lib64/ld-linux-x86-64.so.2`; undefined for a static file or a library. */
  interpreter?: string;
  /** DT_NEEDED, in order. */
  needed: string[];
  soname?: string;
}

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_SONAME = 14n;

export class ElfFormatError extends Error {}

export function readElfDynamic(elf: Buffer): ElfDynamic {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) throw new ElfFormatError('not an ELF file');
  if (elf[4] !== 2 || elf[5] !== 1) throw new ElfFormatError('only 64-bit little-endian ELF files are supported');
  const machine = elf.readUInt16LE(18);
  const phoff = Number(elf.readBigUInt64LE(32));
  const phentsize = elf.readUInt16LE(54);
  const phnum = elf.readUInt16LE(56);
  const headers = Array.from({ length: phnum }, (_, i) => {
    const at = phoff + i * phentsize;
    if (at + 56 > elf.length) throw new ElfFormatError('program header table runs past the end of the file');
    return {
      type: elf.readUInt32LE(at),
      offset: Number(elf.readBigUInt64LE(at + 8)),
      vaddr: elf.readBigUInt64LE(at + 16),
      filesz: Number(elf.readBigUInt64LE(at + 32)),
    };
  });
  const cString = (at: number) => {
    const end = elf.indexOf(0, at);
    if (at >= elf.length || end < 0) throw new ElfFormatError(`string at offset ${at} runs past the end of the file`);
    return elf.toString('latin1', at, end);
  };

  const interp = headers.find((h) => h.type === PT_INTERP);
  const result: ElfDynamic = { machine, needed: [], interpreter: interp ? cString(interp.offset) : undefined };
  const dynamic = headers.find((h) => h.type === PT_DYNAMIC);
  if (!dynamic) return result;

  // DT_STRTAB holds a virtual address: map it to a file offset through the PT_LOAD that covers it.
  const entries: [bigint, bigint][] = [];
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.filesz; at += 16) {
    const tag = elf.readBigInt64LE(at);
    if (tag === DT_NULL) break;
    entries.push([tag, elf.readBigUInt64LE(at + 8)]);
  }
  const strtab = entries.find(([tag]) => tag === DT_STRTAB)?.[1];
  if (strtab === undefined) throw new ElfFormatError('dynamic section has no string table');
  const load = headers.find((h) => h.type === PT_LOAD && strtab >= h.vaddr && strtab < h.vaddr + BigInt(h.filesz));
  if (!load) throw new ElfFormatError('dynamic string table lies in no loaded segment');
  const strtabOffset = load.offset + Number(strtab - load.vaddr);
  for (const [tag, value] of entries) {
    if (tag === DT_NEEDED) result.needed.push(cString(strtabOffset + Number(value)));
    if (tag === DT_SONAME) result.soname = cString(strtabOffset + Number(value));
  }
  return result;
}

/** Debian's multiarch triplet for an ELF machine: where its libraries live (`/lib/<triplet>`). */
export function multiarchTriplet(machine: number): string {
  if (machine === EM_X86_64) return 'x86_64-linux-gnu';
  if (machine === EM_AARCH64) return 'aarch64-linux-gnu';
  throw new ElfFormatError(`no Debian multiarch triplet known for ELF machine ${machine}`);
}
