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

import type { PanaceaConfig } from '../../core/config.js';
import { messageOf, PanaceaError } from '../../core/errors.js';
import {
  type Admin,
  connectKafkaAdmin,
  createKafka,
  createTopicsServed,
} from '../../core/kafka.js';
import { componentLogger } from '../../core/logger.js';
import { createNaming, kindOfRawTopic, type Naming } from '../../core/naming.js';
import {
  readRanges,
  resolveTopicRange,
  type RangeBatch,
  type TopicRange,
} from '../../core/topic-range.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, say, untilStopSignal } from '../command-line.js';
import { createProgressReport } from '../progress-report.js';
import { createEventFilter, isEventTopic } from '../replay/replay-filter.js';
import {
  describeInto,
  isFiltering,
  parseReplayRequest,
  type ReplayRequest,
} from '../replay/replay-request.js';
import type { MetricsRecomputationResult } from '../../sinks/elasticsearch/metrics-recompute.js';
import { OpenedClients, openTargets } from '../replay/open-targets.js';
import { checkTargetTopic, intoWithPrefix, withPrefix } from '../replay/target-topic.js';
import { checkSinkTopic, type ReplayTarget, writeWithinTimeout } from '../replay/replay-targets.js';

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
  /** The metrics windows recomputed from a replay of the enriched topic into the sinks. */
  metrics?: MetricsRecomputationResult;
  /** Partitions with nothing in range, and why. */
  emptyPartitions: { partition: number; reason: string }[];
}

export async function replayCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const parsed = parseReplayRequest(args);
  const request = { ...parsed, into: intoWithPrefix(parsed.into, config.topicPrefix) };
  if (request.fromArchive)
    return (await import('../replay/rehydrate-archive.js')).rehydrateCommand(request, config);
  const naming = createNaming(config);
  const topics = [...new Set(request.topics.map((topic) => withPrefix(topic, config.topicPrefix)))];
  checkFilterTopics(request, naming, topics);

  const kafka = createKafka(config, 'panacea-replay');
  const admin = await connectKafkaAdmin(kafka, config.kafkaBrokers);
  const opened = new OpenedClients();
  try {
    await checkTopicsExist(admin, naming, topics, request);
    // A dry run refuses what the real run would, so it predicts it.
    for (const topic of topics) checkSinkTopic(naming, request.into, topic);
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

    const stop = new AbortController();
    void untilStopSignal().then(() => stop.abort());
    const needsCodec = topics.some((topic) => kindOfRawTopic(naming, topic) !== undefined);
    const codec = needsCodec ? await opened.codec(config, kafka) : undefined;
    const targets = request.dryRun
      ? undefined
      : await openTargets(request, config, naming, topics, {
          kafka,
          admin,
          codec,
          opened,
          signal: stop.signal,
        });
    const filter = isFiltering(request.filter)
      ? createEventFilter(request.filter, naming, codec)
      : undefined;

    const progress = createProgressReport(process.stderr, { label: 'replay', unit: 'offsets' });
    let done = 0;
    const started = performance.now();
    try {
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
    } catch (error) {
      progress.end();
      // What was written stays written, and a replay of the same range again adds nothing.
      if (stop.signal.aborted) {
        report(request, summaries, 'interrupted: stopped by a signal; what was done so far');
        return EXIT_INTERRUPTED;
      }
      const failure = asReplayFailure(error);
      const code = failure instanceof PanaceaError ? failure.code : 'an unexpected error';
      report(request, summaries, `stopped by ${code}; what was done so far`);
      throw failure;
    }
    progress.end();
    for (const [topic, target] of targets ?? []) {
      const summary = summaries.find((entry) => entry.topic === topic)!;
      summary.alreadyStored = target.duplicates();
      summary.written -= summary.alreadyStored;
      const metrics = await target.finish?.();
      if (metrics !== undefined) summary.metrics = metrics;
    }
    logger.info(
      { topics, durationMs: Math.round(performance.now() - started), records: done },
      'replay finished',
    );
    report(request, summaries, request.dryRun ? 'dry run, nothing written' : 'replayed');
    const rejected = summaries.some((summary) => summary.deadLettered + summary.unreadable > 0);
    return rejected ? EXIT_PARTIAL : EXIT_OK;
  } catch (error) {
    throw asReplayFailure(error);
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
  if (target !== undefined && records.length === 0) {
    await target.observeRange?.(batch.offsetRangeRecords);
    return;
  }
  if (target === undefined) {
    // A dry run counts what would be written.
    summary.written += records.length;
    return;
  }
  await target.observeRange?.(batch.offsetRangeRecords);
  const written = await writeWithinTimeout(
    target,
    records,
    { signal, heartbeat: batch.heartbeat },
    `${batch.range.topic} partition ${batch.partition.partition}`,
  );
  summary.written += written.written;
  summary.deadLettered += written.deadLettered;
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
  naming: Naming,
  topics: string[],
  request: ReplayRequest,
): Promise<void> {
  const existing = new Set(await admin.listTopics());
  for (const topic of topics) {
    if (!existing.has(topic)) {
      throw new PanaceaError('USAGE', `--topic ${topic}: there is no such topic`, { topic });
    }
  }
  if (request.into.kind !== 'topic') return;
  const into = request.into.topic;
  const { exists } = await checkTargetTopic(admin, naming, into, topics);
  if (!exists && !request.dryRun) {
    const metadata = await admin.fetchTopicMetadata({ topics });
    const numPartitions = Math.max(...metadata.topics.map((topic) => topic.partitions.length));
    await createTopicsServed(admin, [{ topic: into, numPartitions }]);
    logger.info({ topic: into, numPartitions }, 'created the target topic');
  }
}

/**
 * A failure as the person running the replay should read it: kafkajs's own errors (a broker that
 * accepts connections but does not answer, a topic it refuses to create) become KAFKA_UNAVAILABLE
 * with kafkajs's message, instead of a stack trace.
 */
function asReplayFailure(error: unknown): unknown {
  if (error instanceof PanaceaError) return error;
  const name = error instanceof Error ? error.name : '';
  if (name.startsWith('KafkaJS') || /broker/i.test(messageOf(error))) {
    return new PanaceaError('KAFKA_UNAVAILABLE', `Kafka failed: ${messageOf(error)}`, {}, error);
  }
  return error;
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
  say(`${outcome}${request.dryRun ? '' : ` into ${describeInto(request.into)}`}`);
  for (const summary of summaries) {
    say(
      `${summary.topic}: read ${summary.read}, ${request.dryRun ? 'would send (not checked against what is stored)' : 'written'} ${summary.written}, already stored ${summary.alreadyStored}, skipped by filter ${summary.skippedByFilter}, unreadable ${summary.unreadable}, dead-lettered ${summary.deadLettered}`,
    );
    if (summary.metrics !== undefined) say(`  ${describeMetrics(summary.metrics)}`);
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

function describeMetrics(metrics: MetricsRecomputationResult): string {
  return `metrics windows recomputed: ${metrics.windowsWritten} written, ${metrics.windowsKeptNewer} kept (stored newer), ${metrics.windowsSkippedAtEdges} skipped at the edges of the range, ${metrics.windowsSkippedAfterQuietGaps} skipped after quiet gaps; ${metrics.lateEvents} late events`;
}
