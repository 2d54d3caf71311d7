/**
 * A destination's `timeout` bounds one attempt even when garbage collection runs while the
 * request waits: a receiver that accepts the connection and never answers is given up on after
 * `timeoutMs`, not after undici's own 300 s headers timeout.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { afterEach, describe, expect, it } from 'vitest';

import { attemptOnce } from '../../../../sinks/webhooks/delivery.js';
import type { Destination } from '../../../../sinks/webhooks/destinations-file.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

describe('attemptOnce', () => {
  it('gives up after the destination timeout although garbage is collected meanwhile', async () => {
    server = createServer(() => {
      // Accepts the request and never answers.
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const url = new URL(`http://127.0.0.1:${port}/hook`);
    const destination: Destination = {
      name: 'hangs',
      type: 'webhook',
      url,
      secret: undefined,
      timeoutMs: 300,
      retry: { initialDelayMs: 1000, maxDelayMs: 1000, maxAttempts: 1, maxTotalMs: 1000 },
      concurrency: 1,
      allowHosts: undefined,
      generatorUrl: undefined,
      firingTtlMs: 60_000,
    };
    const collector = setInterval(collectGarbage, 20);
    const startedMs = Date.now();
    try {
      const outcome = await Promise.race([
        attemptOnce(destination, { url, body: '{}' }, 'id-1', new AbortController().signal),
        new Promise((resolve) => setTimeout(() => resolve({ kind: 'still waiting' }), 3000)),
      ]);
      expect(outcome).toEqual({ kind: 'retriable', reason: 'no answer within 300 ms' });
      expect(Date.now() - startedMs).toBeLessThan(2000);
    } finally {
      clearInterval(collector);
    }
  });
});
