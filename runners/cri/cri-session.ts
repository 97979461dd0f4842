import type { CriChannel } from '../../src/channels/cri.js';
import type { EventPatterns } from '../../src/parsers/kernel-events.js';
import { EndpointSession } from '../endpoint-session.js';

/** A session on an existing CRI runtime: its only channel is the runtime's gRPC connection. */
export class CriSession extends EndpointSession {
  constructor(id: string, dir: string, readonly cri: CriChannel, eventPatterns: EventPatterns) {
    super(id, dir, eventPatterns, 'cri', 'CRI endpoint');
  }

  protected closeChannel(): void {
    this.cri.close();
  }
}
