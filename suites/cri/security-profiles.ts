import { criTest } from './cri-test.js';
import { mustFail, mustRefuse, PERSONALITY, selfStatus, withSecurity } from './security-probes.js';

/** EXDEV: an errno nothing else makes mkdir return in /tmp, so a failure with it is the profile's doing. */
const PROFILE_ERRNO = 18;
const PROFILE_ERROR = /Invalid cross-device link/;

/** A seccomp profile (OCI runtime-spec form) that allows everything but mkdir, which fails with EXDEV. */
const DENY_MKDIR = JSON.stringify({
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: PROFILE_ERRNO }],
});

/** The AppArmor label of a process exec'd in the container (the AppArmor-specific file where LSMs stack). */
const APPARMOR_LABEL = 'cat /proc/self/attr/apparmor/current 2>/dev/null || cat /proc/self/attr/current';

/** What mount(2) needs but AppArmor: SYS_ADMIN, and no seccomp filter (the default one refuses it too). */
const MOUNT_ALLOWED = { capabilities: { add_capabilities: ['SYS_ADMIN'] }, seccomp: { profile_type: 'Unconfined' } };

/** no_new_privs, seccomp and AppArmor. */
export const profileTests = [
  criTest({
    name: 'security-no-new-privs',
    title: 'no_new_privs true sets NoNewPrivs: 1 on the container process; without it, 0',
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const pod = await scope.runPod();
      const nnp = await scope.startContainer(pod, 'nnp', withSecurity({ no_new_privs: true }));
      const plain = await scope.startContainer(pod, 'plain');
      const [on, off] = [(await selfStatus(scope, nnp)).NoNewPrivs, (await selfStatus(scope, plain)).NoNewPrivs];
      if (on !== '1') throw new Error(`with no_new_privs, /proc/self/status says NoNewPrivs: ${on}, expected 1`);
      if (off !== '0') throw new Error(`without no_new_privs, /proc/self/status says NoNewPrivs: ${off}, expected 0`);
    },
  }),
  criTest({
    name: 'security-seccomp-runtime-default',
    title: 'seccomp RuntimeDefault: the process runs in seccomp filter mode (Seccomp: 2) and personality(ADDR_NO_RANDOMIZE) fails with EPERM',
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('main', withSecurity({ seccomp: { profile_type: 'RuntimeDefault' } }));
      const mode = (await selfStatus(scope, id)).Seccomp;
      if (mode !== '2') throw new Error(`seccomp RuntimeDefault: /proc/self/status says Seccomp: ${mode}, expected 2 (filter)`);
      await mustFail(scope, id, PERSONALITY, /Operation not permitted/, 'the default seccomp profile allows personality() only for a few personas');
    },
  }),
  criTest({
    name: 'security-seccomp-unconfined',
    title: 'seccomp Unconfined: no filter (Seccomp: 0) and personality(ADDR_NO_RANDOMIZE) works',
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ scope }) {
      const { id } = await scope.podWithContainer('main', withSecurity({ seccomp: { profile_type: 'Unconfined' } }));
      const mode = (await selfStatus(scope, id)).Seccomp;
      if (mode !== '0') throw new Error(`seccomp Unconfined: /proc/self/status says Seccomp: ${mode}, expected 0`);
      await scope.sh(id, PERSONALITY);
    },
  }),
  criTest({
    name: 'security-seccomp-localhost',
    title: "seccomp Localhost: a profile file on the node denying mkdir makes mkdir fail with the profile's errno; a container without it can mkdir",
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ ctx, fx, scope }) {
      const files = fx.files;
      if ('missing' in files) return ctx.skip(`writing a seccomp profile on the node needs ${files.missing}`);
      // Absolute, as CRI's localhost_ref is; the runtime reads it when it creates the container.
      const path = `/tmp/tsuite-seccomp-${ctx.runId}-${scope.id}.json`;
      await files.write(path, DENY_MKDIR);
      try {
        const pod = await scope.runPod();
        const denied = await scope.startContainer(pod, 'denied', withSecurity({ seccomp: { profile_type: 'Localhost', localhost_ref: path } }));
        const mode = (await selfStatus(scope, denied)).Seccomp;
        if (mode !== '2') throw new Error(`under the Localhost profile /proc/self/status says Seccomp: ${mode}, expected 2`);
        await mustFail(scope, denied, 'mkdir /tmp/d', PROFILE_ERROR, `the profile ${path} makes mkdir fail with errno ${PROFILE_ERRNO} (EXDEV)`);
        await scope.sh(denied, 'touch /tmp/f');
        const plain = await scope.startContainer(pod, 'plain');
        await scope.sh(plain, 'mkdir /tmp/d');
      } finally {
        await files.remove(path);
      }
    },
  }),
  criTest({
    name: 'security-seccomp-localhost-missing',
    title: 'seccomp Localhost naming a profile that does not exist on the node is refused, never run unconfined',
    rpcs: ['CreateContainer'],
    async run({ scope }) {
      const path = `/tmp/tsuite-no-such-profile-${scope.id}.json`;
      const pod = await scope.runPod();
      const err = await mustRefuse(() => scope.startContainer(pod, 'main', withSecurity({ seccomp: { profile_type: 'Localhost', localhost_ref: path } })), `a container whose seccomp profile ${path} does not exist`);
      if (!err.message.includes(path) && !/seccomp|profile/i.test(err.message)) throw new Error(`the refusal names neither the profile nor seccomp: ${err.message}`);
    },
  }),
  criTest({
    name: 'security-apparmor',
    title: 'AppArmor RuntimeDefault confines the process (an enforced profile; mount denied even with SYS_ADMIN); Unconfined leaves it unconfined',
    rpcs: ['CreateContainer', 'ExecSync'],
    async run({ ctx, scope }) {
      const pod = await scope.runPod();
      const probe = await scope.startContainer(pod, 'probe');
      const enabled = (await scope.exec(probe, ['cat', '/sys/module/apparmor/parameters/enabled'])).stdout.trim();
      if (enabled !== 'Y') ctx.skip(`AppArmor is not enabled on the node (/sys/module/apparmor/parameters/enabled: ${JSON.stringify(enabled || 'absent')})`);
      // apparmor_profile is the field runtimes before CRI's `apparmor` field read; a kubelet sends both.
      const confined = await scope.startContainer(pod, 'confined', withSecurity({ ...MOUNT_ALLOWED, apparmor: { profile_type: 'RuntimeDefault' }, apparmor_profile: 'runtime/default' }));
      const free = await scope.startContainer(pod, 'free', withSecurity({ ...MOUNT_ALLOWED, apparmor: { profile_type: 'Unconfined' }, apparmor_profile: 'unconfined' }));
      const [label, freeLabel] = [await scope.sh(confined, APPARMOR_LABEL), await scope.sh(free, APPARMOR_LABEL)];
      if (!/\(enforce\)$/.test(label)) throw new Error(`AppArmor RuntimeDefault: the process's label is ${JSON.stringify(label)}, expected an enforced profile`);
      if (freeLabel !== 'unconfined') throw new Error(`AppArmor Unconfined: the process's label is ${JSON.stringify(freeLabel)}, expected unconfined`);
      await mustFail(scope, confined, 'mkdir -p /tmp/m && mount -t tmpfs tsuite /tmp/m', /permission denied/i, `the default AppArmor profile (${label}) denies mount, whatever the capabilities`);
      await scope.sh(free, 'mkdir -p /tmp/m && mount -t tmpfs tsuite /tmp/m');
    },
  }),
];
