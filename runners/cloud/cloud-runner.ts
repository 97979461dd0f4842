import type { Runner } from '../../src/core/runner.js';
import type { TargetDef } from '../../src/core/target.js';
import { provisionOnCloud } from './cloud-lifecycle.js';
import type { CloudProvider } from './cloud-provider.js';

/**
 * A cloud runner: one provider module plugged into the shared lifecycle. `makeProvider` reads the
 * target's provider settings; the lifecycle does the rest, teardown included.
 */
export function cloudRunner(name: string, makeProvider: (def: TargetDef) => CloudProvider & { close?(): Promise<void> }): Runner {
  return {
    name,
    async provision(req, signal) {
      const provider = makeProvider(req.cloud!.def);
      try {
        const session = await provisionOnCloud(provider, req, signal);
        // The clients stay open while the session reads the console and tears down.
        void session.ended.then(() => session.shutdown()).finally(() => provider.close?.());
        return session;
      } catch (err) {
        await provider.close?.();
        throw err;
      }
    },
  };
}
