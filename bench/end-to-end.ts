/**
 * End-to-end benchmark on the running local stack (`panacea stack up`): how fast events go into
 * Kafka, how fast the pipeline moves them from the raw topics into Elasticsearch, how that compares
 * with writing the same documents straight into Elasticsearch, and how long an event takes from
 * publish to searchable. Prints a table for a person and one JSON line for machines.
 *
 * Usage: npm run bench -- [--events 20000] [--latency-percent 50 | --latency-rate E]
 *                         [--latency-seconds 20] [--latency-samples 400]
 *
 * Every run uses its own topic prefix, namespace and data directory, and removes what it created
 * at the end, so it never reads or writes anybody else's data on a shared stack.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

import { Client, errors, type estypes } from '@elastic/elasticsearch';
import type { Admin } from 'kafkajs';

import { createElasticsearchClient, startPipeline, type RunningPipeline } from '../cli/pipeline.js';
import { openPublisher, type OpenPublisher } from '../cli/publishing.js';
import { loadConfig, type PanaceaConfig } from '../core/config.js';
import { createKafka } from '../core/kafka.js';
import { createNaming, type Naming } from '../core/naming.js';
import { readCapabilities } from '../infra/elasticsearch/capabilities.js';
import { EVENT_SETTINGS, eventMappingsFor } from '../infra/elasticsearch/index-templates.js';
import { toEnrichedDocument, type EnrichedDocument } from '../processors/enrich/ecs-document.js';
import { createSimulatedFleet } from '../producers/demo/simulated-fleet.js';
import type { AgentEvent } from '../schemas/event.js';
import {
  BenchFailure,
  formatNumber,
  loadAverage1m,
  parseInteger,
  reportOrFail,
  round,
  say,
  machineFacts,
} from './report-support.js';

interface BenchOptions {
  /** Events for the throughput figures. `--events`; default 20 000. */
  eventCount: number;
  /**
   * Steady publish rate while latency is measured, events/s. `--latency-rate`; by default
   * `latencyPercent` of the pipeline rate this run measured.
   */
  latencyRatePerSecond?: number;
  /**
   * The steady rate as a share of the measured pipeline rate, so latency is taken at the same
   * load relative to what the pipeline sustains on any machine. `--latency-percent`; default 50.
   */
  latencyPercent: number;
  /** How long the steady publishing lasts. `--latency-seconds`; default 20 s. */
  latencyDurationMs: number;
  /** Events whose publish-to-searchable time is measured. `--latency-samples`; default 400. */
  latencySampleCount: number;
}

const DEFAULT_OPTIONS: BenchOptions = {
  eventCount: 20_000,
  latencyPercent: 50,
  latencyDurationMs: 20_000,
  latencySampleCount: 400,
};

/** Events per publish call in the produce phase. */
const PUBLISH_BATCH_SIZE = 500;
/** Enough agents that 20 000 events span minutes of simulated time, not hours. */
const FLEET_AGENT_COUNT = 50;
/** Simulated time the fleet moves per step while events are generated. */
const FLEET_STEP_MS = 10_000;
/** The fleet starts a day back so no generated event lies in the future. */
const FLEET_HISTORY_MS = 24 * 60 * 60 * 1000;
/**
 * Lag poll of waitUntilIdle during the measured run. It needs two idle readings in a row, so the
 * pipeline figure includes up to about two of these intervals after the last document is written.
 */
const IDLE_POLL_INTERVAL_MS = 100;
/** How often the steady publisher sends what is due; at 200 events/s that is 10 per send. */
const STEADY_PUBLISH_TICK_MS = 50;
/** How often the latency probe searches for the sampled events: the resolution of the figure. */
const SEARCH_POLL_INTERVAL_MS = 100;
/**
 * Searching before the first sample is published: a shard nobody searched for 30 s is
 * "search idle", skips its periodic refresh, and refreshes on the next search instead. The probe
 * measures the steady state of an index that is being searched, as a dashboard would keep it.
 */
const SEARCH_WARM_UP_MS = 2_000;
/** Longest wait for the last samples to become searchable after publishing stops. */
const LATENCY_DRAIN_TIMEOUT_MS = 30_000;
/**
 * The pipeline phase gives up after this long plus PIPELINE_TIMEOUT_PER_EVENT_MS per event (a
 * floor of 100 events/s), so a pipeline that stops making progress fails the run instead of
 * hanging it.
 */
