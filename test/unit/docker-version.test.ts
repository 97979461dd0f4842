import { describe, expect, it } from 'vitest';
import {
  CLIENT_MAX_API_VERSION,
  CLIENT_MIN_API_VERSION,
  compareApiVersions,
  DockerApiVersionError,
  negotiateApiVersion,
} from '../../src/channels/docker-version.js';

describe('compareApiVersions', () => {
  it('orders minor versions numerically, not as text', () => {
    expect(compareApiVersions('1.9', '1.41')).toBeLessThan(0);
    expect(compareApiVersions('1.41', '1.41')).toBe(0);
    expect(compareApiVersions('2.0', '1.99')).toBeGreaterThan(0);
    expect(compareApiVersions('v1.40', '1.41')).toBeLessThan(0);
  });

  it('rejects text that is not MAJOR.MINOR', () => {
    expect(() => compareApiVersions('1.41.2', '1.41')).toThrow(DockerApiVersionError);
  });
});

describe('negotiateApiVersion', () => {
  it('caps a newer engine at the client maximum', () => {
    expect(CLIENT_MAX_API_VERSION).toBe('1.41');
    expect(negotiateApiVersion({ ApiVersion: '1.47', MinAPIVersion: '1.24' })).toBe('1.41');
  });

  it("uses an older engine's own version", () => {
    expect(negotiateApiVersion({ ApiVersion: '1.40', MinAPIVersion: '1.12' })).toBe('1.40');
    expect(negotiateApiVersion({ ApiVersion: CLIENT_MIN_API_VERSION })).toBe('1.24');
  });

  it('refuses an engine older than 1.24, naming both versions', () => {
    expect(() => negotiateApiVersion({ ApiVersion: '1.23' })).toThrow(/1\.23.*older than 1\.24.*1\.24–1\.41/);
  });

  it('refuses an engine whose minimum is above the client maximum', () => {
    expect(() => negotiateApiVersion({ ApiVersion: '1.52', MinAPIVersion: '1.44' })).toThrow(/accepts Docker API 1\.44–1\.52 only/);
  });

  it('refuses an answer with no ApiVersion (not a Docker Engine API)', () => {
    expect(() => negotiateApiVersion({})).toThrow(/no usable ApiVersion/);
    expect(() => negotiateApiVersion({ ApiVersion: 'latest' })).toThrow(DockerApiVersionError);
  });
});
