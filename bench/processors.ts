/**
 * Processors benchmark on the running Kafka (`panacea stack up`): how fast the enrich stage and
 * the metrics stage, started together as `panacea run` starts them, move N simulated-fleet events
 * from the raw topics to `agent.metrics`, against a bare kafkajs consumer that reads the same
 * records and produces each one unchanged to another topic (idempotent producer, acks -1). The
 * figure that matters is the ratio of the two rates. To tell where the time goes, each round also
 * times the enrich stage alone and the metrics stage alone (on what the lone enrich wrote).
 * Prints a table for a person and one JSON line for machines. Elasticsearch is not used.
 *
 * Usage: npm run bench -- --only processors [--events 30000] [--rounds 3]
 *
 * The raw topics are filled once, as `panacea produce` fills them; every round and every side
 * then reads them from the beginning with consumer groups and output topics of its own. Every run
 * uses its own topic prefix and deletes its topics and groups at the end.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

import type { Admin, Consumer, ConsumerConfig, Kafka, Producer } from 'kafkajs';

import { loadConfig, type PanaceaConfig } from '../core/config.js';
import { messageOf } from '../core/errors.js';
import { createDurableProducer } from '../core/kafka.js';
import { componentLogger } from '../core/logger.js';
import { createNaming, type Naming } from '../core/naming.js';
import { startStage, type RunningStage } from '../core/stage-runner.js';
import { ensureTopics } from '../infra/topics.js';
import { openPublisher } from '../cli/publishing.js';
import {
  openAgentRegistry,
  type AgentRegistry,
} from '../processors/enrich/agent-registry/kafka-agent-registry.js';
import { createEnrichStage } from '../processors/enrich/enrich-stage.js';
import { loadRedactionRules } from '../processors/enrich/redaction-rules-file.js';
import { startMetricsStage } from '../processors/metrics/metrics-stage.js';
import { createSimulatedFleet, type SimulatedAgent } from '../producers/demo/simulated-fleet.js';
import { openSchemaCodec, type SchemaCodec } from '../schemas/codec.js';
import type { AgentEvent } from '../schemas/event.js';
import { openSchemaRegistry } from '../schemas/registry/open-registry.js';
import type { SchemaRegistry } from '../schemas/registry/schema-registry.js';
import {
  BenchFailure,
  formatNumber,
  loadAverage1m,
  parseInteger,
  runKafkaBenchmark,
  round,
  say,
  machineFacts,
  median,
} from './report-support.js';

interface BenchOptions {
  /**
   * Events in the raw topics, read by every side of every round. `--events`; default 50 000,
   * enough that each side runs for seconds and the metrics stage's once-a-second commit and
   * group joins weigh little.
   */
  eventCount: number;
  /** Rounds of every side. `--rounds`; default 3. */
  rounds: number;
}

const DEFAULT_OPTIONS: BenchOptions = { eventCount: 50_000, rounds: 3 };

/** Many agents, so the metrics stage keeps windows and task state for many subjects. */
const FLEET_AGENT_COUNT = 200;
/** Simulated time the fleet moves per step while events are generated. */
const FLEET_STEP_MS = 10_000;
/** Events per publish call while the raw topics are filled, as `panacea produce` sends them. */
const PUBLISH_BATCH_SIZE = 500;
/**
 * How often a run checks whether its last stage has handled every record: the resolution of the
 * end of each timing.
 */
const PROGRESS_POLL_INTERVAL_MS = 20;
/**
 * A run gives up after this long plus RUN_TIMEOUT_PER_EVENT_MS per event (a floor of 200
 * events/s), so a stage that stops making progress fails the bench instead of hanging it.
 */
const RUN_TIMEOUT_BASE_MS = 60_000;
const RUN_TIMEOUT_PER_EVENT_MS = 5;

const SIDES = ['baseline', 'pipeline', 'enrich', 'metrics'] as const;
type Side = (typeof SIDES)[number];

const SIDE_LABELS: Record<Side, string> = {
  baseline: 'bare kafkajs consume → produce',
  pipeline: 'enrich + metrics together',
  enrich: 'enrich alone',
  metrics: 'metrics alone (enriched input)',
};

