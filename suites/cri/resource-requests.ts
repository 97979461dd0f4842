import type { Cri } from '../../src/index.js';
import type { ContainerConfig } from './scope.js';

export const MiB = 1024 * 1024;

/** A container config asking for `resources` (LinuxContainerResources, proto3 names), on top of `extra`. */
export const withResources = (resources: Cri.LinuxContainerResources, extra: Partial<ContainerConfig> = {}): Partial<ContainerConfig> => ({ ...extra, linux: { resources } });

/** A main process that burns a CPU until stopped (the trap lets SIGTERM end it between loop turns). */
export const BUSY = ['sh', '-c', 'trap "exit 0" TERM; while :; do :; done'];
