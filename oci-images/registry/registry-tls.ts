/**
 * TLS material for the local registries, made with the openssl CLI (3.0+, for `req -x509 -CA`): a
 * throwaway CA, and one server certificate signed by it whose subjectAltName lists every address a
 * client may dial — 127.0.0.1 on this host, and the addresses guests see the host at (10.0.2.2
 * behind QEMU's user-mode network). Clients trust the CA; nothing ever turns verification off.
 */
import { isIP } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execOk } from '../../src/core/exec.js';

export interface RegistryTls {
  caPath: string;
  caPem: string;
  certificate: string;
  key: string;
}

/** A week: long enough for any run, short enough that a leaked CA from a temp dir soon means nothing. */
const DAYS = '7';
/** P-256 keys: made in milliseconds, and both Go's TLS (the registry) and Node's take them. */
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc'];

/**
 * The subjectAltName value for `addresses`: IPs as `IP:`, names as `DNS:`, always covering
 * 127.0.0.1 and localhost. Wildcard listen addresses are no address a client dials, so they are left out.
 */
export function subjectAltNames(addresses: readonly string[]): string {
  const names = new Set(['127.0.0.1', 'localhost', ...addresses.map((a) => a.trim()).filter(Boolean)]);
  for (const any of ['0.0.0.0', '::', '[::]']) names.delete(any);
  return [...names].map((a) => (isIP(a.replace(/^\[|\]$/g, '')) ? `IP:${a.replace(/^\[|\]$/g, '')}` : `DNS:${a}`)).join(',');
}

/** Makes the CA and the server certificate under `dir`. */
export async function makeRegistryTls(dir: string, addresses: readonly string[]): Promise<RegistryTls> {
  await mkdir(dir, { recursive: true });
  // Our own minimal openssl config: the system's would add its default v3_ca extensions to every
  // `req -x509`, marking the server certificate as a CA too.
  const cnf = join(dir, 'openssl.cnf');
  await writeFile(cnf, '[req]\ndistinguished_name = dn\n[dn]\n');
  const caPath = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca-key.pem');
  await execOk('openssl', [
    'req', '-x509', '-config', cnf, ...KEY, '-keyout', caKey, '-out', caPath, '-subj', '/CN=tsuite local registry CA', '-days', DAYS,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ], { fix: 'install openssl 3 (apt-get install openssl)' });
  const certificate = join(dir, 'server.pem');
  const key = join(dir, 'server-key.pem');
  await execOk('openssl', [
    'req', '-x509', '-config', cnf, ...KEY, '-keyout', key, '-out', certificate, '-subj', '/CN=tsuite local registry', '-days', DAYS,
    '-CA', caPath, '-CAkey', caKey,
    '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature',
    '-addext', 'extendedKeyUsage=serverAuth', '-addext', `subjectAltName=${subjectAltNames(addresses)}`,
  ], { fix: 'install openssl 3 (apt-get install openssl)' });
  return { caPath, caPem: await readFile(caPath, 'utf8'), certificate, key };
}
