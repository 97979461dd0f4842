/**
 * One `docker-registry serve <config>` process: its own config, storage and log, on a free port,
 * tracked so an interrupted run kills it, and ready only once its API answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { trackChild } from '../../src/core/child-processes.js';
import { InfraError } from '../../src/core/errors.js';
import { freePort } from '../../src/core/ports.js';
import { renderRegistryConfig, type RegistryConfigRequest } from './registry-config.js';

export const DOCKER_REGISTRY = '/usr/bin/docker-registry';

export interface RegistryProcessRequest {
  /** Names the process in messages and its files: plain, tls, auth. */
  name: string;
  /** This registry's own folder (config, storage). */
  dir: string;
  /** Where its log goes: `<logDir>/registry-<name>-<port>.log`. */
  logDir: string;
  /** The address it binds. */
  listen: string;
  tls?: RegistryConfigRequest['tls'];
  htpasswd?: RegistryConfigRequest['htpasswd'];
  /** Called with the PID as soon as it exists, so a state file can name it before readiness. */
  onSpawn(pid: number): Promise<void>;
  /**
   * Whether the registry on `port` serves yet: false while it does not answer; throws when it
   * answers wrongly (waiting longer would not help).
   */
  ready(port: number): Promise<boolean>;
  timeoutMs: number;
}

export interface RegistryProcess {
  pid: number;
  port: number;
  logFile: string;
  child: ChildProcess;
}

/** A port that was free when asked for can be taken before the registry binds it; then a new one is tried. */
const BIND_ATTEMPTS = 3;

export async function startRegistryProcess(req: RegistryProcessRequest): Promise<RegistryProcess> {
  await mkdir(join(req.dir, 'storage'), { recursive: true });
  await mkdir(req.logDir, { recursive: true });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const configFile = join(req.dir, 'config.yml');
    await writeFile(configFile, renderRegistryConfig({
      addr: `${req.listen.includes(':') ? `[${req.listen}]` : req.listen}:${port}`,
      rootDirectory: join(req.dir, 'storage'),
      secret: randomBytes(16).toString('hex'),
      tls: req.tls,
      htpasswd: req.htpasswd,
    }), { mode: 0o600 });
    const logFile = join(req.logDir, `registry-${req.name}-${port}.log`);
    const log = openSync(logFile, 'a');
    // REGISTRY_* variables override the config file's settings; a caller's must not change ours.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
    // Its own process group: a terminal's Ctrl-C reaches tsuite, which stops it (trackChild on exit).
    const child = spawn(DOCKER_REGISTRY, ['serve', configFile], { stdio: ['ignore', log, log], detached: true, env });
    closeSync(log);
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e) => reject(new InfraError(`cannot start ${DOCKER_REGISTRY}: ${e.message}`, 'apt-get install docker-registry')));
    });
    await spawned;
    trackChild(child);
    await req.onSpawn(child.pid!);
    const outcome = await waitReady(req, child, port, logFile);
    if (outcome === 'ready') return { pid: child.pid!, port, logFile, child };
    if (attempt >= BIND_ATTEMPTS) throw new InfraError(`the ${req.name} registry could not bind a free port in ${BIND_ATTEMPTS} tries:\n${await logTail(logFile)}`);
  }
}

/** 'ready', or 'port taken' (it exited because another process bound the port first); anything else throws with the log's tail. */
async function waitReady(req: RegistryProcessRequest, child: ChildProcess, port: number, logFile: string): Promise<'ready' | 'port taken'> {
  const deadline = Date.now() + req.timeoutMs;
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  try {
    while (Date.now() < deadline) {
      if (exited()) {
        const tail = await logTail(logFile);
        if (/address already in use/.test(tail)) return 'port taken';
        throw new InfraError(`the ${req.name} registry (${DOCKER_REGISTRY}) exited with ${child.exitCode ?? child.signalCode} before serving; its log (${logFile}) ends:\n${tail}`);
      }
      if (await req.ready(port)) return 'ready';
      await sleep(100);
    }
    throw new InfraError(`the ${req.name} registry did not answer GET /v2/ on port ${port} within ${req.timeoutMs} ms; its log (${logFile}) ends:\n${await logTail(logFile)}`);
  } catch (err) {
    if (!exited()) child.kill('SIGKILL');
    throw err;
  }
}

export async function logTail(logFile: string, lines = 15): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-lines).join('\n');
}
