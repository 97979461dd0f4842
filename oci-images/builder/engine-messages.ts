import { InfraError } from '../../src/core/errors.js';

/** The JSON messages a streaming Engine API call (load, pull) answers with, one per line. */
export async function readJsonLines(stream: NodeJS.ReadableStream): Promise<Record<string, unknown>[]> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return { error: `unreadable engine message: ${l.slice(0, 200)}` };
      }
    });
}

/** dockerode's errors carry the HTTP status. */
export const isNotFound = (err: unknown) => (err as { statusCode?: number } | undefined)?.statusCode === 404;

/** An engine call that failed, as an InfraError naming the engine and what was being done. */
export function engineError(engine: { endpoint: { url: string } }, doing: string, err: unknown): InfraError {
  const e = err as { statusCode?: number; json?: { message?: string }; message?: string };
  const why = e?.json?.message ?? e?.message ?? String(err);
  return new InfraError(
    `engine at ${engine.endpoint.url} failed ${doing}: ${why}${e?.statusCode ? ` (HTTP ${e.statusCode})` : ''}`,
    'check that the engine is running and answers (`docker -H <url> info`), and that it has disk space for images',
  );
}
