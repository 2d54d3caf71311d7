/**
 * The publisher when its broker goes away: the agent keeps running, the publisher buffers what it
 * can within its bound and refuses the rest with a typed error, and once the broker is back on the
 * same port and data directory, every event it accepted is on the topic. This test starts a Kafka
 * of its own (the shared one must stay up for the other tests) and stops it mid-test.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, describe, expect, it } from 'vitest';

import { PanaceaError } from '../../../core/errors.js';
import { componentLogger } from '../../../core/logger.js';
import { freePort } from '../../../infra/stack/jvm-servers.js';
import {
  defaultCacheDir,
  stackDown,
  stackUp,
  type StackOptions,
} from '../../../infra/stack/stack.js';
import { createAgentPublisher, type DroppedEvent } from '../../../producers/sdk/index.js';
import type { AgentPublisher, PublishReceipt } from '../../../producers/sdk/types.js';
import { isolate } from '../harness.js';
import { eventIdsOnTopic, quietLogger, watchUnhandledRejections } from './sdk-support.js';

const MAX_BUFFER_BYTES = 64 * 1024;
const EVENTS_WHILE_DOWN = 1_000;
const EVENTS_OF_LATE_STARTER = 20;

const stackDir = mkdtempSync(path.join(os.tmpdir(), 'panacea-test-sdk-kafka-'));
chmodSync(stackDir, 0o755);
const publishers: AgentPublisher[] = [];
afterAll(async () => {
  await Promise.all(publishers.map((publisher) => publisher.close({ timeoutMs: 1_000 })));
  await stackDown(stackDir);
  rmSync(stackDir, { recursive: true, force: true });
});

interface Outcome {
  eventId: string;
  receipt?: PublishReceipt;
  error?: unknown;
}

/** Publishes without awaiting, as an agent does, and records how each call ended. */
function track(eventId: string, call: Promise<PublishReceipt>, outcomes: Outcome[]): Promise<void> {
  const outcome: Outcome = { eventId };
  outcomes.push(outcome);
  return call.then(
    (receipt) => {
      outcome.receipt = receipt;
    },
    (error: unknown) => {
      outcome.error = error;
    },
  );
}

