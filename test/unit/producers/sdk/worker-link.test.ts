/**
 * The publisher's worker thread: its life cycle (started at the first connect, ended by close), a
 * crash surfacing as PUBLISHER_WORKER_FAILED (counted, logged, batches sent again on a new
 * worker), a worker that cannot start, and the packing of a batch into one transferred buffer.
 * The workers here are stand-ins that speak the protocol without Kafka (fixtures/); the real one
 * against a broker is in test/integration/producers/sdk-worker.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';

import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import type { PanaceaError } from '../../../../core/errors.js';
import { createAgentPublisherWithLink } from '../../../../producers/sdk/agent-publisher.js';
import type { LinkSettings } from '../../../../producers/sdk/kafka-link.js';
import { createWorkerLink } from '../../../../producers/sdk/worker-link.js';
import { packRecords, unpackRecords } from '../../../../producers/sdk/worker-protocol.js';

const FAKE_WORKER = new URL('./fixtures/fake-kafka-worker.mjs', import.meta.url);
const MISSING_WORKER = new URL('./fixtures/no-such-worker.mjs', import.meta.url);

const SETTINGS: LinkSettings = {
  brokers: ['127.0.0.1:1'],
  clientId: 'worker-link-test',
  topicPrefix: '',
  schemaRegistryUrl: undefined,
  needsWriterIds: true,
  compression: 'gzip',
  createTopics: false,
  fallbackMaxBatchBytes: 1_000_000,
};

const OPTIONS = {
  brokers: '127.0.0.1:1',
  agent: { id: 'agent-worker' },
  retryBackoffMs: 5,
  maxRetryBackoffMs: 20,
  lingerMs: 1,
};

const scratch = mkdtempSync(path.join(os.tmpdir(), 'panacea-worker-link-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason: unknown) => unhandled.push(reason));
afterEach(() => {
  delete process.env.CRASH_MARKER_FILE;
  expect(unhandled).toEqual([]);
});

/** A logger whose lines the test can read. */
function capturingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

function heartbeats(publisher: ReturnType<typeof createAgentPublisherWithLink>, count: number) {
  return Array.from({ length: count }, (_, index) =>
    publisher.heartbeat({ status: 'busy', queueDepth: index }, { eventId: `hb-${index}` }),
  );
}

describe('agent publisher worker thread', () => {
  it('starts at the first event, delivers through it, and ends with close', async () => {
    const { logger } = capturingLogger();
    const link = createWorkerLink(SETTINGS, { logger, workerUrl: FAKE_WORKER });
    const publisher = createAgentPublisherWithLink({ ...OPTIONS, logger }, link);
    expect(link.workerRunning).toBe(false);

    const receipts = await Promise.all(heartbeats(publisher, 50));
    expect(receipts.map((receipt) => receipt.eventId)).toEqual(
      Array.from({ length: 50 }, (_, index) => `hb-${index}`),
    );
    expect(link.workerRunning).toBe(true);

    const report = await publisher.close();
    expect(report.complete).toBe(true);
    expect(link.workerRunning).toBe(false);
    expect(publisher.stats().workerFailures).toBe(0);
  });

  it('reports a crash of its worker as PUBLISHER_WORKER_FAILED and delivers on a new worker', async () => {
    process.env.CRASH_MARKER_FILE = path.join(scratch, 'crashed-once');
    const { logger, lines } = capturingLogger();
    const link = createWorkerLink(SETTINGS, { logger, workerUrl: FAKE_WORKER });
    const publisher = createAgentPublisherWithLink({ ...OPTIONS, logger }, link);

    const outcomes = await Promise.allSettled(heartbeats(publisher, 30));

    expect(outcomes.every((outcome) => outcome.status === 'fulfilled')).toBe(true);
    expect(publisher.stats().workerFailures).toBe(1);
    expect(publisher.stats().published).toBe(30);
    const crashLine = lines.find((line) => line.level === 50);
    expect(crashLine?.msg).toBe(
      'the Kafka worker thread stopped; a new one starts at the next connect',
    );
    expect(crashLine?.err).toMatchObject({
      code: 'PUBLISHER_WORKER_FAILED',
      message: expect.stringContaining('the fake worker crashed on purpose'),
    });
    expect((await publisher.close()).complete).toBe(true);
    expect(link.workerRunning).toBe(false);
  });

  it('keeps buffering when its worker cannot start, and close gives up naming the reason', async () => {
    const link = createWorkerLink(SETTINGS, {
      logger: pino({ level: 'silent' }),
      workerUrl: MISSING_WORKER,
    });
    const publisher = createAgentPublisherWithLink(
      { ...OPTIONS, logger: pino({ level: 'silent' }) },
      link,
    );

    const calls = heartbeats(publisher, 5);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(publisher.stats().bufferedEvents).toBe(5);
    expect(publisher.stats().workerFailures).toBeGreaterThan(0);
    const report = await publisher.close({ timeoutMs: 50 });

    expect(report.complete).toBe(false);
    expect(report.reason).toContain('PUBLISHER_WORKER_FAILED');
    const outcomes = await Promise.allSettled(calls);
    for (const outcome of outcomes) {
      const error = (outcome as PromiseRejectedResult).reason as PanaceaError;
      expect(error.code).toBe('KAFKA_UNAVAILABLE');
    }
    expect(link.workerRunning).toBe(false);
  });
});

describe('worker batch packing', () => {
  it('moves records across as one buffer and gives back the same keys, values and topic runs', () => {
    const shared = Buffer.from('agent-1');
    const records = [
      { topic: 'a', message: { key: shared, value: Buffer.from('one') } },
      { topic: 'a', message: { key: shared, value: Buffer.from('two') } },
      { topic: 'b', message: { key: shared, value: Buffer.from('three') } },
      { topic: 'a', message: { key: shared, value: null } },
    ];

    const { batch, transfer } = packRecords(records);
    expect(batch.keyShared).toBe(true);
    expect(transfer).toContain(batch.bytes);
    const unpacked = unpackRecords(batch);

    expect(unpacked.map((run) => [run.topic, run.messages.length])).toEqual([
      ['a', 2],
      ['b', 1],
      ['a', 1],
    ]);
    const messages = unpacked.flatMap((run) => run.messages);
    expect(messages.map((message) => message.value?.toString() ?? null)).toEqual([
      'one',
      'two',
      'three',
      null,
    ]);
    expect(messages.every((message) => message.key?.toString() === 'agent-1')).toBe(true);
  });

  it('keeps each key when records do not share one', () => {
    const records = [
      { topic: 'a', message: { key: Buffer.from('k1'), value: Buffer.from('v1') } },
      { topic: 'a', message: { key: null, value: Buffer.from('v2') } },
      { topic: 'a', message: { key: 'k3', value: 'v3' } },
    ];

    const { batch } = packRecords(records);
    const messages = unpackRecords(batch).flatMap((run) => run.messages);

    expect(batch.keyShared).toBe(false);
    expect(
      messages.map((message) => [message.key?.toString() ?? null, message.value?.toString()]),
    ).toEqual([
      ['k1', 'v1'],
      [null, 'v2'],
      ['k3', 'v3'],
    ]);
  });

  it('refuses a record that was never encoded', () => {
    expect(() => packRecords([{ topic: 'a', message: undefined }])).toThrow(
      'before it was encoded',
    );
  });
});
