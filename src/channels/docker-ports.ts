/**
 * Where a container port published on the engine's machine is reached from tsuite's host. Pure.
 *
 * - A direct endpoint (a host engine, a cloud VM, a kernel's own API): the engine picks the host
 *   port (`''`), and the port it bound is reached at the endpoint's own host.
 * - An engine in a QEMU guest behind user-mode networking: only ports forwarded at boot are
 *   reachable, so tests publish onto those guest ports, one test per port at a time.
 */
import { InfraError } from '../core/errors.js';
import type { DockerAddress } from './docker-endpoint.js';

export interface PortReservation {
  /** The HostPort to put in a container's PortBindings ('' = the engine chooses). */
  hostPort: string;
  release(): void;
}

export class EnginePorts {
  private readonly inUse = new Set<number>();
  private readonly pool: readonly number[];

  constructor(
    private readonly address: DockerAddress,
    /** Guest port → host port, for an engine behind QEMU's port forwards. */
    private readonly portMap?: ReadonlyMap<number, number>,
    publishPorts: readonly number[] = [],
  ) {
    const unmapped = publishPorts.filter((p) => !portMap?.has(p));
    if (unmapped.length > 0) {
      throw new InfraError(
        `publish ports ${unmapped.join(', ')} have no host forward`,
        'forward every port in the target\'s docker.publishPorts (the QEMU runner does so for the ports it is given)',
      );
    }
    this.pool = portMap ? publishPorts : [];
  }

  /** Whether the engine sits behind fixed port forwards (a QEMU guest). */
  get forwarded(): boolean {
    return this.portMap !== undefined;
  }

  reserve(): PortReservation {
    if (!this.portMap) return { hostPort: '', release: () => undefined };
    const port = this.pool.find((p) => !this.inUse.has(p));
    if (port === undefined) {
      throw new InfraError(
        this.pool.length === 0
          ? 'the engine is behind QEMU port forwards and no guest ports were forwarded for publishing'
          : `all ${this.pool.length} forwarded guest ports (${this.pool.join(', ')}) are in use`,
        'release each reservation when its test ends, or forward more ports (the target\'s docker.publishPorts)',
      );
    }
    this.inUse.add(port);
    let released = false;
    return {
      hostPort: String(port),
      release: () => {
        if (released) return;
        released = true;
        this.inUse.delete(port);
      },
    };
  }

  reach(enginePort: number): { host: string; port: number } {
    if (this.portMap) {
      const port = this.portMap.get(enginePort);
      if (port === undefined) {
        const known = [...this.portMap.keys()].join(', ');
        throw new InfraError(`port ${enginePort} on the engine's machine is not forwarded to this host (forwarded: ${known})`, 'publish on a port from reservePort()');
      }
      return { host: '127.0.0.1', port };
    }
    // A unix socket means the engine runs on this host, where its published ports are too.
    return { host: this.address.kind === 'unix' ? '127.0.0.1' : this.address.host, port: enginePort };
  }
}
