import { describe, expect, it } from 'vitest';
import { CDI_KIND, CDI_NAME, vfioCdiSpec } from '../../suites/gpu/cdi-spec.js';

describe('the CDI spec for the VFIO test device', () => {
  it("names the VFIO container node and the device's group node, under a qualified kind", () => {
    const spec = vfioCdiSpec('edu', '7');
    expect(spec.kind).toBe(CDI_KIND);
    expect(spec.devices[0]!.containerEdits.deviceNodes.map((n) => n.path)).toEqual(['/dev/vfio/vfio', '/dev/vfio/7']);
    expect(CDI_NAME.test(`${spec.kind}=${spec.devices[0]!.name}`)).toBe(true);
  });
  it('refuses a name or group CDI cannot carry', () => {
    expect(() => vfioCdiSpec('has space', '7')).toThrow(/not a valid CDI device name/);
    expect(() => vfioCdiSpec('edu', '../7')).toThrow(/not an IOMMU group number/);
    expect(CDI_NAME.test('tsuite/vfio=edu')).toBe(false);
  });
});