interface RunFigure {
  round: number;
  events: number;
  /** From the start of the side (consumers connect, groups join) to its last record handled. */
  elapsedMs: number;
  eventsPerSecond: number;
  /** From the start to the first batch handed to the first consumer: the group join. */
  joinMs: number;
  /** The rate from the first batch on, without the group join. */
  eventsPerSecondAfterJoin: number;
  /** CPU time of the bench process per event, all threads (kafkajs, the stages, the bench). */
  cpuMicrosPerEvent: number;
  /** Batches each stage (or the passthrough) handled: the per-batch cost is paid this often. */
  batches: Record<string, number>;
}

interface SideResult {
  rounds: RunFigure[];
  medianEventsPerSecond: number;
  medianEventsPerSecondAfterJoin: number;
}

interface BenchResult {
  date: string;
  machine: {
    cpuCount: number;
    cpuModel: string;
    totalMemoryGiB: number;
    loadAverage1m: { start: number; end: number };
    nodeVersion: string;
    kafkaBrokers: string[];
  };
  settings: {
    events: number;
    rounds: number;
    agents: number;
    eventsByKind: Record<string, number>;
    recordBytesMean: number;
    fill: { elapsedMs: number; eventsPerSecond: number };
  };
  sides: Record<Side, SideResult>;
  /** Median pipeline rate over median baseline rate; the goal is at least 0.8. */
  pipelineToBaselineRatio: number;
  pipelineToBaselineRatioAfterJoin: number;
  peakRssMiB: number;
}

/** What every side of every run shares, opened once before any clock runs. */
interface Shared {
  config: PanaceaConfig;
  kafka: Kafka;
  admin: Admin;
  /** Names of the raw topics and the registries: the one input of every side. */
  input: Naming;
  runPrefix: string;
  registry: SchemaRegistry;
  codec: SchemaCodec;
  agentRegistry: AgentRegistry;
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const runPrefix = `bench.processors.${randomBytes(4).toString('hex')}.`;
  const config = loadConfig({ ...process.env, PANACEA_TOPIC_PREFIX: `${runPrefix}input.` });
  return runKafkaBenchmark({
    config,
    clientId: 'panacea-bench-processors',
    runPrefix,
    measure: (kafka, admin) => measure(options, config, kafka, admin, runPrefix),
    printReport,
  });
}

async function measure(
  options: BenchOptions,
  config: PanaceaConfig,
  kafka: Kafka,
  admin: Admin,
  runPrefix: string,
): Promise<BenchResult> {
  const date = new Date();
  const loadAtStart = loadAverage1m();
  const input = createNaming(config);
  const { events, agents } = generateEvents(options.eventCount);

  // 1. What the stages need and `startPipeline` opens before any stage starts.
  const registry = await openSchemaRegistry(config, kafka);
  const agentRegistry = await openAgentRegistry({
    kafka,
    brokers: config.kafkaBrokers,
    topic: input.agentRegistryTopic(),
    groupPrefix: runPrefix,
    logger: componentLogger('agent-registry'),
  });
  const shared: Shared = {
    config,
    kafka,
    admin,
    input,
    runPrefix,
    registry,
    codec: await openSchemaCodec(registry),
    agentRegistry,
  };

  const figures: Record<Side, RunFigure[]> = {
    baseline: [],
    pipeline: [],
    enrich: [],
    metrics: [],
  };
  let fill: { elapsedMs: number; eventsPerSecond: number };
  try {
    // 2. The input: the fleet's agents in the agent registry (so enrichment finds their profiles),
    //    then the events published as `panacea produce` publishes them.
    await agentRegistry.register(
      agents.map((agent) => ({ id: agent.id, name: agent.name, team: agent.team })),
    );
    fill = await fillRawTopics(config, input, events);
    const rawRecords = await countRecords(admin, input.rawTopics());
    if (rawRecords !== events.length) {
      throw new BenchFailure(
        `expected ${events.length} records in the raw topics, found ${rawRecords}`,
      );
    }

    // 3. Rounds: every side once, baseline and pipeline in alternating order so neither always
    //    runs on the warmer broker; enrich alone feeds metrics alone.
    for (let roundIndex = 0; roundIndex < options.rounds; roundIndex += 1) {
      const runBaseline = async () => {
        figures.baseline.push(await timeBaseline(shared, roundIndex, events.length));
      };
      const runPipeline = async () => {
        figures.pipeline.push(await timePipeline(shared, roundIndex, events.length));
      };
      if (roundIndex % 2 === 0) await runBaseline().then(runPipeline);
      else await runPipeline().then(runBaseline);
      const { figure, enriched } = await timeEnrichAlone(shared, roundIndex, events.length);
      figures.enrich.push(figure);
      figures.metrics.push(await timeMetricsAlone(shared, roundIndex, enriched));
      say(
        `round ${roundIndex + 1}: ` +
          SIDES.map((side) => {
            const last = figures[side].at(-1);
            return `${side} ${formatNumber(last?.eventsPerSecond ?? 0)}/s`;
          }).join(', '),
      );
    }
  } finally {
    await Promise.allSettled([registry.close(), agentRegistry.close()]);
  }

  const sides = Object.fromEntries(SIDES.map((side) => [side, summarise(figures[side])])) as Record<
    Side,
    SideResult
  >;
  return {
    date: date.toISOString(),
    machine: { ...machineFacts(loadAtStart), kafkaBrokers: config.kafkaBrokers },
    settings: {
      events: events.length,
      rounds: options.rounds,
      agents: agents.length,
      eventsByKind: countByKind(events),
      recordBytesMean: round(
        events.reduce((sum, event) => sum + shared.codec.encode(event).length, 0) / events.length,
      ),
      fill,
    },
    sides,
    pipelineToBaselineRatio: round(
      sides.pipeline.medianEventsPerSecond / sides.baseline.medianEventsPerSecond,
      3,
    ),
    pipelineToBaselineRatioAfterJoin: round(
      sides.pipeline.medianEventsPerSecondAfterJoin / sides.baseline.medianEventsPerSecondAfterJoin,
      3,
    ),
    // maxRSS is in KiB.
    peakRssMiB: round(process.resourceUsage().maxRSS / 1024, 1),
  };
}

