import type { DockerChannel } from '../../src/channels/docker.js';
import type { EventPatterns } from '../../src/parsers/kernel-events.js';
import { EndpointSession } from '../endpoint-session.js';

/** A session on an existing Docker endpoint: its only channel is the engine's API. */
export class DockerSession extends EndpointSession {
  constructor(id: string, dir: string, readonly docker: DockerChannel, eventPatterns: EventPatterns) {
    super(id, dir, eventPatterns, 'docker', 'Docker endpoint');
  }

  protected closeChannel(): void {
    this.docker.close();
  }
}
