/**
 * TLS material for a test Docker engine, made with the openssl CLI: a CA, a server certificate for
 * the engine's addresses, and client certificates in Docker's DOCKER_CERT_PATH layout.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execOk } from '../../src/core/exec.js';

export interface DockerTls {
  /** The CA that signed the server and client certificates. */
  caCert: string;
  caKey: string;
  /** For dockerd's --tlscert / --tlskey. */
  serverCert: string;
  serverKey: string;
  /** A DOCKER_CERT_PATH folder: ca.pem, cert.pem, key.pem. */
  clientDir: string;
}

const DAYS = '2';

async function key(path: string): Promise<void> {
  // P-256: fast to make, and dockerd's Go TLS stack and Node both take it.
  await execOk('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

/** Signs a certificate for `cn` with the CA, with the given X.509v3 extensions. */
async function signed(dir: string, name: string, cn: string, ca: { cert: string; key: string }, extensions: string[]): Promise<{ cert: string; key: string }> {
  const keyPath = join(dir, `${name}-key.pem`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const cert = join(dir, `${name}-cert.pem`);
  await key(keyPath);
  await execOk('openssl', ['req', '-new', '-key', keyPath, '-subj', `/CN=${cn}`, '-out', csr]);
  await writeFile(ext, `${extensions.join('\n')}\n`);
  await execOk('openssl', [
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', DAYS, '-sha256', '-extfile', ext, '-out', cert,
  ]);
  return { cert, key: keyPath };
}

/** A client certificate signed by `ca`, as a DOCKER_CERT_PATH folder trusting `trustCa`. */
export async function makeClientDir(dir: string, ca: { cert: string; key: string }, trustCa: string = ca.cert): Promise<string> {
  await mkdir(dir, { recursive: true });
  const client = await signed(dir, 'client', 'tsuite-client', ca, ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth']);
  await copyFile(client.cert, join(dir, 'cert.pem'));
  await copyFile(client.key, join(dir, 'key.pem'));
  await copyFile(trustCa, join(dir, 'ca.pem'));
  return dir;
}

/** A fresh CA under `dir` (a second one makes clients the engine must not trust). */
export async function makeCa(dir: string, cn = 'tsuite-test-ca'): Promise<{ cert: string; key: string }> {
  await mkdir(dir, { recursive: true });
  const caKey = join(dir, 'ca-key.pem');
  const caCert = join(dir, 'ca.pem');
  await key(caKey);
  await execOk('openssl', [
    'req', '-x509', '-new', '-key', caKey, '-subj', `/CN=${cn}`, '-days', DAYS, '-sha256', '-out', caCert,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert: caCert, key: caKey };
}

/** CA, server certificate valid for `ips` (and localhost), and a client folder, all under `dir`. */
export async function makeDockerTls(dir: string, ips: readonly string[]): Promise<DockerTls> {
  const ca = await makeCa(dir);
  const san = ['DNS:localhost', ...[...new Set(['127.0.0.1', ...ips])].map((ip) => `IP:${ip}`)].join(',');
  const server = await signed(dir, 'server', 'tsuite-dockerd', ca, [
    'basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', `subjectAltName=${san}`,
  ]);
  const clientDir = await makeClientDir(join(dir, 'client'), ca);
  return { caCert: ca.cert, caKey: ca.key, serverCert: server.cert, serverKey: server.key, clientDir };
}