// ---------------------------------------------------------------------------------------------
// The sides.
// ---------------------------------------------------------------------------------------------

/**
 * A bare kafkajs passthrough: one consumer (kafkajs defaults, from the beginning) on the raw
 * topics; each batch is sent unchanged (key, value, headers) to one output topic with the
 * product's durable producer (idempotent, acks -1), then its offset is committed. The clock stops
 * when the last record is acknowledged.
 */
async function timeBaseline(
  shared: Shared,
  roundIndex: number,
  events: number,
): Promise<RunFigure> {
  const naming = await prepareNaming(shared, `r${roundIndex + 1}.baseline.`);
  const outputTopic = naming.enrichedTopic();
  const groupId = naming.consumerGroup('passthrough');
  const { kafka, firstBatch } = observeFirstBatch(shared.kafka, groupId);
  const producer = createDurableProducer(kafka);
  await producer.connect();

  let produced = 0;
  let batches = 0;
  let consumer: Consumer | undefined;
  try {
    return await timeRun(roundIndex, events, firstBatch, async () => {
      consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
      await consumer.connect();
      await consumer.subscribe({ topics: shared.input.rawTopics(), fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          const messages = batch.messages.map(({ key, value, headers }) => ({
            key,
            value,
            headers,
          }));
          await producer.send({ topic: outputTopic, acks: -1, messages });
          produced += messages.length;
          batches += 1;
        },
      });
      await waitUntil(
        events,
        () => produced >= events,
        () => `passthrough: ${produced} produced`,
      );
      return { passthrough: batches };
    });
  } finally {
    await consumer?.disconnect();
    await producer.disconnect();
  }
}

/** Enrich and metrics started together, as `startPipeline` starts them, until metrics has all. */
async function timePipeline(
  shared: Shared,
  roundIndex: number,
  events: number,
): Promise<RunFigure> {
  const naming = await prepareNaming(shared, `r${roundIndex + 1}.pipeline.`);
  const { kafka, firstBatch } = observeFirstBatch(shared.kafka, naming.consumerGroup('enrich'));
  const enrich = await openEnrich(shared, kafka, naming);

  return timeStages(roundIndex, events, firstBatch, enrich.producers, async (stages) => {
    stages.push(await enrich.start());
    const metrics = await startMetricsStage({
      kafka,
      admin: shared.admin,
      naming,
      settings: shared.config.metrics,
    });
    stages.push(metrics);
    return metrics;
  });
}

