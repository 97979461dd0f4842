import type { TestDef } from '../../src/index.js';
import { attachTests } from './streaming-attach.js';
import { execTests } from './streaming-exec.js';
import { portForwardTests } from './streaming-port-forward.js';

/** Exec, Attach and PortForward over the runtime's streaming server: the kubectl exec/attach/port-forward path. */
export const streamingTests: TestDef[] = [...execTests, ...attachTests, ...portForwardTests];
