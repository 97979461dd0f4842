import { createHash, createHmac } from 'node:crypto';

/**
 * Host key checking for the `ssh` channel, pure: OpenSSH's known_hosts format (sshd(8),
 * "SSH_KNOWN_HOSTS FILE FORMAT") and its SHA256 fingerprints. Kept apart from the connection so
 * every rule is unit-tested on text, without a server.
 */

/** One usable known_hosts line: `[@marker] patterns keytype base64 [comment]`. */
export interface KnownHostEntry {
  marker?: 'revoked' | 'cert-authority';
  /** Comma-separated patterns as written (`host`, `[host]:port`, `*.lan`, `!bad`), or one `|1|salt|hash`. */
  patterns: string;
  keyType: string;
  key: Buffer;
  /** 1-based line in the file, for messages. */
  line: number;
}

/** `SHA256:<base64, no padding>`, as `ssh-keygen -lf` and OpenSSH's prompts print it. */
export function sha256Fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** A pin as users write it: with or without `SHA256:`, with or without base64 padding. */
export function normalizeFingerprint(pin: string): string {
  const body = pin.trim().replace(/^SHA256:/i, '').replace(/=+$/, '');
  return `SHA256:${body}`;
}

/** The key type inside an SSH public key blob (its first length-prefixed string). */
export function keyBlobType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  return len > 0 && 4 + len <= blob.length ? blob.subarray(4, 4 + len).toString('latin1') : 'unknown';
}

/** The name known_hosts and OpenSSH use for a host on a port: `host` on 22, else `[host]:port`. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Parses known_hosts text; comments, blank and malformed lines are left out (as ssh does). */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === '' || fields[0]!.startsWith('#')) return;
    let marker: KnownHostEntry['marker'];
    if (fields[0]!.startsWith('@')) {
      const m = fields.shift()!.slice(1);
      if (m !== 'revoked' && m !== 'cert-authority') return;
      marker = m;
    }
    const [patterns, keyType, b64] = fields;
    if (!patterns || !keyType || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) return;
    const key = Buffer.from(b64, 'base64');
    // The blob names its own type: a line whose blob disagrees is corrupt, not a key.
    if (keyBlobType(key) !== keyType) return;
    entries.push({ ...(marker ? { marker } : {}), patterns, keyType, key, line: i + 1 });
  });
  return entries;
}

/** ssh's wildcard: `*` any run, `?` one character, nothing else special. */
function wildcard(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}

/** A hashed name, `|1|base64(salt)|base64(HMAC-SHA1(salt, name))` (HashKnownHosts yes). */
function hashedMatch(pattern: string, name: string): boolean {
  const [, kind, salt, hash] = pattern.split('|');
  if (kind !== '1' || !salt || !hash) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
}

/** Whether an entry's patterns name this host (`name` as from knownHostsName); a negated match excludes. */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return hashedMatch(patterns, name);
  let matched = false;
  for (const p of patterns.split(',')) {
    if (p.startsWith('!')) {
      if (wildcard(p.slice(1), name)) return false;
    } else if (wildcard(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/** What the known hosts say about the key a server offered. */
export type HostKeyVerdict =
  | { kind: 'known'; line: number }
  | { kind: 'unknown' }
  /** The host is listed with a key of the same type, and it is another key. */
  | { kind: 'changed'; line: number }
  /** The host is listed, but only with keys of other types. */
  | { kind: 'other-types'; types: string[] }
  | { kind: 'revoked'; line: number };

/** Judges `offered` (a key blob) for `name` against parsed entries. Certificate authorities are not supported: ignored. */
export function checkHostKey(entries: readonly KnownHostEntry[], name: string, offered: Buffer): HostKeyVerdict {
  const forHost = entries.filter((e) => e.marker !== 'cert-authority' && patternsMatch(e.patterns, name));
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(offered));
  if (revoked) return { kind: 'revoked', line: revoked.line };
  const plain = forHost.filter((e) => e.marker === undefined);
  const same = plain.find((e) => e.key.equals(offered));
  if (same) return { kind: 'known', line: same.line };
  const type = keyBlobType(offered);
  const sameType = plain.find((e) => e.keyType === type);
  if (sameType) return { kind: 'changed', line: sameType.line };
  if (plain.length > 0) return { kind: 'other-types', types: [...new Set(plain.map((e) => e.keyType))] };
  return { kind: 'unknown' };
}

/** Host key algorithms ssh2 negotiates (security keys and certificates are not among them). */
const SUPPORTED_HOST_KEY_ALGORITHMS = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-dss']);

/** The host key algorithms that can present a key of these known_hosts types, so a server is asked for a key we can check. */
export function hostKeyAlgorithms(types: readonly string[]): string[] {
  const algorithms = types.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  return [...new Set(algorithms)].filter((a) => SUPPORTED_HOST_KEY_ALGORITHMS.has(a));
}

/** The key types known for a host, in file order: the algorithms to ask the server for first. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], name: string): string[] {
  return [...new Set(entries.filter((e) => e.marker === undefined && patternsMatch(e.patterns, name)).map((e) => e.keyType))];
}
