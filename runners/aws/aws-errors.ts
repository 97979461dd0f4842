import { CloudApiError } from '../cloud/cloud-provider.js';
import { redact } from '../cloud/redact.js';

/** What the AWS SDK v3 puts on a failure: the service's error code as `name`, its message, the HTTP status. */
interface AwsErrorShape {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

/** EC2's and S3's codes for a request refused because of its rate: wait and send it again. */
const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'RequestThrottled', 'RequestThrottledException',
  'TooManyRequestsException', 'SlowDown', 'ProvisionedThroughputExceededException', 'BandwidthLimitExceeded', 'EC2ThrottledException']);

/** Codes for "no such thing": what a deletion takes for already gone. */
const NOT_FOUND = new Set(['NoSuchKey', 'NotFound', 'NoSuchUpload', 'InvalidAMIID.Unavailable', 'InvalidConversionTaskId']);

/** Failures of the connection rather than of the request. */
const NETWORK = /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|socket hang up|TimeoutError/;

/** The service's error code: `InvalidInstanceID.NotFound`, `NoSuchKey`, `UnauthorizedOperation`, ... */
export function awsErrorCode(err: unknown): string {
  // Already turned into tsuite's error (by a wrapped call): its reason is the service's code.
  if (err instanceof CloudApiError) return err.reason ?? 'Error';
  const e = (err ?? {}) as AwsErrorShape;
  return e.Code ?? (typeof e.code === 'string' ? e.code : undefined) ?? e.name ?? 'Error';
}

function httpStatus(err: unknown): number | undefined {
  if (err instanceof CloudApiError) return err.status;
  return ((err ?? {}) as AwsErrorShape).$metadata?.httpStatusCode;
}

/**
 * An AWS SDK failure as tsuite reports it: `<what>: <code>: <message>`, redacted, and nothing else
 * from the error object (its request carries the signed Authorization header and, with temporary
 * credentials, the session token). Throttling, 5xx and dropped connections are transient.
 */
export function awsError(err: unknown, what: string): CloudApiError {
  if (err instanceof CloudApiError) return err;
  const e = (err ?? {}) as AwsErrorShape;
  const code = awsErrorCode(err);
  const status = httpStatus(err);
  // An unmodelled error without a body says only its status: say that rather than "UnknownError".
  const text = (e.message ?? String(err)).split('\n')[0]!.trim() || (status ? `HTTP ${status}` : 'no message');
  const transient = THROTTLING.has(code) || (status !== undefined && (status >= 500 || status === 429)) || e.$fault === 'server' || NETWORK.test(`${code} ${text}`);
  return new CloudApiError(redact(`${what}: ${code}: ${text}`), status, code, transient);
}

/** The thing named is not there (any EC2 `*.NotFound`, S3's 404s): a deletion has nothing to do. */
export function isNotFound(err: unknown): boolean {
  const code = awsErrorCode(err);
  return code.endsWith('.NotFound') || NOT_FOUND.has(code) || (httpStatus(err) === 404 && code !== 'NoSuchBucket');
}

/** EC2 will not do it for this instance (`Latest=true` on a non-Nitro instance). */
export function isUnsupported(err: unknown): boolean {
  const code = awsErrorCode(err);
  return code === 'UnsupportedOperation' || code === 'Unsupported';
}

/** One SDK call whose failure becomes a redacted CloudApiError saying what was being done. */
export async function awsCall<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw awsError(err, what);
  }
}
