import { UsageError } from '../src/core/errors.js';
import type { Runner } from '../src/core/runner.js';
import { criRunner } from './cri/cri-runner.js';
import { dockerRunner } from './docker/docker-runner.js';
import { qemuRunner } from './qemu/qemu-runner.js';

export const runners: Readonly<Record<string, Runner>> = Object.freeze({ qemu: qemuRunner, docker: dockerRunner, cri: criRunner });

export function runnerFor(name: string): Runner {
  const r = runners[name];
  if (!r) throw new UsageError(`unknown runner '${name}'`, `use one of: ${Object.keys(runners).join(', ')}`);
  return r;
}
