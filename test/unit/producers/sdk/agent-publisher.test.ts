/**
 * The publisher's accounting, refusals and batching, over links that stand in for the network
 * (one that can never connect, one that records what it is given): no server is involved. The
 * same paths against a real broker are in test/integration/producers/sdk-publisher.test.ts.
 */
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { PanaceaError } from '../../../../core/errors.js';
import { createAgentPublisherWithLink } from '../../../../producers/sdk/agent-publisher.js';
import type { EventEncoder, WriterIds } from '../../../../producers/sdk/encoding.js';
import type { KafkaLink } from '../../../../producers/sdk/kafka-link.js';
import type { DroppedEvent } from '../../../../producers/sdk/options.js';
import { batchBytes } from '../../../../producers/sdk/outbox.js';
import type { AgentPublisher } from '../../../../producers/sdk/types.js';
import { openSchemaCodec } from '../../../../schemas/codec.js';
import { createMemoryRegistry } from '../../../../schemas/registry/memory-registry.js';

let encoder: EventEncoder;
let writerIds: WriterIds;
beforeAll(async () => {
  const codec = await openSchemaCodec(createMemoryRegistry());
  encoder = codec;
  writerIds = codec.writerIds;
});

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
process.on('unhandledRejection', onUnhandled);
afterEach(() => {
  expect(unhandled).toEqual([]);
});

const OPTIONS = {
  brokers: '127.0.0.1:1',
  agent: { id: 'agent-unit' },
  retryBackoffMs: 5,
  maxRetryBackoffMs: 20,
  logger: pino({ level: 'silent' }),
};

/** A Kafka that is never there: every connect fails at once. */
function unreachableLink(): KafkaLink & { attempts: number } {
  const link = {
    attempts: 0,
    async connect(): Promise<never> {
      link.attempts += 1;
      throw new Error('connect ECONNREFUSED 127.0.0.1:1');
    },
    async send(): Promise<void> {
      throw new Error('never connected');
    },
    async disconnect(): Promise<void> {},
  };
  return link;
}

interface SentRecord {
  topic: string;
  bytes: number;
  eventId: string;
}

/** A Kafka that takes every batch and keeps a list of what it got. */
function recordingLink(maxBatchBytes: number): KafkaLink & { batches: SentRecord[][] } {
  const link = {
    batches: [] as SentRecord[][],
    async connect() {
      return { limit: { maxBatchBytes, source: 'topic config' as const }, writerIds };
    },
    async send(records: ReadonlyArray<{ topic: string; message: unknown; bytes?: number }>) {
      link.batches.push(
        records.map((record) => {
          const entry = record as unknown as {
            topic: string;
            bytes: number;
            event: { eventId: string };
          };
          return { topic: entry.topic, bytes: entry.bytes, eventId: entry.event.eventId };
        }),
      );
    },
    async disconnect(): Promise<void> {},
  };
  return link;
}

function heartbeats(publisher: AgentPublisher, count: number) {
  return Array.from({ length: count }, (_, index) =>
    publisher.heartbeat({ status: 'busy', queueDepth: index }, { eventId: `hb-${index}` }),
  );
}

async function settleAll<T>(promises: Array<Promise<T>>) {
  return Promise.allSettled(promises);
}

