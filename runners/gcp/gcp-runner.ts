import { cloudRunner } from '../cloud/cloud-runner.js';
import { gcpProvider } from './gcp-provider.js';

/** The `gcp` runner: the cloud lifecycle on Google Compute Engine. */
export const gcpRunner = cloudRunner('gcp', gcpProvider);
