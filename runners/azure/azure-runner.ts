import { cloudRunner } from '../cloud/cloud-runner.js';
import { azureProvider } from './azure-provider.js';

/** The `azure` runner: the cloud lifecycle on Microsoft Azure. */
export const azureRunner = cloudRunner('azure', azureProvider);
