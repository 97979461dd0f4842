import { cpus, hostname, release, totalmem } from 'node:os';
import type { RunInfo } from './result.js';

const NODE_ARCH: Readonly<Record<string, string>> = Object.freeze({ x64: 'x86_64', arm64: 'aarch64' });

/** The host's `uname -m`, as the guest arch names use it. */
export function hostArch(nodeArch: string = process.arch): string {
  return NODE_ARCH[nodeArch] ?? nodeArch;
}

/** The host facts recorded in every run (and later in the bench fingerprint). */
export function hostInfo(): RunInfo['host'] {
  const c = cpus();
  return {
    hostname: hostname(),
    platform: `${process.platform} ${release()}`,
    arch: process.arch,
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    cpus: c.length,
    memoryMb: Math.round(totalmem() / 2 ** 20),
  };
}
