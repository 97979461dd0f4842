import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A CommonJS package loaded on first use, synchronously: for the SDKs (gRPC, WebSocket, XML) whose
 * import costs hundreds of ms at start-up, in runs that may never touch them. Import the package's
 * types with `import type` beside it; `T` is then `typeof import('<id>')`.
 */
export function lazyRequire<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(id) as T);
}
