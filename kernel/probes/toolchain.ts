import { hostArch } from '../reference/foreign-apt.js';

/** The arches the probes are built for (the guest arches tsuite boots). */
export const PROBE_ARCHES = ['x86_64', 'aarch64'] as const;
export type ProbeArch = (typeof PROBE_ARCHES)[number];

/** A C toolchain that links static binaries for one arch, and the Debian packages that provide it. */
export interface ProbeToolchain {
  arch: ProbeArch;
  /** The compiler driver, looked up on PATH. */
  cc: string;
  /** Its static C library: the file whose presence proves the -dev package is installed. */
  staticLibc: string;
  compilerPackage: string;
  libcPackage: string;
  /** Whether it is a cross compiler (the host's arch differs). */
  cross: boolean;
}

const GNU_TRIPLET: Record<ProbeArch, string> = { x86_64: 'x86_64-linux-gnu', aarch64: 'aarch64-linux-gnu' };
/** Debian's cross packages are named after the target, in Debian's spelling of it. */
const CROSS_PACKAGES: Record<ProbeArch, { compiler: string; libc: string }> = {
  x86_64: { compiler: 'gcc-x86-64-linux-gnu', libc: 'libc6-dev-amd64-cross' },
  aarch64: { compiler: 'gcc-aarch64-linux-gnu', libc: 'libc6-dev-arm64-cross' },
};

/** The host's own gcc for its arch; Debian's `<triplet>-gcc` cross compiler for the other. */
export function probeToolchain(arch: ProbeArch, host: string = hostArch()): ProbeToolchain {
  const triplet = GNU_TRIPLET[arch];
  if (arch === host) {
    return { arch, cc: 'gcc', staticLibc: `/usr/lib/${triplet}/libc.a`, compilerPackage: 'gcc', libcPackage: 'libc6-dev', cross: false };
  }
  const pkgs = CROSS_PACKAGES[arch];
  return { arch, cc: `${triplet}-gcc`, staticLibc: `/usr/${triplet}/lib/libc.a`, compilerPackage: pkgs.compiler, libcPackage: pkgs.libc, cross: true };
}

export function isProbeArch(arch: string): arch is ProbeArch {
  return (PROBE_ARCHES as readonly string[]).includes(arch);
}
