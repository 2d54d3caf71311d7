/**
 * What the SDK's integration tests share: a silent logger for the publishers under test, reading
 * a raw topic back as event ids (decoded with the pipeline's own codec and registry), and a
 * watch for unhandled rejections.
 */
import { pino } from 'pino';

import { openCodecFor, readTopic, type Isolation } from '../harness.js';

/** Publishers under test log only errors: their retries are expected here. */
export const quietLogger = pino({ level: process.env.SDK_TEST_LOG_LEVEL ?? 'error' });

/** The event ids of the first `count` records of a raw topic (or all there are after 60 s). */
export async function eventIdsOnTopic(
  isolation: Isolation,
  topic: string,
  count: number,
): Promise<string[]> {
  const records = await readTopic(isolation, topic, count, 60_000);
  const { codec, registry } = await openCodecFor(isolation);
  try {
    const ids: string[] = [];
    for (const record of records) {
      const decoded = await codec.decode(record.value);
      ids.push((decoded.event as { eventId: string }).eventId);
    }
    return ids;
  } finally {
    await registry.close();
  }
}

/** Collects unhandled rejections from now until `stop()`. */
export function watchUnhandledRejections(): { seen: unknown[]; stop: () => void } {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', listener);
  return { seen, stop: () => process.off('unhandledRejection', listener) };
}