const PIPELINE_TIMEOUT_BASE_MS = 60_000;
const PIPELINE_TIMEOUT_PER_EVENT_MS = 10;

interface MachineFacts {
  date: string;
  cpuCount: number;
  cpuModel: string;
  totalMemoryGiB: number;
  /** One-minute load average before and after the run: other work on the machine shows here. */
  loadAverage1m: { start: number; end: number };
  nodeVersion: string;
  kafkaBrokers: string[];
  elasticsearchUrl: string;
}

interface ThroughputFigure {
  events: number;
  elapsedMs: number;
  eventsPerSecond: number;
}

interface LatencyFigure {
  publishedEvents: number;
  achievedRatePerSecond: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface BenchResult {
  machine: MachineFacts;
  produce: ThroughputFigure;
  pipeline: ThroughputFigure & { startUpMs: number };
  baseline: ThroughputFigure;
  pipelineToBaselineRatio: number;
  latency: LatencyFigure;
  peakRssMiB: number;
}

/** What the run created, so cleanup removes exactly that, whatever step failed. */
interface Resources {
  config: PanaceaConfig;
  naming: Naming;
  elasticsearch: Client;
  publisher?: OpenPublisher;
  pipeline?: RunningPipeline;
  baselineIndex?: string;
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const runId = randomBytes(4).toString('hex');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `panacea-bench-${runId}-`));
  const config = loadConfig({
    ...process.env,
    PANACEA_TOPIC_PREFIX: `bench.${runId}.`,
    PANACEA_NAMESPACE: `bench_${runId}`,
    PANACEA_DATA_DIR: dataDir,
  });
  const naming = createNaming(config);
  const resources: Resources = {
    config,
    naming,
    elasticsearch: createElasticsearchClient(config),
  };

  return reportOrFail({
    measure: () => measure(options, resources),
    printReport: (result) => printReport(result, options),
    cleanUp: async () => {
      await cleanUp(resources);
      await rm(dataDir, { recursive: true, force: true });
    },
  });
}

async function measure(options: BenchOptions, resources: Resources): Promise<BenchResult> {
  const { config, naming, elasticsearch } = resources;
  const date = new Date();
  const loadAtStart = loadAverage1m();
  const nextEvents = createEventSource(Date.now() - FLEET_HISTORY_MS);
  const events = nextEvents(options.eventCount);
  const ownDataStreams = `logs-agent.*-${config.namespace}`;

  // 1. Produce: the project's publisher, batches of 500, one after the other.
  const publisher = await openPublisher(config, naming);
  resources.publisher = publisher;
  const produce = await timeThroughput(events.length, async () => {
    for (let start = 0; start < events.length; start += PUBLISH_BATCH_SIZE) {
      await publisher.publish(events.slice(start, start + PUBLISH_BATCH_SIZE));
    }
  });

  // 2. Pipeline: started only now, so it drains a full backlog; the clock includes its start-up.
  let startUpMs = 0;
  const pipelineRun = await timeThroughput(events.length, async () => {
    const startedAtMs = performance.now();
    const pipeline = await startPipeline(config);
    resources.pipeline = pipeline;
    startUpMs = performance.now() - startedAtMs;
    const timeoutMs = PIPELINE_TIMEOUT_BASE_MS + events.length * PIPELINE_TIMEOUT_PER_EVENT_MS;
    await Promise.race([
      pipeline.waitUntilIdle(IDLE_POLL_INTERVAL_MS),
      pipeline.failed,
      failWhenAStageEnds(pipeline),
      failAfter(timeoutMs, `the pipeline did not drain ${events.length} events in ${timeoutMs} ms`),
    ]);
  });
  await expectDocumentCount(elasticsearch, ownDataStreams, events.length);

  // 4. Latency, measured now while the pipeline runs live (the baseline needs it stopped).
  const latencyRatePerSecond =
    options.latencyRatePerSecond ??
    Math.max(1, Math.round((pipelineRun.eventsPerSecond * options.latencyPercent) / 100));
  const latency = await measureLatency(
    { ...options, latencyRatePerSecond },
    resources,
    nextEvents,
    ownDataStreams,
  );
  await resources.pipeline?.stop();

  // 3. Baseline: the same documents written with the client's bulk helper, no Kafka in between.
  const baseline = await measureBaseline(events, resources);

  return {
    machine: describeMachine(config, date, { start: loadAtStart, end: loadAverage1m() }),
    produce,
    pipeline: { ...pipelineRun, startUpMs: round(startUpMs) },
    baseline,
    pipelineToBaselineRatio: round(pipelineRun.eventsPerSecond / baseline.eventsPerSecond, 3),
    latency,
    // maxRSS is in KiB.
    peakRssMiB: round(process.resourceUsage().maxRSS / 1024, 1),
  };
}

