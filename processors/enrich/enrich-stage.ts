/**
 * The enrichment stage: raw topics in, `agent.events.enriched` out. Each record is decoded and
 * checked (see schemas/raw-record.ts), redacted, normalised and turned into its ECS document with
 * the agent registry's facts (enrich-event.ts), and published keyed by agent id so one agent's
 * events stay in order. Records that fail go to the dead-letter topic of their source; the batch
 * is handed back only after the enriched records are acknowledged by Kafka. Redactions and
 * normalisations are counted per batch and reported in the stage's stats.
 */

import type { DeadLetter } from '../../core/dead-letter.js';
import { PanaceaError } from '../../core/errors.js';
import { MAX_RECORD_BYTES, type Message, type Producer, sendDurably } from '../../core/kafka.js';
import { kindOfRawTopic, type Naming } from '../../core/naming.js';
import {
  deadLetterFor,
  type BatchContext,
  type BatchOutcome,
  type StageDefinition,
  type StageRecord,
} from '../../core/stage-runner.js';
import type { AgentRegistry } from './agent-registry/kafka-agent-registry.js';
import { addTally, createTally, enrichEvent, type EnrichmentTally } from './enrich-event.js';
import { BUILT_IN_RULES, type RedactionRule } from './redaction.js';
import type { SchemaCodec } from '../../schemas/codec.js';
import { readRawRecord } from '../../schemas/raw-record.js';

export const ENRICH_STAGE = 'enrich';

export interface EnrichStageOptions {
  naming: Naming;
  /** A durable producer (acks from all in-sync replicas) for the enriched topic. */
  producer: Producer;
  /** Reads raw records whatever schema version wrote them. */
  codec: SchemaCodec;
  /** The redaction rules, in order. Default: the built-in ones. */
  redactionRules?: readonly RedactionRule[];
  /**
   * The agent registry, read to its end before each batch: an entry written before an event was
   * published applies to it. Default: no agent is registered.
   */
  agentRegistry?: Pick<AgentRegistry, 'profile' | 'catchUp'>;
}

export function createEnrichStage(options: EnrichStageOptions): StageDefinition {
  const { naming, producer } = options;
  const enrichedTopic = naming.enrichedTopic();
  const enricher = createEnricher(options);

  return {
    name: ENRICH_STAGE,
    inputTopics: naming.rawTopics(),
    summary: { outputTopic: enrichedTopic, redactionRules: enricher.redactionRuleNames },
    async handleBatch(records: StageRecord[], { signal }: BatchContext): Promise<BatchOutcome> {
      // A registry that cannot be read is retriable: the batch is tried again, not enriched with
      // a table that may be missing what an operator wrote.
      await options.agentRegistry?.catchUp();
      const { messages, deadLetters, tally } = await enricher.enrich(records, Date.now());

      if (signal.aborted) throw new PanaceaError('STAGE_STOPPED', 'stopping before publishing');
      await sendDurably(producer, [{ topic: enrichedTopic, messages }]);
      return { deadLetters, tallies: { redacted: tally.redacted, normalised: tally.normalised } };
    },
  };
}

export interface EnrichedBatch {
  /** The enriched documents, keyed by agent id, in the order of their records. */
  messages: Message[];
  /** The source record of each message, by index. */
  sources: StageRecord[];
  deadLetters: DeadLetter[];
  tally: EnrichmentTally;
}

export interface Enricher {
  redactionRuleNames: string[];
  /** Enriches raw records as the stage does, without publishing: replay and re-drive use it. */
  enrich(records: StageRecord[], ingestedAtMs: number): Promise<EnrichedBatch>;
}

export function createEnricher(
  options: Pick<EnrichStageOptions, 'naming' | 'codec' | 'redactionRules' | 'agentRegistry'>,
): Enricher {
  const { naming, codec } = options;
  const rules = {
    redactionRules: options.redactionRules ?? BUILT_IN_RULES,
    agentProfile: (agentId: string) => options.agentRegistry?.profile(agentId),
  };

  return {
    redactionRuleNames: rules.redactionRules.map((rule) => rule.name),
    async enrich(records, ingestedAtMs) {
      const batch: EnrichedBatch = {
        messages: [],
        sources: [],
        deadLetters: [],
        tally: createTally(),
      };
      for (const record of records) {
        // Counted per record and added only once the record is enriched, not when it fails.
        const recordTally = createTally();
        try {
          const raw = await readRawRecord(
            codec,
            record.value,
            kindOfRawTopic(naming, record.topic),
          );
          const document = enrichEvent(
            raw,
            { ingestedAtMs, createdAtMs: record.timestampMs },
            rules,
            recordTally,
          );
          const value = Buffer.from(JSON.stringify(document));
          if (value.length > MAX_RECORD_BYTES) {
            throw new PanaceaError(
              'RECORD_TOO_LARGE',
              `the enriched document is ${value.length} bytes, over the ${MAX_RECORD_BYTES}-byte record limit`,
            );
          }
          batch.messages.push({ key: raw.event.agent.id, value });
          batch.sources.push(record);
          addTally(batch.tally, recordTally);
        } catch (error) {
          // Bad input is a PanaceaError with its reason; anything else is a bug of ours, and
          // dead-lettering it as bad input would hide it while the stage kept committing. A
          // retriable error (the schema registry out of reach) is not the record's fault either:
          // the batch is tried again instead.
          if (!(error instanceof PanaceaError) || error.retriable) throw error;
          batch.deadLetters.push(deadLetterFor(record, error));
        }
      }
      return batch;
    },
  };
}
