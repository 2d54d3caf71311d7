/**
 * The publisher and Kafka's record batch limit, on the shared broker: events that together are
 * twice the limit go out in several batches and all arrive; an event too big is refused with a
 * message that says which event, how big and the limit; the limit is read from the topics.
 */
import { randomBytes } from 'node:crypto';

import kafkajs from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';

import { PanaceaError } from '../../../core/errors.js';
import { createKafka } from '../../../core/kafka.js';
import { createNaming } from '../../../core/naming.js';
import { ensureTopics } from '../../../infra/topics.js';
import { createAgentPublisher } from '../../../producers/sdk/index.js';
import type { AgentPublisher } from '../../../producers/sdk/types.js';
import { CONTRACT_LIMITS } from '../../../schemas/contract.js';
import { isolate } from '../harness.js';
import { eventIdsOnTopic, quietLogger } from './sdk-support.js';

const { ConfigResourceTypes } = kafkajs;

const publishers: AgentPublisher[] = [];
afterAll(async () => {
  await Promise.all(publishers.map((publisher) => publisher.close({ timeoutMs: 5_000 })));
});

/** Attributes of about `bytes` in all, random text so that gzip cannot shrink it away. */
function payloadAttributes(bytes: number): Record<string, string> {
  const attributes: Record<string, string> = {};
  const valueChars = CONTRACT_LIMITS.attributeValueChars - 100;
  for (let index = 0; index * valueChars < bytes; index += 1) {
    const chars = Math.min(valueChars, bytes - index * valueChars);
    attributes[`part${index}`] = randomBytes(chars).toString('base64').slice(0, chars);
  }
  return attributes;
}

describe('sdk record size', () => {
  it('delivers 20 events of 100 KB under a 1 MB broker limit in several batches, and refuses a 1.5 MB event', async () => {
    const isolation = isolate('sdk-size');
    const publisher = createAgentPublisher({
      brokers: isolation.kafkaBrokers,
      agent: { id: 'size-agent' },
      topicPrefix: isolation.topicPrefix,
      logger: quietLogger,
    });
    publishers.push(publisher);

    const ids = Array.from({ length: 20 }, (_, index) => `big-${index}`);
    const receipts = await Promise.all(
      ids.map((eventId) =>
        publisher.activity(
          { action: 'upload', status: 'succeeded', attributes: payloadAttributes(100_000) },
          { eventId },
        ),
      ),
    );
    const stats = publisher.stats();

    expect(receipts.map((receipt) => receipt.eventId)).toEqual(ids);
    // Kafka's default max.message.bytes, read from the topic at connect.
    expect(stats.maxBatchBytes).toBe(1_048_588);
    expect(stats.published).toBe(20);
    // 2 MB in all: one request would be refused by the broker; at least two went.
    expect(stats.batchesSent).toBeGreaterThanOrEqual(2);
    const stored = await eventIdsOnTopic(isolation, `${isolation.topicPrefix}agent.activity`, 20);
    expect(stored.sort()).toEqual([...ids].sort());

    // 1.5 MB within the contract's key and value counts: 64 values of 8 192 three-byte characters.
    const hugeAttributes = Object.fromEntries(
      Array.from({ length: 64 }, (_, index) => [
        `part${index}`,
        '€'.repeat(CONTRACT_LIMITS.attributeValueChars),
      ]),
    );
    const huge = await publisher
      .activity(
        { action: 'upload', status: 'succeeded', attributes: hugeAttributes },
        { eventId: 'huge-1' },
      )
      .catch((error: unknown) => error);
    expect(huge).toBeInstanceOf(PanaceaError);
    expect((huge as PanaceaError).code).toBe('CONTRACT_VIOLATION');
    // Which event, how big, the limit.
    expect((huge as PanaceaError).message).toMatch(
      /^the activity event huge-1 is not valid: .*the event is 1[5-9]\d{5} bytes as JSON, over the 262144-byte limit of one event/,
    );
    const wide = await publisher
      .activity(
        { action: 'upload', status: 'succeeded', attributes: payloadAttributes(300_000) },
        { eventId: 'wide-1' },
      )
      .catch((error: unknown) => error);
    expect((wide as PanaceaError).code).toBe('CONTRACT_VIOLATION');
    expect((wide as PanaceaError).message).toMatch(
      /the event is \d+ bytes as JSON, over the 262144-byte limit of one event/,
    );
    expect(publisher.stats().droppedByCode).toEqual({ CONTRACT_VIOLATION: 2 });
  });

  it('reads a lower max.message.bytes from the topics and refuses a record above it, naming event, size and limit', async () => {
    const isolation = isolate('sdk-limit');
    const naming = createNaming({ topicPrefix: isolation.topicPrefix, namespace: 'default' });
    const kafka = createKafka({ kafkaBrokers: isolation.kafkaBrokers.split(',') }, 'panacea-test');
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, naming);
      await admin.alterConfigs({
        validateOnly: false,
        resources: naming.rawTopics().map((name) => ({
          type: ConfigResourceTypes.TOPIC,
          name,
          configEntries: [{ name: 'max.message.bytes', value: '150000' }],
        })),
      });
    } finally {
      await admin.disconnect();
    }

    const publisher = createAgentPublisher({
      brokers: isolation.kafkaBrokers,
      agent: { id: 'limit-agent' },
      topicPrefix: isolation.topicPrefix,
      logger: quietLogger,
    });
    publishers.push(publisher);
    await publisher.heartbeat({ status: 'idle' });

    const refused = await publisher
      .activity(
        { action: 'upload', status: 'succeeded', attributes: payloadAttributes(200_000) },
        { eventId: 'over-limit-1' },
      )
      .catch((error: unknown) => error);

    expect(publisher.stats().maxBatchBytes).toBe(150_000);
    expect((refused as PanaceaError).code).toBe('RECORD_TOO_LARGE');
    expect((refused as PanaceaError).message).toMatch(
      /^activity event over-limit-1 is 2\d{5} bytes as a Kafka record batch, over the 150000-byte limit \(max\.message\.bytes of the topic/,
    );
    expect((refused as PanaceaError).context).toMatchObject({
      eventId: 'over-limit-1',
      kind: 'activity',
      maxBatchBytes: 150_000,
    });

    // Events that fit still go, in batches under the lower limit.
    const fitting = Array.from({ length: 10 }, (_, index) =>
      publisher.activity(
        { action: 'upload', status: 'succeeded', attributes: payloadAttributes(40_000) },
        { eventId: `fits-${index}` },
      ),
    );
    await Promise.all(fitting);
    expect(publisher.stats().batchesSent).toBeGreaterThanOrEqual(1 + 4);
  });
});
