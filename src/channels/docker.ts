/**
 * The `docker` channel: the Docker Engine API through dockerode, over plain TCP, TLS with client
 * certificates (Docker's DOCKER_CERT_PATH layout), or a unix socket. The API version is
 * negotiated like Docker's own client does, then pinned, and recorded in `info`.
 */
import { readFile } from 'node:fs/promises';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequire } from 'node:module';
import type Dockerode from 'dockerode';
import { UsageError } from '../core/errors.js';
import { dockerCliEnv, parseDockerUrl, type DockerAddress } from './docker-endpoint.js';
import { EnginePorts, type PortReservation } from './docker-ports.js';
import { DockerApiVersionError, negotiateApiVersion } from './docker-version.js';

export interface DockerEndpoint {
  /** tcp://host:port, unix:///path, or (TLS) tcp:// with certPath */
  url: string;
  /** Folder with ca.pem, cert.pem, key.pem (Docker's DOCKER_CERT_PATH layout): TLS with client certs. */
  certPath?: string;
}

export interface DockerEngineInfo {
  /** Negotiated: min(client max, server ApiVersion). */
  apiVersion: string;
  serverApiVersion: string;
  minApiVersion?: string;
  /** e.g. "20.10.24+dfsg1" */
  engineVersion: string;
  os: string;
  arch: string;
  kernelVersion?: string;
  components?: { name: string; version: string }[];
  cgroupVersion?: string;
  cgroupDriver?: string;
  storageDriver?: string;
}

export interface ConnectOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Guest port → host port, when the engine sits behind QEMU's user-mode forwards. */
  portMap?: ReadonlyMap<number, number>;
  /** Guest ports (keys of portMap) that tests may publish container ports on. */
  publishPorts?: readonly number[];
}

/** Why connecting failed: the engine never answered, answered with an error, or speaks no API we can. */
export class DockerConnectError extends Error {
  constructor(
    readonly endpoint: string,
    readonly kind: 'unreachable' | 'refused' | 'version',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DockerConnectError';
  }
}

/**
 * Each connection attempt gets this long: QEMU's user-mode forward accepts a connection before
 * the guest listens and that connection then hangs, so one long attempt could eat the whole wait.
 */
const ATTEMPT_TIMEOUT_MS = 3_000;
const RETRY_DELAY_MS = 500;

interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

type Agent = HttpAgent | HttpsAgent;

export class DockerChannel {
  private closed = false;

  private constructor(
    /** Pinned to the negotiated version (/v1.41/...). */
    readonly api: Dockerode,
    readonly endpoint: DockerEndpoint,
    readonly info: DockerEngineInfo,
    private readonly ports: EnginePorts,
    private readonly agent: Agent,
  ) {}

  static async connect(endpoint: DockerEndpoint, opts: ConnectOptions): Promise<DockerChannel> {
    const address = parseDockerUrl(endpoint.url, Boolean(endpoint.certPath));
    const tls = endpoint.certPath ? await readTlsMaterial(endpoint.certPath) : undefined;
    const ports = new EnginePorts(address, opts.portMap, opts.publishPorts);
    const deadline = Date.now() + opts.timeoutMs;
    let lastError = '';
    let attempts = 0;
    for (;;) {
      opts.signal?.throwIfAborted();
      const attemptMs = Math.max(1, Math.min(ATTEMPT_TIMEOUT_MS, deadline - Date.now()));
      const agent = tls ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
      attempts++;
      try {
        const info = await handshake(address, tls, agent, attemptMs, opts.signal);
        return new DockerChannel(makeApi(address, tls, agent, info.apiVersion), endpoint, info, ports, agent);
      } catch (err) {
        agent.destroy();
        if (opts.signal?.aborted) throw opts.signal.reason;
        if (err instanceof DockerApiVersionError) {
          throw new DockerConnectError(endpoint.url, 'version', `Docker endpoint ${endpoint.url}: ${err.message}`, { cause: err });
        }
        if (isAnswer(err)) {
          const how = typeof (err as { statusCode?: unknown }).statusCode === 'number' ? 'answered with an error' : 'refused the TLS connection';
          throw new DockerConnectError(endpoint.url, 'refused', `Docker endpoint ${endpoint.url} ${how}: ${describe(err, attemptMs)}`, { cause: err });
        }
        // A last attempt cut short by the deadline says less than the error before it.
        if (!(lastError && attemptMs < ATTEMPT_TIMEOUT_MS && isTimeout(err))) lastError = describe(err, attemptMs);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DockerConnectError(
          endpoint.url,
          'unreachable',
          `Docker endpoint ${endpoint.url} did not answer within ${opts.timeoutMs} ms (${attempts} attempt(s)); last error: ${lastError}`,
        );
      }
      try {
        await sleep(Math.min(RETRY_DELAY_MS, left), undefined, { signal: opts.signal });
      } catch {
        throw opts.signal!.reason;
      }
    }
  }

