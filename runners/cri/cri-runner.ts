import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CriChannel, CriConnectError } from '../../src/channels/cri.js';
import { InfraError, UsageError } from '../../src/core/errors.js';
import type { Runner } from '../../src/core/runner.js';
import { CriSession } from './cri-session.js';

/**
 * The `cri` runner: a target that is an existing CRI v1 runtime (containerd on a Linux host to
 * baseline against, or a kernel's own runtime). Nothing is booted; a session is a gRPC connection,
 * and what the runtime's `Version` says is its evidence.
 */
export const criRunner: Runner = {
  name: 'cri',
  async provision(req, signal) {
    const endpoint = req.criEndpoint;
    if (!endpoint?.url) throw new UsageError('the cri runner needs an endpoint', 'pass --cri-endpoint unix:///path/to/runtime.sock or tcp://HOST:PORT');
    await mkdir(req.dir, { recursive: true });
    let channel: CriChannel;
    try {
      // The runtime exists already; bootTimeoutMs bounds how long it may take to answer.
      channel = await CriChannel.connect({ url: endpoint.url, certPath: endpoint.certPath }, {
        timeoutMs: req.bootTimeoutMs,
        signal,
        node: { address: endpoint.nodeAddress, forwards: new Map(), hostPorts: endpoint.hostPorts, hostAddress: endpoint.hostAddress, registryConfigDir: endpoint.registryConfigDir },
      });
    } catch (err) {
      if (!(err instanceof CriConnectError)) throw err;
      const fix = endpoint.certPath
        ? 'is the runtime running and serving TLS with a certificate that ca.pem in --cri-cert-path trusts?'
        : 'is the runtime running? point --cri-endpoint at its socket (containerd: unix:///run/containerd/containerd.sock) or its TCP address';
      throw new InfraError(err.message, fix, { cause: err });
    }
    await writeFile(join(req.dir, 'endpoint.json'), `${JSON.stringify({ tls: Boolean(endpoint.certPath), ...channel.info }, null, 2)}\n`);
    return new CriSession(req.sessionId, req.dir, channel, req.eventPatterns);
  },
};
