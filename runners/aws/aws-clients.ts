import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';

export interface AwsClients {
  ec2: EC2Client;
  s3: S3Client;
  close(): void;
}

/**
 * The official AWS SDK v3 clients for a region. Credentials come only from the SDK's default chain
 * (environment, web identity / OIDC role in CI, SSO, shared profiles, the instance metadata
 * service): tsuite never reads or holds a credential itself. An endpoint in the target (a VPC
 * endpoint, or the test stand-in) replaces AWS's; S3 is then addressed by path, since such an
 * endpoint has no per-bucket host names.
 */
export function awsClients(settings: { region: string; ec2Endpoint?: string; s3Endpoint?: string }): AwsClients {
  const ec2 = new EC2Client({ region: settings.region, ...(settings.ec2Endpoint ? { endpoint: settings.ec2Endpoint } : {}) });
  const s3 = new S3Client({
    region: settings.region,
    ...(settings.s3Endpoint ? { endpoint: settings.s3Endpoint, forcePathStyle: true } : {}),
    // Checksums only where S3 requires them: the default streamed-checksum framing ends up inside
    // the object on S3-compatible servers that do not speak it, and a raw disk must stay byte-exact.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    ec2, s3,
    close() {
      ec2.destroy();
      s3.destroy();
    },
  };
}
