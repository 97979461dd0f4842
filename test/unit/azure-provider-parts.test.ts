import { RestError } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import { azureError, isAbsent } from '../../runners/azure/azure-errors.js';
import { allZero, labelsFromMetadata, metadataFromLabels } from '../../runners/azure/azure-provider.js';
import { BootDiagnosticsSerial, sasExpiry, SerialLogStream, UNKNOWN_LOSS_BYTES, utf8Boundary } from '../../runners/azure/serial-log.js';
import { CloudApiError } from '../../runners/cloud/cloud-provider.js';

/** The Azure runner's pure parts: error mapping, the serial log as a byte stream, blob metadata names. */

const SAS = 'https://md-abc.blob.core.windows.net/x/serialconsole.log?sv=2022-11-02&se=2099-01-01T00%3A00%3A00Z&sr=b&sp=r&sig=TSUITE-PLANTED-SECRET%2Bsig';

describe('Azure errors', () => {
  it("reports ARM's code and message and the status, and nothing of the request", () => {
    const err = new RestError('The Resource group could not be found.', {
      code: 'ResourceGroupNotFound', statusCode: 404,
      request: { headers: { get: () => 'Bearer TSUITE-PLANTED-SECRET' } } as never,
    });
    const e = azureError(err, 'reading VM x');
    expect(e).toBeInstanceOf(CloudApiError);
    expect(e.message).toBe('reading VM x: The Resource group could not be found. (HTTP 404 ResourceGroupNotFound)');
    expect(e.status).toBe(404);
    expect(e.reason).toBe('ResourceGroupNotFound');
    expect(isAbsent(err)).toBe(true);
    expect(isAbsent(e)).toBe(true);
  });

  it("reads ARM's error body when the message is the body", () => {
    const err = Object.assign(new Error(JSON.stringify({ error: { code: 'OperationNotAllowed', message: 'Operation could not be completed as it results in exceeding approved standardBSFamily Cores quota.' } })), { statusCode: 409 });
    const e = azureError(err, 'launching VM v');
    expect(e.message).toMatch(/^launching VM v: Operation could not be completed .* quota\. \(HTTP 409 OperationNotAllowed\)$/);
    expect(e.transient).toBe(false);
    expect(isAbsent(err)).toBe(false);
  });

  it('keeps only the first line of a storage message and redacts any signature or token in it', () => {
    const err = new RestError(`Server failed to authenticate the request. ${SAS}\nRequestId:1\nTime:2`, { code: 'AuthenticationFailed', statusCode: 403 });
    const e = azureError(err, 'uploading a/b');
    expect(e.message).not.toContain('TSUITE-PLANTED-SECRET');
    expect(e.message).toContain('sig=[redacted]');
    expect(e.message).not.toContain('RequestId');
    const bearer = azureError(new Error('got Bearer TSUITE-PLANTED-SECRET.x'), 'x');
    expect(bearer.message).not.toContain('TSUITE-PLANTED-SECRET');
  });

  it('calls 429, 5xx and dropped connections transient', () => {
    expect(azureError(new RestError('busy', { statusCode: 429 }), 'x').transient).toBe(true);
    expect(azureError(new RestError('oops', { statusCode: 503 }), 'x').transient).toBe(true);
    expect(azureError(new RestError('read ECONNRESET', { code: 'REQUEST_SEND_ERROR' }), 'x').transient).toBe(true);
    expect(azureError(new RestError('no', { statusCode: 403 }), 'x').transient).toBe(false);
  });

  it("takes identity's error description", () => {
    const err = Object.assign(new Error('ClientSecretCredential authentication failed'), { name: 'AuthenticationError', errorResponse: { error: 'invalid_client', errorDescription: 'AADSTS7000215: Invalid client secret provided.' } });
    expect(azureError(err, 'getting a token').message).toBe('getting a token: AADSTS7000215: Invalid client secret provided. (invalid_client)');
  });

  it("names the refusal inside DefaultAzureCredential's chain error, not the unavailable credentials", () => {
    const refused = Object.assign(new Error("invalid_client: Error(s): 700213 - Timestamp: 2026-01-01T00:00:00Z - Description: AADSTS700213: No matching federated identity record found for presented assertion subject 'repo:x'. Trace ID: 1 Correlation ID: 2"), { name: 'AuthenticationRequiredError' });
    const unavailable = Object.assign(new Error('EnvironmentCredential is unavailable.'), { name: 'CredentialUnavailableError' });
    const err = Object.assign(new Error('ChainedTokenCredential authentication failed.\nCredentialUnavailableError: ...'), { name: 'AggregateAuthenticationError', errors: [unavailable, refused, unavailable] });
    expect(azureError(err, 'getting a token').message).toBe("getting a token: AADSTS700213: No matching federated identity record found for presented assertion subject 'repo:x'. (invalid_client)");
  });
});