/** The enrich stage on its own; returns the enriched topic's naming for metrics alone. */
async function timeEnrichAlone(
  shared: Shared,
  roundIndex: number,
  events: number,
): Promise<{ figure: RunFigure; enriched: Naming }> {
  const naming = await prepareNaming(shared, `r${roundIndex + 1}.enrich.`);
  const { kafka, firstBatch } = observeFirstBatch(shared.kafka, naming.consumerGroup('enrich'));
  const enrich = await openEnrich(shared, kafka, naming);

  const figure = await timeStages(
    roundIndex,
    events,
    firstBatch,
    enrich.producers,
    async (stages) => {
      const stage = await enrich.start();
      stages.push(stage);
      return stage;
    },
  );
  return { figure, enriched: naming };
}

/** The metrics stage on its own, reading what enrich alone wrote in the same round. */
async function timeMetricsAlone(
  shared: Shared,
  roundIndex: number,
  enriched: Naming,
): Promise<RunFigure> {
  const naming = await prepareNaming(shared, `r${roundIndex + 1}.metrics.`, enriched);
  const records = await countRecords(shared.admin, [naming.enrichedTopic()]);
  const { kafka, firstBatch } = observeFirstBatch(shared.kafka, naming.consumerGroup('metrics'));

  return timeStages(roundIndex, records, firstBatch, [], async (stages) => {
    const metrics = await startMetricsStage({
      kafka,
      admin: shared.admin,
      naming,
      settings: shared.config.metrics,
    });
    stages.push(metrics);
    return metrics;
  });
}

/**
 * The enrich stage as `startPipeline` builds it (its two durable producers, the redaction rules
 * of the configuration, the agent registry, the runner's defaults), producers connected before
 * the clock runs.
 */
async function openEnrich(
  shared: Shared,
  kafka: Kafka,
  naming: Naming,
): Promise<{ producers: Producer[]; start: () => Promise<RunningStage> }> {
  const enrichedProducer = createDurableProducer(kafka);
  const deadLetterProducer = createDurableProducer(kafka);
  const producers = [enrichedProducer, deadLetterProducer];
  await Promise.all(producers.map((producer) => producer.connect()));
  const definition = createEnrichStage({
    naming,
    producer: enrichedProducer,
    codec: shared.codec,
    redactionRules: loadRedactionRules(shared.config.redactionRulesFile),
    agentRegistry: shared.agentRegistry,
  });
  return { producers, start: () => startStage(definition, { kafka, naming, deadLetterProducer }) };
}

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/**
 * The names of one side of one round: topics and groups of its own under the run's prefix, but
 * the shared raw topics and registries as input (and, for metrics alone, another side's enriched
 * topic). Creates the topics that the side writes to.
 */
async function prepareNaming(
  shared: Shared,
  sidePrefix: string,
  enrichedFrom?: Naming,
): Promise<Naming> {
  const own = createNaming({
    topicPrefix: `${shared.runPrefix}${sidePrefix}`,
    namespace: shared.config.namespace,
  });
  const naming: Naming = {
    ...own,
    rawTopic: shared.input.rawTopic,
    rawTopics: shared.input.rawTopics,
    schemaRegistryTopic: shared.input.schemaRegistryTopic,
    agentRegistryTopic: shared.input.agentRegistryTopic,
    enrichedTopic: (enrichedFrom ?? own).enrichedTopic,
  };
  await ensureTopics(shared.admin, naming);
  return naming;
}

/**
 * The Kafka client with one difference: the consumer of `groupId` notes when it starts its first
 * batch, so a figure can leave out the group join (a fresh group waits for the broker's
 * `group.initial.rebalance.delay.ms`, 3 s by default, before anything is fetched).
 */
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

/**
 * Times the stages `start` starts (it adds each to the list as it starts, so a failed start
 * still stops those before it) until the one it returns has handled `records`; then stops them
 * and fails the run if any dead-lettered a record.
 */
async function timeStages(
  roundIndex: number,
  records: number,
  firstBatch: { atMs: number | undefined },
  producers: Producer[],
  start: (stages: RunningStage[]) => Promise<RunningStage>,
): Promise<RunFigure> {
  const stages: RunningStage[] = [];
  try {
    return await timeRun(roundIndex, records, firstBatch, async () => {
      const last = await start(stages);
      await waitForStages(stages, records, () => last.stats().records >= records);
      return batchesOf(stages);
    });
  } finally {
    await stopAll(stages, producers);
    expectNoDeadLetters(stages);
  }
}

