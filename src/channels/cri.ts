/**
 * The `cri` channel: the Kubernetes Container Runtime Interface v1 (RuntimeService and
 * ImageService) over gRPC with @grpc/grpc-js, on a unix socket or TCP (TLS when the target gives a
 * CA). Messages are decoded with the proto3 field names (`pod_sandbox_id`), 64-bit integers as
 * numbers and enums as their names (`CONTAINER_RUNNING`). Every call has a deadline; an RPC the
 * runtime answers with UNIMPLEMENTED is remembered, for the conformance matrix.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as grpc from '@grpc/grpc-js';
import type * as ProtoLoader from '@grpc/proto-loader';
import { lazyRequire } from '../core/lazy-require.js';
import { assetPath } from '../core/paths.js';
import { grpcTarget, parseCriEndpoint, rewriteStreamUrl } from './cri-endpoint.js';
import type { VersionResponse } from './cri-messages.js';

// Loaded on the first CRI call: a run with no CRI endpoint never pays for gRPC at start-up.
const grpcLib = lazyRequire<typeof grpc>('@grpc/grpc-js');
const protoLoader = lazyRequire<typeof ProtoLoader>('@grpc/proto-loader');

export interface CriEndpoint {
  /** unix:///path or tcp://host:port */
  url: string;
  /** TLS: a folder with ca.pem, and cert.pem + key.pem when the runtime wants a client certificate. */
  certPath?: string;
}

/** What `Version` said, recorded in `sessions[].cri`. */
export interface CriRuntimeInfo {
  endpoint: string;
  /** The CRI version the runtime speaks (`0.1.0` for containerd). */
  version: string;
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

/**
 * What of the runtime's node this host can reach: tests map pod ports to `hostPorts` and reach them
 * at `address` (through `forwards` when the node sits behind QEMU's user-mode network), and point
 * the runtime at services on this host by `hostAddress`.
 */
export interface CriNode {
  /** Where this host reaches the node's ports: 127.0.0.1 through forwards, or the node's own address. */
  address: string;
  /** Node port → port on `address`, for ports behind forwards (the streaming server, `hostPorts`). */
  forwards: ReadonlyMap<number, number>;
  /** Node ports tests may map pod host ports to (forwarded when the node is a QEMU guest). */
  hostPorts: readonly number[];
  /** The address at which the runtime reaches this host (the local registry). */
  hostAddress: string;
  /** Where services on this host for the runtime listen: `hostAddress` unless the node reaches this host through a gateway (QEMU: 127.0.0.1). */
  hostListen?: string;
  /** Where the runtime reads per-registry settings (containerd's hosts.toml folders), on the node. */
  registryConfigDir?: string;
}

export interface CriConnectOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  node?: CriNode;
}

/** A runtime on this host, reached directly: no forwards. */
export const LOCAL_NODE: CriNode = Object.freeze({ address: '127.0.0.1', forwards: new Map(), hostPorts: [], hostAddress: '127.0.0.1' });

export type CriService = 'runtime' | 'image';

export interface CallOptions {
  /** Deadline for this call (default 60 s; pulls and stops with a timeout need more). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A call the runtime answered with a gRPC error (or that timed out: DEADLINE_EXCEEDED). */
export class CriRpcError extends Error {
  constructor(
    readonly rpc: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`CRI ${rpc}: ${grpcLib().status[code] ?? code}: ${details}`);
    this.name = 'CriRpcError';
  }

  get codeName(): string {
    return grpcLib().status[this.code] ?? String(this.code);
  }
}

/** Connecting failed: nothing answered Version in time, or what answered is not a CRI runtime. */
export class CriConnectError extends Error {
  constructor(
    readonly endpoint: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CriConnectError';
  }
}

export const isUnimplemented = (err: unknown): err is CriRpcError => err instanceof CriRpcError && err.code === grpcLib().status.UNIMPLEMENTED;

