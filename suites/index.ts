import type { SuiteDef } from '../src/index.js';
import bench from './bench/index.js';
import boot from './boot/index.js';
import containers from './containers/index.js';
import cri from './cri/index.js';
import gpu from './gpu/index.js';
import isolation from './isolation/index.js';
import kernel from './kernel/index.js';
import shell from './shell/index.js';
import syscall from './syscall/index.js';

/**
 * Built-in suites, in the order `tsuite list` shows them. `bench` and `gpu` are explicit: a plain
 * `tsuite run` leaves them out. `shell` has no tests until a target's shellTests fill it (planFor, withShellTests).
 */
export const builtInSuites: readonly SuiteDef[] = [boot, kernel, shell, syscall, isolation, containers, cri, gpu, bench];
