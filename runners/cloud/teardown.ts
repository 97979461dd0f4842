import { setTimeout as sleep } from 'node:timers/promises';
import type { CloudProvider, CloudResource, CloudResourceKind } from './cloud-provider.js';

/** How each deletion is retried: a resource still busy (an image whose import is running) may refuse at first. */
const DELETE_ATTEMPTS = 4;
const DELETE_BACKOFF_MS = [1_000, 4_000, 10_000];

export interface TeardownRecord {
  kind: CloudResourceKind;
  name: string;
  /** `deleted`, `absent` (it was never created, or was gone already), or `failed`. */
  result: 'deleted' | 'absent' | 'failed';
  attempts: number;
  error?: string;
  /** For a failed one: the provider's command that deletes it. */
  deleteCommand?: string;
  at: string;
}

/**
 * The resources of one session, deleted in reverse order of creation (instance, image, staged
 * object). A resource is registered before the call that creates it is sent, so one whose creation
 * was interrupted half-way is deleted too (the provider answers "absent" if it never came to be).
 * Running it twice does nothing the second time.
 */
export class Teardown {
  private readonly pending: Pick<CloudResource, 'kind' | 'name'>[] = [];
  readonly records: TeardownRecord[] = [];
  private running?: Promise<TeardownRecord[]>;

  constructor(private readonly provider: CloudProvider, private readonly backoffMs: readonly number[] = DELETE_BACKOFF_MS) {}

  register(resource: Pick<CloudResource, 'kind' | 'name'>): void {
    this.pending.push({ kind: resource.kind, name: resource.name });
  }

  /** Deletes everything registered, newest first; never throws. */
  run(): Promise<TeardownRecord[]> {
    this.running ??= this.deleteAll();
    return this.running;
  }

  get failed(): TeardownRecord[] {
    return this.records.filter((r) => r.result === 'failed');
  }

  private async deleteAll(): Promise<TeardownRecord[]> {
    while (this.pending.length > 0) {
      const r = this.pending.pop()!;
      this.records.push(await this.deleteOne(r));
    }
    return this.records;
  }

  private async deleteOne(r: Pick<CloudResource, 'kind' | 'name'>): Promise<TeardownRecord> {
    let error = '';
    for (let attempt = 1; attempt <= DELETE_ATTEMPTS; attempt++) {
      try {
        const result = await this.provider.delete(r);
        return { kind: r.kind, name: r.name, result, attempts: attempt, at: new Date().toISOString() };
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
        if (attempt < DELETE_ATTEMPTS) await sleep(this.backoffMs[Math.min(attempt - 1, this.backoffMs.length - 1)] ?? 0);
      }
    }
    return { kind: r.kind, name: r.name, result: 'failed', attempts: DELETE_ATTEMPTS, error, deleteCommand: this.provider.deleteCommand(r), at: new Date().toISOString() };
  }
}

/** The loud list of what could not be deleted, each with the command that deletes it. */
export function leftoversMessage(provider: string, failed: readonly TeardownRecord[]): string {
  const lines = failed.map((f) => `  - ${f.kind} ${f.name}: ${f.error}\n    delete it with: ${f.deleteCommand}`);
  return `tsuite: ${failed.length} ${provider} resource(s) could NOT be deleted and may cost money:\n${lines.join('\n')}\n` +
    `  (\`tsuite cloud gc --target <target>\` deletes them too once they are past the grace period, or now with --older-than 0)\n`;
}
