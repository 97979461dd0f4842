import { randomBytes, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';

/**
 * EC2's Query protocol as the SDK speaks it: a form-encoded POST whose flattened keys
 * (`TagSpecification.1.Tag.2.Key`) are read back into nested values, and XML answers in the
 * 2016-11-15 namespace whose lists are `<xSet><item>..</item></xSet>`. Errors are
 * `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
 */

export const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';
export const EC2_VERSION = '2016-11-15';

export class Ec2Error extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export function ec2Fail(status: number, code: string, message: string): never {
  throw new Ec2Error(status, code, message);
}

/** A request's parameters: a string, or members by name, or a list (from `.1`, `.2`, ...). */
export type QueryValue = string | QueryValue[] | { [name: string]: QueryValue };

/** Reads `A.1.B=v` keys into `{ A: [{ B: 'v' }] }`. Numbered segments are 1-based list positions. */
export function parseQuery(form: URLSearchParams): Record<string, QueryValue> {
  const root: Record<string, QueryValue> = {};
  for (const [key, value] of form) {
    const parts = key.split('.');
    let node: Record<string, QueryValue> | QueryValue[] = root;
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      const index = /^[1-9]\d*$/.test(part) ? Number(part) - 1 : undefined;
      const nextIsIndex = !last && /^[1-9]\d*$/.test(parts[i + 1]!);
      const slot = index ?? part;
      const container = node as Record<string | number, QueryValue>;
      if (last) container[slot] = value;
      else container[slot] ??= nextIsIndex ? [] : {};
      if (!last) node = container[slot] as Record<string, QueryValue> | QueryValue[];
    });
  }
  return root;
}

/** The value at a dotted path (`NetworkInterface.1.SubnetId`) if it is a string. */
export function param(q: QueryValue | undefined, path: string): string | undefined {
  let node: QueryValue | undefined = q;
  for (const part of path.split('.')) {
    if (node === undefined || typeof node === 'string') return undefined;
    node = Array.isArray(node) ? node[Number(part) - 1] : node[part];
  }
  return typeof node === 'string' ? node : undefined;
}

/** The list at `path` (holes from skipped numbers dropped). */
export function paramList(q: QueryValue | undefined, path: string): QueryValue[] {
  let node: QueryValue | undefined = q;
  for (const part of path.split('.')) {
    if (node === undefined || typeof node === 'string') return [];
    node = Array.isArray(node) ? node[Number(part) - 1] : node[part];
  }
  return Array.isArray(node) ? node.filter((v) => v !== undefined) : [];
}

/** A list of strings (`InstanceId.1`, `Owner.1`, ...). */
export function stringList(q: QueryValue | undefined, path: string): string[] {
  return paramList(q, path).filter((v): v is string => typeof v === 'string');
}

export function boolParam(q: QueryValue | undefined, path: string): boolean | undefined {
  const v = param(q, path);
  if (v === undefined) return undefined;
  if (v === 'true' || v === 'false') return v === 'true';
  return ec2Fail(400, 'InvalidParameterValue', `Value (${v}) for parameter ${path} is invalid. Expected: 'true' or 'false'.`);
}

/** An EC2-style id: prefix, a dash, 17 hex digits. */
export function newId(prefix: string): string {
  return `${prefix}-0${randomBytes(9).toString('hex').slice(0, 16)}`;
}

/**
 * A value rendered into XML: strings, numbers and booleans as text; arrays as `<item>` children
 * (EC2's list shape); objects as child elements in key order; undefined left out.
 */
export type XmlValue = string | number | boolean | Date | undefined | XmlValue[] | { [name: string]: XmlValue };

export function toXml(name: string, value: XmlValue): string {
  if (value === undefined) return '';
  return `<${name}>${inner(value)}</${name}>`;
}

function inner(value: XmlValue): string {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => toXml('item', v)).join('');
  if (typeof value === 'object') return Object.entries(value).map(([k, v]) => toXml(k, v)).join('');
  return escapeXml(String(value));
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

export function sendResult(res: ServerResponse, action: string, body: Record<string, XmlValue>): void {
  const requestId = randomUUID();
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NAMESPACE}">${toXml('requestId', requestId)}${inner(body)}</${action}Response>`;
  res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId });
  res.end(xml);
}

export function sendEc2Error(res: ServerResponse, err: Ec2Error): void {
  const requestId = randomUUID();
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>${toXml('Code', err.code)}${toXml('Message', err.message)}</Error></Errors>${toXml('RequestID', requestId)}</Response>`;
  res.writeHead(err.status, { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId });
  res.end(xml);
}

export interface Tag {
  key: string;
  value: string;
}

export const tagSet = (tags: readonly Tag[]): XmlValue => (tags.length ? tags.map((t) => ({ key: t.key, value: t.value })) : undefined);

/**
 * The tags a request's `TagSpecification.N` asks for, by resource type. A resource type the
 * action cannot tag is refused as EC2 refuses it.
 */
export function tagSpecifications(q: Record<string, QueryValue>, allowed: readonly string[]): Map<string, Tag[]> {
  const out = new Map<string, Tag[]>();
  for (const spec of paramList(q, 'TagSpecification')) {
    const type = param(spec, 'ResourceType');
    if (!type || !allowed.includes(type)) {
      ec2Fail(400, 'InvalidParameterValue', `'${type ?? ''}' is not a valid taggable resource type for this operation.`);
    }
    const tags = paramList(spec, 'Tag').map((t) => ({ key: param(t, 'Key') ?? '', value: param(t, 'Value') ?? '' }));
    for (const t of tags) {
      if (!t.key) ec2Fail(400, 'InvalidParameterValue', 'Tag keys must not be empty.');
      if (t.key.startsWith('aws:')) ec2Fail(400, 'InvalidParameterValue', "Tag keys starting with 'aws:' are reserved for internal use");
    }
    out.set(type!, [...(out.get(type!) ?? []), ...tags]);
  }
  return out;
}
