import { randomUUID } from 'node:crypto';
import type { Cri, CriChannel, TestContext } from '../../src/index.js';
import type { CriFixture, CriImages } from './fixture.js';
import { RUN_LABEL, SCOPE_LABEL, TEST_LABEL } from './labels.js';

/** A pod sandbox the scope made: its id and the config it was made with (CreateContainer needs both). */
export interface Pod {
  id: string;
  config: PodConfig;
}

/** A PodSandboxConfig as the suite builds it (proto3 field names). */
export type PodConfig = Record<string, unknown> & {
  metadata: { name: string; uid: string; namespace: string; attempt: number };
  log_directory: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  linux: Record<string, unknown>;
};

export type ContainerConfig = Record<string, unknown> & { metadata: { name: string; attempt: number }; labels: Record<string, string> };

/** A container command that runs until stopped and stops at once on SIGTERM (a shell as PID 1 ignores it otherwise). */
export const RUN_UNTIL_STOPPED = ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'];

/**
 * One test's pods and containers: each labelled with the run, the test and the scope, and all
 * removed at the end, pass or fail (a pod's removal takes its containers).
 */
export class CriScope {
  readonly id = randomUUID().slice(0, 8);
  private pods = 0;

  constructor(
    readonly cri: CriChannel,
    readonly fx: CriFixture,
    private readonly ctx: TestContext,
    private readonly test: string,
  ) {}

  private get labels(): Record<string, string> {
    return { [RUN_LABEL]: this.ctx.runId, [TEST_LABEL]: this.test, [SCOPE_LABEL]: this.id };
  }

  /** The test images, or a skip naming why the runtime could not pull them. */
  get images(): CriImages {
    if ('missing' in this.fx.images) this.ctx.skip(`the runtime has no tsuite test images: ${this.fx.images.missing}`);
    return this.fx.images as CriImages;
  }

  /** A pod config with a unique name and uid, the scope's labels, and a log directory of its own; `extra` is merged on top. */
  podConfig(extra: Partial<PodConfig> = {}): PodConfig {
    const uid = randomUUID();
    const n = this.pods++;
    const { labels, linux, ...rest } = extra;
    return {
      metadata: { name: `${this.test}-${this.id}-${n}`.slice(0, 63), uid, namespace: 'tsuite', attempt: 0 },
      log_directory: `${this.fx.logRoot}/${uid}`,
      annotations: {},
      ...rest,
      labels: { ...(labels ?? {}), ...this.labels },
      linux: { ...(linux ?? {}) },
    };
  }

  /** RunPodSandbox with podConfig(extra). */
  async runPod(extra: Partial<PodConfig> = {}): Promise<Pod> {
    const config = this.podConfig(extra);
    const { pod_sandbox_id } = await this.cri.runtime<{ pod_sandbox_id: string }>('RunPodSandbox', { config }, { timeoutMs: 120_000, signal: this.ctx.signal });
    return { id: pod_sandbox_id, config };
  }

  /** A container config running busybox until stopped, with the scope's labels; `extra` is merged on top. */
  containerConfig(name: string, extra: Partial<ContainerConfig> = {}): ContainerConfig {
    const { labels, ...rest } = extra;
    return {
      metadata: { name, attempt: 0 },
      image: { image: this.images.busybox },
      command: RUN_UNTIL_STOPPED,
      log_path: `${name}.log`,
      ...rest,
      labels: { ...(labels ?? {}), ...this.labels },
    };
  }

  /** CreateContainer in `pod`; returns its id. */
  async createContainer(pod: Pod, name: string, extra: Partial<ContainerConfig> = {}): Promise<string> {
    const config = this.containerConfig(name, extra);
    const { container_id } = await this.cri.runtime<{ container_id: string }>('CreateContainer', { pod_sandbox_id: pod.id, config, sandbox_config: pod.config }, { timeoutMs: 120_000, signal: this.ctx.signal });
    return container_id;
  }

  /** CreateContainer then StartContainer; returns its id. */
  async startContainer(pod: Pod, name: string, extra: Partial<ContainerConfig> = {}): Promise<string> {
    const id = await this.createContainer(pod, name, extra);
    await this.cri.runtime('StartContainer', { container_id: id }, { timeoutMs: 120_000, signal: this.ctx.signal });
    return id;
  }

  /** A pod with one running busybox container in it: the common start of a test. */
  async podWithContainer(name = 'main', extra: Partial<ContainerConfig> = {}, podExtra: Partial<PodConfig> = {}): Promise<{ pod: Pod; id: string }> {
    const pod = await this.runPod(podExtra);
    return { pod, id: await this.startContainer(pod, name, extra) };
  }

  async status(id: string): Promise<Cri.ContainerStatus> {
    const r = await this.cri.runtime<Cri.ContainerStatusResponse>('ContainerStatus', { container_id: id });
    if (!r.status) throw new Error(`ContainerStatus ${id} answered without a status`);
    return r.status;
  }

  /** Polls ContainerStatus until `done` holds, or fails naming the last state. */
  async waitStatus(id: string, done: (s: Cri.ContainerStatus) => boolean, what: string, timeoutMs = 60_000): Promise<Cri.ContainerStatus> {
    const deadline = Date.now() + timeoutMs;
    let last = await this.status(id);
    while (!done(last)) {
      if (Date.now() > deadline) throw new Error(`container ${id.slice(0, 12)} did not ${what} within ${timeoutMs} ms (state ${last.state}, exit ${last.exit_code}, reason '${last.reason}')`);
      await new Promise((r) => setTimeout(r, 250));
      this.ctx.signal.throwIfAborted();
      last = await this.status(id);
    }
    return last;
  }

  /** ExecSync with a deadline; the output as text. */
  async exec(id: string, cmd: readonly string[], timeoutS = 30): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const r = await this.cri.runtime<Cri.ExecSyncResponse>('ExecSync', { container_id: id, cmd, timeout: timeoutS }, { timeoutMs: (timeoutS + 30) * 1000, signal: this.ctx.signal });
    return { stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), exitCode: r.exit_code };
  }

  /** ExecSync that must exit 0; its stdout, trimmed. */
  async sh(id: string, script: string, timeoutS = 30): Promise<string> {
    const r = await this.exec(id, ['sh', '-c', script], timeoutS);
    if (r.exitCode !== 0) throw new Error(`\`${script}\` in container ${id.slice(0, 12)} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
    return r.stdout.trim();
  }

  /** Stops and removes every pod of this scope (its containers go with it); errors other than not-found are thrown together. */
  async dispose(): Promise<void> {
    const problems: string[] = [];
    const { items } = await this.cri.runtime<{ items: Cri.PodSandbox[] }>('ListPodSandbox', { filter: { label_selector: { [SCOPE_LABEL]: this.id } } });
    for (const pod of items) {
      for (const rpc of ['StopPodSandbox', 'RemovePodSandbox']) {
        try {
          await this.cri.runtime(rpc, { pod_sandbox_id: pod.id }, { timeoutMs: 60_000 });
        } catch (err) {
          if (!/NOT_FOUND|not found/i.test((err as Error).message)) problems.push(`${rpc} ${pod.id.slice(0, 12)}: ${(err as Error).message}`);
        }
      }
    }
    if (problems.length > 0) throw new Error(`cleaning up the test's pods failed: ${problems.join('; ')}`);
  }
}
