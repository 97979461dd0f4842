/**
 * The kubelet's client of one device plugin: dials the plugin's endpoint socket and makes the
 * DevicePlugin calls, each with a deadline. ListAndWatch is read as a queue of responses, so a
 * check can ask for "the next list within N ms".
 */
import * as grpc from '@grpc/grpc-js';
import {
  devicePluginApi,
  unixTarget,
  type AllocateResponse,
  type ContainerPreferredAllocationRequest,
  type DevicePluginOptions,
  type ListAndWatchResponse,
  type PreferredAllocationResponse,
} from './api.js';

type Unary = (req: object, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => grpc.ClientUnaryCall;
type Client = grpc.Client & Record<string, Unary> & { ListAndWatch(req: object, opts: grpc.CallOptions): grpc.ClientReadableStream<ListAndWatchResponse> };

/** A DevicePlugin call the plugin answered with a gRPC error (DEADLINE_EXCEEDED: it did not answer). */
export class PluginRpcError extends Error {
  constructor(
    readonly rpc: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`${rpc}: ${grpc.status[code] ?? code}: ${details}`);
    this.name = 'PluginRpcError';
  }
}

/** The ListAndWatch stream, read one response at a time. */
export class DeviceWatch {
  private queue: ListAndWatchResponse[] = [];
  private waiter: (() => void) | undefined;
  private ended: Error | undefined;

  constructor(private readonly call: grpc.ClientReadableStream<ListAndWatchResponse>) {
    call.on('data', (r: ListAndWatchResponse) => {
      this.queue.push(r);
      this.waiter?.();
    });
    call.on('error', (err: grpc.ServiceError) => {
      this.ended = new PluginRpcError('ListAndWatch', err.code, err.details || err.message);
      this.waiter?.();
    });
    call.on('end', () => {
      this.ended ??= new Error('ListAndWatch: the plugin ended the stream; it must stay open while the plugin serves');
      this.waiter?.();
    });
  }

  /** The next response, or undefined when none comes within `timeoutMs`; throws when the stream ended. */
  async next(timeoutMs: number, signal?: AbortSignal): Promise<ListAndWatchResponse | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.queue.shift();
      if (r) return r;
      if (this.ended) throw this.ended;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      signal?.throwIfAborted();
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          this.waiter = undefined;
          resolve();
        };
        const timer = setTimeout(done, left);
        signal?.addEventListener('abort', done, { once: true });
        this.waiter = done;
      });
    }
  }

  cancel(): void {
    this.call.cancel();
  }
}

export class PluginClient {
  private watches: DeviceWatch[] = [];

  private constructor(
    readonly socketPath: string,
    private readonly client: Client,
  ) {}

  static async dial(socketPath: string): Promise<PluginClient> {
    const { DevicePlugin } = await devicePluginApi();
    const client = new DevicePlugin(unixTarget(socketPath), grpc.credentials.createInsecure()) as unknown as Client;
    return new PluginClient(socketPath, client);
  }

  options(timeoutMs: number, signal?: AbortSignal): Promise<DevicePluginOptions> {
    return this.unary('GetDevicePluginOptions', {}, timeoutMs, signal);
  }

  /** Opens ListAndWatch; the stream lives until `close`. */
  watch(): DeviceWatch {
    const w = new DeviceWatch(this.client.ListAndWatch({}, {}));
    this.watches.push(w);
    return w;
  }

  allocate(deviceIdsPerContainer: readonly string[][], timeoutMs: number, signal?: AbortSignal): Promise<AllocateResponse> {
    return this.unary('Allocate', { container_requests: deviceIdsPerContainer.map((ids) => ({ devices_ids: ids })) }, timeoutMs, signal);
  }

  preferredAllocation(requests: readonly ContainerPreferredAllocationRequest[], timeoutMs: number, signal?: AbortSignal): Promise<PreferredAllocationResponse> {
    return this.unary('GetPreferredAllocation', { container_requests: requests }, timeoutMs, signal);
  }

  preStartContainer(deviceIds: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<object> {
    return this.unary('PreStartContainer', { devices_ids: deviceIds }, timeoutMs, signal);
  }

  close(): void {
    for (const w of this.watches) w.cancel();
    this.client.close();
  }

  private unary<T>(rpc: string, request: object, timeoutMs: number, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = this.client[rpc]!.call(this.client, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        signal?.removeEventListener('abort', onAbort);
        if (!err) resolve(res as T);
        else if (err.code === grpc.status.CANCELLED && signal?.aborted) reject(signal.reason);
        else reject(new PluginRpcError(rpc, err.code, err.details || err.message));
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
