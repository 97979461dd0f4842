import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DockerChannel, DockerConnectError } from '../../src/channels/docker.js';
import { CLIENT_MAX_API_VERSION, CLIENT_MIN_API_VERSION } from '../../src/channels/docker-version.js';
import { InfraError, UsageError } from '../../src/core/errors.js';
import type { Runner } from '../../src/core/runner.js';
import { DockerSession } from './docker-session.js';

/**
 * The `docker` runner: a target that is an existing Docker Engine endpoint (a Linux Docker host to
 * baseline against, or a kernel's own management API). Nothing is booted; a session is a
 * connection, and the engine's facts (API version, engine, kernel, cgroups) are its evidence.
 */
export const dockerRunner: Runner = {
  name: 'docker',
  async provision(req, signal) {
    const endpoint = req.endpoint;
    if (!endpoint?.url) {
      throw new UsageError('the docker runner needs an endpoint', 'pass --docker-host tcp://HOST:PORT or unix:///path, or set DOCKER_HOST');
    }
    await mkdir(req.dir, { recursive: true });
    let channel: DockerChannel;
    try {
      // The endpoint exists already; bootTimeoutMs bounds how long it may take to answer.
      channel = await DockerChannel.connect(endpoint, { timeoutMs: req.bootTimeoutMs, signal });
    } catch (err) {
      if (!(err instanceof DockerConnectError)) throw err;
      throw new InfraError(err.message, connectFix(err, endpoint.certPath), { cause: err });
    }
    await writeFile(join(req.dir, 'endpoint.json'), `${JSON.stringify({ endpoint: endpoint.url, tls: Boolean(endpoint.certPath), ...channel.info }, null, 2)}\n`);
    return new DockerSession(req.sessionId, req.dir, channel, req.eventPatterns);
  },
};

function connectFix(err: DockerConnectError, certPath: string | undefined): string {
  switch (err.kind) {
    case 'unreachable':
      return 'is the engine running? set DOCKER_HOST / --docker-host to where it listens';
    case 'refused':
      return certPath
        ? 'the engine rejected the TLS handshake or request: check that DOCKER_CERT_PATH / --docker-cert-path holds a client cert its CA trusts, and that the port serves TLS'
        : 'the engine answered with an error: if it serves TLS, set DOCKER_CERT_PATH / --docker-cert-path (and DOCKER_TLS_VERIFY=1)';
    case 'version':
      return `point tsuite at an engine that serves a Docker API between ${CLIENT_MIN_API_VERSION} and ${CLIENT_MAX_API_VERSION}`;
  }
}