const PROTO_FILE = assetPath('src', 'channels', 'cri', 'runtime-v1.proto');
const DEFAULT_CALL_MS = 60_000;
/** Each Version attempt while connecting: QEMU's forward accepts before the guest listens, and that connection hangs. */
const ATTEMPT_MS = 3_000;
const RETRY_DELAY_MS = 500;
/** The kubelet's limit: a node with many images or containers answers List calls with large messages. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

type Method = (req: object, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => grpc.ClientUnaryCall;
type Client = grpc.Client & Record<string, Method>;

let loaded: Promise<{ runtime: grpc.ServiceClientConstructor; image: grpc.ServiceClientConstructor }> | undefined;

function services() {
  loaded ??= protoLoader()
    .load(PROTO_FILE, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true })
    .then((def) => {
      const pkg = grpcLib().loadPackageDefinition(def) as unknown as { runtime: { v1: Record<string, grpc.ServiceClientConstructor> } };
      return { runtime: pkg.runtime.v1.RuntimeService!, image: pkg.runtime.v1.ImageService! };
    });
  return loaded;
}

export class CriChannel {
  /** RPCs the runtime answered with UNIMPLEMENTED. */
  readonly unimplemented = new Set<string>();
  /** How many times each RPC was called (whatever it answered). */
  readonly calls = new Map<string, number>();
  private closed = false;

  private constructor(
    readonly endpoint: CriEndpoint,
    readonly info: CriRuntimeInfo,
    private readonly runtimeClient: Client,
    private readonly imageClient: Client,
    readonly node: CriNode,
  ) {}

  /** Connects and asks Version until the runtime answers (or `timeoutMs` passes). */
  static async connect(endpoint: CriEndpoint, opts: CriConnectOptions): Promise<CriChannel> {
    const target = grpcTarget(parseCriEndpoint(endpoint.url));
    const credentials = await channelCredentials(endpoint.certPath);
    const { runtime, image } = await services();
    const options = { 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES, 'grpc.max_send_message_length': MAX_MESSAGE_BYTES };
    const runtimeClient = new runtime(target, credentials, options) as unknown as Client;
    const imageClient = new image(target, credentials, options) as unknown as Client;
    const deadline = Date.now() + opts.timeoutMs;
    let last: unknown;
    for (;;) {
      opts.signal?.throwIfAborted();
      try {
        const v = await unary<VersionResponse>(runtimeClient, 'Version', { version: 'v1' }, { timeoutMs: Math.min(ATTEMPT_MS, Math.max(1, deadline - Date.now())), signal: opts.signal });
        if (!v.runtime_name) throw new CriConnectError(endpoint.url, `${endpoint.url} answered Version with no runtime_name: is this a CRI v1 runtime?`);
        const info = { endpoint: endpoint.url, version: v.version, runtimeName: v.runtime_name, runtimeVersion: v.runtime_version, runtimeApiVersion: v.runtime_api_version };
        return new CriChannel(endpoint, info, runtimeClient, imageClient, opts.node ?? LOCAL_NODE);
      } catch (err) {
        last = err;
        // A runtime that answers, but not with CRI v1 (no such service, or wrong credentials): retrying will not help.
        if (err instanceof CriConnectError || (err instanceof CriRpcError && [grpcLib().status.UNIMPLEMENTED, grpcLib().status.UNAUTHENTICATED, grpcLib().status.PERMISSION_DENIED].includes(err.code))) {
          runtimeClient.close();
          imageClient.close();
          if (err instanceof CriConnectError) throw err;
          throw new CriConnectError(endpoint.url, `${endpoint.url} does not serve CRI runtime.v1 Version (${err.codeName}: ${err.details})`, { cause: err });
        }
      }
      if (Date.now() + RETRY_DELAY_MS >= deadline) break;
      await sleep(RETRY_DELAY_MS, undefined, { signal: opts.signal });
    }
    runtimeClient.close();
    imageClient.close();
    const why = last instanceof Error ? last.message : String(last);
    throw new CriConnectError(endpoint.url, `no CRI runtime answered at ${endpoint.url} within ${opts.timeoutMs} ms (last error: ${why})`, { cause: last });
  }

  /** A RuntimeService call, e.g. `runtime('RunPodSandbox', { config })`. */
  runtime<T = Record<string, unknown>>(rpc: string, request: object = {}, opts: CallOptions = {}): Promise<T> {
    return this.call<T>(this.runtimeClient, rpc, request, opts);
  }

  /** An ImageService call, e.g. `image('PullImage', { image: { image: ref } })`. */
  image<T = Record<string, unknown>>(rpc: string, request: object = {}, opts: CallOptions = {}): Promise<T> {
    return this.call<T>(this.imageClient, rpc, request, opts);
  }

  /** Where this host reaches a streaming URL that Exec, Attach or PortForward returned. */
  streamUrl(url: string): string {
    return rewriteStreamUrl(url, this.node.forwards);
  }

  /** Where this host reaches a node port (a pod's host port, a host-network server). */
  nodePort(port: number): { host: string; port: number } {
    const forwarded = this.node.forwards.get(port);
    return forwarded === undefined ? { host: this.node.address, port } : { host: '127.0.0.1', port: forwarded };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.runtimeClient.close();
    this.imageClient.close();
  }

  private async call<T>(client: Client, rpc: string, request: object, opts: CallOptions): Promise<T> {
    this.calls.set(rpc, (this.calls.get(rpc) ?? 0) + 1);
    try {
      return await unary<T>(client, rpc, request, opts);
    } catch (err) {
      if (isUnimplemented(err)) this.unimplemented.add(rpc);
      throw err;
    }
  }
}

/** One unary call with a deadline, cancelled when `signal` aborts. */
function unary<T>(client: Client, rpc: string, request: object, opts: CallOptions): Promise<T> {
  const method = client[rpc];
  if (typeof method !== 'function') return Promise.reject(new Error(`tsuite's CRI definitions have no RPC ${rpc}`));
  opts.signal?.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const deadline = new Date(Date.now() + (opts.timeoutMs ?? DEFAULT_CALL_MS));
    const onAbort = () => call.cancel();
    const call = method.call(client, request, new (grpcLib().Metadata)(), { deadline }, (err, res) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) {
        if (err.code === grpcLib().status.CANCELLED && opts.signal?.aborted) reject(opts.signal.reason);
        else reject(new CriRpcError(rpc, err.code, err.details || err.message));
      } else resolve(res as T);
    });
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function channelCredentials(certPath: string | undefined): Promise<grpc.ChannelCredentials> {
  if (!certPath) return grpcLib().credentials.createInsecure();
  const ca = await readFile(join(certPath, 'ca.pem'));
  const cert = await readFile(join(certPath, 'cert.pem')).catch(() => undefined);
  const key = await readFile(join(certPath, 'key.pem')).catch(() => undefined);
  return grpcLib().credentials.createSsl(ca, key ?? null, cert ?? null);
}
