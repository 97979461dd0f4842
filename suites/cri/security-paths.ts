import { criTest } from './cri-test.js';
import { mustFail, privileged, withSecurity } from './security-probes.js';
import type { CriScope } from './scope.js';

/**
 * The paths a kubelet asks to mask and make read-only for the Default proc mount type. CRI runtimes
 * (containerd among them) mask nothing of their own accord: the kubelet sends these lists with every
 * container, so the tests send them too.
 */
const KUBELET_MASKED = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'];
const KUBELET_READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** For each path that exists: `path kind`, kind `null` (a bind of /dev/null), `tmpfs` (a folder hidden under one) or what it really is. */
const maskState = (paths: readonly string[]) =>
  `for p in ${paths.join(' ')}; do [ -e $p ] || continue; if [ -d $p ]; then echo "$p $(stat -f -c %T $p)"; ` +
  `elif [ "$(stat -c %F:%t:%T $p)" = "character special file:1:3" ]; then echo "$p null"; else echo "$p $(stat -c %F $p | tr ' ' _)"; fi; done`;

async function maskStates(scope: CriScope, id: string): Promise<Map<string, string>> {
  const lines = (await scope.sh(id, maskState(KUBELET_MASKED))).split('\n').filter(Boolean);
  return new Map(lines.map((l) => l.split(' ', 2) as [string, string]));
}

/** Writing a file's current value back: a no-op, were the write let through. Per network namespace, so the pod's own. */
const WRITE_BACK_SYSCTL = 'cat /proc/sys/net/ipv4/ip_local_port_range > /proc/sys/net/ipv4/ip_local_port_range';

/** masked_paths and readonly_paths: what a kubelet sends, what privileged overrides, and paths of the test's choosing. */
export const pathTests = [
  criTest({
    name: 'security-masked-paths',
    title: "the kubelet's masked_paths (/proc/kcore, /proc/keys, /sys/firmware…) are masked: a file reads as /dev/null, a folder is an empty tmpfs; privileged, they are not (CRI)",
    rpcs: ['RunPodSandbox', 'CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const plain = (await scope.podWithContainer('plain', withSecurity({ masked_paths: KUBELET_MASKED }))).id;
      const priv = (await privileged(scope, { masked_paths: KUBELET_MASKED })).id;
      const [masked, real] = [await maskStates(scope, plain), await maskStates(scope, priv)];
      if (real.size === 0) throw new Error(`none of ${KUBELET_MASKED.join(', ')} exists in a privileged container: nothing to check masking against`);
      for (const [path, kind] of real) {
        if (kind === 'null' || kind === 'tmpfs') throw new Error(`${path} is masked (${kind}) in a privileged container: CRI says privileged containers see sensitive paths unmasked`);
        const seen = masked.get(path);
        if (seen !== 'null' && seen !== 'tmpfs') throw new Error(`${path} (${kind} on the node) is ${seen ?? 'absent'} in a container that asked to mask it, expected /dev/null or an empty tmpfs`);
      }
    },
  }),
  criTest({
    name: 'security-readonly-paths',
    title: "the kubelet's readonly_paths make /proc/sys and /proc/sysrq-trigger read-only (EROFS), with /sys mounted ro; privileged, /proc/sys is writable (CRI)",
    rpcs: ['RunPodSandbox', 'CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('plain', withSecurity({ readonly_paths: KUBELET_READONLY }));
      await mustFail(scope, id, WRITE_BACK_SYSCTL, /Read-only file system/, 'readonly_paths names /proc/sys');
      // Only where the kernel has magic SysRq; an empty write would do nothing anyway.
      if ((await scope.exec(id, ['test', '-e', '/proc/sysrq-trigger'])).exitCode === 0) {
        await mustFail(scope, id, 'printf "" > /proc/sysrq-trigger', /Read-only file system/, 'readonly_paths names /proc/sysrq-trigger');
      }
      const sys = (await scope.sh(id, "awk '$2 == \"/sys\" { print $4 }' /proc/self/mounts")).split('\n').pop() ?? '';
      if (!sys.split(',').includes('ro')) throw new Error(`/sys is mounted ${JSON.stringify(sys)} in an unprivileged container, expected ro`);
      const priv = (await privileged(scope, { readonly_paths: KUBELET_READONLY })).id;
      await scope.sh(priv, WRITE_BACK_SYSCTL);
    },
  }),
  criTest({
    name: 'security-masked-readonly-paths-explicit',
    title: 'masked_paths /etc/passwd and /home read as empty; readonly_paths /tmp refuses writes (EROFS) while / stays writable',
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('main', withSecurity({ masked_paths: ['/etc/passwd', '/home'], readonly_paths: ['/tmp'] }));
      const passwd = await scope.sh(id, 'wc -c < /etc/passwd');
      if (passwd !== '0') throw new Error(`masked /etc/passwd reads ${passwd} bytes, expected 0`);
      if ((await scope.sh(id, 'wc -c < /etc/group')) === '0') throw new Error('/etc/group (not masked) reads empty too: the check cannot tell masking apart');
      const home = await scope.sh(id, 'ls -A /home');
      if (home !== '') throw new Error(`masked /home lists ${JSON.stringify(home)}, expected nothing (the image has /home/tsuite)`);
      await mustFail(scope, id, 'touch /tmp/f', /Read-only file system/, 'readonly_paths names /tmp');
      await scope.sh(id, 'touch /tsuite-rw');
    },
  }),
];
