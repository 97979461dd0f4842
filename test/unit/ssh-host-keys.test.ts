import { describe, expect, it } from 'vitest';
import { hostKeyError } from '../../src/channels/ssh-connect.js';
import {
  checkHostKey, hostKeyAlgorithms, keyBlobType, knownHostsName, knownKeyTypes, normalizeFingerprint, parseKnownHosts, patternsMatch, sha256Fingerprint,
} from '../../src/channels/ssh-host-keys.js';

/** Keys made with ssh-keygen; fingerprints and the hashed line are what `ssh-keygen -lf` and `ssh-keygen -H` printed for them. */
const K1 = 'AAAAC3NzaC1lZDI1NTE5AAAAIP8HGTpVyMmk2Cghs3p9Njbd841l+JZ6dJYce5itZEri';
const K1_FP = 'SHA256:dfnxYKm1sCicvYEY1pWttc20MncJb8GF0QJBLUzYoz8';
const K2 = 'AAAAC3NzaC1lZDI1NTE5AAAAIERaaK6KXc8hCHFmIV2RMgu6JJskbuplpIPfa56StgRG';
const K2_FP = 'SHA256:vwUs560nXTtMjWaY0NSw5JFJDNrjGnRmmh4b0nYqtwo';
const K3 = 'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDPNEDeMPkE7CFj5YWcuiLyy3jqPKYxU9v/VIy2VfrhCV6FBEgdA7lEZWq1DZ+iLFj13K51tFLRu4B+CMb9H24E=';
const K3_FP = 'SHA256:mHxSjDzIqf96FCdfyIwn0sMcLTJfpJIXfdaXVLN3QSY';
/** `ssh-keygen -H` of `[10.0.0.1]:2222 ssh-ed25519 K1`. */
const HASHED = `|1|CgXtzZyNnFIEmGANcHTHty0z34E=|weBcAr5NgM50BO46BPQP14EDM7Y= ssh-ed25519 ${K1}`;
const blob = (b64: string) => Buffer.from(b64, 'base64');

describe('ssh host key checking (known_hosts, fingerprints)', () => {
  it('formats SHA256 fingerprints exactly as ssh-keygen -lf prints them', () => {
    expect(sha256Fingerprint(blob(K1))).toBe(K1_FP);
    expect(sha256Fingerprint(blob(K2))).toBe(K2_FP);
    expect(sha256Fingerprint(blob(K3))).toBe(K3_FP);
    expect(sha256Fingerprint(blob(K2))).not.toBe(K1_FP);
    expect(normalizeFingerprint('dfnxYKm1sCicvYEY1pWttc20MncJb8GF0QJBLUzYoz8=')).toBe(K1_FP);
    expect(keyBlobType(blob(K3))).toBe('ecdsa-sha2-nistp256');
  });

  it('names a host as known_hosts does: bare on port 22, [host]:port otherwise', () => {
    expect(knownHostsName('board', 22)).toBe('board');
    expect(knownHostsName('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
  });

  it('parses lines, skipping comments, unknown markers and keys whose blob contradicts their type', () => {
    const entries = parseKnownHosts([
      '# comment', '', `board,10.0.0.5 ssh-ed25519 ${K1} me@x`, `@cert-authority *.lan ssh-ed25519 ${K2}`,
      `@bogus board ssh-ed25519 ${K2}`, `board ssh-rsa ${K1}`, 'board ssh-ed25519 !!notbase64', HASHED,
    ].join('\n'));
    expect(entries.map((e) => [e.line, e.marker ?? '', e.patterns])).toEqual([[3, '', 'board,10.0.0.5'], [4, 'cert-authority', '*.lan'], [8, '', HASHED.split(' ')[0]]]);
  });

  it('matches patterns: lists, wildcards, negation, ports, hashed names', () => {
    expect(patternsMatch('board,10.0.0.5', '10.0.0.5')).toBe(true);
    expect(patternsMatch('board', 'board2')).toBe(false);
    expect(patternsMatch('*.lan,!evil.lan', 'a.lan')).toBe(true);
    expect(patternsMatch('*.lan,!evil.lan', 'evil.lan')).toBe(false);
    expect(patternsMatch('10.0.0.?', '10.0.0.7')).toBe(true);
    expect(patternsMatch('10.0.0.1', '[10.0.0.1]:2222')).toBe(false);
    expect(patternsMatch(HASHED.split(' ')[0]!, '[10.0.0.1]:2222')).toBe(true);
    expect(patternsMatch(HASHED.split(' ')[0]!, '[10.0.0.1]:2223')).toBe(false);
  });

  it('judges an offered key: known, changed, unknown, other types only, revoked', () => {
    const entries = parseKnownHosts([`[10.0.0.1]:2222 ssh-ed25519 ${K1}`, `onlyec ecdsa-sha2-nistp256 ${K3}`, `@revoked * ssh-ed25519 ${K2}`, HASHED].join('\n'));
    expect(checkHostKey(entries, '[10.0.0.1]:2222', blob(K1))).toEqual({ kind: 'known', line: 1 });
    expect(checkHostKey(entries, '[10.0.0.1]:2222', blob(K2)).kind).toBe('revoked');
    const noRevoke = entries.filter((e) => e.marker !== 'revoked');
    expect(checkHostKey(noRevoke, '[10.0.0.1]:2222', blob(K2))).toEqual({ kind: 'changed', line: 1 });
    expect(checkHostKey(noRevoke, 'elsewhere', blob(K1))).toEqual({ kind: 'unknown' });
    expect(checkHostKey(noRevoke, 'onlyec', blob(K1))).toEqual({ kind: 'other-types', types: ['ecdsa-sha2-nistp256'] });
    expect(knownKeyTypes(noRevoke, 'onlyec')).toEqual(['ecdsa-sha2-nistp256']);
    expect(hostKeyAlgorithms(['ssh-rsa', 'sk-ssh-ed25519@openssh.com', 'ssh-ed25519'])).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519']);
  });

  it('says what was seen and how to fix it, and accepts only a known key', () => {
    const seen = { type: 'ssh-ed25519', fingerprint: K2_FP };
    expect(hostKeyError({ kind: 'known', line: 1 }, 'board', '/kh', seen, 22)).toBeUndefined();
    const changed = hostKeyError({ kind: 'changed', line: 4 }, '[10.0.0.1]:2222', '/kh', seen, 2222)!;
    expect(changed.message).toBe(`the host key of [10.0.0.1]:2222 has CHANGED: it presented ssh-ed25519 ${K2_FP}, and /kh line 4 holds another ssh-ed25519 key. Someone may be intercepting the connection, or the machine was reinstalled`);
    expect(changed.fix).toContain("ssh-keygen -R '[10.0.0.1]:2222' -f /kh");
    const unknown = hostKeyError({ kind: 'unknown' }, '[10.0.0.1]:2222', '/kh', seen, 2222)!;
    expect(unknown.fix).toContain('ssh-keyscan -p 2222 10.0.0.1 >> /kh');
    expect(unknown.fix).toContain(`hostKeyFingerprint: '${K2_FP}'`);
  });
});
