/**
 * The Elasticsearch sink stage on real servers, fed enriched records directly: a document
 * Elasticsearch refuses goes to the dead-letter topic with Elasticsearch's reason and its source
 * offset while the rest of its batch is stored, and reading the same input again stores nothing
 * new. The writer's own figures follow both runs.
 */
import { Client } from '@elastic/elasticsearch';
import { describe, expect, it } from 'vitest';

import { prepareElasticsearch } from '../../../cli/pipeline.js';
import { DEAD_LETTER_HEADERS } from '../../../core/dead-letter.js';
import { createDurableProducer, createKafka } from '../../../core/kafka.js';
import { loadConfig } from '../../../core/config.js';
import { createNaming } from '../../../core/naming.js';
import { startStage, type RunningStage } from '../../../core/stage-runner.js';
import { ensureTopics } from '../../../infra/topics.js';
import { createElasticsearchStage } from '../../../sinks/elasticsearch/elasticsearch-stage.js';
import { isolate, readTopic, searchAll } from '../harness.js';

const DOCUMENT_COUNT = 60;
const WRONG_TYPED_ID = 'hb-17';

function enrichedDocument(index: number): object {
  const id = `hb-${index}`;
  return {
    '@timestamp': new Date(Date.UTC(2026, 11, 4, 12) + index).toISOString(),
    // `event.duration` is a long in the template: a string there cannot be parsed.
    event: { id, kind: 'event', duration: id === WRONG_TYPED_ID ? 'a while' : index },
    gen_ai: { agent: { id: `agent-${index % 3}` } },
    panacea: { kind: 'heartbeat' },
  };
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the stage');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('elasticsearch sink', () => {
  it('dead-letters only the wrong-typed document with its reason and offset, and a replay adds nothing', async () => {
    const isolation = isolate('sink');
    const config = loadConfig(isolation.env);
    const naming = createNaming(config);
    const kafka = createKafka(config, 'panacea-test-sink');
    const admin = kafka.admin();
    const producer = createDurableProducer(kafka);
    const client = new Client({ node: isolation.elasticsearchUrl });
    await admin.connect();
    await producer.connect();
    await ensureTopics(admin, naming);
    await (await prepareElasticsearch(client, config)).stop();
    // One partition, so the whole input is consumed as few batches with known offsets.
    const [sent] = await producer.send({
      topic: naming.enrichedTopic(),
      acks: -1,
      messages: Array.from({ length: DOCUMENT_COUNT }, (_, index) => ({
        key: 'one-partition',
        value: JSON.stringify(enrichedDocument(index)),
      })),
    });
    const wrongTypedOffset = (BigInt(sent?.baseOffset ?? '0') + 17n).toString();
    const run = async (): Promise<RunningStage> => {
      const stage = await startStage(
        createElasticsearchStage({ naming, namespace: config.namespace, client }),
        { kafka, naming, deadLetterProducer: producer },
      );
      await waitFor(() => stage.stats().records >= DOCUMENT_COUNT, 60_000);
      await stage.stop();
      return stage;
    };

    try {
      const first = await run();

      expect(first.stats()).toMatchObject({
        records: DOCUMENT_COUNT,
        deadLettered: 1,
        deadLetteredByCode: { DOCUMENT_REJECTED: 1 },
        writer: { indexed: DOCUMENT_COUNT - 1, duplicates: 0, refused: 1, documentsInFlight: 0 },
      });
      const stored = await searchAll(isolation, 'heartbeat');
      expect(stored).toHaveLength(DOCUMENT_COUNT - 1);
      expect(stored.map((hit) => hit._id)).not.toContain(WRONG_TYPED_ID);
      const [deadLetter] = await readTopic(
        isolation,
        naming.deadLetterTopic(naming.enrichedTopic()),
        1,
      );
      expect(deadLetter?.headers).toMatchObject({
        [DEAD_LETTER_HEADERS.reasonCode]: 'DOCUMENT_REJECTED',
        [DEAD_LETTER_HEADERS.stage]: 'sink-elasticsearch',
        [DEAD_LETTER_HEADERS.sourceTopic]: naming.enrichedTopic(),
        [DEAD_LETTER_HEADERS.sourceOffset]: wrongTypedOffset,
      });
      expect(deadLetter?.headers[DEAD_LETTER_HEADERS.reason]).toMatch(
        /^DOCUMENT_REJECTED: Elasticsearch answered 400: document_parsing_exception: .*event\.duration/,
      );
      expect(JSON.parse(deadLetter?.value?.toString() ?? '{}')).toEqual(enrichedDocument(17));

      // The same input once more, as after a lost commit: every document is already there.
      await admin.resetOffsets({
        groupId: naming.consumerGroup('sink-elasticsearch'),
        topic: naming.enrichedTopic(),
        earliest: true,
      });
      const replay = await run();

      expect(replay.stats().writer).toMatchObject({
        indexed: 0,
        duplicates: DOCUMENT_COUNT - 1,
        refused: 1,
      });
      expect(await searchAll(isolation, 'heartbeat')).toHaveLength(DOCUMENT_COUNT - 1);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
      await client.close();
    }
  });
});
