import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveBoot, type ResolvedBoot } from '../../kernel/resolve-boot.js';
import { waitForGuestSshd, type GuestSshd } from '../../runners/qemu/guest-sshd.js';
import { qemuRunner } from '../../runners/qemu/qemu-runner.js';
import type { QemuSession } from '../../runners/qemu/qemu-session.js';
import { profileFor } from '../../runners/qemu/profiles/index.js';
import { runSuites } from '../../src/cli/suite-run.js';
import { resolveMachine } from '../../src/core/machine.js';
import { createProgress } from '../../src/core/progress.js';
import type { RunResult } from '../../src/core/result.js';
import type { Runner } from '../../src/core/runner.js';
import type { Session } from '../../src/core/session.js';
import { findTarget } from '../../src/core/target.js';
import { BOOT_REPORT_READY } from '../../src/parsers/boot-report.js';
import { LINUX_EVENT_PATTERNS } from '../../src/parsers/kernel-events.js';
import { startCli, tempDir } from './cli.js';
import { HANG_SUITE } from './hang-suite.js';
import { referenceRequest } from './reference-request.js';
import { builtInSuites } from '../../suites/index.js';

/**
 * The `ssh` target against a real OpenSSH server: Debian's openssh-server in the container host
 * guest (`qemu-x86-node`), reached through a NIC forward of guest port 22. One guest serves every
 * case: its client key goes in through the guest agent, its host key (made fresh at boot) is
 * pinned from the console line the init prints. The syscall and isolation suites run on that same
 * guest twice: through its guest agent (in this process, as the qemu-x86-node target runs them)
 * and through sshd (the real CLI, an `ssh` target), and must agree test for test. Then a wrong
 * pinned key and a connection killed mid-command in the guest each end as infraError, at once.
 */

const quiet = createProgress(process.stderr, true);
const made: string[] = [];
let session: QemuSession;
let resolved: ResolvedBoot;
let sshd: GuestSshd;
let hostPort: number;
let configDir: string;

/** A wrong pin: a real fingerprint shape, of no key this guest has. */
const WRONG_PIN = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';

/**
 * Differences between the agent and the ssh runs that have a reason (none so far: an entry here
 * must say why the ssh target cannot behave as the guest agent does).
 */
const EXPECTED_DIFFERENCES: Readonly<Record<string, string>> = Object.freeze({});

/** Runs a shell command in the guest through its agent (never over ssh): stdout, trimmed. */
async function inGuest(script: string): Promise<string> {
  const r = await session.agent!.exec(['/bin/sh', '-c', script], { timeoutMs: 30_000 });
  return r.stdout.toString('utf8').trim();
}

function cli(args: string[]) {
  const out = tempDir('ssh-node-run');
  made.push(out);
  const run = startCli(['run', '-r', 'json', '--output-dir', out, ...args], {}, configDir);
  return { ...run, out, results: () => JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResult };
}

const statuses = (r: RunResult) => new Map(r.tests.map((t) => [t.id, t.status]));

