import { fail } from './google-errors.js';

/**
 * `maxResults` + `pageToken` paging, shared by Compute and Storage lists. The token is opaque to
 * clients (base64url of the next offset, bound to the list it came from): a token from another
 * list or a made-up one is a 400, as Google answers.
 */
export function page<T>(items: readonly T[], query: URLSearchParams, scope: string, limits: { default: number; max: number }): { items: T[]; nextPageToken?: string } {
  const raw = query.get('maxResults');
  const max = raw === null || raw === '' ? limits.default : Number(raw);
  if (!Number.isInteger(max) || max < 0) fail(400, `Invalid value for field 'maxResults': '${raw}'. Must be a non-negative integer.`);
  const size = Math.min(max === 0 ? limits.default : max, limits.max);
  let offset = 0;
  const token = query.get('pageToken');
  if (token) {
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    } catch {
      decoded = undefined;
    }
    const [tokenScope, at] = Array.isArray(decoded) ? decoded : [];
    offset = Number(at);
    if (tokenScope !== scope || !Number.isInteger(offset) || offset < 0) fail(400, `Invalid value for field 'pageToken': '${token}'.`);
  }
  const slice = items.slice(offset, offset + size);
  const next = offset + size < items.length ? Buffer.from(JSON.stringify([scope, offset + size])).toString('base64url') : undefined;
  return { items: slice, ...(next ? { nextPageToken: next } : {}) };
}
