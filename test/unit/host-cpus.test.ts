import { describe, expect, it } from 'vitest';
import { allowedHostCpus, duetHalves, parseCpuList } from '../../src/core/host-cpus.js';

describe('parseCpuList', () => {
  it('reads Linux CPU lists', () => {
    expect(parseCpuList('0-1')).toEqual([0, 1]);
    expect(parseCpuList('0-3,8,10-11\n')).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseCpuList('5,1,1-2')).toEqual([1, 2, 5]);
    expect(() => parseCpuList('0-a')).toThrow(/CPU list/);
    expect(() => parseCpuList('3-1')).toThrow(/backwards/);
  });

  it('finds the CPUs this process may run on', async () => {
    const cpus = await allowedHostCpus();
    expect(cpus.length).toBeGreaterThan(0);
    expect([...cpus].sort((a, b) => a - b)).toEqual(cpus);
  });
});

describe('duetHalves', () => {
  it('gives A and B disjoint halves of the same size, swapped every round', () => {
    expect(duetHalves([0, 1], 1)).toEqual({ a: [0], b: [1], guestCpus: 1 });
    expect(duetHalves([0, 1], 2)).toEqual({ a: [1], b: [0], guestCpus: 1 });
    expect(duetHalves([0, 1, 2, 3, 4, 5, 6, 7], 3)).toEqual({ a: [0, 1, 2, 3], b: [4, 5, 6, 7], guestCpus: 4 });
  });

  it('leaves an odd CPU out, and needs two', () => {
    expect(duetHalves([2, 4, 6], 1)).toEqual({ a: [2], b: [4], guestCpus: 1 });
    expect(() => duetHalves([0], 1)).toThrow(/at least 2 host CPUs/);
  });
});
