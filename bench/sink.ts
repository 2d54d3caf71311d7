/**
 * Elasticsearch sink benchmark on the running stack (`panacea stack up`), in two parts.
 *
 * 1. Throughput: the same N enriched documents (simulated-fleet events as the enrich stage turns
 *    them into documents) are stored (a) by the sink stage, reading them from a Kafka topic, and
 *    (b) by the Elasticsearch client's own bulk helper (`client.helpers.bulk`, its defaults),
 *    reading them from memory; each side of each round writes into fresh data streams of its own
 *    on the same server, with the same create-by-id operation. The figure is the ratio of the
 *    median rates (goal: at least 0.9).
 * 2. Outage: `panacea run` (the whole pipeline, in a child process) under steady input while
 *    Elasticsearch is unavailable for a while: its URL points at a TCP proxy on 127.0.0.1 that is
 *    closed for the outage. The child's resident memory is sampled every second (goal: flat,
 *    under 300 MB), the sink's committed offsets are watched (they must not move while down), and
 *    at the end every event must be stored exactly once.
 *
 * Usage: npm run bench -- --only sink [--events 20000] [--rounds 3] [--outage-seconds 60]
 *        [--input-rate 300]
 *
 * Every run uses its own topic prefix and namespace, and deletes its topics, consumer groups and
 * indices at the end.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

import { Client, errors } from '@elastic/elasticsearch';
import type { Admin, ConsumerConfig, Kafka } from 'kafkajs';

import { createElasticsearchClient, prepareElasticsearch } from '../cli/pipeline.js';
import { openPublisher } from '../cli/publishing.js';
import { loadConfig, type PanaceaConfig } from '../core/config.js';
import { createDurableProducer, createKafka } from '../core/kafka.js';
import { createNaming, type Naming } from '../core/naming.js';
import { packageRoot } from '../core/package-root.js';
import { startStage } from '../core/stage-runner.js';
import { ensureTopics } from '../infra/topics.js';
import type { EnrichedDocument } from '../processors/enrich/ecs-document.js';
import { createSimulatedFleet } from '../producers/demo/simulated-fleet.js';
import type { AgentEvent } from '../schemas/event.js';
import {
  createElasticsearchStage,
  ELASTICSEARCH_STAGE_MAX_BYTES_PER_PARTITION,
} from '../sinks/elasticsearch/elasticsearch-stage.js';
import {
  BenchFailure,
  formatNumber,
  loadAverage1m,
  parseInteger,
  reportOrFail,
  round,
  say,
  machineFacts,
  median,
} from './report-support.js';
import {
  FLEET_AGENT_COUNT,
  FLEET_STEP_MS,
  fillEnrichedTopic,
  generateDocuments,
} from './enriched-documents.js';
import { TcpProxy } from './tcp-proxy.js';

interface BenchOptions {
  /** Documents per side per round. `--events`; default 20 000. */
  eventCount: number;
  /** `--rounds`; default 3. */
  rounds: number;
  /** How long Elasticsearch is unavailable in the outage part. `--outage-seconds`; default 60. */
  outageSeconds: number;
  /** Events per second published during the outage part. `--input-rate`; default 300. */
  inputRatePerSecond: number;
}

const DEFAULT_OPTIONS: BenchOptions = {
  eventCount: 20_000,
  rounds: 3,
  outageSeconds: 60,
  inputRatePerSecond: 300,
};

/** Records per send while the enriched input topic is filled. */
/** A side gives up after this long, so a stuck sink fails the bench instead of hanging it. */
const SIDE_TIMEOUT_MS = 300_000;
/** The outage part: input with Elasticsearch up before and after the outage, seconds. */
const WARM_UP_SECONDS = 15;
const RECOVERY_SECONDS = 15;
/** After the input stops, how long the pipeline may take to store the backlog. */
const CATCH_UP_TIMEOUT_MS = 180_000;
const MEMORY_GOAL_MIB = 300;

interface SideFigure {
  round: number;
  elapsedMs: number;
  documentsPerSecond: number;
  /** The sink only: without the time to its first batch (consumer group join). */
  documentsPerSecondAfterJoin: number;
}

