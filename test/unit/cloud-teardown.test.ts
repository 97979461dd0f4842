import { describe, expect, it } from 'vitest';
import { CloudApiError, type CloudProvider, type CloudResource } from '../../runners/cloud/cloud-provider.js';
import { leftoversMessage, Teardown } from '../../runners/cloud/teardown.js';
import { redact } from '../../runners/cloud/redact.js';

/** A provider whose only working part is delete: records the order, fails as told. */
function fakeProvider(failures: Record<string, number>, absent: string[] = []) {
  const calls: string[] = [];
  const provider = {
    async delete(r: Pick<CloudResource, 'kind' | 'name'>) {
      calls.push(r.name);
      if ((failures[r.name] ?? 0) > 0) {
        failures[r.name]!--;
        throw new CloudApiError(`deleting ${r.kind} ${r.name}: resourceNotReady (HTTP 400)`);
      }
      return absent.includes(r.name) ? 'absent' as const : 'deleted' as const;
    },
    deleteCommand: (r: Pick<CloudResource, 'kind' | 'name'>) => `gcloud delete ${r.name}`,
  } as unknown as CloudProvider;
  return { provider, calls };
}

describe('a session teardown', () => {
  it('deletes in reverse order of creation, retries a busy resource, and counts a never-created one as absent', async () => {
    const { provider, calls } = fakeProvider({ img: 2 }, ['vm']);
    const t = new Teardown(provider, [0]);
    t.register({ kind: 'object', name: 'obj' });
    t.register({ kind: 'image', name: 'img' });
    t.register({ kind: 'instance', name: 'vm' });
    const records = await t.run();
    expect(calls).toEqual(['vm', 'img', 'img', 'img', 'obj']);
    expect(records.map((r) => [r.name, r.result, r.attempts])).toEqual([['vm', 'absent', 1], ['img', 'deleted', 3], ['obj', 'deleted', 1]]);
    expect(t.failed).toEqual([]);
    // A second run (a signal during teardown, then dispose) deletes nothing twice.
    await t.run();
    expect(calls).toHaveLength(5);
  });

  it('a resource that cannot be deleted is listed loudly with the command that deletes it', async () => {
    const { provider } = fakeProvider({ img: 99 });
    const t = new Teardown(provider, [0]);
    t.register({ kind: 'image', name: 'img' });
    await t.run();
    expect(t.failed).toMatchObject([{ name: 'img', result: 'failed', attempts: 4, deleteCommand: 'gcloud delete img' }]);
    const msg = leftoversMessage('gcp', t.failed);
    expect(msg).toContain('could NOT be deleted');
    expect(msg).toContain('delete it with: gcloud delete img');
  });
});

describe('redaction of provider messages', () => {
  it('removes bearer tokens, OAuth tokens, upload session ids and signatures', () => {
    const text = 'GET https://x/upload?uploadType=resumable&upload_id=ABCSECRET1 failed; Authorization: Bearer ya29.SECRET2; {"access_token":"SECRET3"} ' +
      'https://storage.googleapis.com/b/o?X-Goog-Signature=SECRET4&x=1 subject_token=SECRET5';
    const out = redact(text);
    for (const s of ['SECRET1', 'SECRET2', 'SECRET3', 'SECRET4', 'SECRET5']) expect(out).not.toContain(s);
    expect(out).toContain('upload_id=[redacted]');
  });
});