async function measureLatency(
  options: BenchOptions & { latencyRatePerSecond: number },
  resources: Resources,
  nextEvents: (count: number) => AgentEvent[],
  index: string,
): Promise<LatencyFigure> {
  const publisher = required(resources.publisher, 'the publisher is open');
  const totalEvents = Math.round((options.latencyRatePerSecond * options.latencyDurationMs) / 1000);
  const events = nextEvents(totalEvents);
  // Rounded up, so there are at most as many samples as asked for.
  const sampleEvery = Math.max(1, Math.ceil(totalEvents / options.latencySampleCount));
  const probe = startSearchProbe(resources.elasticsearch, index);
  await sleep(SEARCH_WARM_UP_MS);

  // Fixed rate: every tick sends what is due by now, so a slow send is caught up, not lost.
  const publishStartMs = performance.now();
  let sent = 0;
  while (sent < events.length) {
    const elapsedMs = performance.now() - publishStartMs;
    const due = Math.min(
      events.length,
      Math.floor((elapsedMs * options.latencyRatePerSecond) / 1000) + 1,
    );
    const batch = events.slice(sent, due);
    const publishedAtMs = performance.now();
    await publisher.publish(batch);
    batch.forEach((event, position) => {
      if ((sent + position) % sampleEvery === 0) probe.expect(event.eventId, publishedAtMs);
    });
    sent = due;
    await sleep(
      STEADY_PUBLISH_TICK_MS - ((performance.now() - publishStartMs) % STEADY_PUBLISH_TICK_MS),
    );
  }
  const publishElapsedMs = performance.now() - publishStartMs;

  const latenciesMs = await probe.drain(LATENCY_DRAIN_TIMEOUT_MS);
  const samples = Math.ceil(totalEvents / sampleEvery);
  if (latenciesMs.length < samples) {
    throw new BenchFailure(
      `${samples - latenciesMs.length} of ${samples} sampled events were not searchable in ` +
        `${index} ${LATENCY_DRAIN_TIMEOUT_MS} ms after publishing stopped`,
    );
  }

  latenciesMs.sort((a, b) => a - b);
  return {
    publishedEvents: totalEvents,
    achievedRatePerSecond: round((totalEvents * 1000) / publishElapsedMs, 1),
    samples: latenciesMs.length,
    p50Ms: round(percentile(latenciesMs, 50)),
    p99Ms: round(percentile(latenciesMs, 99)),
    maxMs: round(latenciesMs.at(-1) ?? 0),
  };
}

interface SearchProbe {
  /** Starts the clock of one event: it counts as searchable once a search returns it. */
  expect(eventId: string, publishedAtMs: number): void;
  /** Waits until every expected event was found or the time is up; returns the latencies. */
  drain(timeoutMs: number): Promise<number[]>;
}

/**
 * One search per interval for every sampled event not found yet (a `terms` query on `event.id`),
 * rather than one search per event: the probe should not load the node whose refresh it measures.
 * No refresh is asked for; an event is found when Elasticsearch's own refresh has exposed it.
 */