describe('the serial log as one byte stream', () => {
  const b = (s: string) => Buffer.from(s, 'utf8');

  it('returns only what is new as the log grows', () => {
    const s = new SerialLogStream();
    expect(s.consume(b('hello '), 0)).toEqual({ contents: 'hello ', start: 0, next: 6 });
    expect(s.consume(b('hello '), 6)).toEqual({ contents: '', start: 6, next: 6 });
    expect(s.consume(b('hello world\n'), 6)).toEqual({ contents: 'world\n', start: 6, next: 12 });
  });

  it('holds back a character cut in half until it is whole', () => {
    const s = new SerialLogStream();
    const euro = b('a€'); // 'a' + 3 bytes
    expect(s.consume(euro.subarray(0, 3), 0)).toEqual({ contents: 'a', start: 0, next: 1 });
    expect(s.consume(euro, 1)).toEqual({ contents: '€', start: 1, next: 4 });
    expect(utf8Boundary(b('ok'))).toBe(2);
    expect(utf8Boundary(Buffer.from([0x41, 0xf0, 0x9f]))).toBe(1);
  });

  it('continues after the last bytes read when the log only keeps its tail', () => {
    const s = new SerialLogStream();
    const first = b('x'.repeat(100) + 'line one\n' + 'y'.repeat(300) + 'line two\n');
    const r1 = s.consume(first, 0);
    expect(r1.next).toBe(first.length);
    // The log dropped its first 150 bytes and grew by 'line three\n'.
    const shifted = Buffer.concat([first.subarray(150), b('line three\n')]);
    expect(s.consume(shifted, r1.next)).toEqual({ contents: 'line three\n', start: r1.next, next: r1.next + 11 });
  });

  it('takes a log served empty for nothing new, not for a replaced log: nothing is repeated or marked lost', () => {
    const s = new SerialLogStream();
    const r1 = s.consume(b('boot output\n'), 0);
    expect(s.consume(b(''), r1.next)).toEqual({ contents: '', start: r1.next, next: r1.next });
    expect(s.consume(b('boot output\nmore\n'), r1.next)).toEqual({ contents: 'more\n', start: r1.next, next: r1.next + 5 });
  });

  it('starts a replaced log after a gap, so the loss is marked', () => {
    const s = new SerialLogStream();
    const r1 = s.consume(b('old boot output\n'), 0);
    const r2 = s.consume(b('new\n'), r1.next);
    expect(r2).toEqual({ contents: 'new\n', start: r1.next + UNKNOWN_LOSS_BYTES, lossUnknown: true, next: r1.next + UNKNOWN_LOSS_BYTES + 4 });
    expect(s.consume(b('new\nmore\n'), r2.next)).toEqual({ contents: 'more\n', start: r2.next, next: r2.next + 5 });
  });

  it('reads the expiry of a SAS URI', () => {
    expect(sasExpiry(SAS)?.toISOString()).toBe('2099-01-01T00:00:00.000Z');
    expect(sasExpiry('https://x/y')).toBeUndefined();
  });

  it('asks Azure for the SAS URI once, and again only after a read through it fails', async () => {
    let asked = 0;
    let fail = false;
    const serial = new BootDiagnosticsSerial(async () => `${SAS}&n=${++asked}`, async (uri) => {
      if (fail && uri.endsWith('n=1')) throw new CloudApiError('HTTP 403 AuthenticationFailed', 403);
      return b('boot\n');
    });
    expect(await serial.read(0)).toEqual({ contents: 'boot\n', start: 0, next: 5 });
    expect(await serial.read(5)).toEqual({ contents: '', start: 5, next: 5 });
    expect(asked).toBe(1);
    fail = true;
    expect(await serial.read(5)).toEqual({ contents: '', start: 5, next: 5 });
    expect(asked).toBe(2);
  });

  it('asks again when the URI is about to expire, and returns nothing while there is no log yet', async () => {
    let asked = 0;
    const soon = () => new Date(Date.now() + 30_000).toISOString();
    const serial = new BootDiagnosticsSerial(async () => `https://x/log?se=${encodeURIComponent(soon())}&sig=s${++asked}`, async () => undefined);
    expect(await serial.read(0)).toEqual({ contents: '', start: 0, next: 0 });
    await serial.read(0);
    expect(asked).toBe(2);
  });
});

describe('blob metadata', () => {
  it('stores label keys as C# identifiers and maps them back', () => {
    const labels = { 'tsuite-run': 'r1', 'tsuite-target': 'azure-x', 'tsuite-owner': 'abc-1', 'tsuite-created': '1700000000' };
    const meta = metadataFromLabels(labels);
    expect(Object.keys(meta)).toEqual(['tsuite_run', 'tsuite_target', 'tsuite_owner', 'tsuite_created']);
    expect(labelsFromMetadata(meta)).toEqual(labels);
    expect(labelsFromMetadata(undefined)).toEqual({});
  });

  it('finds the all-zero pieces a page blob need not be sent', () => {
    expect(allZero(Buffer.alloc(4 * 1024 * 1024))).toBe(true);
    const one = Buffer.alloc(4096 + 5);
    one[4100] = 1;
    expect(allZero(one)).toBe(false);
    one[4100] = 0;
    one[7] = 2;
    expect(allZero(one)).toBe(false);
  });
});
