import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hostSuiteSources, parseSimulatedInstalls } from '../../kernel/node/node-packages.js';
import { InfraError } from '../../src/core/errors.js';

describe('parseSimulatedInstalls', () => {
  it('reads name=version from the Inst lines of `apt-get -s`, sorted, arch suffix dropped', () => {
    const out = [
      'NOTE: This is only a simulation!',
      'Inst libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [amd64]) []',
      'Inst docker.io (20.10.24+dfsg1-1+deb12u1+b3 Debian:12.15/oldstable [amd64])',
      'Inst gcc-12-base:amd64 (12.2.0-14+deb12u1 Debian:12.15/oldstable [amd64])',
      'Conf libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [amd64])',
    ].join('\n');
    expect(parseSimulatedInstalls(out)).toEqual(['docker.io=20.10.24+dfsg1-1+deb12u1+b3', 'gcc-12-base=12.2.0-14+deb12u1', 'libc6=2.36-9+deb12u14']);
  });

  it('finds nothing in output with no Inst lines', () => {
    expect(parseSimulatedInstalls('E: Unable to locate package nope\n')).toEqual([]);
  });
});

describe('hostSuiteSources', () => {
  let etc: string;
  const make = (files: Record<string, string>) => {
    etc = mkdtempSync(join(tmpdir(), 'tsuite-apt-etc-'));
    mkdirSync(join(etc, 'sources.list.d'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(etc, name), text);
  };
  afterEach(() => rmSync(etc, { recursive: true, force: true }));

  it('picks the deb822 and one-line files that carry the suite, not those of other suites or disabled ones', async () => {
    make({
      'sources.list.d/debian.sources': 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n',
      'sources.list.d/security.list': 'deb [signed-by=/k.gpg] http://deb.debian.org/debian-security bookworm-security main\ndeb http://mirror/debian bookworm main\n',
      'sources.list.d/google.list': 'deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n',
      'sources.list.d/trixie.sources': 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\n',
      'sources.list.d/old.list.disabled': 'deb http://deb.debian.org/debian bookworm main\n',
    });
    expect(await hostSuiteSources('bookworm', etc)).toEqual([join(etc, 'sources.list.d', 'debian.sources'), join(etc, 'sources.list.d', 'security.list')]);
  });

  it('fails naming the suite and how to add it when no source carries it', async () => {
    make({ 'sources.list': 'deb http://deb.debian.org/debian trixie main\n' });
    const err = await hostSuiteSources('bookworm', etc).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect((err as InfraError).message).toContain("no 'bookworm' entry");
    expect((err as InfraError).fix).toContain('deb http://deb.debian.org/debian bookworm main');
  });
});
