import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { NoSuchKey, S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { awsError, awsErrorCode, isNotFound, isUnsupported } from '../../runners/aws/aws-errors.js';
import { CloudApiError } from '../../runners/cloud/cloud-provider.js';

/** SDK v3 failures as the clients raise them: the service's code as `name`, the HTTP status in `$metadata`. */
function ec2(name: string, message: string, status: number): EC2ServiceException {
  return new EC2ServiceException({ name, message, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

describe('AWS errors', () => {
  it('become `<what>: <code>: <message>` with the status and code kept', () => {
    const e = awsError(ec2('InvalidParameterValue', 'Value (t9.huge) for parameter instanceType is invalid.', 400), 'launching instance tsuite-x-vm');
    expect(e).toBeInstanceOf(CloudApiError);
    expect(e.message).toBe('launching instance tsuite-x-vm: InvalidParameterValue: Value (t9.huge) for parameter instanceType is invalid.');
    expect(e.status).toBe(400);
    expect(e.reason).toBe('InvalidParameterValue');
    expect(e.transient).toBe(false);
  });

  it('throttling, 5xx and dropped connections are transient; quota and permission errors are not', () => {
    expect(awsError(ec2('RequestLimitExceeded', 'Request limit exceeded.', 503), 'x').transient).toBe(true);
    expect(awsError(new S3ServiceException({ name: 'SlowDown', message: 'Please reduce your request rate.', $fault: 'client', $metadata: { httpStatusCode: 503 } }), 'x').transient).toBe(true);
    expect(awsError(ec2('InternalError', 'An internal error has occurred', 500), 'x').transient).toBe(true);
    expect(awsError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'x').transient).toBe(true);
    expect(awsError(ec2('InstanceLimitExceeded', 'You have requested more instances than your current instance limit allows', 400), 'x').transient).toBe(false);
    expect(awsError(ec2('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403), 'x').transient).toBe(false);
  });

  it('redacts credentials and signatures that a message may carry', () => {
    const secret = 'TSUITE-PLANTED-SECRET-abc123';
    const e = awsError(new S3ServiceException({
      name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 },
      message: `denied for https://b.s3.amazonaws.com/k?X-Amz-Credential=${secret}&X-Amz-Signature=${secret}&X-Amz-Security-Token=${secret} Authorization: Bearer ${secret}`,
    }), 'uploading s3://b/k');
    expect(e.message).not.toContain(secret);
    expect(e.message).toMatch(/^uploading s3:\/\/b\/k: AccessDenied: denied for/);
  });

  it('takes only the first line and never the request (it holds the signed headers)', () => {
    const err = Object.assign(ec2('InvalidAMIID.Malformed', 'Invalid id: "x"\nsecond line', 400), { $response: { headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKIA...' } } });
    expect(awsError(err, 'x').message).toBe('x: InvalidAMIID.Malformed: Invalid id: "x"');
  });

  it('recognises "not there" for idempotent deletes: EC2 *.NotFound, S3 NoSuchKey/NotFound/NoSuchUpload, a 404', () => {
    expect(isNotFound(ec2('InvalidInstanceID.NotFound', "The instance ID 'i-1' does not exist", 400))).toBe(true);
    expect(isNotFound(ec2('InvalidAMIID.NotFound', 'nope', 400))).toBe(true);
    expect(isNotFound(ec2('InvalidSnapshot.NotFound', 'nope', 400))).toBe(true);
    expect(isNotFound(ec2('InvalidAMIID.Unavailable', 'deregistered', 400))).toBe(true);
    expect(isNotFound(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }))).toBe(true);
    expect(isNotFound(new S3ServiceException({ name: 'NotFound', message: '', $fault: 'client', $metadata: { httpStatusCode: 404 } }))).toBe(true);
    expect(isNotFound(new S3ServiceException({ name: 'NoSuchUpload', message: '', $fault: 'client', $metadata: { httpStatusCode: 404 } }))).toBe(true);
    // A missing bucket is a configuration error, not an object already deleted.
    expect(isNotFound(new S3ServiceException({ name: 'NoSuchBucket', message: '', $fault: 'client', $metadata: { httpStatusCode: 404 } }))).toBe(false);
    expect(isNotFound(ec2('InternalError', 'x', 500))).toBe(false);
  });

  it('an S3 error without a body says its status', () => {
    const e = awsError(new S3ServiceException({ name: 'NotFound', message: '', $fault: 'client', $metadata: { httpStatusCode: 404 } }), 'reading s3://b/k');
    expect(e.message).toBe('reading s3://b/k: NotFound: HTTP 404');
  });

  it('knows EC2 refusing Latest console output on a non-Nitro instance', () => {
    expect(isUnsupported(ec2('UnsupportedOperation', 'The Latest parameter is not supported for this instance type', 400))).toBe(true);
    expect(isUnsupported(ec2('InternalError', 'x', 500))).toBe(false);
  });

  it('reads the code of an error already wrapped (a "not there" stays recognisable after awsError)', () => {
    const wrapped = awsError(ec2('InvalidSnapshot.NotFound', "The snapshot 'snap-1' does not exist.", 400), 'deleting image x');
    expect(isNotFound(wrapped)).toBe(true);
    expect(awsErrorCode(wrapped)).toBe('InvalidSnapshot.NotFound');
    expect(isNotFound(awsError(ec2('InvalidConversionTaskId', 'gone', 400), 'x'))).toBe(true);
    expect(isNotFound(awsError(ec2('InternalError', 'x', 500), 'x'))).toBe(false);
  });

  it('passes a CloudApiError through unchanged', () => {
    const e = new CloudApiError('already said', 400, 'X');
    expect(awsError(e, 'other')).toBe(e);
  });
});
