import { CriChannel } from '../../src/channels/cri.js';
import { DockerChannel } from '../../src/channels/docker.js';
import type { ProvisionRequest } from '../../src/core/runner.js';
import type { CloudInstance } from './cloud-provider.js';
import type { CloudSession } from './cloud-session.js';

/**
 * When tsuite runs inside the instance's network (`cloud.privateNetwork`), the kernel's Docker
 * Engine API and CRI runtime are reached at the instance's private address on their own ports
 * (nothing is forwarded; the instance has no external address). A runtime that never answers is
 * not a boot failure: the session lacks the channel and says why, and the tests that need it fail.
 */
export async function connectPrivateChannels(session: CloudSession, instance: CloudInstance, req: ProvisionRequest, signal: AbortSignal): Promise<void> {
  const ip = instance.privateIp;
  if (!ip) {
    const why = 'the provider reported no private address for the instance';
    if (req.docker) session.dockerProblem = why;
    if (req.cri) session.criProblem = why;
    return;
  }
  await Promise.all([
    req.docker && DockerChannel.connect({ url: `tcp://${ip}:${req.docker.guestPort}`, certPath: req.docker.certPath }, { timeoutMs: req.docker.readyTimeoutMs, signal })
      .then((d) => session.attachDocker(d), (err: unknown) => (session.dockerProblem = `the Docker Engine API at ${ip}:${req.docker!.guestPort} did not answer: ${err instanceof Error ? err.message : String(err)}`)),
    req.cri && CriChannel.connect({ url: `tcp://${ip}:${req.cri.guestPort}`, certPath: req.cri.certPath }, {
      timeoutMs: req.cri.readyTimeoutMs, signal,
      node: { address: ip, forwards: new Map(), hostPorts: req.cri.hostPorts, hostAddress: req.cri.hostAddress, registryConfigDir: req.cri.registryConfigDir },
    }).then((c) => session.attachCri(c), (err: unknown) => (session.criProblem = `the CRI runtime at ${ip}:${req.cri!.guestPort} did not answer: ${err instanceof Error ? err.message : String(err)}`)),
  ]);
}