function startSearchProbe(client: Client, index: string): SearchProbe {
  const publishedAtById = new Map<string, number>();
  const latenciesMs: number[] = [];
  let stopped = false;

  const loop = (async () => {
    while (!stopped) {
      const roundStartMs = performance.now();
      const ids = [...publishedAtById.keys()];
      const response = await client.search({
        index,
        size: ids.length,
        _source: false,
        track_total_hits: false,
        query: { terms: { 'event.id': ids } },
        allow_no_indices: true,
        ignore_unavailable: true,
      });
      // The response time, not the request time: the event is certainly searchable by then.
      const foundAtMs = performance.now();
      for (const hit of response.hits.hits) {
        const publishedAtMs = hit._id === undefined ? undefined : publishedAtById.get(hit._id);
        if (hit._id === undefined || publishedAtMs === undefined) continue;
        latenciesMs.push(foundAtMs - publishedAtMs);
        publishedAtById.delete(hit._id);
      }
      await sleep(Math.max(0, SEARCH_POLL_INTERVAL_MS - (performance.now() - roundStartMs)));
    }
  })();

  return {
    expect(eventId, publishedAtMs) {
      publishedAtById.set(eventId, publishedAtMs);
    },
    async drain(timeoutMs) {
      const deadlineMs = performance.now() + timeoutMs;
      while (publishedAtById.size > 0 && performance.now() < deadlineMs) {
        await sleep(SEARCH_POLL_INTERVAL_MS);
      }
      stopped = true;
      await loop;
      return latenciesMs;
    },
  };
}

async function measureBaseline(
  events: readonly AgentEvent[],
  resources: Resources,
): Promise<ThroughputFigure> {
  const { config, elasticsearch } = resources;
  const index = `panacea-bench-baseline-${config.namespace}`;
  // A plain index, not a data stream, because this server cannot delete data streams; it gets the
  // mappings and settings the data streams get, so both sides index the same way.
  const capabilities = await readCapabilities(elasticsearch);
  await elasticsearch.indices.create({
    index,
    settings: EVENT_SETTINGS,
    mappings: eventMappingsFor(capabilities) as estypes.MappingTypeMapping,
  });
  resources.baselineIndex = index;

  // Documents are built before the clock starts: the baseline is the cost of the write alone.
  const nowMs = Date.now();
  const documents = events.map((event) => {
    const document = toEnrichedDocument(event, { ingestedAtMs: nowMs, createdAtMs: nowMs });
    return {
      ...document,
      data_stream: { type: 'logs', dataset: document.event.dataset, namespace: config.namespace },
    };
  });
  // The helper with the client's own defaults (3 retries, 5 MB flushes, 5 requests in flight):
  // what an application that skips the pipeline would write with. The project client has retries
  // off because its sink retries by itself.
  const client = new Client({ node: config.elasticsearchUrl });
  let dropped = 0;
  try {
    const figure = await timeThroughput(documents.length, async () => {
      await client.helpers.bulk<EnrichedDocument>({
        datasource: documents,
        onDocument: (document) => ({ create: { _index: index, _id: document.event.id } }),
        onDrop: () => {
          dropped += 1;
        },
      });
    });
    if (dropped > 0) throw new BenchFailure(`the bulk helper dropped ${dropped} documents`);
    await expectDocumentCount(elasticsearch, index, documents.length);
    return figure;
  } finally {
    await client.close();
  }
}

/** Refreshes first: the check is about what was written, not about what is visible yet. */
async function expectDocumentCount(client: Client, index: string, expected: number): Promise<void> {
  await client.indices.refresh({ index, allow_no_indices: true, ignore_unavailable: true });
  const { count } = await client.count({ index, allow_no_indices: true, ignore_unavailable: true });
  if (count !== expected) {
    throw new BenchFailure(`expected ${expected} documents in ${index}, found ${count}`);
  }
}

async function cleanUp(resources: Resources): Promise<void> {
  const { config, elasticsearch } = resources;
  await resources.pipeline?.stop();
  await resources.publisher?.close();

  const kafka = createKafka(config, 'panacea-bench-cleanup');
  const admin = kafka.admin();
  await admin.connect();
  try {
    await deleteKafkaResources(admin, config, resources.pipeline);
  } finally {
    await admin.disconnect();
  }
  await deleteElasticsearchResources(elasticsearch, config, resources.baselineIndex);
  await elasticsearch.close();
}

async function deleteKafkaResources(
  admin: Admin,
  config: PanaceaConfig,
  pipeline: RunningPipeline | undefined,
): Promise<void> {
  const groupIds = pipeline?.stages.map((stage) => stage.groupId) ?? [];
  if (groupIds.length > 0) await admin.deleteGroups(groupIds);

  const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(config.topicPrefix));
  if (topics.length > 0) await admin.deleteTopics({ topics });
  say(`cleanup: deleted ${topics.length} Kafka topics and ${groupIds.length} consumer groups`);
}

/**
 * Deletes the run's indices. The write index of a data stream cannot be deleted, and the
 * minimal distribution on this machine lacks DELETE /_data_stream (module data-streams); those
 * indices are closed instead, which frees their memory and hides them from wildcard searches.
 */
