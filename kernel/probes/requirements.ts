import { fileRequirement, programRequirement, type HostRequirement } from '../../src/core/host-requirement.js';
import { hostArch } from '../reference/foreign-apt.js';
import { probeToolchain, type ProbeArch } from './toolchain.js';

/**
 * What building the probes (fixtures/probes/*.c, static) for a guest arch needs on the host: a C
 * compiler for that arch and its static C library. On an x86_64 host, x86_64 takes gcc and
 * libc6-dev; aarch64 takes gcc-aarch64-linux-gnu and libc6-dev-arm64-cross.
 */
export function probeBuildRequirements(arch: ProbeArch = hostArch() as ProbeArch): HostRequirement[] {
  const tc = probeToolchain(arch);
  return [
    programRequirement(`C compiler for the ${arch} probes`, tc.cc, tc.compilerPackage),
    fileRequirement(`static C library for the ${arch} probes`, tc.staticLibc, tc.libcPackage),
  ];
}
