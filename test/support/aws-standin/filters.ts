import { ec2Fail, param, paramList, stringList, type QueryValue, type Tag } from './ec2-wire.js';

/**
 * EC2's `Filter.N.Name` / `Filter.N.Value.M` as Describe* calls take them: a resource matches when
 * every filter matches, and a filter matches when any of its values matches any of the resource's
 * values for that name. Values take `*` (any run) and `?` (one character) wildcards. `tag:K`
 * (the value of tag K), `tag-key` and `tag-value` work on every resource; the other names are the
 * resource's own (`fields`). A name the resource does not have is refused, as EC2 refuses it.
 */

export interface Filter {
  name: string;
  values: string[];
}

export function parseFilters(q: Record<string, QueryValue>): Filter[] {
  return paramList(q, 'Filter').map((f) => {
    const name = param(f, 'Name');
    if (!name) ec2Fail(400, 'InvalidParameterValue', 'The filter name must not be empty.');
    return { name: name!, values: stringList(f, 'Value') };
  });
}

export function matchesFilters(
  filters: readonly Filter[],
  tags: readonly Tag[],
  fields: Record<string, string | readonly string[] | undefined>,
): boolean {
  return filters.every((f) => {
    const have = valuesFor(f.name, tags, fields);
    return f.values.some((pattern) => have.some((v) => wildcard(pattern).test(v)));
  });
}

function valuesFor(name: string, tags: readonly Tag[], fields: Record<string, string | readonly string[] | undefined>): string[] {
  if (name === 'tag-key') return tags.map((t) => t.key);
  if (name === 'tag-value') return tags.map((t) => t.value);
  if (name.startsWith('tag:')) return tags.filter((t) => t.key === name.slice(4)).map((t) => t.value);
  if (!(name in fields)) ec2Fail(400, 'InvalidParameterValue', `The filter '${name}' is invalid`);
  const v = fields[name];
  return v === undefined ? [] : typeof v === 'string' ? [v] : [...v];
}

function wildcard(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}
