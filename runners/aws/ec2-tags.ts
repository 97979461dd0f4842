import type { Tag } from '@aws-sdk/client-ec2';
import { NAME_PREFIX } from '../cloud/cloud-labels.js';

/** tsuite's labels as EC2 tags, with the `Name` tag that carries tsuite's name for the resource. */
export function tags(labels: Record<string, string>, name: string): Tag[] {
  return [...Object.entries(labels).map(([Key, Value]) => ({ Key, Value })), { Key: 'Name', Value: name }];
}

/** tsuite's name for a resource: its `Name` tag. */
export function nameTag(t: readonly Tag[] | undefined): string | undefined {
  return t?.find((x) => x.Key === 'Name')?.Value ?? undefined;
}

/** tsuite's labels back from tags: only its own keys. */
export function labelsOf(t: readonly Tag[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { Key, Value } of t ?? []) if (Key?.startsWith(NAME_PREFIX) && Value !== undefined) out[Key] = Value;
  return out;
}
