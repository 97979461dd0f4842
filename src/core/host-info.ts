import { cpus, hostname, release, totalmem } from 'node:os';
import type { RunInfo } from './result.js';

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
