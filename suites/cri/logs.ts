import type { TestDef } from '../../src/index.js';
import { criTest } from './cri-test.js';

export const logTests: TestDef[] = [];
void criTest;