describe('sdk with its broker down', () => {
  it('stays within its buffer, refuses past it with typed errors, and delivers everything it accepted after the broker restarts', async () => {
    const rejections = watchUnhandledRejections();
    const isolation = isolate('sdk-outage');
    const options: StackOptions = {
      dataDir: stackDir,
      cacheDir: defaultCacheDir(),
      kafkaPort: await freePort(),
      elasticsearchPort: await freePort(),
      // Only Kafka is started; the shared Elasticsearch is named so none is.
      externalElasticsearchUrl: isolation.elasticsearchUrl,
      source: 'maven',
      kafkaHeapMb: 384,
      elasticsearchHeapMb: 512,
      startTimeoutMs: 240_000,
    };
    const logger = componentLogger('test-sdk-outage');
    const brokers = (await stackUp(options, logger)).kafkaBrokers;
    const ownKafka = {
      ...isolation,
      kafkaBrokers: brokers.join(','),
      env: { ...isolation.env, KAFKA_BROKERS: brokers.join(',') },
    };
    const publisherOptions = {
      brokers,
      topicPrefix: isolation.topicPrefix,
      maxBufferBytes: MAX_BUFFER_BYTES,
      retryBackoffMs: 200,
      maxRetryBackoffMs: 2_000,
      logger: quietLogger,
    };

    // 1. Connected while the broker is up, then the broker goes away.
    const drops: DroppedEvent[] = [];
    const early = createAgentPublisher({
      ...publisherOptions,
      agent: { id: 'outage-early' },
      onDrop: (drop) => drops.push(drop),
    });
    publishers.push(early);
    await early.heartbeat({ status: 'active' }, { eventId: 'before-outage' });
    await stackDown(stackDir);

    // 2. Publishing with the broker down: bounded, then refused; nothing thrown.
    const outcomes: Outcome[] = [];
    const settled: Array<Promise<void>> = [];
    let peakBufferedBytes = 0;
    for (let index = 0; index < EVENTS_WHILE_DOWN; index += 1) {
      const eventId = `down-${index}`;
      const call = early.activity(
        { action: 'tool.call', status: 'succeeded', attributes: { note: 'n'.repeat(200), index } },
        { eventId },
      );
      settled.push(track(eventId, call, outcomes));
      peakBufferedBytes = Math.max(peakBufferedBytes, early.stats().bufferedBytes);
      if (index % 100 === 0) await sleep(50);
    }
    // 3. An agent that starts while the broker is down.
    const late = createAgentPublisher({ ...publisherOptions, agent: { id: 'outage-late' } });
    publishers.push(late);
    const lateOutcomes: Outcome[] = [];
    for (let index = 0; index < EVENTS_OF_LATE_STARTER; index += 1) {
      settled.push(
        track(
          `late-${index}`,
          late.heartbeat({ status: 'busy' }, { eventId: `late-${index}` }),
          lateOutcomes,
        ),
      );
    }
    // Long enough for the sends to fail and be retried several times.
    await sleep(8_000);

    const refused = outcomes.filter((outcome) => outcome.error !== undefined);
    const stillBuffered = outcomes.filter((outcome) => outcome.error === undefined);
    const statsWhileDown = early.stats();
    expect(peakBufferedBytes).toBeLessThanOrEqual(MAX_BUFFER_BYTES);
    expect(statsWhileDown.bufferedBytes).toBeLessThanOrEqual(MAX_BUFFER_BYTES);
    expect(statsWhileDown.bufferedEvents).toBe(stillBuffered.length);
    expect(stillBuffered.length).toBeGreaterThan(50);
    expect(refused.length).toBeGreaterThan(EVENTS_WHILE_DOWN / 2);
    for (const outcome of refused) {
      expect(outcome.error).toBeInstanceOf(PanaceaError);
      expect((outcome.error as PanaceaError).code).toBe('PUBLISHER_BUFFER_FULL');
    }
    expect(statsWhileDown.dropped).toBe(refused.length);
    expect(drops.map((drop) => drop.eventId).sort()).toEqual(
      refused.map((outcome) => outcome.eventId).sort(),
    );
    expect(stillBuffered.every((outcome) => outcome.receipt === undefined)).toBe(true);
    expect(late.stats()).toMatchObject({
      connected: false,
      bufferedEvents: EVENTS_OF_LATE_STARTER,
    });

    // 4. The broker comes back on the same port and data directory.
    await stackUp(options, logger);
    const [earlyReport, lateReport] = await Promise.all([
      early.flush({ timeoutMs: 120_000 }),
      late.flush({ timeoutMs: 120_000 }),
    ]);
    await Promise.all(settled);

    expect(earlyReport).toMatchObject({ complete: true, undeliveredEvents: 0 });
    expect(lateReport).toMatchObject({ complete: true, undeliveredEvents: 0 });
    expect(stillBuffered.every((outcome) => outcome.receipt !== undefined)).toBe(true);
    expect(lateOutcomes.every((outcome) => outcome.receipt !== undefined)).toBe(true);

    const acceptedIds = stillBuffered.map((outcome) => outcome.eventId);
    const activityIds = await eventIdsOnTopic(
      ownKafka,
      `${isolation.topicPrefix}agent.activity`,
      acceptedIds.length,
    );
    expect(new Set(activityIds)).toEqual(new Set(acceptedIds));
    expect(activityIds).toHaveLength(acceptedIds.length);
    const heartbeatIds = await eventIdsOnTopic(
      ownKafka,
      `${isolation.topicPrefix}agent.heartbeat`,
      1 + EVENTS_OF_LATE_STARTER,
    );
    expect(heartbeatIds.sort()).toEqual(
      ['before-outage', ...lateOutcomes.map((outcome) => outcome.eventId)].sort(),
    );

    await Promise.all([early.close(), late.close()]);
    rejections.stop();
    expect(rejections.seen).toEqual([]);
  }, 420_000);
});