  /** A host port on the engine's machine to publish a container port on. Call release() when done. */
  reservePort(): PortReservation {
    return this.ports.reserve();
  }

  /** Where, from tsuite's host, a port published on the engine's machine is reached. */
  reach(engineHostPort: number): { host: string; port: number } {
    return this.ports.reach(engineHostPort);
  }

  /** Env for the real docker CLI: DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_API_VERSION. */
  cliEnv(): Record<string, string> {
    return dockerCliEnv(this.endpoint, this.info.apiVersion);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Drops the kept-alive connections; streams already handed out (attach, logs) are the caller's. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.agent.destroy();
  }
}

async function readTlsMaterial(certPath: string): Promise<TlsMaterial> {
  const names = ['ca.pem', 'cert.pem', 'key.pem'] as const;
  // Every file is read before anything is said, so the message names each missing one, in this order
  // (the first read to fail is a race between the three).
  const reads = await Promise.allSettled(names.map((name) => readFile(join(certPath, name))));
  const missing = reads.flatMap((r, i) => (r.status === 'rejected' ? [`${join(certPath, names[i]!)} (${(r.reason as NodeJS.ErrnoException).code ?? (r.reason as Error).message})`] : []));
  if (missing.length > 0) {
    throw new UsageError(
      `TLS client material cannot be read: ${missing.join(', ')}`,
      'point the cert path (DOCKER_CERT_PATH / --docker-cert-path) at a folder with ca.pem, cert.pem and key.pem',
    );
  }
  const [ca, cert, key] = reads.map((r) => (r as PromiseFulfilledResult<Buffer>).value);
  return { ca: ca!, cert: cert!, key: key! };
}

/**
 * dockerode (with docker-modem and ssh2) takes a few hundred ms to load: required on the first
 * connection, so a run with no Docker endpoint never loads it. (It is CommonJS: require is synchronous.)
 */
const loadDockerode = () => createRequire(import.meta.url)('dockerode') as typeof Dockerode;

/** What docker-modem's constructor reads from the environment (it even reads DOCKER_CERT_PATH's files). */
const MODEM_ENV = ['DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_CLIENT_TIMEOUT', 'DOCKER_PATH_PREFIX'];

function makeApi(address: DockerAddress, tls: TlsMaterial | undefined, agent: Agent, apiVersion?: string): Dockerode {
  // The endpoint is the only source of truth: docker-modem fills options from the caller's
  // DOCKER_* settings (and throws if DOCKER_CERT_PATH's files are missing), so it is built with
  // them hidden, and every connection field is set, even to undefined.
  const options = {
    version: apiVersion ? `v${apiVersion}` : undefined,
    agent,
    protocol: tls ? 'https' : 'http',
    ca: tls?.ca,
    cert: tls?.cert,
    key: tls?.key,
    pathPrefix: '/',
    timeout: undefined,
    ...(address.kind === 'unix'
      ? { socketPath: address.socketPath, host: undefined, port: undefined }
      : { socketPath: undefined, host: address.host, port: address.port }),
  };
  const saved = MODEM_ENV.map((k) => [k, process.env[k]] as const);
  for (const [k] of saved) delete process.env[k];
  try {
    return new (loadDockerode())(options as Dockerode.DockerOptions);
  } finally {
    for (const [k, v] of saved) if (v !== undefined) process.env[k] = v;
  }
}

