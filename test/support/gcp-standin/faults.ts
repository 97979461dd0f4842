import { FaultSwitch as StepFaults } from '../cloud-standin/fault-switch.js';

/**
 * The switch that makes one step of the GCP flow fail, the way Google fails it.
 *
 * | step | what fails | default |
 * |---|---|---|
 * | `sts` | the token exchange (POST /v1/token) | 400 `invalid_grant` (OAuth error body) |
 * | `upload` | a data-carrying upload request: media, multipart, or a resumable PUT with bytes | 503 |
 * | `import` | images.insert's operation ends DONE with `error` | `INVALID_IMAGE_FILE` |
 * | `launch` | instances.insert's operation ends DONE with `error` | `ZONE_RESOURCE_POOL_EXHAUSTED` |
 * | `quota` | instances.insert answers at once | 403 `quotaExceeded` (+ ErrorInfo `QUOTA_EXCEEDED`) |
 * | `launch-timeout` | the instance stays STAGING, no machine starts | — |
 * | `operation-hang` | the next operation created never reaches DONE | — |
 * | `serial` | getSerialPortOutput | 500 |
 * | `delete-instance` / `delete-image` / `delete-object` | that delete call | 500 |
 * | `list` | images.list, instances.list, objects.list | 500 |
 *
 * `times` counts requests (or operations) that hit the fault, a client's own retries included.
 * As measured with the installed libraries: @google-cloud/storage retries idempotent calls after a
 * 5xx (a list; a resumable upload's chunk when the upload has a precondition such as
 * ifGenerationMatch=0), so `times: 1` there is absorbed; @google-cloud/compute 6.x over REST
 * retries nothing (errors are gaxios errors: HTTP status in `code`, Google's body in `message`).
 * A later `fail()` of the same step replaces the earlier one.
 */
export type GcpFaultStep =
  | 'sts'
  | 'upload'
  | 'import'
  | 'launch'
  | 'quota'
  | 'launch-timeout'
  | 'operation-hang'
  | 'serial'
  | 'delete-instance'
  | 'delete-image'
  | 'delete-object'
  | 'list';

export interface GcpFaultOptions {
  /** How many hits fail; default 1; Infinity = always. */
  times?: number;
  status?: number;
  reason?: string;
  message?: string;
}

export interface ArmedFault {
  status?: number;
  reason?: string;
  message?: string;
}

/** GCP's fault switch: its steps, failing with a status, Google's reason and a message. */
export class FaultSwitch extends StepFaults<GcpFaultStep, ArmedFault> {
  override arm(step: GcpFaultStep, opts: GcpFaultOptions = {}): void {
    super.arm(step, opts);
  }
}
