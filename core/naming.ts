/**
 * The names the stages agree on: topics, consumer groups and Elasticsearch targets. Stages talk to
 * each other only through these topics, so every name is derived here and nowhere else.
 */
import type { PanaceaConfig } from './config.js';

export const EVENT_KINDS = ['activity', 'error', 'audit', 'heartbeat'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/**
 * The metrics indices by record: `window` (agent windows and combined workflow windows),
 * `window_partial` (a workflow window's partial from one input partition), `status` (the current
 * status per agent), `status_history` (every status change) and `task`.
 */
export const METRICS_INDEX_RECORDS = [
  'window',
  'window_partial',
  'status',
  'status_history',
  'task',
] as const;
export type MetricsIndexRecord = (typeof METRICS_INDEX_RECORDS)[number];

const RAW_TOPIC_BY_KIND: Record<EventKind, string> = {
  activity: 'agent.activity',
  error: 'agent.errors',
  audit: 'agent.audit',
  heartbeat: 'agent.heartbeat',
};

export interface Naming {
  rawTopic(kind: EventKind): string;
  rawTopics(): string[];
  enrichedTopic(): string;
  /** The compacted topic where the embedded schema registry keeps its subjects. */
  schemaRegistryTopic(): string;
  /** The compacted topic of the agent registry: agent id → display name, team, owner, … */
  agentRegistryTopic(): string;
  deadLetterTopic(sourceTopic: string): string;
  consumerGroup(stage: string): string;
  dataStream(kind: EventKind): string;
  /** Window results, status changes and task records of the metrics stage. */
  metricsTopic(): string;
  /** The compacted topic of the metrics stage's per-partition checkpoints. */
  metricsStateTopic(): string;
  /** A plain index of metrics documents (see METRICS_INDEX_RECORDS): documents overwrite by id. */
  metricsIndex(record: MetricsIndexRecord): string;
  /** Firing and resolved alerts (see schemas/alert.ts), keyed by fingerprint. */
  alertsTopic(): string;
  /** The compacted topic of alert silences, keyed by silence id; a tombstone removes one. */
  silencesTopic(): string;
  /** The compacted topic of the alerts stage's per-partition checkpoints. */
  alertsStateTopic(): string;
  /** Alert documents: one per alert notification (`alert`), and the silences (`silence`). */
  alertsIndex(record: 'alert' | 'silence'): string;
  /**
   * The compacted ledger of the webhook sink: one record per notification delivered to a
   * destination, keyed by destination and notification id.
   */
  alertDeliveriesTopic(): string;
  /**
   * The compacted ledger of `panacea dlq replay`: one record per dead letter re-driven, keyed by
   * its position `<dlq topic>:<partition>:<offset>`, so a dead letter is re-driven once.
   */
  deadLetterRedrivenTopic(): string;
}

export function createNaming(config: Pick<PanaceaConfig, 'topicPrefix' | 'namespace'>): Naming {
  const prefix = config.topicPrefix;

  return {
    rawTopic: (kind) => prefix + RAW_TOPIC_BY_KIND[kind],
    rawTopics: () => EVENT_KINDS.map((kind) => prefix + RAW_TOPIC_BY_KIND[kind]),
    enrichedTopic: () => `${prefix}agent.events.enriched`,
    schemaRegistryTopic: () => `${prefix}panacea.schemas`,
    agentRegistryTopic: () => `${prefix}panacea.agents`,
    // The source topic already carries the prefix.
    deadLetterTopic: (sourceTopic) => `${sourceTopic}.dlq`,
    consumerGroup: (stage) => `${prefix}panacea.${stage}`,
    dataStream: (kind) => `logs-agent.${kind}-${config.namespace}`,
    metricsTopic: () => `${prefix}agent.metrics`,
    metricsStateTopic: () => `${prefix}panacea.metrics-state`,
    metricsIndex: (record) => `metrics-agent.${record}-${config.namespace}`,
    alertsTopic: () => `${prefix}agent.alerts`,
    silencesTopic: () => `${prefix}panacea.silences`,
    alertsStateTopic: () => `${prefix}panacea.alerts-state`,
    alertsIndex: (record) => `alerts-agent.${record}-${config.namespace}`,
    alertDeliveriesTopic: () => `${prefix}panacea.alert-deliveries`,
    deadLetterRedrivenTopic: () => `${prefix}panacea.dlq-redriven`,
  };
}

/** Which event kind a raw topic carries, or undefined for any other topic. */
export function kindOfRawTopic(naming: Naming, topic: string): EventKind | undefined {
  return EVENT_KINDS.find((kind) => naming.rawTopic(kind) === topic);
}