async function deleteElasticsearchResources(
  client: Client,
  config: PanaceaConfig,
  baselineIndex: string | undefined,
): Promise<void> {
  const records = await client.cat.indices({
    index: `.ds-logs-agent.*-${config.namespace}-*`,
    expand_wildcards: 'all',
    format: 'json',
    h: ['index'],
  });
  const indices = records.flatMap((record) => (record.index === undefined ? [] : [record.index]));
  if (baselineIndex !== undefined) indices.push(baselineIndex);

  const deleted: string[] = [];
  const closed: string[] = [];
  for (const index of indices) {
    try {
      await client.indices.delete({ index });
      deleted.push(index);
    } catch (error) {
      if (!(error instanceof errors.ResponseError && error.statusCode === 400)) throw error;
      await client.indices.close({ index });
      closed.push(index);
    }
  }
  say(`cleanup: deleted ${deleted.length} Elasticsearch indices`);
  if (closed.length > 0) {
    say(
      `cleanup: closed ${closed.length} data stream write indices that this server cannot ` +
        `delete (no DELETE /_data_stream here): ${closed.join(', ')}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/**
 * Rejects when a stage ends although nobody stopped it. `pipeline.failed` does not cover this: on
 * a crash it does not restart, kafkajs emits the consumer's STOP before its CRASH, so the stage's
 * `finished` resolves instead of rejecting and `failed` never settles.
 */
function failWhenAStageEnds(pipeline: RunningPipeline): Promise<never> {
  return Promise.race(
    pipeline.stages.map(async (stage) => {
      // A crash that is reported as one ends up here too; its error is in the stage's log.
      await stage.finished.catch(() => undefined);
      throw new BenchFailure(`stage ${stage.name} stopped by itself; its log is on stderr`);
    }),
  );
}

/** Rejects after the delay; its timer does not keep the process alive. */
async function failAfter(delayMs: number, message: string): Promise<never> {
  await sleep(delayMs, undefined, { ref: false });
  throw new BenchFailure(message);
}

/**
 * Hands out validated events from one simulated fleet whose clock runs as fast as the caller asks:
 * every call continues where the last stopped, so no event id repeats within a run.
 */
function createEventSource(startMs: number): (count: number) => AgentEvent[] {
  const fleet = createSimulatedFleet(startMs, { agentCount: FLEET_AGENT_COUNT });
  let clockMs = startMs;
  let buffered: AgentEvent[] = [];

  return (count) => {
    while (buffered.length < count) {
      clockMs += FLEET_STEP_MS;
      buffered = buffered.concat(fleet.advanceTo(clockMs));
    }
    const taken = buffered.slice(0, count);
    buffered = buffered.slice(count);
    return taken;
  };
}

async function timeThroughput(
  events: number,
  work: () => Promise<void>,
): Promise<ThroughputFigure> {
  const startMs = performance.now();
  await work();
  const elapsedMs = performance.now() - startMs;
  return {
    events,
    elapsedMs: round(elapsedMs),
    eventsPerSecond: round((events * 1000) / elapsedMs),
  };
}

function describeMachine(
  config: PanaceaConfig,
  date: Date,
  load: MachineFacts['loadAverage1m'],
): MachineFacts {
  return {
    date: date.toISOString(),
    ...machineFacts(load.start),
    loadAverage1m: load,
    kafkaBrokers: config.kafkaBrokers,
    elasticsearchUrl: config.elasticsearchUrl,
  };
}

function printReport(result: BenchResult, options: BenchOptions): void {
  const { machine, produce, pipeline, baseline, latency } = result;
  const rate = (figure: ThroughputFigure): string =>
    `${formatNumber(figure.eventsPerSecond)} events/s`;
  const seconds = (elapsedMs: number): string => `${(elapsedMs / 1000).toFixed(2)} s`;

  const context: Array<[string, string]> = [
    ['date', machine.date],
    [
      'machine',
      `${machine.cpuCount} cores, ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB memory, ` +
        `load ${machine.loadAverage1m.start} at start, ${machine.loadAverage1m.end} at end (1 min)`,
    ],
    ['node', machine.nodeVersion],
    ['kafka', machine.kafkaBrokers.join(',')],
    ['elasticsearch', machine.elasticsearchUrl],
    ['events (N)', formatNumber(options.eventCount)],
  ];
  const figures: Array<[string, string, string]> = [
    [
      'produce rate',
      rate(produce),
      `${seconds(produce.elapsedMs)}; openPublisher, batches of ${PUBLISH_BATCH_SIZE}`,
    ],
    [
      'pipeline rate, raw topics → Elasticsearch',
      rate(pipeline),
      `${seconds(pipeline.elapsedMs)} from startPipeline to idle, start-up ` +
        `${seconds(pipeline.startUpMs)}; ${formatNumber(pipeline.events)} documents counted`,
    ],
    [
      'baseline, bulk helper straight to Elasticsearch',
      rate(baseline),
      `${seconds(baseline.elapsedMs)}; one index, create ops, client defaults`,
    ],
    ['pipeline / baseline', result.pipelineToBaselineRatio.toFixed(2), ''],
    [
      'latency publish → searchable, p50',
      `${formatNumber(latency.p50Ms)} ms`,
      `${latency.samples} samples of ${formatNumber(latency.publishedEvents)} events at ` +
        `${latency.achievedRatePerSecond} events/s`,
    ],
    [
      'latency publish → searchable, p99',
      `${formatNumber(latency.p99Ms)} ms`,
      `max ${formatNumber(latency.maxMs)} ms; searched every ${SEARCH_POLL_INTERVAL_MS} ms`,
    ],
    ['peak resident memory (bench process)', `${result.peakRssMiB} MiB`, 'maxRSS'],
  ];

  const contextWidth = Math.max(...context.map(([label]) => label.length));
  const labelWidth = Math.max(...figures.map(([label]) => label.length));
  const valueWidth = Math.max(...figures.map(([, value]) => value.length));
  say('Panacea end-to-end benchmark');
  for (const [label, value] of context) say(`  ${label.padEnd(contextWidth)}  ${value}`);
  say('');
  for (const [label, value, note] of figures) {
    say(`  ${label.padEnd(labelWidth)}  ${value.padStart(valueWidth)}  ${note}`.trimEnd());
  }
  say('');
  say(
    '  Latency is dominated by Elasticsearch refresh_interval (default 1 s): a document becomes\n' +
      '  searchable at the next refresh of its shard, so p50 sits near half an interval plus the\n' +
      '  pipeline, p99 near a full one. The peak memory is the whole bench process: publisher,\n' +
      '  pipeline, baseline client and all generated events.',
  );
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      events: { type: 'string' },
      'latency-rate': { type: 'string' },
      'latency-percent': { type: 'string' },
      'latency-seconds': { type: 'string' },
      'latency-samples': { type: 'string' },
    },
  });

  const latencySeconds = parseInteger(
    '--latency-seconds',
    values['latency-seconds'],
    DEFAULT_OPTIONS.latencyDurationMs / 1000,
    1,
    3_600,
  );
  return {
    eventCount: parseInteger('--events', values.events, DEFAULT_OPTIONS.eventCount, 1, 5_000_000),
    latencyRatePerSecond:
      values['latency-rate'] === undefined
        ? undefined
        : parseInteger('--latency-rate', values['latency-rate'], 0, 1, 100_000),
    latencyPercent: parseInteger(
      '--latency-percent',
      values['latency-percent'],
      DEFAULT_OPTIONS.latencyPercent,
      1,
      200,
    ),
    latencyDurationMs: latencySeconds * 1000,
    // The probe asks for all pending samples in one search, whose result window is 10 000.
    latencySampleCount: parseInteger(
      '--latency-samples',
      values['latency-samples'],
      DEFAULT_OPTIONS.latencySampleCount,
      1,
      10_000,
    ),
  };
}

/** Nearest-rank percentile of values sorted ascending. */
function percentile(sortedValues: readonly number[], percent: number): number {
  const rank = Math.ceil((percent / 100) * sortedValues.length);
  return sortedValues[Math.max(0, rank - 1)] ?? Number.NaN;
}

function required<T>(value: T | undefined, expectation: string): T {
  if (value === undefined) throw new Error(`bench: broken state, expected ${expectation}`);
  return value;
}

// Exits explicitly: after a failure the pipeline's idle poll (waitUntilIdle) has no way to be
// cancelled and would keep the process alive.
process.exit(await main(process.argv.slice(2)));
