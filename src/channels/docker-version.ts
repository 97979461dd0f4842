/**
 * Docker Engine API version negotiation, done the way Docker's own client does it: ask the engine
 * (unversioned `GET /version`) which API it speaks and use the lower of that and ours. Pure.
 */

/** The newest API tsuite speaks: Docker 20.10's (Debian bookworm's docker.io). */
export const CLIENT_MAX_API_VERSION = '1.41';
/** The oldest API tsuite accepts: the minimum every engine since Docker 1.12 still serves. */
export const CLIENT_MIN_API_VERSION = '1.24';

/** What `GET /version` says about the API (field names as the engine sends them). */
export interface ServerApiVersions {
  ApiVersion?: string;
  MinAPIVersion?: string;
}

export class DockerApiVersionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DockerApiVersionError';
  }
}

function parse(v: string): [number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)$/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Orders two API versions ("1.9" < "1.41"); malformed versions throw. */
export function compareApiVersions(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  if (!pa || !pb) throw new DockerApiVersionError(`not a Docker API version: '${pa ? b : a}' (expected MAJOR.MINOR, e.g. 1.41)`);
  return pa[0] - pb[0] || pa[1] - pb[1];
}

/**
 * The API version to pin: min(ours, the engine's). An engine older than our minimum, or one whose
 * own minimum is above our maximum, cannot be spoken to; the error names both ranges.
 */
export function negotiateApiVersion(server: ServerApiVersions): string {
  const api = server.ApiVersion;
  if (!api || !parse(api)) {
    throw new DockerApiVersionError(`the engine's GET /version gave no usable ApiVersion (${JSON.stringify(api)}): is this a Docker Engine API?`);
  }
  const ours = `tsuite speaks Docker API ${CLIENT_MIN_API_VERSION}–${CLIENT_MAX_API_VERSION}`;
  if (compareApiVersions(api, CLIENT_MIN_API_VERSION) < 0) {
    throw new DockerApiVersionError(`the engine speaks Docker API ${api}, older than ${CLIENT_MIN_API_VERSION}; ${ours}`);
  }
  const min = server.MinAPIVersion && parse(server.MinAPIVersion) ? server.MinAPIVersion : undefined;
  if (min && compareApiVersions(min, CLIENT_MAX_API_VERSION) > 0) {
    throw new DockerApiVersionError(`the engine accepts Docker API ${min}–${api} only; ${ours}`);
  }
  return compareApiVersions(api, CLIENT_MAX_API_VERSION) < 0 ? api : CLIENT_MAX_API_VERSION;
}
