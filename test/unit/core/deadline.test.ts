import { describe, expect, it } from 'vitest';

import { withDeadline } from '../../../core/deadline.js';

/** Work that ends only when its signal aborts, with the signal's reason. */
const untilAborted = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) =>
    signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }),
  );

describe('withDeadline', () => {
  it('hands back the result of work done in time', async () => {
    const stop = new AbortController();
    await expect(
      withDeadline(
        stop.signal,
        1_000,
        async () => 42,
        () => new Error('late'),
      ),
    ).resolves.toBe(42);
  });

  it('aborts work that runs past the deadline and reports it through onTimeout', async () => {
    const stop = new AbortController();
    await expect(
      withDeadline(stop.signal, 30, untilAborted, (error) => new Error(`late: ${String(error)}`)),
    ).rejects.toThrow('late: Error: aborted');
  });

  it('passes a stop through as the work’s own error, not as a time-out', async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 10);
    await expect(
      withDeadline(stop.signal, 5_000, untilAborted, () => new Error('late')),
    ).rejects.toThrow('aborted');
  });
});
