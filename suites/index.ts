import type { SuiteDef } from '../src/core/suite.js';
import boot from './boot/index.js';
import kernel from './kernel/index.js';

/** Built-in suites, in the order `tsuite list` shows them. */
export const builtInSuites: readonly SuiteDef[] = [boot, kernel];