async function timeRun(
  roundIndex: number,
  events: number,
  firstBatch: { atMs: number | undefined },
  work: () => Promise<Record<string, number>>,
): Promise<RunFigure> {
  const startCpu = process.cpuUsage();
  const startMs = performance.now();
  const batches = await work();
  const endMs = performance.now();
  const cpu = process.cpuUsage(startCpu);

  const elapsedMs = endMs - startMs;
  const joinMs = (firstBatch.atMs ?? startMs) - startMs;
  return {
    round: roundIndex + 1,
    events,
    elapsedMs: round(elapsedMs),
    eventsPerSecond: round((events * 1000) / elapsedMs),
    joinMs: round(joinMs),
    eventsPerSecondAfterJoin: round((events * 1000) / (elapsedMs - joinMs)),
    cpuMicrosPerEvent: round((cpu.user + cpu.system) / events, 1),
    batches,
  };
}

function batchesOf(stages: RunningStage[]): Record<string, number> {
  return Object.fromEntries(stages.map((stage) => [stage.name, stage.stats().batches]));
}

/** Waits for `done`, failing when a stage ends by itself or the run takes too long. */
async function waitForStages(
  stages: RunningStage[],
  events: number,
  done: () => boolean,
): Promise<void> {
  const ended = Promise.race(
    stages.map(async (stage) => {
      // A crash that kafkajs does not restart rejects; a stop it reports as one resolves.
      const reason = await stage.finished.then(
        () => 'without an error',
        (error: unknown) => `with "${messageOf(error)}"`,
      );
      throw new BenchFailure(
        `stage ${stage.name} stopped by itself ${reason}; its log is on stderr`,
      );
    }),
  );
  ended.catch(() => undefined);
  const progress = (): string =>
    stages.map((stage) => `${stage.name} ${stage.stats().records}`).join(', ');
  await Promise.race([ended, waitUntil(events, done, progress)]);
}

/** Polls `done`; fails after the run's time limit for `events` events, naming the progress. */
async function waitUntil(
  events: number,
  done: () => boolean,
  progress: () => string,
): Promise<void> {
  const startMs = performance.now();
  const timeoutMs = RUN_TIMEOUT_BASE_MS + events * RUN_TIMEOUT_PER_EVENT_MS;
  while (!done()) {
    if (performance.now() - startMs > timeoutMs) {
      throw new BenchFailure(`no end after ${timeoutMs} ms of ${events} events: ${progress()}`);
    }
    await sleep(PROGRESS_POLL_INTERVAL_MS);
  }
}

async function stopAll(stages: RunningStage[], producers: Producer[]): Promise<void> {
  await Promise.allSettled(stages.map((stage) => stage.stop()));
  await Promise.allSettled(producers.map((producer) => producer.disconnect()));
}

/** Every generated event is valid: a dead letter means a stage did not do its work. */
function expectNoDeadLetters(stages: RunningStage[]): void {
  for (const stage of stages) {
    const { deadLettered, deadLetteredByCode } = stage.stats();
    if (deadLettered > 0) {
      throw new BenchFailure(
        `stage ${stage.name} dead-lettered ${deadLettered} records: ${JSON.stringify(deadLetteredByCode)}`,
      );
    }
  }
}

/**
 * Simulated-fleet events of every kind for many agents, moved in time so the last one happened
 * just now: the metrics stage sees the event times a live fleet would give it.
 */
function generateEvents(count: number): { events: AgentEvent[]; agents: SimulatedAgent[] } {
  const startMs = Date.now();
  const fleet = createSimulatedFleet(startMs, { agentCount: FLEET_AGENT_COUNT });
  const generated: AgentEvent[] = [];
  for (let clockMs = startMs; generated.length < count; clockMs += FLEET_STEP_MS) {
    generated.push(...fleet.advanceTo(clockMs));
  }
  const events = generated.slice(0, count);
  const shiftMs = Date.now() - (events.at(-1)?.timestamp ?? startMs);
  return {
    events: events.map((event) => ({ ...event, timestamp: event.timestamp + shiftMs })),
    agents: [...fleet.agents],
  };
}

