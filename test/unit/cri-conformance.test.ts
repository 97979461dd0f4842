import { describe, expect, it } from 'vitest';
import { buildConformance } from '../../src/core/conformance.js';
import type { TestResult } from '../../src/core/result.js';
import cri from '../../suites/cri/index.js';
import { CRI_RPCS, testRpcs, unimplementedReason } from '../../suites/cri/cri-test.js';

const result = (id: string, status: TestResult['status'], reason?: string): TestResult =>
  ({ id, suite: 'cri', title: id, session: 's', status, durationMs: 1, metrics: [], ...(reason && { reason }) }) as TestResult;

describe('cri conformance matrix', () => {
  it('counts a test toward its area and each RPC it asserts', () => {
    const m = buildConformance('cri', cri.conformance!, [result('cri/runtime-version', 'passed'), result('cri/runtime-update-pod-cidr', 'failed')], 'x86_64');
    const row = (item: string) => m.items.find((i) => i.item === item);
    expect(row('area/runtime')).toMatchObject({ status: 'fail', passed: 1, failed: 1 });
    expect(row('rpc/Version')).toMatchObject({ status: 'pass', passed: 1 });
    expect(row('rpc/UpdateRuntimeConfig')).toMatchObject({ status: 'fail', failed: 1 });
    expect(row('rpc/Status')).toMatchObject({ status: 'fail' });
  });

  it('marks an RPC the runtime answered UNIMPLEMENTED as its own state, and a plain skip as skip', () => {
    const m = buildConformance('cri', cri.conformance!, [
      result('cri/runtime-config-cgroup-driver', 'skipped', unimplementedReason('RuntimeConfig')),
      result('cri/runtime-status-ready', 'skipped', "target 'x' offers no 'cri' channel"),
    ], 'x86_64');
    expect(m.items.find((i) => i.item === 'rpc/RuntimeConfig')).toMatchObject({ status: 'unimplemented', skipped: 1, reasons: ['the runtime answers RuntimeConfig with UNIMPLEMENTED'] });
    expect(m.items.find((i) => i.item === 'rpc/Status')?.status).toBe('skip');
    // The area row is not unimplemented: only the RPC is.
    expect(m.items.find((i) => i.item === 'area/runtime')?.status).toBe('skip');
  });

  it('every test names a kebab-case area and RPCs of the contract', () => {
    const names = cri.tests.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    for (const t of cri.tests) {
      expect(t.name).toMatch(/^[a-z]+(-[a-z0-9]+)+$/);
      const rpcs = testRpcs.get(t.name) ?? [];
      expect(rpcs.length, t.name).toBeGreaterThan(0);
      for (const r of rpcs) expect(CRI_RPCS as readonly string[]).toContain(r);
      expect(t.requires).toEqual(['cri']);
    }
  });
});
