import type { TestDef } from '../../src/index.js';
import { dockerTest, type RunOutput, type Scope } from './scope.js';
import { demuxBuffer } from './streams.js';

/** Runs a shell script in busybox and fails unless it exits 0; returns its stdout. */
async function sh(s: Scope, script: string, opts: Parameters<Scope['run']>[2] = {}): Promise<{ out: string; r: RunOutput }> {
  const r = await s.run(s.images.busybox, ['sh', '-c', script], opts);
  if (r.exitCode !== 0) throw new Error(`\`${script}\` exited ${r.exitCode}; stderr: ${r.stderr.trim()}`);
  return { out: r.stdout, r };
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

export const configTests: TestDef[] = [
  dockerTest({
    name: 'config-env',
    title: "Env: the process sees each variable byte for byte, a given PATH replaces the image's, HOSTNAME is the container's",
    async run(s) {
      const env = ['TSUITE_A=alpha', 'TSUITE_SPACES=a b  c', 'TSUITE_EMPTY=', 'TSUITE_EQ=x=y', 'PATH=/bin:/tsuite/custom'];
      // env -0 would be cleaner, but busybox env may lack it; no value here holds a newline.
      const { out, r } = await sh(s, 'env', { Env: env });
      const seen = new Map(lines(out).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      const wrong: string[] = [];
      for (const e of env) {
        const [k, v] = [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)];
        if (seen.get(k) !== v) wrong.push(`${k} is ${JSON.stringify(seen.get(k))}, not ${JSON.stringify(v)}`);
      }
      const hostname = r.info.Config.Hostname;
      if (seen.get('HOSTNAME') !== hostname) wrong.push(`HOSTNAME is ${JSON.stringify(seen.get('HOSTNAME'))}, not the container's hostname ${JSON.stringify(hostname)}`);
      for (const e of env) if (!r.info.Config.Env.includes(e)) wrong.push(`inspect's Config.Env lacks ${e}`);
      if (wrong.length) throw new Error(wrong.join('; '));
    },
  }),
  dockerTest({
    name: 'config-cmd',
    title: 'Cmd: every argument reaches the process as given (spaces, empty, glob characters), with no shell in between',
    async run(s) {
      const args = ['one', 'two words', '', '*', '$HOME'];
      const r = await s.run(s.images.busybox, ['sh', '-c', 'for a in "$@"; do echo "[$a]"; done', 'argv0', ...args]);
      const want = args.map((a) => `[${a}]`);
      if (r.exitCode !== 0 || JSON.stringify(lines(r.stdout)) !== JSON.stringify(want)) throw new Error(`the arguments arrived as ${JSON.stringify(lines(r.stdout))}, not ${JSON.stringify(want)} (exit ${r.exitCode})`);
      if (JSON.stringify(r.info.Config.Cmd) !== JSON.stringify(['sh', '-c', 'for a in "$@"; do echo "[$a]"; done', 'argv0', ...args])) throw new Error(`inspect's Config.Cmd is ${JSON.stringify(r.info.Config.Cmd)}`);
    },
  }),
  dockerTest({
    name: 'config-entrypoint',
    title: "Entrypoint: Cmd is appended to it; setting one drops the image's Cmd",
    async run(s) {
      const withCmd = await s.run(s.images.busybox, ['a', 'b c'], { Entrypoint: ['sh', '-c', 'echo "entry:$#:$1:$2"', 'argv0'] });
      if (withCmd.stdout !== 'entry:2:a:b c\n') throw new Error(`Entrypoint + Cmd printed ${JSON.stringify(withCmd.stdout)}, not "entry:2:a:b c"`);
      // Without a Cmd of ours, the image's Cmd must not be appended to a new Entrypoint.
      const c = await s.createContainer({ Image: s.images.busybox, Entrypoint: ['echo', 'only-entry'] });
      await c.start();
      const waited = (await c.wait({ abortSignal: s.signal })) as { StatusCode: number };
      const { stdout: out } = await demuxBuffer(s.api, await c.logs({ stdout: true, stderr: true, follow: false }));
      if (waited.StatusCode !== 0 || out !== 'only-entry\n') throw new Error(`Entrypoint alone printed ${JSON.stringify(out)} (exit ${waited.StatusCode}): the image's Cmd was appended, or the entrypoint did not run`);
      const cfg = (await c.inspect()).Config;
      if (cfg.Cmd && cfg.Cmd.length) throw new Error(`a container given only an Entrypoint has Cmd ${JSON.stringify(cfg.Cmd)}`);
    },
  }),
  dockerTest({
    name: 'config-workdir',
    title: 'WorkingDir: the process starts there, and a directory that does not exist in the image is created',
    async run(s) {
      const dir = '/tmp/tsuite/work dir';
      const { out } = await sh(s, 'pwd; test -d . && echo is-dir; echo hi > ./f && cat "$PWD/f"', { WorkingDir: dir });
      if (out !== `${dir}\nis-dir\nhi\n`) throw new Error(`in WorkingDir ${dir} the script printed ${JSON.stringify(out)}`);
    },
  }),
  dockerTest({
    name: 'config-user-numeric',
    title: 'User uid:gid: the process has those ids (even ones not in /etc/passwd) and no root powers',
    async run(s) {
      const { out } = await sh(s, 'id -u; id -g; if touch /tsuite-root-only 2>/dev/null; then echo wrote; else echo denied; fi', { User: '4242:4343' });
      if (out !== '4242\n4343\ndenied\n') throw new Error(`as user 4242:4343 the script printed ${JSON.stringify(out)}, not uid 4242, gid 4343 and "denied" for a write to /`);
    },
  }),
  dockerTest({
    name: 'config-user-named',
    title: "User by name: uid, gid and HOME come from the image's /etc/passwd",
    async run(s) {
      const { out } = await sh(s, 'grep "^nobody:" /etc/passwd; echo "ids=$(id -u):$(id -g) name=$(id -un) home=$HOME"', { User: 'nobody' });
      const [entry, report] = lines(out);
      const f = entry?.split(':');
      if (!f || f.length < 7) throw new Error(`the image's /etc/passwd has no nobody entry: ${JSON.stringify(out)}`);
      const want = `ids=${f[2]}:${f[3]} name=nobody home=${f[5]}`;
      if (report !== want) throw new Error(`as user nobody the process reports ${JSON.stringify(report)}, not ${JSON.stringify(want)} (from ${entry})`);
      if (f[2] === '0') throw new Error('nobody is uid 0 in the image');
    },
  }),
  dockerTest({
    name: 'config-hostname',
    title: 'Hostname: gethostname (the hostname applet) and /etc/hostname in the container say the name given',
    async run(s) {
      const { out } = await sh(s, 'hostname; cat /etc/hostname', { Hostname: 'tsuite-cfg-host' });
      if (out !== 'tsuite-cfg-host\ntsuite-cfg-host\n') throw new Error(`hostname and /etc/hostname say ${JSON.stringify(out)}, not tsuite-cfg-host`);
    },
  }),
];
