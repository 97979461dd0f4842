import { cloudRunner } from '../cloud/cloud-runner.js';
import { awsProvider } from './aws-provider.js';

/** The `aws` runner: the cloud lifecycle on Amazon EC2. */
export const awsRunner = cloudRunner('aws', awsProvider);
