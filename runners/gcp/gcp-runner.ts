import { cloudRunner } from '../cloud/cloud-runner.js';
import { GcpProvider } from './gcp-provider.js';

/** The `gcp` runner: the cloud lifecycle on Google Compute Engine. */
export const gcpRunner = cloudRunner('gcp', (def) => new GcpProvider(def.gcp ?? {}, def.cloud?.operationTimeoutMs));
