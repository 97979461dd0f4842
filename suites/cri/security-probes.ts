import type { ContainerConfig, CriScope, Pod } from './scope.js';

/**
 * What a container's processes see of their own confinement, read with ExecSync: a process started
 * by exec gets the container's process settings (user, capabilities, seccomp, no_new_privs), so
 * `/proc/self/status` of a command it runs is what the kernel applied to the container.
 */

/** A container config whose linux.security_context is `sc` (proto3 field names). */
export const withSecurity = (sc: Record<string, unknown>, extra: Partial<ContainerConfig> = {}): Partial<ContainerConfig> => ({ ...extra, linux: { security_context: sc } });

/** A privileged container (with `sc` besides) in a privileged pod: a runtime may refuse a privileged container in an unprivileged pod. */
export const privileged = (scope: CriScope, sc: Record<string, unknown> = {}): Promise<{ pod: Pod; id: string }> =>
  scope.podWithContainer('privileged', withSecurity({ privileged: true, ...sc }), { linux: { security_context: { privileged: true } } });

/** Linux capability names by bit (capability.h), without the CAP_ prefix CRI leaves out too. */
export const CAP_NAMES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
] as const;

/** The capabilities containerd and Docker give a container that asks for none: 14, none of them admin-level. */
export const DEFAULT_CAPS = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP',
  'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
] as const;

/** The names of the bits set in a /proc/<pid>/status capability mask (hex); unknown bits as `bit<N>`. */
export function capNames(hex: string): string[] {
  const mask = BigInt(`0x${hex}`);
  const names: string[] = [];
  for (let bit = 0; bit < 64; bit++) if ((mask >> BigInt(bit)) & 1n) names.push(CAP_NAMES[bit] ?? `bit${bit}`);
  return names;
}

/** `/proc/self/status` of a process exec'd in the container, field by field (`CapEff`, `NoNewPrivs`, `Seccomp`, `Uid`…). */
export async function selfStatus(scope: CriScope, id: string): Promise<Record<string, string>> {
  const text = await scope.sh(id, 'cat /proc/self/status');
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s*(.*)$/.exec(line);
    if (m) fields[m[1]!] = m[2]!.trim();
  }
  if (!('CapEff' in fields)) throw new Error(`/proc/self/status in container ${id.slice(0, 12)} has no CapEff line: ${text.slice(0, 300)}`);
  return fields;
}

/** The effective, permitted and bounding capability sets of a process exec'd in the container, by name. */
export async function capSets(scope: CriScope, id: string): Promise<{ CapEff: string[]; CapPrm: string[]; CapBnd: string[] }> {
  const s = await selfStatus(scope, id);
  return { CapEff: capNames(s.CapEff!), CapPrm: capNames(s.CapPrm ?? '0'), CapBnd: capNames(s.CapBnd ?? '0') };
}

/** `a` and `b` as a readable difference, for messages: `missing X, Y; extra Z`. */
export function setDifference(expected: readonly string[], seen: readonly string[]): string {
  const missing = expected.filter((x) => !seen.includes(x));
  const extra = seen.filter((x) => !expected.includes(x));
  return [missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `extra ${extra.join(', ')}` : ''].filter(Boolean).join('; ') || 'none';
}

/**
 * Runs `script` in the container; it must fail, with `expected` (the errno text the kernel's refusal
 * gives) in its output: failing for another reason would not show the behaviour under test.
 */
export async function mustFail(scope: CriScope, id: string, script: string, expected: RegExp, because: string): Promise<void> {
  const r = await scope.exec(id, ['sh', '-c', script]);
  const out = `${r.stderr}${r.stdout}`.trim().slice(0, 400);
  if (r.exitCode === 0) throw new Error(`\`${script}\` succeeded in container ${id.slice(0, 12)}, but ${because} (expected a failure matching ${expected}); output: ${JSON.stringify(out)}`);
  if (!expected.test(out)) throw new Error(`\`${script}\` failed in container ${id.slice(0, 12)}, but not with ${expected} (${because}): exit ${r.exitCode}, ${JSON.stringify(out)}`);
}

/** A container command that idles until stopped, with `marker` as the shell's $0 so its /proc/<pid>/cmdline names it. */
export const idleMarked = (marker: string) => ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done', marker];

/** A container command that runs `first` (as the container's own process, not an exec), then idles until stopped. */
export const idleAfter = (first: string) => ['sh', '-c', `${first}; trap "exit 0" TERM; while true; do sleep 1; done`];

/** Every process the container can see, as `pid<TAB>cmdline` lines (NULs as spaces). */
export const PROCESS_LIST = 'for d in /proc/[0-9]*; do printf "%s\\t%s\\n" "${d#/proc/}" "$(tr "\\0" " " < $d/cmdline 2>/dev/null)"; done';

/**
 * personality(ADDR_NO_RANDOMIZE): the default seccomp profiles of containerd, Docker and CRI-O allow
 * personality() only for a handful of personas, and this is not one; the kernel itself allows it
 * to anyone. So it fails under RuntimeDefault and works unconfined, on any node.
 */
export const PERSONALITY = 'linux64 -R true';

/** A CRI call that must be refused; returns the error (its message names why) or fails saying it was accepted. */
export async function mustRefuse(work: () => Promise<unknown>, what: string): Promise<Error> {
  try {
    await work();
  } catch (err) {
    return err as Error;
  }
  throw new Error(`the runtime accepted ${what}`);
}
