import { FaultSwitch as StepFaults } from '../cloud-standin/fault-switch.js';

/**
 * The switch that makes one step of the AWS flow fail, the way EC2 and S3 fail it.
 *
 * | step | what fails | default |
 * |---|---|---|
 * | `sts` | AssumeRoleWithWebIdentity | 400 `InvalidIdentityToken` |
 * | `upload` | a data-carrying S3 request (PutObject, UploadPart) | 500 `InternalError` (S3 XML) |
 * | `import-snapshot` | the import task ends `deleted` | `ClientError: Disk validation failed [...]` |
 * | `register-image` | RegisterImage | 400 `InvalidParameterValue` |
 * | `launch` | RunInstances | 500 `InsufficientInstanceCapacity` |
 * | `quota` | RunInstances | 400 `VcpuLimitExceeded` (pass `code: 'InstanceLimitExceeded'` for the older one) |
 * | `launch-timeout` | the instance stays `pending`, no machine starts | — |
 * | `operation-hang` | the next import task stays `active` forever | — |
 * | `console` | GetConsoleOutput | 500 `InternalError` |
 * | `console-empty` | GetConsoleOutput answers without `<output>` | — |
 * | `delete-instance` | TerminateInstances (500 `InternalError`); with `stuck: true` it is accepted and the instance stays `shutting-down` | 500 |
 * | `delete-image` / `delete-snapshot` | DeregisterImage / DeleteSnapshot | 500 `InternalError` |
 * | `delete-object` | S3 DeleteObject | 500 `InternalError` (S3 XML) |
 * | `list` | every EC2 Describe* call and S3 ListObjects(V2) | 500 `InternalError` |
 *
 * `times` counts requests that hit the fault, the SDK's own retries included: the AWS SDK v3
 * retries a 5xx (and throttling) up to 3 attempts in all by default, so `times: 1` on a 500 is
 * absorbed; a 400 is never retried. A later `fail()` of the same step replaces the earlier one.
 */
export type AwsFaultStep =
  | 'sts'
  | 'upload'
  | 'import-snapshot'
  | 'register-image'
  | 'launch'
  | 'quota'
  | 'launch-timeout'
  | 'operation-hang'
  | 'console'
  | 'console-empty'
  | 'delete-instance'
  | 'delete-image'
  | 'delete-snapshot'
  | 'delete-object'
  | 'list';

export interface AwsFaultOptions {
  /** How many hits fail; default 1; Infinity = always. */
  times?: number;
  status?: number;
  /** The error code (EC2 `<Code>`, S3 `<Code>`), or the import task's status message. */
  code?: string;
  message?: string;
  /** delete-instance only: accept TerminateInstances but never get past `shutting-down`. */
  stuck?: boolean;
}

export type ArmedFault = Omit<AwsFaultOptions, 'times'>;

/** AWS's fault switch: its steps, failing with a status, EC2's or S3's code, a message, or stuck. */
export class FaultSwitch extends StepFaults<AwsFaultStep, ArmedFault> {
  override arm(step: AwsFaultStep, opts: AwsFaultOptions = {}): void {
    super.arm(step, opts);
  }
}
