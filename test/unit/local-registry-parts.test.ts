import { inspect } from 'node:util';
import bcrypt from 'bcryptjs';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { htpasswdLine, randomCredentials, registryCredentials } from '../../oci-images/registry/htpasswd.js';
import { imageRefs, splitRef } from '../../oci-images/registry/fill-registry.js';
import { RegistryClient } from '../../oci-images/registry/registry-client.js';
import { renderRegistryConfig } from '../../oci-images/registry/registry-config.js';
import { subjectAltNames } from '../../oci-images/registry/registry-tls.js';

describe('renderRegistryConfig', () => {
  const base = { addr: '127.0.0.1:5000', rootDirectory: '/tmp/r/storage', secret: 's' };

  it('writes the keys registry 2.8 reads: version, storage root, listen address, secret', () => {
    const c = parse(renderRegistryConfig(base));
    expect(c.version).toBe(0.1);
    expect(c.storage.filesystem).toEqual({ rootdirectory: '/tmp/r/storage' });
    expect(c.http).toMatchObject({ addr: '127.0.0.1:5000', secret: 's' });
    expect(c.log.level).toBe('info');
    expect(c.http.tls).toBeUndefined();
    expect(c.auth).toBeUndefined();
  });

  it('adds TLS and htpasswd auth only when asked', () => {
    const c = parse(renderRegistryConfig({ ...base, tls: { certificate: '/t/c.pem', key: '/t/k.pem' }, htpasswd: { realm: 'r', path: '/t/htpasswd' } }));
    expect(c.http.tls).toEqual({ certificate: '/t/c.pem', key: '/t/k.pem' });
    expect(c.auth).toEqual({ htpasswd: { realm: 'r', path: '/t/htpasswd' } });
  });

  it('is the same text for the same request', () => {
    expect(renderRegistryConfig(base)).toBe(renderRegistryConfig({ ...base }));
  });
});

describe('subjectAltNames', () => {
  it('always covers 127.0.0.1 and localhost, adds IPs and names once, and drops wildcard listen addresses', () => {
    expect(subjectAltNames(['127.0.0.1', '10.0.2.2', '0.0.0.0', 'registry.test', '10.0.2.2', '::1'])).toBe(
      'IP:127.0.0.1,DNS:localhost,IP:10.0.2.2,DNS:registry.test,IP:::1',
    );
    expect(subjectAltNames(['::', '[fd00::2]'])).toBe('IP:127.0.0.1,DNS:localhost,IP:fd00::2');
  });
});

describe('registry credentials', () => {
  it('writes a bcrypt htpasswd line the password verifies against', async () => {
    const creds = randomCredentials();
    const line = await htpasswdLine(creds);
    const [user, hash] = line.trimEnd().split(':');
    expect(user).toBe(creds.username);
    expect(hash).toMatch(/^\$2[aby]\$\d\d\$/);
    expect(await bcrypt.compare(creds.password, hash!)).toBe(true);
    expect(await bcrypt.compare('wrong', hash!)).toBe(false);
    expect(line).not.toContain(creds.password);
  });

  it('refuses a user name that would change the file', async () => {
    await expect(htpasswdLine(registryCredentials('a:b', 'p'))).rejects.toThrow(/cannot contain ':'/);
  });

  it('keeps the password out of JSON and inspection, and differs each time', () => {
    const creds = randomCredentials();
    expect(creds.password.length).toBeGreaterThanOrEqual(24);
    expect(JSON.stringify({ creds })).not.toContain(creds.password);
    expect(inspect({ creds }, { depth: 5 })).not.toContain(creds.password);
    expect(randomCredentials().password).not.toBe(creds.password);
  });
});

describe('image refs', () => {
  it('splits repo and tag at the last colon after the last slash', () => {
    expect(splitRef('tsuite/busybox:0123456789ab')).toEqual({ repo: 'tsuite/busybox', tag: '0123456789ab' });
    expect(splitRef('10.0.2.2:5000/tsuite/busybox:x')).toEqual({ repo: '10.0.2.2:5000/tsuite/busybox', tag: 'x' });
    expect(() => splitRef('10.0.2.2:5000/tsuite/busybox')).toThrow(/no tag/);
  });

  it('names a pushed image by tag and by digest at a host', () => {
    expect(imageRefs('10.0.2.2:5000', 'tsuite/busybox', 't', 'sha256:ab')).toEqual({
      byTag: '10.0.2.2:5000/tsuite/busybox:t',
      byDigest: '10.0.2.2:5000/tsuite/busybox@sha256:ab',
    });
  });
});

describe('RegistryClient errors', () => {
  const clients: RegistryClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
  });
  const client = (withCreds: boolean) => {
    const c = new RegistryClient({ host: '127.0.0.1:1', scheme: 'http', ...(withCreds && { credentials: registryCredentials('u', 'planted-secret') }) });
    clients.push(c);
    return c;
  };
  const res = (status: number, body: string, headers: Record<string, string> = {}) => ({ status, headers, body: Buffer.from(body) });

  it('names the registry, the repository, the step, the status and the body', () => {
    const err = client(false).failure(res(404, '{"errors":[{"code":"NAME_UNKNOWN"}]}'), 'PUT manifest t', 'tsuite/x');
    expect(err.message).toBe('registry http://127.0.0.1:1, repository tsuite/x: PUT manifest t answered HTTP 404: {"errors":[{"code":"NAME_UNKNOWN"}]}');
    expect(err).toMatchObject({ status: 404, repo: 'tsuite/x', registry: 'http://127.0.0.1:1' });
  });

  it('says what a 401 means: missing credentials, rejected ones, or a token flow tsuite does not speak', () => {
    expect(client(false).failure(res(401, '', { 'www-authenticate': 'Basic realm="r"' }), 'HEAD blob').fix).toMatch(/needs credentials/);
    const rejected = client(true).failure(res(401, '', { 'www-authenticate': 'Basic realm="r"' }), 'HEAD blob');
    expect(rejected.message).toMatch(/rejected the credentials of user 'u'/);
    const bearer = client(true).failure(res(401, '', { 'www-authenticate': 'Bearer realm="https://auth/token",service="r"' }), 'HEAD blob');
    expect(bearer.message).toMatch(/Bearer token/);
    expect(bearer.fix).toMatch(/Basic auth only/);
  });

  it('never repeats the password or the Basic token, even when a body echoes them', () => {
    const token = Buffer.from('u:planted-secret').toString('base64');
    const err = client(true).failure(res(400, `bad planted-secret ${token}`), 'GET');
    expect(err.message).not.toContain('planted-secret');
    expect(err.message).not.toContain(token);
    expect(err.body).not.toContain('planted-secret');
  });

  it('reports a registry that cannot be reached, with the address', async () => {
    await expect(client(true).send('GET', '/v2/')).rejects.toThrow(/registry http:\/\/127\.0\.0\.1:1: GET \/v2\/ failed: .*ECONNREFUSED/);
  });
});
