import type { TestDef } from '../../src/index.js';
import { criTest } from './cri-test.js';
import { namespaceTests } from './security-namespaces.js';
import { pathTests } from './security-paths.js';
import { privilegeTests } from './security-privileges.js';
import { idleAfter, mustFail, mustRefuse, selfStatus, withSecurity } from './security-probes.js';
import { profileTests } from './security-profiles.js';

/** Writes the main process's `id` where an exec reads it back: the container's own process, not only execs, must run as asked. */
const RECORD_ID = idleAfter('id > /tmp/main-id');

/** The four ids (real, effective, saved, filesystem) of a `Uid:`/`Gid:` status line, all expected to be `n`. */
function allIds(line: string | undefined, n: number, what: string): void {
  const ids = (line ?? '').split(/\s+/);
  if (ids.length !== 4 || ids.some((x) => x !== String(n))) throw new Error(`${what}: /proc/self/status says ${JSON.stringify(line)}, expected ${n} for real, effective, saved and filesystem ids`);
}

/** Who a container's processes run as, and what that user may write. */
const identityTests = [
  criTest({
    name: 'security-run-as-user',
    title: 'run_as_user 1000: the main process and execs run with uid 1000 (real, effective, saved, fs)',
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('main', withSecurity({ run_as_user: { value: 1000 } }, { command: RECORD_ID }));
      const main = await scope.sh(id, 'cat /tmp/main-id');
      if (!/^uid=1000\b/.test(main)) throw new Error(`the container's main process ran as ${JSON.stringify(main)}, expected uid=1000`);
      const exec = await scope.sh(id, 'id -u');
      if (exec !== '1000') throw new Error(`id -u in an exec printed ${JSON.stringify(exec)}, expected 1000`);
      allIds((await selfStatus(scope, id)).Uid, 1000, 'run_as_user 1000');
    },
  }),
  criTest({
    name: 'security-run-as-user-not-in-image',
    title: "run_as_user 4242, a uid absent from the image's /etc/passwd, is used as is",
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('main', withSecurity({ run_as_user: { value: 4242 } }));
      const uid = await scope.sh(id, 'id -u');
      if (uid !== '4242') throw new Error(`id -u printed ${JSON.stringify(uid)}, expected 4242 (a numeric uid needs no passwd entry)`);
    },
  }),
  criTest({
    name: 'security-run-as-group',
    title: 'run_as_user 1000 with run_as_group 2000: the main process and execs run with gid 2000',
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('main', withSecurity({ run_as_user: { value: 1000 }, run_as_group: { value: 2000 } }, { command: RECORD_ID }));
      const main = await scope.sh(id, 'cat /tmp/main-id');
      if (!/^uid=1000\b.* gid=2000\b/.test(main)) throw new Error(`the container's main process ran as ${JSON.stringify(main)}, expected uid=1000 gid=2000`);
      const gid = await scope.sh(id, 'id -g');
      if (gid !== '2000') throw new Error(`id -g in an exec printed ${JSON.stringify(gid)}, expected 2000`);
      allIds((await selfStatus(scope, id)).Gid, 2000, 'run_as_group 2000');
    },
  }),
  criTest({
    name: 'security-run-as-group-needs-user',
    title: 'run_as_group without run_as_user or run_as_username is refused (CRI: the runtime MUST error)',
    rpcs: ['CreateContainer'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const err = await mustRefuse(() => scope.startContainer(pod, 'main', withSecurity({ run_as_group: { value: 2000 } })), 'a container with run_as_group 2000 and no user (CRI says the runtime MUST error)');
      if (!/group|user/i.test(err.message)) throw new Error(`the refusal does not say why (expected it to name the group or user): ${err.message}`);
    },
  }),
  criTest({
    name: 'security-run-as-username',
    title: "run_as_username is resolved in the image's /etc/passwd: tsuite runs as 1000:1000, nobody as 65534:65534",
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const pod = await scope.runPod();
      for (const [name, uid, gid] of [['tsuite', 1000, 1000], ['nobody', 65534, 65534]] as const) {
        const id = await scope.startContainer(pod, name, withSecurity({ run_as_username: name }, { command: RECORD_ID }));
        const main = await scope.sh(id, 'cat /tmp/main-id');
        if (!new RegExp(`^uid=${uid}\\b.* gid=${gid}\\b`).test(main)) throw new Error(`run_as_username ${name}: the main process ran as ${JSON.stringify(main)}, expected uid=${uid} gid=${gid} (the image's /etc/passwd entry)`);
        const ids = await scope.sh(id, 'echo $(id -u):$(id -g)');
        if (ids !== `${uid}:${gid}`) throw new Error(`run_as_username ${name}: an exec runs as ${ids}, expected ${uid}:${gid}`);
      }
    },
  }),
  criTest({
    name: 'security-run-as-username-unknown',
    title: "a run_as_username absent from the image's /etc/passwd is refused (CRI: the runtime MUST error)",
    rpcs: ['CreateContainer', 'StartContainer'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const err = await mustRefuse(() => scope.startContainer(pod, 'main', withSecurity({ run_as_username: 'tsuite-no-such-user' })), "a container running as tsuite-no-such-user, who is not in the image's /etc/passwd");
      if (!/tsuite-no-such-user|user/i.test(err.message)) throw new Error(`the refusal does not name the user: ${err.message}`);
    },
  }),
  criTest({
    name: 'security-supplemental-groups',
    title: "supplemental_groups 3000 and 4000 are among the process's groups, beside the user's own",
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('main', withSecurity({ run_as_user: { value: 1000 }, supplemental_groups: [3000, 4000] }));
      const groups = (await scope.sh(id, 'id -G')).split(/\s+/);
      const missing = ['3000', '4000'].filter((g) => !groups.includes(g));
      if (missing.length > 0) throw new Error(`id -G printed ${groups.join(' ')}: supplemental group(s) ${missing.join(', ')} missing`);
      const status = (await selfStatus(scope, id)).Groups?.split(/\s+/) ?? [];
      if (!status.includes('3000') || !status.includes('4000')) throw new Error(`/proc/self/status Groups is ${JSON.stringify(status.join(' '))}, expected 3000 and 4000 in it`);
    },
  }),
  criTest({
    name: 'security-non-root-permissions',
    title: "a non-root user cannot write a root-owned folder (/etc) but can write its own home and /tmp; root can write /etc; the non-root process has no effective capabilities",
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const user = await scope.startContainer(pod, 'user', withSecurity({ run_as_user: { value: 1000 } }));
      await mustFail(scope, user, 'touch /etc/tsuite-user', /Permission denied/, 'uid 1000 may not write /etc (root-owned, 0755)');
      await scope.sh(user, 'touch /home/tsuite/mine /tmp/mine');
      const caps = (await selfStatus(scope, user)).CapEff;
      if (!/^0+$/.test(caps ?? '')) throw new Error(`uid 1000 has effective capabilities ${caps}: a non-root process gets none from the default set`);
      const root = await scope.startContainer(pod, 'root');
      await scope.sh(root, 'touch /etc/tsuite-root');
    },
  }),
  criTest({
    name: 'security-readonly-rootfs',
    title: "readonly_rootfs: writes to /, /etc and /tmp fail with EROFS and / is mounted ro; the pod's /dev/shm stays writable; without it / is writable",
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const ro = await scope.startContainer(pod, 'ro', withSecurity({ readonly_rootfs: true }));
      for (const path of ['/tsuite-ro', '/etc/tsuite-ro', '/tmp/tsuite-ro']) {
        await mustFail(scope, ro, `touch ${path}`, /Read-only file system/, `readonly_rootfs makes ${path} read-only`);
      }
      const root = (await scope.sh(ro, "awk '$2 == \"/\" { print $4 }' /proc/self/mounts")).split('\n').pop() ?? '';
      if (!root.split(',').includes('ro')) throw new Error(`/ is mounted with options ${JSON.stringify(root)}, expected ro`);
      // The pod's shared memory is a mount of its own, not part of the image's rootfs.
      await scope.sh(ro, 'touch /dev/shm/tsuite-ro && rm /dev/shm/tsuite-ro');
      const rw = await scope.startContainer(pod, 'rw');
      await scope.sh(rw, 'touch /tsuite-rw /etc/tsuite-rw /tmp/tsuite-rw');
    },
  }),
];

/** Security context: users and groups, the root filesystem, capabilities and privilege, seccomp and AppArmor, masked and read-only paths, namespaces. */
export const securityTests: TestDef[] = [...identityTests, ...privilegeTests, ...profileTests, ...pathTests, ...namespaceTests];
