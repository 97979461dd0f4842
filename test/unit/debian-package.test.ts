import { describe, expect, it } from 'vitest';
import { parsePackageRecord } from '../../kernel/reference/debian-package.js';
import { isLibraryPackage } from '../../kernel/reference/package-closure.js';

/**
 * What the guest agent and the OCI image builder read from `apt-cache show`, and which of a
 * package's dependencies they follow to find its shared libraries.
 */

// Trimmed from Debian 12's records (the fields tsuite reads, plus some it must skip).
const QEMU_GA = `Package: qemu-guest-agent
Version: 1:7.2+dfsg-7+deb12u18+b3
Installed-Size: 1071
Depends: libc6 (>= 2.34), libglib2.0-0 (>= 2.63.3), libnuma1 (>= 2.0.11), libudev1 (>= 183), liburing2 (>= 2.3)
Pre-Depends: init-system-helpers (>= 1.54~)
Recommends: something-else
Description-en: Guest-side qemu-system agent
`;

describe('parsePackageRecord', () => {
  it('reads the version and Depends plus Pre-Depends without version qualifiers', () => {
    expect(parsePackageRecord(QEMU_GA)).toEqual({
      version: '1:7.2+dfsg-7+deb12u18+b3',
      depends: ['libc6', 'libglib2.0-0', 'libnuma1', 'libudev1', 'liburing2', 'init-system-helpers'],
    });
  });

  it('takes the first of alternatives and drops arch qualifiers', () => {
    const show = 'Package: x\nVersion: 2.0-1\nDepends: libssl3 | libssl1.1, python3:any (>= 3.9), debconf (>= 0.5) | debconf-2.0\n';
    expect(parsePackageRecord(show)?.depends).toEqual(['libssl3', 'python3', 'debconf']);
  });

  it('has no dependencies for a record without Depends', () => {
    expect(parsePackageRecord('Package: libgcc-s1\nVersion: 12.2.0-14\n')).toEqual({ version: '12.2.0-14', depends: [] });
  });

  it('is undefined without a Version (a virtual package, or nothing at all)', () => {
    expect(parsePackageRecord('')).toBeUndefined();
    expect(parsePackageRecord('N: Can\'t select versions from package \'mail-transport-agent\' as it is purely virtual\n')).toBeUndefined();
  });
});

describe('isLibraryPackage', () => {
  it('follows shared-library packages, zlib included', () => {
    for (const name of ['libc6', 'libssl3', 'libglib2.0-0', 'zlib1g']) expect(isLibraryPackage(name), name).toBe(true);
  });

  it('does not follow configuration, helper or interpreter packages', () => {
    for (const name of ['nginx-common', 'init-system-helpers', 'debconf', 'perl', 'zlib-dev-tools']) expect(isLibraryPackage(name), name).toBe(false);
  });
});
