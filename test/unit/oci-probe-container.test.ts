import { describe, expect, it } from 'vitest';
import Dockerode from 'dockerode';
import { demuxBuffer } from '../../suites/containers/streams.js';
import { missingCapabilities } from '../../suites/probe-container.js';

const demuxDockerLogs = (logs: Buffer) => demuxBuffer(new Dockerode(), logs);

/** One frame of Docker's multiplexed log stream: [stream, 0, 0, 0, size BE32] + payload. */
const frame = (stream: 1 | 2, text: string) => {
  const payload = Buffer.from(text);
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
};

describe('demuxing a probe container\'s logs (docker-modem)', () => {
  it('splits stdout from stderr, keeping each stream in order', async () => {
    const logs = Buffer.concat([frame(1, 'KTAP version 1\n'), frame(2, 'warn\n'), frame(1, '1..1\n'), frame(2, 'more\n')]);
    const { stdout, stderr } = await demuxDockerLogs(logs);
    expect(stdout.toString()).toBe('KTAP version 1\n1..1\n');
    expect(stderr.toString()).toBe('warn\nmore\n');
  });

  it('ignores a frame cut short at the end rather than reading past it', async () => {
    const logs = Buffer.concat([frame(1, 'whole\n'), frame(1, 'cut').subarray(0, 6)]);
    expect((await demuxDockerLogs(logs)).stdout.toString()).toBe('whole\n');
  });
});

describe('missingCapabilities', () => {
  it("names the capabilities a host's bounding set lacks, in Docker's spelling", () => {
    // This host's CapBnd: every capability of Linux 6.x but CAP_SYS_RESOURCE (bit 24).
    expect(missingCapabilities('000001fffeffffff')).toEqual(['SYS_RESOURCE']);
    expect(missingCapabilities('000001ffffffffff')).toEqual([]);
    // An older kernel with no PERFMON, BPF, CHECKPOINT_RESTORE (bits 38-40).
    expect(missingCapabilities('0000003fffffffff')).toEqual(['PERFMON', 'BPF', 'CHECKPOINT_RESTORE']);
  });
});