describe('agent publisher while Kafka is unreachable', () => {
  it('buffers up to the bound, then refuses with PUBLISHER_BUFFER_FULL, counts and reports each refusal', async () => {
    const drops: DroppedEvent[] = [];
    const link = unreachableLink();
    const publisher = createAgentPublisherWithLink(
      { ...OPTIONS, maxBufferBytes: 4_096, onDrop: (drop) => drops.push(drop) },
      link,
    );

    // Not awaited, as an agent that fires and forgets would publish.
    const calls = heartbeats(publisher, 200);
    const stats = publisher.stats();
    const outcomes = await settleAll(calls.slice(stats.bufferedEvents));

    expect(stats.bufferedBytes).toBeLessThanOrEqual(4_096);
    expect(stats.bufferedBytes).toBeGreaterThan(4_096 - 200);
    expect(stats.bufferedEvents).toBeGreaterThan(10);
    expect(stats.dropped).toBe(200 - stats.bufferedEvents);
    expect(stats.droppedByCode).toEqual({ PUBLISHER_BUFFER_FULL: 200 - stats.bufferedEvents });
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const error = (outcome as PromiseRejectedResult).reason as PanaceaError;
      expect(error).toBeInstanceOf(PanaceaError);
      expect(error.code).toBe('PUBLISHER_BUFFER_FULL');
      expect(error.message).toMatch(/heartbeat event hb-\d+ \(\d+ bytes\) refused: \d+ of 4096/);
    }
    expect(drops).toHaveLength(stats.dropped);
    expect(drops[0]?.error.code).toBe('PUBLISHER_BUFFER_FULL');
    expect(drops[0]?.event?.kind).toBe('heartbeat');

    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(link.attempts).toBeGreaterThan(1);
    const report = await publisher.close({ timeoutMs: 20 });

    expect(report.complete).toBe(false);
    expect(report.undeliveredEvents).toBe(stats.bufferedEvents);
    expect(report.undeliveredBytes).toBe(stats.bufferedBytes);
    expect(report.undeliveredEventIds[0]).toBe('hb-0');
    expect(report.reason).toContain('ECONNREFUSED');
    const accepted = await settleAll(calls.slice(0, stats.bufferedEvents));
    const reasons = accepted.map((outcome) => (outcome as PromiseRejectedResult).reason);
    expect(reasons.every((reason) => (reason as PanaceaError).code === 'KAFKA_UNAVAILABLE')).toBe(
      true,
    );
    expect(publisher.stats()).toMatchObject({ bufferedEvents: 0, bufferedBytes: 0, dropped: 200 });
  });

  it('keeps an unawaited call that is refused from becoming an unhandled rejection', async () => {
    const publisher = createAgentPublisherWithLink(
      { ...OPTIONS, maxBufferBytes: 1_024 },
      unreachableLink(),
    );

    for (let index = 0; index < 50; index += 1) {
      void publisher.activity({ action: 'step', status: 'started' });
    }
    void publisher.activity({ action: '', status: 'started' });
    await publisher.close({ timeoutMs: 10 });
    void publisher.activity({ action: 'late', status: 'started' });
    await new Promise((resolve) => setTimeout(resolve, 20));

    // afterEach checks that no unhandled rejection was seen.
    expect(publisher.stats().dropped).toBe(52);
  });

  it('accepts events while it has never connected, and flush reports them after its timeout', async () => {
    const publisher = createAgentPublisherWithLink({ ...OPTIONS }, unreachableLink());
    const calls = heartbeats(publisher, 3);

    const report = await publisher.flush({ timeoutMs: 30 });

    expect(report).toMatchObject({
      complete: false,
      published: 0,
      undeliveredEvents: 3,
      undeliveredEventIds: ['hb-0', 'hb-1', 'hb-2'],
    });
    expect(report.reason).toContain('ECONNREFUSED');
    expect(publisher.stats().bufferedEvents).toBe(3);
    await publisher.close({ timeoutMs: 0 });
    await settleAll(calls);
  });
});

