/**
 * The kubelet's side of registration: a Registration gRPC server on `<plugin dir>/kubelet.sock`
 * that answers Register as a v1beta1 kubelet does (refusing another version or a name that is not
 * an extended resource name) and queues every request for the checks. `restart` does what a
 * restarting kubelet does to the folder: its socket goes, every socket in the folder is removed,
 * and a new kubelet.sock appears; a conforming plugin notices and registers again.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { devicePluginApi, KUBELET_SOCKET, unixTarget, type RegisterRequest } from './api.js';
import { resourceNameProblems, versionProblems } from './contract-rules.js';

export interface Registration {
  request: RegisterRequest;
  /** When it arrived (ms since the epoch). */
  at: number;
  /** Why the kubelet refused it; absent when accepted. */
  refused?: string;
}

export class KubeletRegistration {
  private server: grpc.Server | undefined;
  private queue: Registration[] = [];
  private waiters: ((r: Registration) => void)[] = [];
  /** Every registration since the harness started, accepted or not. */
  readonly all: Registration[] = [];

  private constructor(readonly pluginDir: string) {}

  get socketPath(): string {
    return join(this.pluginDir, KUBELET_SOCKET);
  }

  static async start(pluginDir: string): Promise<KubeletRegistration> {
    const k = new KubeletRegistration(pluginDir);
    await k.listen();
    return k;
  }

  /** The next registration, or undefined when none arrives within `timeoutMs`. */
  next(timeoutMs: number, signal?: AbortSignal): Promise<Registration | undefined> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      const waiter = (r: Registration) => {
        cleanup();
        resolve(r);
      };
      const onAbort = () => {
        cleanup();
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        cleanup();
        resolve(undefined);
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** As a kubelet restart: stop serving, clear the folder's sockets, serve a fresh kubelet.sock. */
  async restart(): Promise<void> {
    await this.stopServer();
    this.queue = [];
    for (const name of await readdir(this.pluginDir)) {
      const path = join(this.pluginDir, name);
      const s = await stat(path).catch(() => undefined);
      if (s?.isSocket()) await rm(path, { force: true });
    }
    await this.listen();
  }

  async close(): Promise<void> {
    await this.stopServer();
    this.waiters = [];
  }

  private async listen(): Promise<void> {
    const { Registration } = await devicePluginApi();
    const server = new grpc.Server();
    server.addService(Registration.service, {
      Register: (call: grpc.ServerUnaryCall<RegisterRequest, object>, callback: grpc.sendUnaryData<object>) => {
        const request = call.request;
        // The kubelet refuses a version it does not speak and a name that is not an extended resource.
        const problems = [...versionProblems(request.version), ...resourceNameProblems(request.resource_name)];
        const registration: Registration = { request, at: Date.now(), ...(problems.length ? { refused: problems.join('; ') } : {}) };
        this.all.push(registration);
        const waiter = this.waiters.shift();
        if (waiter) waiter(registration);
        else this.queue.push(registration);
        if (problems.length) callback({ code: grpc.status.INVALID_ARGUMENT, details: problems.join('; ') });
        else callback(null, {});
      },
    });
    await rm(this.socketPath, { force: true });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(unixTarget(this.socketPath), grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    this.server = server;
  }

  private async stopServer(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) {
      // The kubelet going away does not wait for its callers.
      server.forceShutdown();
    }
    await rm(this.socketPath, { force: true });
  }
}
