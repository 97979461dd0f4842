import type { SuiteDef } from '../src/core/suite.js';
import bench from './bench/index.js';
import boot from './boot/index.js';
import containers from './containers/index.js';
import isolation from './isolation/index.js';
import kernel from './kernel/index.js';
import syscall from './syscall/index.js';

/** Built-in suites, in the order `tsuite list` shows them. `bench` is explicit: a plain `tsuite run` leaves it out. */
export const builtInSuites: readonly SuiteDef[] = [boot, kernel, syscall, isolation, containers, bench];
