/**
 * `panacea replay --topic T... [--from B] [--to B] [--agent ID]... [--workflow ID]... [--kind K]...
 * [--into sinks|elasticsearch:NAMESPACE|topic:NAME] [--dry-run] [--json]`: runs an exact range of
 * history through the sinks again while the live pipeline keeps running, and
 * `panacea replay --from-archive ...` writes the audit archive back (cli/replay/rehydrate-archive.ts).
 *
 * Steps: read the request; connect; resolve each topic's range to exact offsets; read the ranges
 * under a consumer group of the replay's own (core/topic-range.ts), filter, write into the target
 * batch by batch; print what was read, written, skipped and dead-lettered per topic.
 */
import { randomUUID } from 'node:crypto';

import type { Client } from '@elastic/elasticsearch';

import type { PanaceaConfig } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import {
  type Admin,
  connectKafkaAdmin,
  createDurableProducer,
  createKafka,
  type Kafka,
  type Producer,
} from '../../core/kafka.js';
import { componentLogger } from '../../core/logger.js';
import { createNaming, kindOfRawTopic, type Naming } from '../../core/naming.js';
import {
  readRanges,
  resolveTopicRange,
  type RangeBatch,
  type TopicRange,
} from '../../core/topic-range.js';
import { setupElasticsearch } from '../../infra/elasticsearch/setup.js';
import {
  openAgentRegistry,
  type AgentRegistry,
} from '../../processors/enrich/agent-registry/kafka-agent-registry.js';
import { loadRedactionRules } from '../../processors/enrich/redaction-rules-file.js';
import { openSchemaCodec, type SchemaCodec } from '../../schemas/codec.js';
import { openSchemaRegistry } from '../../schemas/registry/open-registry.js';
import type { SchemaRegistry } from '../../schemas/registry/schema-registry.js';
import { EXIT_OK, EXIT_PARTIAL, say, untilStopSignal } from '../command-line.js';
import { createElasticsearchClient } from '../pipeline.js';
import { createProgressReport } from '../progress-report.js';
import { createEventFilter, isEventTopic } from '../replay/replay-filter.js';
import { isFiltering, parseReplayRequest, type ReplayRequest } from '../replay/replay-request.js';
import { createReplayTarget, type ReplayTarget } from '../replay/replay-targets.js';

const logger = componentLogger('replay');

/** What a replay did with one topic. */
export interface TopicReplaySummary {
  topic: string;
  partitions: number;
  /** Records inside the range, read from Kafka. */
  read: number;
  written: number;
  /** Already stored: the sinks counted them as duplicates (a replay of what is there). */
  alreadyStored: number;
  skippedByFilter: number;
  /** Records a filter could not read (an undecodable event); the live stage dead-lettered them. */
  unreadable: number;
  deadLettered: number;
  /** Partitions with nothing in range, and why. */
  emptyPartitions: { partition: number; reason: string }[];
}

export async function replayCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const request = parseReplayRequest(args);
  if (request.fromArchive)
    return (await import('../replay/rehydrate-archive.js')).rehydrateCommand(request, config);
  const naming = createNaming(config);
  const topics = request.topics.map((topic) => withPrefix(topic, config.topicPrefix));
  checkFilterTopics(request, naming, topics);

  const kafka = createKafka(config, 'panacea-replay');
  const admin = await connectKafkaAdmin(kafka, config.kafkaBrokers);
  const opened = new OpenedClients();
  try {
    await checkTopicsExist(admin, topics, request);
    const ranges: TopicRange[] = [];
    for (const topic of topics) {
      ranges.push(await resolveTopicRange(admin, topic, request.from, request.to));
    }
    const summaries = ranges.map(emptySummary);
    const total = ranges
      .flatMap((range) => range.partitions)
      .reduce((sum, partition) => sum + Number(partition.endOffset - partition.startOffset), 0);
    if (total === 0) {
      report(request, summaries, 'nothing to replay');
      return EXIT_OK;
    }

    const needsCodec = topics.some((topic) => kindOfRawTopic(naming, topic) !== undefined);
    const codec = needsCodec ? await opened.codec(config, kafka) : undefined;
    const targets = request.dryRun
      ? undefined
      : await openTargets(request, config, naming, topics, { kafka, admin, codec, opened });
    const filter = isFiltering(request.filter)
      ? createEventFilter(request.filter, naming, codec)
      : undefined;

    const progress = createProgressReport(process.stderr, { label: 'replay', unit: 'offsets' });
    const stop = new AbortController();
    void untilStopSignal().then(() => stop.abort());
    let done = 0;
    const started = performance.now();
    await readRanges({
      kafka,
      admin,
      groupPrefix: naming.consumerGroup('replay'),
      ranges,
      signal: stop.signal,
      onBatch: async (batch) => {
        const summary = summaries[ranges.indexOf(batch.range)]!;
        await replayBatch(batch, summary, filter, targets?.get(batch.range.topic), stop.signal);
        done += Number(batch.offsetsCovered);
        progress.update(done, total);
      },
    });
    progress.end();
    for (const [topic, target] of targets ?? []) {
      const summary = summaries.find((entry) => entry.topic === topic)!;
      summary.alreadyStored = target.duplicates();
      summary.written -= summary.alreadyStored;
    }
    logger.info(
      { topics, durationMs: Math.round(performance.now() - started), records: done },
      'replay finished',
    );
    report(request, summaries, request.dryRun ? 'dry run, nothing written' : 'replayed');
    return summaries.some((summary) => summary.deadLettered > 0) ? EXIT_PARTIAL : EXIT_OK;
  } finally {
    await opened.close();
    await admin.disconnect();
  }
}

