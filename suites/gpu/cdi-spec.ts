/**
 * A Container Device Interface spec (CDI, github.com/cncf-tags/container-device-interface, spec
 * version 0.6.0) for one test device: the VFIO container node and the device's group node. An
 * engine that supports CDI injects both when asked for `<kind>=<name>`.
 */
export const CDI_KIND = 'tsuite.dev/vfio';
export const CDI_VERSION = '0.6.0';

export interface CdiSpec {
  cdiVersion: string;
  kind: string;
  devices: { name: string; containerEdits: { deviceNodes: { path: string; hostPath?: string; permissions?: string }[] } }[];
  containerEdits?: { env?: string[] };
}

/** The spec for the device in IOMMU group `group`, named `name` (CDI names: letters, digits, `_`, `-`, `.`). */
export function vfioCdiSpec(name: string, group: string): CdiSpec {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`'${name}' is not a valid CDI device name`);
  if (!/^\d+$/.test(group)) throw new Error(`'${group}' is not an IOMMU group number`);
  return {
    cdiVersion: CDI_VERSION,
    kind: CDI_KIND,
    devices: [{ name, containerEdits: { deviceNodes: [{ path: '/dev/vfio/vfio', permissions: 'rw' }, { path: `/dev/vfio/${group}`, permissions: 'rw' }] } }],
    // So the probe in the container can tell the device was injected through CDI.
    containerEdits: { env: [`TSUITE_CDI_DEVICE=${CDI_KIND}=${name}`] },
  };
}

/** A fully qualified CDI device name: `vendor.tld/class=name`. */
export const CDI_NAME = /^[a-z0-9][a-z0-9.-]*\.[a-z]+\/[a-zA-Z0-9][a-zA-Z0-9_.-]*=[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
