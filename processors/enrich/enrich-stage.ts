/**
 * The enrichment stage: raw topics in, `agent.events.enriched` out. Each record is decoded and
 * checked (see schemas/raw-record.ts), turned into its ECS document, and published keyed by agent id
 * so one agent's events stay in order. Records that fail go to the dead-letter topic of their
 * source; the batch is handed back only after the enriched records are acknowledged by Kafka.
 */
import type { Message, Producer } from 'kafkajs';

import type { DeadLetter } from '../../core/dead-letter.js';
import { PanaceaError } from '../../core/errors.js';
import { MAX_RECORD_BYTES, sendDurably } from '../../core/kafka.js';
import { kindOfRawTopic, type Naming } from '../../core/naming.js';
import {
  deadLetterFor,
  type BatchContext,
  type BatchOutcome,
  type StageDefinition,
  type StageRecord,
} from '../../core/stage-runner.js';
import { toEnrichedDocument } from './ecs-document.js';
import type { SchemaCodec } from '../../schemas/codec.js';
import { readRawEvent } from '../../schemas/raw-record.js';

export const ENRICH_STAGE = 'enrich';

export interface EnrichStageOptions {
  naming: Naming;
  /** A durable producer (acks from all in-sync replicas) for the enriched topic. */
  producer: Producer;
  /** Reads raw records whatever schema version wrote them. */
  codec: SchemaCodec;
}

export function createEnrichStage(options: EnrichStageOptions): StageDefinition {
  const { naming, producer, codec } = options;
  const enrichedTopic = naming.enrichedTopic();

  return {
    name: ENRICH_STAGE,
    inputTopics: naming.rawTopics(),
    summary: { outputTopic: enrichedTopic },
    async handleBatch(records: StageRecord[], { signal }: BatchContext): Promise<BatchOutcome> {
      const ingestedAtMs = Date.now();
      const messages: Message[] = [];
      const deadLetters: DeadLetter[] = [];

      for (const record of records) {
        try {
          const event = await readRawEvent(
            codec,
            record.value,
            kindOfRawTopic(naming, record.topic),
          );
          const document = toEnrichedDocument(event, {
            ingestedAtMs,
            createdAtMs: record.timestampMs,
          });
          const value = Buffer.from(JSON.stringify(document));
          if (value.length > MAX_RECORD_BYTES) {
            throw new PanaceaError(
              'RECORD_TOO_LARGE',
              `the enriched document is ${value.length} bytes, over the ${MAX_RECORD_BYTES}-byte record limit`,
            );
          }
          messages.push({ key: event.agent.id, value });
        } catch (error) {
          // Bad input is a PanaceaError with its reason; anything else is a bug of ours, and
          // dead-lettering it as bad input would hide it while the stage kept committing. A
          // retriable error (the schema registry out of reach) is not the record's fault either:
          // the batch is tried again instead.
          if (!(error instanceof PanaceaError) || error.retriable) throw error;
          deadLetters.push(deadLetterFor(record, error));
        }
      }

      if (signal.aborted) throw new PanaceaError('STAGE_STOPPED', 'stopping before publishing');
      await sendDurably(producer, [{ topic: enrichedTopic, messages }]);
      return { deadLetters };
    },
  };
}