async function replayBatch(
  batch: RangeBatch,
  summary: TopicReplaySummary,
  filter: ((record: RangeBatch['records'][number]) => Promise<string>) | undefined,
  target: ReplayTarget | undefined,
  signal: AbortSignal,
): Promise<void> {
  summary.read += batch.records.length;
  let records = batch.records;
  if (filter !== undefined) {
    const kept = [];
    for (const record of records) {
      const verdict = await filter(record);
      if (verdict === 'keep') kept.push(record);
      else if (verdict === 'skip') summary.skippedByFilter += 1;
      else summary.unreadable += 1;
    }
    records = kept;
  }
  if (target === undefined || records.length === 0) {
    // A dry run counts what would be written.
    if (target === undefined) summary.written += records.length;
    return;
  }
  const written = await target.write(records, { signal, heartbeat: batch.heartbeat });
  summary.written += written.written;
  summary.deadLettered += written.deadLettered;
}

/** `agent.audit` means the deployment's `<prefix>agent.audit`; a name with the prefix is kept. */
function withPrefix(topic: string, prefix: string): string {
  return prefix === '' || topic.startsWith(prefix) ? topic : prefix + topic;
}

function checkFilterTopics(request: ReplayRequest, naming: Naming, topics: string[]): void {
  if (!isFiltering(request.filter)) return;
  const other = topics.filter((topic) => !isEventTopic(naming, topic));
  if (other.length > 0) {
    throw new PanaceaError(
      'USAGE',
      `--agent, --workflow and --kind filter events; ${other.join(', ')} holds no events (filters apply to ${naming.rawTopics().join(', ')} and ${naming.enrichedTopic()})`,
    );
  }
}

async function checkTopicsExist(
  admin: Admin,
  topics: string[],
  request: ReplayRequest,
): Promise<void> {
  const existing = new Set(await admin.listTopics());
  for (const topic of topics) {
    if (!existing.has(topic)) {
      throw new PanaceaError('USAGE', `--topic ${topic}: there is no such topic`, { topic });
    }
  }
  if (request.into.kind === 'topic') {
    const into = request.into.topic;
    if (topics.includes(into)) {
      throw new PanaceaError(
        'USAGE',
        `--into topic:${into}: the replay reads that topic; writing into it would replay it again`,
      );
    }
    if (!existing.has(into) && !request.dryRun) {
      const metadata = await admin.fetchTopicMetadata({ topics });
      const numPartitions = Math.max(...metadata.topics.map((topic) => topic.partitions.length));
      await admin.createTopics({ topics: [{ topic: into, numPartitions }], waitForLeaders: true });
      logger.info({ topic: into, numPartitions }, 'created the target topic');
    }
  }
}

interface TargetClients {
  kafka: Kafka;
  admin: Admin;
  codec: SchemaCodec | undefined;
  opened: OpenedClients;
}

