import { join } from 'node:path';
import { writeFileAtomic } from '../../src/core/write-file-atomic.js';
import type { KernelInfo } from '../../src/core/result.js';
import type { CloudPackage } from '../../kernel/images/gce-package.js';
import type { CloudPlace } from './cloud-provider.js';
import type { TeardownRecord } from './teardown.js';

/** The lifecycle's steps, in order; `teardown` runs on every path. */
export type CloudStep = 'credentials' | 'sweep' | 'disk' | 'package' | 'prove-locally' | 'group' | 'upload' | 'import' | 'launch' | 'console' | 'landmark' | 'channels' | 'suites' | 'teardown';

export interface StepRecord {
  step: CloudStep;
  startedAt: string;
  endedAt?: string;
  ok?: boolean;
  error?: string;
}

/** What the local proof showed: the package's own bytes, unpacked, booted under QEMU with OVMF. */
export interface LocalProof {
  ok: boolean;
  packageSha256: string;
  firmware: 'uefi';
  accel?: string;
  bootMs?: number;
  consoleLog?: string;
  provedAt?: string;
  /** The same bytes were proved by an earlier run (the proof is kept beside the cached package). */
  reused?: boolean;
}

/**
 * The evidence a cloud session keeps (`cloud.json` beside `console.log`): what ran where, from which
 * bytes, each step's times and outcome, and what teardown did. Rewritten after every step, so a
 * SIGKILLed run still leaves the record up to the step it reached. Holds no credential.
 */
export interface Provenance {
  runId: string;
  sessionId: string;
  target: string;
  place: CloudPlace;
  kernel: { source: string; path: string; version?: string; package?: string; commit?: string; sha256?: string; cmdline: string };
  disk?: { path: string; source: 'built' | 'user' };
  package?: Omit<CloudPackage, 'path'> & { path: string };
  localProof?: LocalProof;
  resources: { group?: string; object?: string; image?: string; instance?: string; privateIp?: string };
  steps: StepRecord[];
  console: { bytes: number; gaps: { from: number; to: number }[]; readErrors: number };
  teardown: TeardownRecord[];
  /** True once teardown ran and every resource is deleted or was never there. */
  cleanedUp: boolean;
}

export function newProvenance(runId: string, sessionId: string, target: string, place: CloudPlace, kernel: KernelInfo, kernelSha256?: string): Provenance {
  return {
    runId, sessionId, target, place,
    kernel: {
      source: kernel.source, path: kernel.path, version: kernel.version, package: kernel.package, commit: kernel.revision,
      sha256: kernelSha256, cmdline: kernel.cmdline,
    },
    resources: {},
    steps: [],
    console: { bytes: 0, gaps: [], readErrors: 0 },
    teardown: [],
    cleanedUp: false,
  };
}

export const PROVENANCE_FILE = 'cloud.json';

export function writeProvenance(dir: string, p: Provenance): Promise<void> {
  return writeFileAtomic(join(dir, PROVENANCE_FILE), `${JSON.stringify(p, null, 2)}\n`);
}