/** GET an API path with a deadline, through dockerode's modem (its typed methods take no signal). */
function get<T>(api: Dockerode, path: string, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    api.modem.dial(
      { path, method: 'GET', abortSignal: signal, statusCodes: { 200: true, 500: 'server error' }, options: {} },
      (err, data) => (err ? reject(err) : resolve(data as T)),
    );
  });
}

interface VersionBody {
  Version?: string;
  ApiVersion?: string;
  MinAPIVersion?: string;
  Os?: string;
  Arch?: string;
  KernelVersion?: string;
  Components?: { Name?: string; Version?: string }[];
}

interface InfoBody {
  CgroupVersion?: string;
  CgroupDriver?: string;
  Driver?: string;
  KernelVersion?: string;
}

/** One attempt: unversioned GET /version, negotiate, then GET /info on the pinned version. */
async function handshake(address: DockerAddress, tls: TlsMaterial | undefined, agent: Agent, attemptMs: number, outer?: AbortSignal): Promise<DockerEngineInfo> {
  const signal = outer ? AbortSignal.any([outer, AbortSignal.timeout(attemptMs)]) : AbortSignal.timeout(attemptMs);
  const version = await get<VersionBody>(makeApi(address, tls, agent), '/version', signal);
  if (typeof version !== 'object' || version === null) throw new DockerApiVersionError('GET /version did not return JSON: is this a Docker Engine API?');
  const apiVersion = negotiateApiVersion(version);
  // A kernel's own management API may not serve /info: its facts are then unknown, not fatal.
  const info = await get<InfoBody>(makeApi(address, tls, agent, apiVersion), '/info', signal).catch((err: unknown) => {
    if (typeof (err as { statusCode?: unknown })?.statusCode === 'number') return undefined;
    throw err;
  });
  return {
    apiVersion,
    serverApiVersion: version.ApiVersion!,
    minApiVersion: version.MinAPIVersion,
    engineVersion: version.Version ?? 'unknown',
    os: version.Os ?? 'unknown',
    arch: version.Arch ?? 'unknown',
    kernelVersion: version.KernelVersion ?? info?.KernelVersion,
    components: version.Components?.map((c) => ({ name: c.Name ?? '?', version: c.Version ?? '?' })),
    cgroupVersion: info?.CgroupVersion,
    cgroupDriver: info?.CgroupDriver,
    storageDriver: info?.Driver,
  };
}

/**
 * The endpoint answered, so retrying cannot help: an HTTP error status (e.g. plain HTTP sent to a
 * TLS port) or a TLS failure (certificate rejected either way, protocol mismatch).
 */
function isAnswer(err: unknown): boolean {
  const e = err as { statusCode?: unknown; code?: unknown };
  if (typeof e?.statusCode === 'number') return true;
  // EPROTO: TLS spoken to a port that answered in plain HTTP.
  return typeof e?.code === 'string' && /CERT|SSL|TLS|^EPROTO$/.test(e.code);
}

function isTimeout(err: unknown): boolean {
  const e = err as { name?: string; code?: string };
  return e?.name === 'AbortError' || e?.name === 'TimeoutError' || e?.code === 'ABORT_ERR';
}

function describe(err: unknown, attemptMs: number): string {
  const e = err as { code?: string; message?: string };
  if (isTimeout(err)) return `no answer within ${attemptMs} ms`;
  const message = e?.message?.trim() || String(err);
  return e?.code && !message.includes(e.code) ? `${message} (${e.code})` : message;
}