interface MemorySample {
  atSeconds: number;
  phase: 'before' | 'outage' | 'after' | 'catch-up';
  rssMiB: number;
  /** Offsets the sink's consumer group has committed on its input topic, summed. */
  committed: number;
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const runId = randomBytes(4).toString('hex');
  const runPrefix = `bench.sink.${runId}.`;
  const namespacePrefix = `bench_sink_${runId}`;
  const config = loadConfig({ ...process.env, PANACEA_TOPIC_PREFIX: runPrefix });
  const kafka = createKafka(config, 'panacea-bench-sink');
  const admin = kafka.admin();
  const elasticsearch = new Client({ node: config.elasticsearchUrl });
  await admin.connect();

  return reportOrFail({
    measure: async () => {
      const loadAtStart = loadAverage1m();
      const throughput = await measureThroughput(options, config, kafka, admin, namespacePrefix);
      const outage = await measureOutage(options, config, admin, runPrefix, namespacePrefix);
      return {
        date: new Date().toISOString(),
        machine: machineFacts(loadAtStart),
        settings: { ...options },
        throughput,
        outage,
      };
    },
    printReport,
    cleanUp: async () => {
      await cleanUp(admin, elasticsearch, runPrefix, namespacePrefix);
      await admin.disconnect();
      await elasticsearch.close();
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Part 1: throughput, the sink stage against the client's bulk helper.
// ---------------------------------------------------------------------------------------------

async function measureThroughput(
  options: BenchOptions,
  config: PanaceaConfig,
  kafka: Kafka,
  admin: Admin,
  namespacePrefix: string,
) {
  const documents = generateDocuments(options.eventCount);
  const input = createNaming({ ...config, namespace: namespacePrefix });
  await ensureTopics(admin, input);
  await fillEnrichedTopic(kafka, input.enrichedTopic(), documents);
  const meanDocumentBytes = round(
    documents.reduce((sum, document) => sum + Buffer.byteLength(JSON.stringify(document)), 0) /
      documents.length,
  );

  const figures: { sink: SideFigure[]; helper: SideFigure[] } = { sink: [], helper: [] };
  for (let roundIndex = 0; roundIndex < options.rounds; roundIndex += 1) {
    const runSink = async () => {
      figures.sink.push(await timeSink(config, kafka, input, documents.length, roundIndex));
    };
    const runHelper = async () => {
      figures.helper.push(await timeHelper(config, documents, namespacePrefix, roundIndex));
    };
    // Alternating order, so neither side always runs on the warmer server.
    if (roundIndex % 2 === 0) await runSink().then(runHelper);
    else await runHelper().then(runSink);
    say(
      `round ${roundIndex + 1}: sink ${formatNumber(figures.sink.at(-1)?.documentsPerSecond ?? 0)}/s` +
        ` (after join ${formatNumber(figures.sink.at(-1)?.documentsPerSecondAfterJoin ?? 0)}/s),` +
        ` helper ${formatNumber(figures.helper.at(-1)?.documentsPerSecond ?? 0)}/s`,
    );
  }

  const sinkMedian = median(figures.sink.map((figure) => figure.documentsPerSecond));
  const sinkMedianAfterJoin = median(
    figures.sink.map((figure) => figure.documentsPerSecondAfterJoin),
  );
  const helperMedian = median(figures.helper.map((figure) => figure.documentsPerSecond));
  return {
    documents: documents.length,
    meanDocumentBytes,
    sink: { rounds: figures.sink, median: sinkMedian, medianAfterJoin: sinkMedianAfterJoin },
    helper: { rounds: figures.helper, median: helperMedian },
    ratio: round(sinkMedian / helperMedian, 3),
    ratioAfterJoin: round(sinkMedianAfterJoin / helperMedian, 3),
  };
}

/** The sink stage as `startPipeline` starts it, with a consumer group and data streams of its own. */
async function timeSink(
  config: PanaceaConfig,
  kafka: Kafka,
  input: Naming,
  documentCount: number,
  roundIndex: number,
): Promise<SideFigure> {
  const namespace = `${input.dataStream('heartbeat').split('-').at(-1)}_r${roundIndex + 1}_sink`;
  const own = createNaming({ topicPrefix: `${config.topicPrefix}r${roundIndex + 1}.`, namespace });
  const naming: Naming = { ...own, enrichedTopic: input.enrichedTopic };
  const { kafka: observed, firstBatch } = observeFirstBatch(
    kafka,
    naming.consumerGroup('sink-elasticsearch'),
  );
  const deadLetterProducer = createDurableProducer(kafka);
  const client = createElasticsearchClient(config);
  await installTemplates(client, config, namespace);
  await deadLetterProducer.connect();

  try {
    const startMs = performance.now();
    const stage = await startStage(createElasticsearchStage({ naming, namespace, client }), {
      kafka: observed,
      naming,
      deadLetterProducer,
      maxBytesPerPartition: ELASTICSEARCH_STAGE_MAX_BYTES_PER_PARTITION,
    });
    try {
      await waitUntil(
        () => stage.stats().records >= documentCount,
        () => `sink: ${stage.stats().records} of ${documentCount} records`,
      );
    } finally {
      await stage.stop();
    }
    const elapsedMs = performance.now() - startMs;
    const joinMs = (firstBatch.atMs ?? startMs) - startMs;

    const { deadLettered, deadLetteredByCode } = stage.stats();
    if (deadLettered > 0) {
      throw new BenchFailure(
        `the sink dead-lettered ${deadLettered}: ${JSON.stringify(deadLetteredByCode)}`,
      );
    }
    await expectStored(client, namespace, documentCount);
    return figure(roundIndex, documentCount, elapsedMs, elapsedMs - joinMs);
  } finally {
    await deadLetterProducer.disconnect();
    await client.close();
  }
}

/** `client.helpers.bulk` with its defaults, the same documents and create-by-id, from memory. */
async function timeHelper(
  config: PanaceaConfig,
  documents: EnrichedDocument[],
  namespacePrefix: string,
  roundIndex: number,
): Promise<SideFigure> {
  const namespace = `${namespacePrefix}_r${roundIndex + 1}_helper`;
  const client = createElasticsearchClient(config);
  await installTemplates(client, config, namespace);
  // What the sink stage adds to each document, added here before the clock runs.
  const prepared = documents.map((document) => ({
    ...document,
    data_stream: { type: 'logs', dataset: `agent.${document.panacea.kind}`, namespace },
  }));

  try {
    const startMs = performance.now();
    const stats = await client.helpers.bulk({
      datasource: prepared,
      onDocument: (document) => ({
        create: {
          _index: `logs-agent.${document.panacea.kind}-${namespace}`,
          _id: document.event.id,
        },
      }),
      onDrop: (dropped) => {
        throw new BenchFailure(
          `the bulk helper dropped a document: ${JSON.stringify(dropped.error)}`,
        );
      },
    });
    const elapsedMs = performance.now() - startMs;

    if (stats.successful !== documents.length) {
      throw new BenchFailure(`the bulk helper stored ${stats.successful} of ${documents.length}`);
    }
    await expectStored(client, namespace, documents.length);
    return figure(roundIndex, documents.length, elapsedMs, elapsedMs);
  } finally {
    await client.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Part 2: memory during an outage, the whole pipeline under steady input.
// ---------------------------------------------------------------------------------------------

async function measureOutage(
  options: BenchOptions,
  config: PanaceaConfig,
  admin: Admin,
  runPrefix: string,
  namespacePrefix: string,
) {
  const topicPrefix = `${runPrefix}outage.`;
  const namespace = `${namespacePrefix}_outage`;
  const naming = createNaming({ topicPrefix, namespace });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'panacea-bench-sink-'));
  const target = new URL(config.elasticsearchUrl);
  const proxy = new TcpProxy(target.hostname, Number(target.port || 9200));
  const client = createElasticsearchClient(config);
  await proxy.up();
  await ensureTopics(admin, naming);
  const env = {
    ...process.env,
    ELASTICSEARCH_URL: proxy.url,
    PANACEA_TOPIC_PREFIX: topicPrefix,
    PANACEA_NAMESPACE: namespace,
    PANACEA_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    // Its own run, not the user's: no claim on the default metrics port.
    PANACEA_HTTP_PORT: 'off',
  };
  const publisher = await openPublisher(loadConfig(env), naming);
  const child = spawn(process.execPath, [path.join(packageRoot(), 'bin/panacea.js'), 'run'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));

  const samples: MemorySample[] = [];
  let fleetClockMs = Date.now();
  const fleet = createSimulatedFleet(fleetClockMs, { agentCount: FLEET_AGENT_COUNT });
  const pending: AgentEvent[] = [];
  let published = 0;
  const sinkGroup = naming.consumerGroup('sink-elasticsearch');
  const startMs = performance.now();
  const outageStartSeconds = WARM_UP_SECONDS;
  const outageEndSeconds = WARM_UP_SECONDS + options.outageSeconds;
  const inputEndSeconds = outageEndSeconds + RECOVERY_SECONDS;

  try {
    // One step a second: publish a second's worth of events, move the outage on, take a sample.
    for (let second = 1; second <= inputEndSeconds; second += 1) {
      if (second === outageStartSeconds) await proxy.down();
      if (second === outageEndSeconds) await proxy.up();
      while (pending.length < options.inputRatePerSecond) {
        fleetClockMs += FLEET_STEP_MS;
        pending.push(...fleet.advanceTo(fleetClockMs));
      }
      // Stamped now: the fleet's clock runs ahead of the wall clock to keep up with the rate.
      const events = pending.splice(0, options.inputRatePerSecond);
      await publisher.publish(events.map((event) => ({ ...event, timestamp: Date.now() })));
      published += events.length;
      const phase =
        second < outageStartSeconds ? 'before' : second < outageEndSeconds ? 'outage' : 'after';
      samples.push(
        await sample(child.pid, phase, startMs, admin, sinkGroup, naming.enrichedTopic()),
      );
      if (child.exitCode !== null)
        throw new BenchFailure(`panacea run exited early: ${stderr.slice(-2_000)}`);
      await sleep(Math.max(0, second * 1000 - (performance.now() - startMs)));
    }

    const catchUpStartMs = performance.now();
    let stored = 0;
    while (performance.now() - catchUpStartMs < CATCH_UP_TIMEOUT_MS) {
      stored = await countStored(client, namespace);
      samples.push(
        await sample(child.pid, 'catch-up', startMs, admin, sinkGroup, naming.enrichedTopic()),
      );
      if (stored >= published) break;
      await sleep(1_000);
    }
    const catchUpMs = performance.now() - catchUpStartMs;
    child.kill('SIGTERM');
    const exitCode = await exited;
    // Counted once more after the stop: anything stored twice or late shows here.
    stored = await countStored(client, namespace);
    if (stored !== published) {
      throw new BenchFailure(`published ${published} events, Elasticsearch holds ${stored}`);
    }

    return summariseOutage(samples, {
      published,
      stored,
      catchUpMs: round(catchUpMs),
      exitCode,
      pauseLogs: stderr.split('\n').filter((line) => line.includes('input paused')).length,
      summary: stdout.split('\n').filter((line) => line.startsWith('sink-elasticsearch:')),
    });
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    await publisher.close();
    await proxy.down();
    await client.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function sample(
  pid: number | undefined,
  phase: MemorySample['phase'],
  startMs: number,
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<MemorySample> {
  const status = pid === undefined ? '' : readProcessStatus(pid);
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  const committed = offsets
    .flatMap((entry) => entry.partitions)
    .reduce((sum, partition) => sum + Math.max(0, Number(partition.offset)), 0);
  return {
    atSeconds: round((performance.now() - startMs) / 1000, 1),
    phase,
    rssMiB: round(rssKiB / 1024, 1),
    committed,
  };
}

/**
 * The child's /proc status, or nothing once it has exited: the caller then reports the exit with
 * the child's stderr, which says why, instead of this read failing with ENOENT.
 */
function readProcessStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}

function summariseOutage(
  samples: MemorySample[],
  outcome: {
    published: number;
    stored: number;
    catchUpMs: number;
    exitCode: number | null;
    pauseLogs: number;
    summary: string[];
  },
) {
  const rss = samples.map((entry) => entry.rssMiB);
  const during = samples.filter((entry) => entry.phase === 'outage');
  const duringRss = during.map((entry) => entry.rssMiB);
  // Samples near the outage's edges can catch a batch that was acknowledged just before it.
  const steady = during.slice(3);
  const committedDuringOutage =
    steady.length < 2 ? 0 : (steady.at(-1)?.committed ?? 0) - (steady[0]?.committed ?? 0);
  return {
    ...outcome,
    rssMiB: { min: Math.min(...rss), max: Math.max(...rss), final: rss.at(-1) ?? 0 },
    outageRssMiB: {
      min: Math.min(...duringRss),
      max: Math.max(...duringRss),
      first10sMean: round(mean(duringRss.slice(0, 10)), 1),
      last10sMean: round(mean(duringRss.slice(-10)), 1),
    },
    committedDuringOutage,
    samples,
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/** The Kafka client, noting when the consumer of `groupId` starts its first batch. */
function observeFirstBatch(
  kafka: Kafka,
  groupId: string,
): { kafka: Kafka; firstBatch: { atMs: number | undefined } } {
  const firstBatch: { atMs: number | undefined } = { atMs: undefined };
  const observed = Object.create(kafka) as Kafka;
  observed.consumer = (config: ConsumerConfig) => {
    const consumer = kafka.consumer(config);
    if (config.groupId === groupId) {
      consumer.on(consumer.events.START_BATCH_PROCESS, () => {
        firstBatch.atMs ??= performance.now();
      });
    }
    return consumer;
  };
  return { kafka: observed, firstBatch };
}

async function waitUntil(done: () => boolean, progress: () => string): Promise<void> {
  const startMs = performance.now();
  while (!done()) {
    if (performance.now() - startMs > SIDE_TIMEOUT_MS) {
      throw new BenchFailure(`no end after ${SIDE_TIMEOUT_MS} ms: ${progress()}`);
    }
    await sleep(20);
  }
}

/**
 * The templates of one namespace, as `panacea run` installs them at start (templates are per
 * namespace), without the retention schedule it would also start.
 */
async function installTemplates(
  client: Client,
  config: PanaceaConfig,
  namespace: string,
): Promise<void> {
  const retention = { ...config.retention, enforcementIntervalMs: undefined };
  await (await prepareElasticsearch(client, { ...config, namespace, retention })).stop();
}

async function countStored(client: Client, namespace: string): Promise<number> {
  const index = `logs-agent.*-${namespace}`;
  await client.indices.refresh({ index, allow_no_indices: true, ignore_unavailable: true });
  return (await client.count({ index, allow_no_indices: true, ignore_unavailable: true })).count;
}

async function expectStored(client: Client, namespace: string, expected: number): Promise<void> {
  const stored = await countStored(client, namespace);
  if (stored !== expected) {
    throw new BenchFailure(
      `expected ${expected} documents in namespace ${namespace}, found ${stored}`,
    );
  }
}

function figure(
  roundIndex: number,
  documents: number,
  elapsedMs: number,
  elapsedAfterJoinMs: number,
): SideFigure {
  return {
    round: roundIndex + 1,
    elapsedMs: round(elapsedMs),
    documentsPerSecond: round((documents * 1000) / elapsedMs),
    documentsPerSecondAfterJoin: round((documents * 1000) / elapsedAfterJoinMs),
  };
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
}

/** Deletes this run's topics, groups and indices (never a name outside its prefix). */
async function cleanUp(
  admin: Admin,
  elasticsearch: Client,
  runPrefix: string,
  namespacePrefix: string,
): Promise<void> {
  const { groups } = await admin.listGroups();
  const groupIds = groups.map((group) => group.groupId).filter((id) => id.startsWith(runPrefix));
  if (groupIds.length > 0) await admin.deleteGroups(groupIds).catch(() => undefined);
  const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(runPrefix));
  if (topics.length > 0) await admin.deleteTopics({ topics });
  const indices = await closeOrDeleteIndices(elasticsearch, namespacePrefix);
  say(
    `cleanup: deleted ${topics.length} Kafka topics, ${groupIds.length} consumer groups; ` +
      `deleted ${indices.deleted} indices, closed ${indices.closed} data stream write indices ` +
      '(this server has no DELETE /_data_stream)',
  );
}

/**
 * The write index of a data stream cannot be deleted, and the minimal distribution lacks DELETE
 * /_data_stream (module data-streams): those indices are closed, which frees their memory and
 * hides them from searches.
 */
async function closeOrDeleteIndices(
  client: Client,
  namespacePrefix: string,
): Promise<{ deleted: number; closed: number }> {
  const records = await client.cat.indices({
    // The events' data streams, and the metrics indices of the outage part's whole pipeline.
    index: `.ds-logs-agent.*-${namespacePrefix}*,metrics-agent.*-${namespacePrefix}*`,
    expand_wildcards: 'all',
    format: 'json',
    h: ['index'],
  });
  const outcome = { deleted: 0, closed: 0 };
  for (const { index } of records) {
    if (index === undefined || !index.includes(namespacePrefix)) continue;
    try {
      await client.indices.delete({ index });
      outcome.deleted += 1;
    } catch (error) {
      if (!(error instanceof errors.ResponseError && error.statusCode === 400)) throw error;
      await client.indices.close({ index });
      outcome.closed += 1;
    }
  }
  return outcome;
}

type Result = {
  date: string;
  machine: ReturnType<typeof machineFacts>;
  settings: BenchOptions;
  throughput: Awaited<ReturnType<typeof measureThroughput>>;
  outage: Awaited<ReturnType<typeof measureOutage>>;
};

function printReport(result: Result): void {
  const { machine: host, throughput, outage, settings } = result;
  const rates = (figures: SideFigure[], pick: (entry: SideFigure) => number): string =>
    figures.map((entry) => formatNumber(pick(entry))).join(' / ');

  say('Panacea Elasticsearch sink');
  say(`  date       ${result.date}`);
  say(
    `  machine    ${host.cpuCount} cores, ${host.cpuModel}, ${host.totalMemoryGiB} GiB, ` +
      `load ${host.loadAverage1m.start} at start, ${host.loadAverage1m.end} at end (1 min)`,
  );
  say(
    `  workload   ${formatNumber(throughput.documents)} enriched documents of ` +
      `${throughput.meanDocumentBytes} bytes on average, ${settings.rounds} rounds`,
  );
  say('');
  say(
    `  sink stage (Kafka → ES)       ${formatNumber(throughput.sink.median).padStart(8)}/s   ` +
      `after join ${formatNumber(throughput.sink.medianAfterJoin)}/s   rounds ` +
      `${rates(throughput.sink.rounds, (entry) => entry.documentsPerSecond)}; ` +
      `${rates(throughput.sink.rounds, (entry) => entry.documentsPerSecondAfterJoin)}`,
  );
  say(
    `  client.helpers.bulk (memory)  ${formatNumber(throughput.helper.median).padStart(8)}/s   ` +
      `rounds ${rates(throughput.helper.rounds, (entry) => entry.documentsPerSecond)}`,
  );
  say(
    `  sink / helper (medians)       ${throughput.ratio.toFixed(2)}   after join ` +
      `${throughput.ratioAfterJoin.toFixed(2)}   (goal ≥ 0.90)`,
  );
  say('');
  say(
    `  outage     ${settings.outageSeconds} s unavailable at ${settings.inputRatePerSecond} ` +
      `events/s, ${WARM_UP_SECONDS} s before and ${RECOVERY_SECONDS} s after`,
  );
  say(
    `  resident   min ${outage.rssMiB.min} MiB, max ${outage.rssMiB.max} MiB, final ` +
      `${outage.rssMiB.final} MiB (goal: flat, < ${MEMORY_GOAL_MIB} MB); during the outage ` +
      `${outage.outageRssMiB.min}–${outage.outageRssMiB.max} MiB, first 10 s mean ` +
      `${outage.outageRssMiB.first10sMean}, last 10 s mean ${outage.outageRssMiB.last10sMean}`,
  );
  say(
    `  stored     ${formatNumber(outage.stored)} of ${formatNumber(outage.published)} published, ` +
      `caught up ${round(outage.catchUpMs / 1000, 1)} s after the input stopped; ` +
      `sink offsets committed during the outage: ${outage.committedDuringOutage}; ` +
      `"input paused" logged ${outage.pauseLogs} times; exit ${outage.exitCode}`,
  );
  for (const line of outage.summary) say(`  run says   ${line}`);
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      events: { type: 'string' },
      rounds: { type: 'string' },
      'outage-seconds': { type: 'string' },
      'input-rate': { type: 'string' },
    },
  });
  return {
    eventCount: parseInteger('--events', values.events, DEFAULT_OPTIONS.eventCount, 1, 1_000_000),
    rounds: parseInteger('--rounds', values.rounds, DEFAULT_OPTIONS.rounds, 1, 20),
    outageSeconds: parseInteger(
      '--outage-seconds',
      values['outage-seconds'],
      DEFAULT_OPTIONS.outageSeconds,
      5,
      600,
    ),
    inputRatePerSecond: parseInteger(
      '--input-rate',
      values['input-rate'],
      DEFAULT_OPTIONS.inputRatePerSecond,
      1,
      20_000,
    ),
  };
}

process.exit(await main(process.argv.slice(2)));