describe('agent publisher calls', () => {
  it('rejects an invalid event with CONTRACT_VIOLATION naming the field, without throwing', async () => {
    const drops: DroppedEvent[] = [];
    const publisher = createAgentPublisherWithLink(
      { ...OPTIONS, onDrop: (drop) => drops.push(drop) },
      recordingLink(1_000_000),
    );

    const call = () =>
      publisher.activity({ action: 'tool.call', status: 'done' as never, durationMs: -1 });

    expect(call).not.toThrow();
    const error = (await call().catch((thrown: unknown) => thrown)) as PanaceaError;
    expect(error.code).toBe('CONTRACT_VIOLATION');
    expect(error.context.field).toBe('activity.status');
    expect(error.message).toContain('activity.status expected one of');
    expect(error.message).toContain('activity.durationMs must be 0 or more');
    const garbage = (await publisher
      .heartbeat(null as never, { eventId: 'x', unknown: 1 } as never)
      .catch((thrown: unknown) => thrown)) as PanaceaError;
    expect(garbage.code).toBe('CONTRACT_VIOLATION');
    expect(garbage.message).toContain('unknown is not a known field');
    expect(drops.map((drop) => drop.error.code)).toEqual([
      'CONTRACT_VIOLATION',
      'CONTRACT_VIOLATION',
      'CONTRACT_VIOLATION',
    ]);
    // Each refused event is named: the generated id, or the caller's.
    expect(drops[0]?.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(drops[1]?.eventId).toBe(error.context.eventId);
    expect(drops[2]?.eventId).toBe('x');
    expect(drops.every((drop) => drop.event === undefined)).toBe(true);
    await publisher.close();
  });

  it('fills in the agent and takes a Date as timestamp', async () => {
    const drops: DroppedEvent[] = [];
    const publisher = createAgentPublisherWithLink(
      { ...OPTIONS, onDrop: (drop) => drops.push(drop) },
      recordingLink(1_000_000),
    );

    const receipt = await publisher.audit(
      {
        actor: { type: 'agent', id: 'agent-unit' },
        action: 'secret.read',
        resource: { type: 'secret', id: 's-1' },
        outcome: 'success',
      },
      { timestamp: new Date('2026-12-04T12:00:00Z'), workflowId: 'wf-1' },
    );

    expect(receipt).toMatchObject({ kind: 'audit', topic: 'agent.audit' });
    expect(receipt.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(drops).toEqual([]);
    await publisher.close();
  });

  it('refuses an event whose record exceeds the batch limit, saying which, how big and the limit', async () => {
    const publisher = createAgentPublisherWithLink(
      { ...OPTIONS, maxBatchBytes: 2_000, encoder },
      recordingLink(2_000),
    );

    const error = (await publisher
      .activity(
        { action: 'upload', status: 'succeeded', attributes: { blob: 'x'.repeat(3_000) } },
        { eventId: 'big-1' },
      )
      .catch((thrown: unknown) => thrown)) as PanaceaError;

    expect(error.code).toBe('RECORD_TOO_LARGE');
    expect(error.message).toMatch(
      /^activity event big-1 is \d{4} bytes as a Kafka record batch, over the 2000-byte limit/,
    );
    expect(error.context).toMatchObject({
      eventId: 'big-1',
      kind: 'activity',
      maxBatchBytes: 2_000,
    });
    await publisher.close();
  });
});

describe('agent publisher batching', () => {
  it('sends every event once, in order, in batches under the limit read at connect', async () => {
    const link = recordingLink(8_000);
    const publisher = createAgentPublisherWithLink({ ...OPTIONS, lingerMs: 5 }, link);

    const receipts = await Promise.all(
      Array.from({ length: 300 }, (_, index) =>
        publisher.activity(
          { action: 'step', status: 'succeeded', attributes: { note: 'n'.repeat(100) } },
          { eventId: `e-${index}` },
        ),
      ),
    );

    expect(receipts.map((receipt) => receipt.eventId)).toEqual(
      Array.from({ length: 300 }, (_, index) => `e-${index}`),
    );
    expect(link.batches.length).toBeGreaterThan(3);
    for (const batch of link.batches) expect(batchBytes(batch)).toBeLessThanOrEqual(8_000);
    expect(link.batches.flat().map((record) => record.eventId)).toEqual(
      receipts.map((receipt) => receipt.eventId),
    );
    expect(publisher.stats()).toMatchObject({
      published: 300,
      bufferedEvents: 0,
      bufferedBytes: 0,
      maxBatchBytes: 8_000,
      connected: true,
    });
    expect(await publisher.close()).toMatchObject({ complete: true, published: 300 });
  });

  it('keeps the order when a send fails while the next batch is already handed over', async () => {
    // As the worker link does: sends answer in call order, and one made before the failure of an
    // earlier one was reported is refused unsent.
    const delivered: string[] = [];
    let calls = 0;
    let failedGeneration = false;
    const link: KafkaLink = {
      async connect() {
        return { limit: { maxBatchBytes: 4_000, source: 'topic config' as const }, writerIds };
      },
      async send(records) {
        calls += 1;
        const ids = records.map(
          (record) => (record as unknown as { event: { eventId: string } }).event.eventId,
        );
        await new Promise((resolve) => setTimeout(resolve, 2));
        if (calls === 1) {
          failedGeneration = true;
          throw new Error('connection reset');
        }
        if (failedGeneration) {
          failedGeneration = false;
          throw new Error('not sent: a batch ahead of it failed');
        }
        delivered.push(...ids);
      },
      async disconnect() {},
    };
    const publisher = createAgentPublisherWithLink({ ...OPTIONS, lingerMs: 0 }, link);

    const receipts = await Promise.all(heartbeats(publisher, 120));

    expect(calls).toBeGreaterThan(3);
    expect(delivered).toEqual(receipts.map((receipt) => receipt.eventId));
    expect(delivered).toEqual(Array.from({ length: 120 }, (_, index) => `hb-${index}`));
    expect(publisher.stats()).toMatchObject({ published: 120, bufferedBytes: 0, dropped: 0 });
    await publisher.close();
  });

  it('waits the linger for company, and flush sends at once', async () => {
    const link = recordingLink(1_000_000);
    const publisher = createAgentPublisherWithLink({ ...OPTIONS, lingerMs: 60_000 }, link);
    await publisher.flush();

    const calls = heartbeats(publisher, 5);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(link.batches).toHaveLength(0);

    const report = await publisher.flush({ timeoutMs: 5_000 });
    expect(report).toMatchObject({ complete: true, published: 5, undeliveredEvents: 0 });
    expect(link.batches).toHaveLength(1);
    expect((await Promise.all(calls)).map((receipt) => receipt.eventId)).toEqual([
      'hb-0',
      'hb-1',
      'hb-2',
      'hb-3',
      'hb-4',
    ]);
    await publisher.close();
  });

  it('refuses events after close with PUBLISHER_CLOSED, and close answers the same report twice', async () => {
    const publisher = createAgentPublisherWithLink({ ...OPTIONS }, recordingLink(1_000_000));
    await publisher.heartbeat({ status: 'idle' });

    const first = await publisher.close();
    const second = await publisher.close();
    const late = (await publisher
      .heartbeat({ status: 'idle' })
      .catch((thrown: unknown) => thrown)) as PanaceaError;

    expect(second).toBe(first);
    expect(first).toMatchObject({ complete: true, published: 1 });
    expect(late.code).toBe('PUBLISHER_CLOSED');
  });
});
