import { defineSuite } from '../../src/index.js';
import { testRpcs, UNIMPLEMENTED_REASON } from './cri-test.js';
import { containerTests } from './container.js';
import { imageTests } from './images.js';
import { logTests } from './logs.js';
import { mountTests } from './mounts.js';
import { networkTests } from './network.js';
import { resourceTests } from './resources.js';
import { runtimeTests } from './runtime.js';
import { sandboxTests } from './sandbox.js';
import { securityTests } from './security.js';
import { statsTests } from './stats.js';
import { streamingTests } from './streaming.js';

/**
 * The Kubernetes node contract: CRI v1 (RuntimeService and ImageService over gRPC), test by test,
 * against whatever runtime the target offers — containerd in the reference guest, containerd on a
 * host, or a kernel's own. Images come from local registries tsuite starts; nothing needs the internet.
 */
export default defineSuite({
  name: 'cri',
  description: 'Kubernetes CRI v1 over gRPC: runtime, sandboxes, containers, exec/attach/port-forward, logs, images and registries, networking, security context, resources, stats, mounts',
  tests: [
    ...runtimeTests,
    ...sandboxTests,
    ...containerTests,
    ...streamingTests,
    ...logTests,
    ...imageTests,
    ...networkTests,
    ...securityTests,
    ...resourceTests,
    ...statsTests,
    ...mountTests,
  ],
  // A row per area (`cri/<area>-<behaviour>`) and per RPC the test asserts (`rpc/<Name>`).
  conformance: {
    itemKind: 'row',
    itemDepth: 1,
    itemsOf: ([test]) => (test ? [`area/${test.split('-')[0]}`, ...(testRpcs.get(test) ?? []).map((r) => `rpc/${r}`)] : []),
    unimplementedItem: (reason) => {
      const rpc = UNIMPLEMENTED_REASON.exec(reason)?.[1];
      return rpc ? `rpc/${rpc}` : undefined;
    },
  },
});
