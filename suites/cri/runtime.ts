import type { Cri } from '../../src/index.js';
import { criTest } from './cri-test.js';

const semver = /^v?\d+\.\d+\.\d+/;

/** The runtime itself: who it says it is, whether it says it is ready, how it is configured. */
export const runtimeTests = [
  criTest({
    name: 'runtime-version',
    title: 'Version names the runtime, its version and CRI API v1',
    rpcs: ['Version'],
    async run({ cri }) {
      const v = await cri.runtime<Cri.VersionResponse>('Version', { version: 'v1' });
      if (!v.runtime_name.trim()) throw new Error('Version answered with an empty runtime_name');
      if (!semver.test(v.runtime_version) && !/\d/.test(v.runtime_version)) throw new Error(`runtime_version '${v.runtime_version}' carries no version number`);
      if (v.runtime_api_version !== 'v1') throw new Error(`runtime_api_version is '${v.runtime_api_version}', not 'v1' (CRI runtime.v1 was asked for)`);
      if (v.runtime_name !== cri.info.runtimeName) throw new Error(`runtime_name changed within the session: '${cri.info.runtimeName}' then '${v.runtime_name}'`);
    },
  }),
  criTest({
    name: 'runtime-status-ready',
    title: 'Status reports RuntimeReady and NetworkReady true',
    rpcs: ['Status'],
    async run({ cri }) {
      const s = await cri.runtime<Cri.StatusResponse>('Status', {});
      const conditions = s.status?.conditions ?? [];
      for (const type of ['RuntimeReady', 'NetworkReady']) {
        const c = conditions.find((x) => x.type === type);
        if (!c) throw new Error(`Status has no ${type} condition (has: ${conditions.map((x) => x.type).join(', ') || 'none'})`);
        if (!c.status) throw new Error(`${type} is false: ${c.reason} ${c.message}`.trim());
      }
    },
  }),
  criTest({
    name: 'runtime-status-verbose',
    title: 'Status with verbose returns runtime info (its config as JSON); without it, none',
    rpcs: ['Status'],
    async run({ cri }) {
      const quiet = await cri.runtime<Cri.StatusResponse>('Status', { verbose: false });
      if (Object.keys(quiet.info).length > 0) throw new Error(`Status without verbose returned info keys: ${Object.keys(quiet.info).join(', ')}`);
      const verbose = await cri.runtime<Cri.StatusResponse>('Status', { verbose: true });
      const keys = Object.keys(verbose.info);
      if (keys.length === 0) throw new Error('Status with verbose returned no info');
      // The kubelet logs these; CRI says values are free-form, but a runtime's config is the one a node admin reads.
      const objects = keys.filter((k) => {
        try {
          const v: unknown = JSON.parse(verbose.info[k]!);
          return typeof v === 'object' && v !== null;
        } catch {
          return false;
        }
      });
      if (objects.length === 0) throw new Error(`no verbose info value is a JSON object (keys: ${keys.join(', ')})`);
    },
  }),
  criTest({
    name: 'runtime-config-cgroup-driver',
    title: 'RuntimeConfig names the cgroup driver (systemd or cgroupfs)',
    rpcs: ['RuntimeConfig'],
    async run({ cri }) {
      const r = await cri.runtime<{ linux: { cgroup_driver: string } | null }>('RuntimeConfig', {});
      if (!r.linux) throw new Error('RuntimeConfig answered with no linux section');
      if (!['SYSTEMD', 'CGROUPFS'].includes(r.linux.cgroup_driver)) throw new Error(`cgroup_driver is '${r.linux.cgroup_driver}'`);
    },
  }),
  criTest({
    name: 'runtime-update-pod-cidr',
    title: 'UpdateRuntimeConfig accepts a pod CIDR, and the runtime stays ready',
    rpcs: ['UpdateRuntimeConfig', 'Status'],
    async run({ cri }) {
      await cri.runtime('UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: '10.88.0.0/16' } } });
      const s = await cri.runtime<Cri.StatusResponse>('Status', {});
      const ready = s.status?.conditions.find((c) => c.type === 'RuntimeReady');
      if (!ready?.status) throw new Error('RuntimeReady went false after UpdateRuntimeConfig');
    },
  }),
];