export async function openTargets(
  request: ReplayRequest,
  config: PanaceaConfig,
  naming: Naming,
  topics: string[],
  clients: TargetClients,
): Promise<Map<string, ReplayTarget>> {
  const { kafka, admin, opened } = clients;
  const producer = await opened.producer(kafka);
  const client = opened.elasticsearch(config);
  const rawTopics = topics.filter((topic) => kindOfRawTopic(naming, topic) !== undefined);
  if (request.into.kind !== 'topic') {
    const namespace =
      request.into.kind === 'elasticsearch' ? request.into.namespace : config.namespace;
    // Idempotent; a side namespace gets its templates here, an index that was lost its own.
    await setupElasticsearch(client, { namespace, retention: config.retention });
  }
  const intoSinks = request.into.kind !== 'topic';
  const options = {
    config,
    naming,
    into: request.into,
    client,
    admin,
    producer,
    codec: clients.codec as SchemaCodec,
    redactionRules: loadRedactionRules(config.redactionRulesFile),
    agentRegistry:
      intoSinks && rawTopics.length > 0 ? await opened.agentRegistry(config, kafka) : undefined,
    replayId: randomUUID(),
  };
  return new Map(topics.map((topic) => [topic, createReplayTarget(options, topic)]));
}

/** The clients a replay opens as it needs them, closed together at the end. */
export class OpenedClients {
  #registry: SchemaRegistry | undefined;
  #producer: Producer | undefined;
  #client: Client | undefined;
  #agentRegistry: AgentRegistry | undefined;

  async codec(config: PanaceaConfig, kafka: Kafka): Promise<SchemaCodec> {
    this.#registry ??= await openSchemaRegistry(config, kafka);
    return openSchemaCodec(this.#registry);
  }

  async producer(kafka: Kafka): Promise<Producer> {
    if (this.#producer === undefined) {
      this.#producer = createDurableProducer(kafka);
      await this.#producer.connect();
    }
    return this.#producer;
  }

  elasticsearch(config: PanaceaConfig): Client {
    this.#client ??= createElasticsearchClient(config);
    return this.#client;
  }

  async agentRegistry(config: PanaceaConfig, kafka: Kafka): Promise<AgentRegistry> {
    this.#agentRegistry ??= await openAgentRegistry({
      kafka,
      brokers: config.kafkaBrokers,
      topic: createNaming(config).agentRegistryTopic(),
      groupPrefix: config.topicPrefix,
      logger: componentLogger('agent-registry'),
    });
    return this.#agentRegistry;
  }

  async close(): Promise<void> {
    await Promise.allSettled([
      this.#registry?.close(),
      this.#producer?.disconnect(),
      this.#client?.close(),
      this.#agentRegistry?.close(),
    ]);
  }
}

function emptySummary(range: TopicRange): TopicReplaySummary {
  return {
    topic: range.topic,
    partitions: range.partitions.length,
    read: 0,
    written: 0,
    alreadyStored: 0,
    skippedByFilter: 0,
    unreadable: 0,
    deadLettered: 0,
    emptyPartitions: range.partitions
      .filter((partition) => partition.emptyBecause !== undefined)
      .map((partition) => ({
        partition: partition.partition,
        reason: partition.emptyBecause as string,
      })),
  };
}

function report(request: ReplayRequest, summaries: TopicReplaySummary[], outcome: string): void {
  if (request.json) {
    say(JSON.stringify({ outcome, dryRun: request.dryRun, into: request.into, topics: summaries }));
    return;
  }
  say(`${outcome}${request.dryRun ? '' : ` into ${describeInto(request)}`}`);
  for (const summary of summaries) {
    say(
      `${summary.topic}: read ${summary.read}, ${request.dryRun ? 'would write' : 'written'} ${summary.written}, already stored ${summary.alreadyStored}, skipped by filter ${summary.skippedByFilter}, unreadable ${summary.unreadable}, dead-lettered ${summary.deadLettered}`,
    );
    // Said once for the topic when every partition is empty for the same reason.
    const reasons = new Set(summary.emptyPartitions.map((entry) => entry.reason));
    if (summary.emptyPartitions.length === summary.partitions && reasons.size === 1) {
      say(`  nothing in range: ${[...reasons][0]}`);
      continue;
    }
    for (const entry of summary.emptyPartitions) {
      say(`  partition ${entry.partition}: nothing in range: ${entry.reason}`);
    }
  }
}

function describeInto(request: ReplayRequest): string {
  const { into } = request;
  if (into.kind === 'sinks') return 'the sinks';
  if (into.kind === 'elasticsearch') return `the Elasticsearch namespace ${into.namespace}`;
  return `topic ${into.topic}`;
}
