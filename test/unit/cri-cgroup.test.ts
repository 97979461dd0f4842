import { describe, expect, it } from 'vitest';
import { parseCpuList, parseLimit, weightsForShares } from '../../suites/cri/container-cgroup.js';

describe('cri suite: reading cgroup files', () => {
  it('reads CPU lists with ranges and singles', () => {
    expect(parseCpuList('0-1')).toEqual([0, 1]);
    expect(parseCpuList('0,2-4,7\n')).toEqual([0, 2, 3, 4, 7]);
    expect(parseCpuList('3')).toEqual([3]);
    expect(() => parseCpuList('a-b')).toThrow(/not a CPU list/);
  });

  it('reads "no limit" on both cgroup versions as null', () => {
    expect(parseLimit('max', 'memory.max')).toBeNull();
    expect(parseLimit('9223372036854771712', 'memory.limit_in_bytes')).toBeNull();
    expect(parseLimit('67108864', 'memory.max')).toBe(67108864);
    expect(() => parseLimit('', 'memory.max')).toThrow(/memory.max reads "", not a number/);
  });

  it("maps cpu_shares to both cgroup v2 weights runc has written: the kubelet's linear map and runc 1.3.2's curve", () => {
    expect(weightsForShares(2)).toEqual([1]);
    expect(weightsForShares(512)).toEqual([20, 59]);
    // The curve puts the v1 default at the v2 default.
    expect(weightsForShares(1024)).toContain(100);
    expect(weightsForShares(1024)).toContain(39);
    expect(weightsForShares(262144)).toContain(10000);
  });
});