/** Publishes the events with the project's publisher, batches of 500, one after the other. */
async function fillRawTopics(
  config: PanaceaConfig,
  naming: Naming,
  events: AgentEvent[],
): Promise<{ elapsedMs: number; eventsPerSecond: number }> {
  const publisher = await openPublisher(config, naming);
  try {
    const startMs = performance.now();
    for (let start = 0; start < events.length; start += PUBLISH_BATCH_SIZE) {
      await publisher.publish(events.slice(start, start + PUBLISH_BATCH_SIZE));
    }
    const elapsedMs = performance.now() - startMs;
    return {
      elapsedMs: round(elapsedMs),
      eventsPerSecond: round((events.length * 1000) / elapsedMs),
    };
  } finally {
    await publisher.close();
  }
}

/** Records in the topics: end minus start offsets. */
async function countRecords(admin: Admin, topics: string[]): Promise<number> {
  let records = 0;
  for (const topic of topics) {
    for (const partition of await admin.fetchTopicOffsets(topic)) {
      records += Number(partition.high) - Number(partition.low);
    }
  }
  return records;
}

function countByKind(events: AgentEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of events) counts[event.kind] = (counts[event.kind] ?? 0) + 1;
  return counts;
}

function summarise(rounds: RunFigure[]): SideResult {
  return {
    rounds,
    medianEventsPerSecond: median(rounds.map((figure) => figure.eventsPerSecond)),
    medianEventsPerSecondAfterJoin: median(rounds.map((figure) => figure.eventsPerSecondAfterJoin)),
  };
}

function printReport(result: BenchResult): void {
  const { machine, settings, sides } = result;
  const rates = (figures: RunFigure[], pick: (figure: RunFigure) => number): string =>
    figures.map((figure) => formatNumber(pick(figure))).join(' / ');

  say('Panacea processors throughput');
  say(`  date       ${result.date}`);
  say(
    `  machine    ${machine.cpuCount} cores, ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ` +
      `load ${machine.loadAverage1m.start} at start, ${machine.loadAverage1m.end} at end (1 min)`,
  );
  say(`  node       ${machine.nodeVersion}; kafka ${machine.kafkaBrokers.join(',')}`);
  say(
    `  workload   ${formatNumber(settings.events)} events of ${settings.agents} agents ` +
      `(${Object.entries(settings.eventsByKind)
        .map(([kind, count]) => `${kind} ${formatNumber(count)}`)
        .join(', ')}), ${settings.rounds} rounds; raw topics filled at ` +
      `${formatNumber(settings.fill.eventsPerSecond)} events/s`,
  );
  say('');
  say(
    `  ${'side'.padEnd(32)} ${'events/s'.padStart(8)}  ${'after join'.padStart(10)}  ` +
      `${'CPU/event'.padStart(9)}  rounds (events/s; after join)`,
  );
  for (const side of SIDES) {
    const { rounds, medianEventsPerSecond, medianEventsPerSecondAfterJoin } = sides[side];
    const cpu = median(rounds.map((figure) => figure.cpuMicrosPerEvent));
    say(
      `  ${SIDE_LABELS[side].padEnd(32)} ${formatNumber(medianEventsPerSecond).padStart(8)}  ` +
        `${formatNumber(medianEventsPerSecondAfterJoin).padStart(10)}  ` +
        `${`${cpu.toFixed(1)} µs`.padStart(9)}  ` +
        `${rates(rounds, (figure) => figure.eventsPerSecond)}; ` +
        `${rates(rounds, (figure) => figure.eventsPerSecondAfterJoin)}; batches ` +
        Object.entries(rounds.at(-1)?.batches ?? {})
          .map(([name, count]) => `${name} ${count}`)
          .join(', '),
    );
  }
  say('');
  say(
    `  pipeline / baseline (medians)     ${result.pipelineToBaselineRatio.toFixed(2)}` +
      `   after join ${result.pipelineToBaselineRatioAfterJoin.toFixed(2)}   (goal ≥ 0.80)`,
  );
  say(`  peak resident memory              ${result.peakRssMiB} MiB`);
  say('');
  say(
    '  Medians over rounds. "after join" leaves out the time until the first consumer got its\n' +
      '  first batch (group join and rebalance delay). CPU is the bench process, every thread, per\n' +
      '  event; the broker runs beside it on the same cores.',
  );
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { events: { type: 'string' }, rounds: { type: 'string' } },
  });
  return {
    eventCount: parseInteger('--events', values.events, DEFAULT_OPTIONS.eventCount, 1, 2_000_000),
    rounds: parseInteger('--rounds', values.rounds, DEFAULT_OPTIONS.rounds, 1, 20),
  };
}

process.exit(await main(process.argv.slice(2)));
