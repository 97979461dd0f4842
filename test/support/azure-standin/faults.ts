import { FaultSwitch as StepFaults } from '../cloud-standin/fault-switch.js';

/**
 * The switch that makes one step of the Azure flow fail, the way Azure fails it.
 *
 * | step | what fails | default |
 * |---|---|---|
 * | `token` | Entra ID's token endpoint | 401 `invalid_client` AADSTS7000215 (secret) / 400 AADSTS700213 (federated) |
 * | `upload` | a Put Page (blob storage, through the proxy) | 503 `ServerBusy` (XML) |
 * | `group` | resource group createOrUpdate | 500 `InternalServerError` |
 * | `image` | images / disks createOrUpdate: the operation ends Failed | `InternalOperationError` |
 * | `launch` | virtualMachines createOrUpdate: the operation ends Failed | `AllocationFailed` |
 * | `quota` | virtualMachines createOrUpdate answers at once | 409 `OperationNotAllowed` (cores quota) |
 * | `launch-timeout` | the VM's operation stays InProgress, no machine starts | — |
 * | `operation-hang` | the next long-running operation stays InProgress, its work undone | — |
 * | `console` | retrieveBootDiagnosticsData | 500 `InternalExecutionError` |
 * | `console-empty` | the serial log URI serves an empty log (once per hit) | — |
 * | `delete-group` | resource group delete: the operation ends Failed | `ResourceGroupDeletionBlocked` |
 * | `delete-blob` | Delete Blob (through the proxy) | 500 `InternalError` (XML) |
 * | `list` | resource group list, List Blobs | 500 |
 *
 * `times` counts hits, the SDK's own retries included: core-rest-pipeline retries 500/503 (and
 * 408/429) up to 3 times with backoff by default, so `times: 1` on a synchronous call is absorbed
 * by that retry; `times: Infinity` makes it surface.
 */
export type AzureFaultStep =
  | 'token'
  | 'upload'
  | 'group'
  | 'image'
  | 'launch'
  | 'quota'
  | 'launch-timeout'
  | 'operation-hang'
  | 'console'
  | 'console-empty'
  | 'delete-group'
  | 'delete-blob'
  | 'list';

export interface AzureFaultOptions {
  /** How many hits fail; default 1; Infinity = always. */
  times?: number;
  status?: number;
  code?: string;
  message?: string;
}

export interface ArmedFault {
  status?: number;
  code?: string;
  message?: string;
}

/** Azure's fault switch: its steps, failing with a status, Azure's error code and a message. */
export class FaultSwitch extends StepFaults<AzureFaultStep, ArmedFault> {
  override arm(step: AzureFaultStep, opts: AzureFaultOptions = {}): void {
    super.arm(step, opts);
  }
}
