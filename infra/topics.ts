/**
 * Topic definitions: the raw topics agents publish to, the enriched topic, the metrics topic and
 * the metrics stage's compacted checkpoint topic, the alerts topic with the alerts stage's
 * checkpoint and silences topics, one dead-letter topic per input topic, and the ledger of
 * re-driven dead letters. Creating them is idempotent and done by every command that needs them.
 */

import { type Admin, createTopicsServed, type ITopicConfig } from '../core/kafka.js';
import type { Naming } from '../core/naming.js';

/** Partitions of the raw and enriched topics: the most stage instances that can share the work. */
export const EVENT_TOPIC_PARTITIONS = 3;
const DEAD_LETTER_PARTITIONS = 1;
const DAY_MS = 24 * 60 * 60 * 1000;

export function topicDefinitions(naming: Naming, replicationFactor = 1): ITopicConfig[] {
  const eventTopics = [...naming.rawTopics(), naming.enrichedTopic(), naming.metricsTopic()];
  const retained = (topic: string, partitions: number, retentionMs: number): ITopicConfig => ({
    topic,
    numPartitions: partitions,
    replicationFactor,
    configEntries: [{ name: 'retention.ms', value: String(retentionMs) }],
  });

  return [
    ...eventTopics.map((topic) => retained(topic, EVENT_TOPIC_PARTITIONS, 7 * DAY_MS)),
    // Dead letters wait for a person; they are kept longer than the events themselves.
    ...eventTopics.map((topic) =>
      retained(naming.deadLetterTopic(topic), DEAD_LETTER_PARTITIONS, 30 * DAY_MS),
    ),
    // One checkpoint per input partition, keyed by it: compaction keeps the latest of each and
    // nothing expires, since a checkpoint is the state the committed offsets stand on.
    // The alerts stage's checkpoint, the silences and the ledger of re-driven dead letters are
    // tables of the same kind.
    ...[
      naming.metricsStateTopic(),
      naming.alertsStateTopic(),
      naming.silencesTopic(),
      naming.deadLetterRedrivenTopic(),
    ].map((topic) => ({
      topic,
      numPartitions: 1,
      replicationFactor,
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    })),
    // Notifications keyed by fingerprint, kept like the events; their dead letters (and the
    // silences' ones, from the alerts sink) wait for a person.
    retained(naming.alertsTopic(), EVENT_TOPIC_PARTITIONS, 7 * DAY_MS),
    ...[naming.alertsTopic(), naming.silencesTopic()].map((topic) =>
      retained(naming.deadLetterTopic(topic), DEAD_LETTER_PARTITIONS, 30 * DAY_MS),
    ),
  ];
}

/** Creates the topics that do not exist yet; returns the names it created. */
export async function ensureTopics(admin: Admin, naming: Naming): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = topicDefinitions(naming).filter((definition) => !existing.has(definition.topic));
  if (missing.length === 0) return [];

  await createTopicsServed(admin, missing);
  return missing.map((definition) => definition.topic);
}
