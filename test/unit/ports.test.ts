import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/core/ports.js';

describe('freePort', () => {
  it('hands out distinct ports that can be bound on 127.0.0.1', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports.slice(0, 3)) {
      await new Promise<void>((resolve, reject) => {
        const srv = createServer().once('error', reject).listen(port, '127.0.0.1', () => srv.close(() => resolve()));
      });
    }
  });
});
