/**
 * What the metrics stage relies on from kafkajs 2.2.4 transactions on this Kafka (4.1.1 here):
 * `sendOffsets` commits a consumer group's offset with the transaction and not without it, a
 * read_committed consumer never sees an aborted record, and a second producer with the same
 * transactional id fences the first, but only once it has begun a transaction of its own.
 */
import { describe, expect, it } from 'vitest';

import { isolate, kafkaFor } from './harness.js';

describe('kafka transactions', () => {
  it('commits offsets with sendOffsets atomically and fences a zombie after the new transaction', async () => {
    const isolation = isolate('txnoffsets');
    const kafka = kafkaFor(isolation);
    const input = `${isolation.topicPrefix}input`;
    const output = `${isolation.topicPrefix}output`;
    const groupId = `${isolation.topicPrefix}group`;
    const transactionalId = `${isolation.topicPrefix}producer`;
    const admin = kafka.admin();
    await admin.connect();
    const producers = [1, 2].map(() =>
      kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 }),
    );
    const [zombie, successor] = producers as [(typeof producers)[0], (typeof producers)[0]];
    const offsetsAt = (offset: string) => ({
      consumerGroupId: groupId,
      topics: [{ topic: input, partitions: [{ partition: 0, offset }] }],
    });
    const committedOffset = async (): Promise<string | undefined> => {
      const [topic] = await admin.fetchOffsets({ groupId, topics: [input] });
      return topic?.partitions[0]?.offset;
    };

    try {
      await admin.createTopics({
        topics: [{ topic: input }, { topic: output }],
        waitForLeaders: true,
      });
      await zombie.connect();
      await successor.connect();

      const committed = await zombie.transaction();
      await committed.send({ topic: output, messages: [{ value: 'committed' }] });
      await committed.sendOffsets(offsetsAt('5'));
      await committed.commit();
      const aborted = await zombie.transaction();
      await aborted.send({ topic: output, messages: [{ value: 'aborted' }] });
      await aborted.sendOffsets(offsetsAt('8'));
      await aborted.abort();
      // The offset commit lands just after the transaction's end: give it a moment.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await committedOffset()).toBe('5');

      const open = await zombie.transaction();
      await open.send({ topic: output, messages: [{ value: 'zombie' }] });
      await open.sendOffsets(offsetsAt('9'));
      // kafkajs takes the producer id at the first transaction, not at connect: this fences.
      await (await successor.transaction()).abort();
      await expect(open.commit()).rejects.toMatchObject({ type: 'INVALID_PRODUCER_EPOCH' });
      expect(await committedOffset()).toBe('5');

      const values = await readCommitted(kafka, output, `${groupId}.reader`);
      expect(values).toEqual(['committed']);
    } finally {
      await Promise.allSettled(producers.map((producer) => producer.disconnect()));
      await admin.deleteTopics({ topics: [input, output] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});

/** Every value a read_committed consumer sees on the topic within 5 s. */
async function readCommitted(
  kafka: ReturnType<typeof kafkaFor>,
  topic: string,
  groupId: string,
): Promise<string[]> {
  const consumer = kafka.consumer({ groupId });
  const values: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        values.push(message.value?.toString() ?? '');
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  } finally {
    await consumer.disconnect();
  }
  return values;
}
