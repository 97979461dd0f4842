import { randomUUID } from 'node:crypto';
import { armFail } from './arm-errors.js';

/**
 * The resources ARM holds, with ids formed exactly as ARM forms them
 * (`/subscriptions/{s}/resourceGroups/{g}/providers/{namespace}/{type}/{name}`). Names are
 * case-insensitive in ARM: lookups are by lower case, the name is kept as first sent.
 */

export const TYPES = {
  images: 'Microsoft.Compute/images',
  disks: 'Microsoft.Compute/disks',
  virtualMachines: 'Microsoft.Compute/virtualMachines',
  networkInterfaces: 'Microsoft.Network/networkInterfaces',
} as const;
export type Kind = keyof typeof TYPES;

export interface Group {
  id: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  provisioningState: 'Succeeded' | 'Deleting';
}

export interface Resource {
  kind: Kind;
  id: string;
  name: string;
  group: string;
  location: string;
  tags: Record<string, string>;
  properties: Record<string, unknown> & { provisioningState: string };
  /** The stand-in's own state (disk file, machine): never sent. */
  local: Record<string, unknown>;
}

const NAME_RE = /^[-\w._()]{1,90}$/;

export class ArmStore {
  readonly groups = new Map<string, Group>();
  private readonly resources = new Map<string, Resource>();

  constructor(readonly subscriptionId: string) {}

  groupId(name: string): string {
    return `/subscriptions/${this.subscriptionId}/resourceGroups/${name}`;
  }

  resourceId(group: string, kind: Kind, name: string): string {
    return `${this.groupId(group)}/providers/${TYPES[kind]}/${name}`;
  }

  group(name: string): Group {
    const g = this.groups.get(name.toLowerCase());
    if (!g) armFail(404, 'ResourceGroupNotFound', `Resource group '${name}' could not be found.`);
    return g!;
  }

  putGroup(name: string, body: Record<string, unknown>): { group: Group; created: boolean } {
    if (!NAME_RE.test(name) || name.endsWith('.')) armFail(400, 'InvalidResourceGroup', `The provided resource group name '${name}' has these invalid characters: '${name.replace(/[-\w._()]/g, '')}'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'.`);
    if (typeof body.location !== 'string' || !body.location) armFail(400, 'LocationRequired', 'The location property is required for this definition.');
    const tags = tagsOf(body.tags);
    const existing = this.groups.get(name.toLowerCase());
    if (existing) {
      if (existing.provisioningState === 'Deleting') armFail(409, 'ResourceGroupBeingDeleted', `The resource group '${existing.name}' is in deprovisioning state and cannot perform this operation.`);
      if (existing.location !== body.location) armFail(409, 'InvalidResourceGroupLocation', `Invalid resource group location '${body.location as string}'. The Resource group already exists in location '${existing.location}'.`);
      existing.tags = tags;
      return { group: existing, created: false };
    }
    const group: Group = { id: this.groupId(name), name, location: body.location as string, tags, provisioningState: 'Succeeded' };
    this.groups.set(name.toLowerCase(), group);
    return { group, created: true };
  }

  groupJson(g: Group): Record<string, unknown> {
    return { id: g.id, name: g.name, type: 'Microsoft.Resources/resourceGroups', location: g.location, tags: g.tags, properties: { provisioningState: g.provisioningState } };
  }

  /** The resource, or ARM's 404 (group first, then resource). */
  get(group: string, kind: Kind, name: string): Resource {
    const g = this.group(group);
    const r = this.resources.get(key(g.name, kind, name));
    if (!r) armFail(404, 'ResourceNotFound', `The Resource '${TYPES[kind]}/${name}' under resource group '${g.name}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
    return r!;
  }

  find(group: string, kind: Kind, name: string): Resource | undefined {
    return this.resources.get(key(group, kind, name));
  }

  /** The resource an ARM id names, if it exists (ids compare case-insensitively). */
  byId(id: string, kind: Kind): Resource | undefined {
    const m = new RegExp(`^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/${TYPES[kind].replace('/', '\\/')}/([^/]+)$`, 'i').exec(id);
    if (!m || m[1]!.toLowerCase() !== this.subscriptionId.toLowerCase()) return undefined;
    return this.resources.get(key(m[2]!, kind, m[3]!));
  }

  add(group: string, kind: Kind, name: string, location: string, tags: unknown, properties: Resource['properties']): Resource {
    const g = this.group(group);
    if (!NAME_RE.test(name)) armFail(400, 'InvalidResourceName', `Resource name ${name} is invalid. The name can be up to 80 characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'.`);
    const r: Resource = { kind, id: this.resourceId(g.name, kind, name), name, group: g.name, location, tags: tagsOf(tags), properties, local: {} };
    this.resources.set(key(g.name, kind, name), r);
    return r;
  }

  remove(r: Resource): void {
    if (this.resources.get(key(r.group, r.kind, r.name)) === r) this.resources.delete(key(r.group, r.kind, r.name));
  }

  list(kind?: Kind, group?: string): Resource[] {
    return [...this.resources.values()].filter((r) => (!kind || r.kind === kind) && (!group || r.group.toLowerCase() === group.toLowerCase())).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  json(r: Resource): Record<string, unknown> {
    return { id: r.id, name: r.name, type: TYPES[r.kind], location: r.location, ...(Object.keys(r.tags).length ? { tags: r.tags } : {}), properties: r.properties };
  }
}

function key(group: string, kind: Kind, name: string): string {
  return `${group.toLowerCase()}/${kind}/${name.toLowerCase()}`;
}

function tagsOf(v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) armFail(400, 'InvalidTag', 'Tags must be an object of string values.');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as object)) {
    if (typeof val !== 'string') armFail(400, 'InvalidTag', `The tag '${k}' has a value that is not a string.`);
    if (k.length > 512 || /[<>%&\\?/]/.test(k)) armFail(400, 'InvalidTagNameCharacters', `The tag names '${k}' have reserved characters '<,>,%,&,\\,?,/' or control characters.`);
    out[k] = val as string;
  }
  return out;
}

export const newGuid = () => randomUUID();
