/**
 * The stand-in's TLS identity. Azure's SDKs send bearer tokens only over HTTPS (core-rest-pipeline
 * refuses otherwise, unconditionally), so ARM, Entra ID and blob storage are all served over TLS.
 * A fresh CA and a server certificate for 127.0.0.1 and localhost are made with the openssl CLI at
 * every start, into the stand-in's temp dir: no key is committed, nothing expires in the tree, and
 * a certificate from one run is worthless to the next. Callers trust `ca.pem` (NODE_EXTRA_CA_CERTS
 * for child processes, `tlsOptions.ca` in-process).
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execOk } from '../../../src/core/exec.js';

export interface StandinTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

const ecKey = (path: string) => execOk('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);

export async function makeStandinTls(dir: string): Promise<StandinTls> {
  const caKey = join(dir, 'ca-key.pem');
  const caFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'server-key.pem');
  const csr = join(dir, 'server.csr');
  const ext = join(dir, 'server.ext');
  const certFile = join(dir, 'server.pem');
  await ecKey(caKey);
  await execOk('openssl', [
    'req', '-x509', '-new', '-key', caKey, '-subj', '/CN=tsuite azure stand-in CA', '-days', '2', '-sha256', '-out', caFile,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await ecKey(keyFile);
  await execOk('openssl', ['req', '-new', '-key', keyFile, '-subj', '/CN=127.0.0.1', '-out', csr]);
  await writeFile(ext, ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', 'subjectAltName=IP:127.0.0.1,DNS:localhost', ''].join('\n'));
  await execOk('openssl', [
    'x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', '2', '-sha256', '-extfile', ext, '-out', certFile,
  ]);
  const [ca, cert, key] = await Promise.all([readFile(caFile), readFile(certFile), readFile(keyFile)]);
  return { caFile, certFile, keyFile, ca, cert, key };
}
