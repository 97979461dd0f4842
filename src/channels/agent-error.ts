import { InfraError } from '../core/errors.js';

/**
 * What went wrong talking to the guest agent:
 * - `timeout`: the agent did not answer a command in time;
 * - `dead`: the connection closed, the guest closed the agent's port, or the agent did not answer
 *   the resynchronisation (`guest-sync-delimited`);
 * - `garbled`: a reply that is not QGA JSON;
 * - `rejected`: the agent answered with an error (`{"error": {"class", "desc"}}`);
 * - `still-running`: a `guest-exec` command did not finish within its time limit.
 */
export type AgentErrorKind = 'timeout' | 'dead' | 'garbled' | 'rejected' | 'still-running';

/**
 * The agent channel failed. An InfraError: the harness lost its way into the guest, which by itself
 * proves nothing about the kernel (a test that sees the machine die as well reports `crashed`).
 */
export class AgentError extends InfraError {
  constructor(
    readonly kind: AgentErrorKind,
    /** The QGA command that failed. */
    readonly command: string,
    message: string,
    fix?: string,
    /** For `rejected`: the agent's error class, e.g. `GenericError`, `CommandNotFound`. */
    readonly errorClass?: string,
  ) {
    super(message, fix);
  }
}