describe('the ssh target against the sshd of the container host guest (qemu-x86-node)', () => {
  beforeAll(async () => {
    const def = findTarget('qemu-x86-node');
    resolved = await resolveBoot(def, profileFor('x86_64'), quiet);
    // Guest port 22 forwarded to a free host port, as a target's `machine.nics[].forwards` asks.
    const machine = resolveMachine({ nics: [{ model: 'virtio-net', forwards: [{ guest: 22 }] }] }, 'x86_64', profileFor('x86_64').machine);
    const req = referenceRequest('ssh-node', 'x86_64', resolved.boot, {
      cpus: def.cpus, memoryMb: def.memoryMb, bootTimeoutMs: def.bootTimeoutMs, agent: true, machine,
    });
    made.push(req.dir);
    session = (await qemuRunner.provision(req, new AbortController().signal)) as QemuSession;
    await session.settling;
    expect(session.agentProblem).toBeUndefined();
    sshd = await waitForGuestSshd(session.console, 120_000);
    hostPort = session.machine!.nics[0]!.forwards.find((f) => f.guest === 22)!.host!;
    const sshdLine = session.console.lines.find((l) => l.text.includes('sshd ready'))!;
    process.stderr.write(`ssh-node: landmark ${((session.bootMs ?? NaN) / 1000).toFixed(1)} s, '${sshdLine.text}' at ${(sshdLine.atMs / 1000).toFixed(1)} s; guest 22 -> 127.0.0.1:${hostPort}\n`);

    // A fresh client key, authorized in the guest through its agent.
    configDir = tempDir('ssh-node-config');
    made.push(configDir);
    const key = join(configDir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tsuite-test', '-f', key]);
    await inGuest('mkdir -p -m 700 /root/.ssh');
    await session.agent!.writeFile('/root/.ssh/authorized_keys', readFileSync(`${key}.pub`), 0o600);
    const knownHosts = join(configDir, 'known_hosts.empty');
    writeFileSync(knownHosts, '');
    const ssh = { host: '127.0.0.1', port: hostPort, user: 'root', privateKey: key, knownHosts, hostKeyFingerprint: sshd.hostKeyFingerprint };
    const config = {
      targets: {
        guest: { runner: 'ssh', arch: 'x86_64', ssh },
        'guest-wrong-pin': { runner: 'ssh', arch: 'x86_64', ssh: { ...ssh, hostKeyFingerprint: WRONG_PIN } },
      },
    };
    writeFileSync(join(configDir, 'tsuite.config.ts'), `export default ${JSON.stringify(config, null, 2)};\n`);
    mkdirSync(join(configDir, 'tsuite'));
    writeFileSync(join(configDir, 'tsuite', 'hang.suite.ts'), HANG_SUITE);
  }, 600_000);

  afterAll(async () => {
    await session?.[Symbol.asyncDispose]();
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });

  it('serves sshd with a host key made at this boot (none in the image), root by key only', async () => {
    expect(sshd.port).toBe(22);
    const keys = (await inGuest('ls /etc/ssh; ls /run/tsuite-sshd')).split('\n');
    expect(keys.filter((k) => k.startsWith('ssh_host_'))).toEqual(['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']);
    expect(await inGuest('ssh-keygen -l -f /run/tsuite-sshd/ssh_host_ed25519_key.pub | cut -d" " -f2')).toBe(sshd.hostKeyFingerprint);
    const effective = await inGuest('/usr/sbin/sshd -T -h /run/tsuite-sshd/ssh_host_ed25519_key -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no | grep -E "^(permitrootlogin|passwordauthentication|kbdinteractiveauthentication) "');
    expect(effective.split('\n').sort()).toEqual(['kbdinteractiveauthentication no', 'passwordauthentication no', 'permitrootlogin without-password']);
  });

  it('runs the syscall and isolation suites over ssh with the same tests and statuses as over the guest agent', async () => {
    // The agent run: the qemu-x86-node target's own path (runSuites), on this same guest rather than
    // a second boot, so both runs see one kernel, one rootfs and one machine.
    const agentOut = tempDir('ssh-node-agent');
    made.push(agentOut);
    const borrowed = new Proxy(session, {
      get(target, prop) {
        // The guest outlives this run: the ssh run and the fault cases use it after.
        if (prop === Symbol.asyncDispose) return async () => undefined;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as Session;
    const lending: Runner = { ...qemuRunner, provision: async () => borrowed };
    const def = findTarget('qemu-x86-node');
    const agentStarted = Date.now();
    const viaAgent = await runSuites(
      { target: { name: 'qemu-x86-node', def, landmark: BOOT_REPORT_READY, eventPatterns: LINUX_EVENT_PATTERNS, benchClock: 'auto' }, runner: lending, resolved },
      { suites: ['syscall', 'isolation'], available: builtInSuites, runId: 'ssh-node-agent', outputDir: agentOut, reporters: [], testTimeoutMs: 120_000, signal: new AbortController().signal },
    );
    const agentMs = Date.now() - agentStarted;
    expect(viaAgent.summary.infraError + viaAgent.summary.parseError + viaAgent.summary.crashed + viaAgent.summary.timedOut).toBe(0);

    const sshStarted = Date.now();
    const remote = cli(['--target', 'guest', '--suite', 'syscall,isolation']);
    const res = await remote.done;
    const sshMs = Date.now() - sshStarted;
    const r = remote.results();
    const counts = (x: RunResult) => `${x.summary.total} tests (${x.summary.passed} passed, ${x.summary.failed} failed, ${x.summary.skipped} skipped)`;
    process.stderr.write(`ssh-node: syscall+isolation via the agent ${counts(viaAgent)} in ${(agentMs / 1000).toFixed(1)} s; via ssh ${counts(r)} in ${(sshMs / 1000).toFixed(1)} s\n`);
    expect(r.summary.infraError + r.summary.parseError + r.summary.crashed + r.summary.timedOut).toBe(0);
    expect(r.summary.total).toBeGreaterThan(500);

    const agentStatuses = statuses(viaAgent);
    const sshStatuses = statuses(r);
    const differ = [...new Set([...agentStatuses.keys(), ...sshStatuses.keys()])]
      .filter((id) => agentStatuses.get(id) !== sshStatuses.get(id))
      .map((id) => `${id}: agent ${agentStatuses.get(id) ?? 'absent'}, ssh ${sshStatuses.get(id) ?? 'absent'}`);
    expect(differ.filter((d) => !(d.split(':')[0]! in EXPECTED_DIFFERENCES))).toEqual([]);
    expect(res.code).toBe(r.summary.failed > 0 ? 1 : 0);
    // The guest's kernel, as the ssh session found it; the host key it met is the pinned one.
    expect(r.run.kernel).toMatchObject({ source: 'endpoint', version: (await session.agent!.osInfo()).kernelRelease });
    const evidence = JSON.parse(readFileSync(join(remote.out, r.sessions[0]!.id, 'ssh.json'), 'utf8')) as { hostKey: { fingerprint: string }; scratchRoot: string };
    expect(evidence.hostKey.fingerprint).toBe(sshd.hostKeyFingerprint);
    expect(await inGuest(`test -e ${evidence.scratchRoot} && echo left || echo gone`)).toBe('gone');
  }, 900_000);

  it('a wrong pinned host key makes every test infraError, naming the key seen, without a hang', async () => {
    const started = Date.now();
    const run = cli(['--target', 'guest-wrong-pin', '--suite', 'isolation']);
    const res = await run.done;
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(res.code).toBe(3);
    const r = run.results();
    expect(r.tests.length).toBeGreaterThan(0);
    for (const t of r.tests) {
      expect(t.status).toBe('infraError');
      expect(t.error?.message).toContain(`is ssh-ed25519 ${sshd.hostKeyFingerprint}, not the pinned ${WRONG_PIN}`);
    }
  }, 120_000);

  it('a connection killed in the guest mid-command makes the test infraError, without a hang or an orphan', async () => {
    const run = cli(['--target', 'guest', '--suite-files', join(configDir, 'tsuite', 'hang.suite.ts'), '--suite', 'hang']);
    let sleeping = '';
    for (let i = 0; i < 120 && !sleeping; i++) {
      sleeping = await inGuest('pgrep -f "^/bin/sleep 7394" || true');
      if (!sleeping) await sleep(500);
    }
    expect(sleeping).not.toBe('');
    // The sshd processes serving the connection ("sshd: root [priv]", "sshd: root@notty") die, as
    // when a machine's sshd is restarted or crashes; the listener stays.
    const cut = Date.now();
    expect(await inGuest('pkill -KILL -f "^sshd: root" && echo killed')).toBe('killed');
    const res = await run.done;
    expect(Date.now() - cut).toBeLessThan(20_000);
    expect(res.code).toBe(3);
    const t = run.results().tests.find((x) => x.id === 'hang/sleeps')!;
    expect(t.status).toBe('infraError');
    expect(t.error?.message).toMatch(new RegExp(`to root@127\\.0\\.0\\.1:${hostPort} dropped|ended without an exit status`));
    // The CLI is gone (nothing of it on this host); the command lives on in the guest, out of its
    // reach, as sshd leaves it: removed here through the agent. The listener still serves.
    expect(run.child.exitCode ?? run.child.signalCode).not.toBeNull();
    await inGuest('pkill -KILL -f "^/bin/sleep 7394" || true');
    expect(await inGuest('pgrep -f "sshd: /usr/sbin/sshd" > /dev/null && echo listening')).toBe('listening');
  }, 180_000);
});
