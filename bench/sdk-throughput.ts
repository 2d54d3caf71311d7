/**
 * Agent SDK throughput on the running stack (`panacea stack up`): N simulated-fleet events
 * published through `createAgentPublisher` (validated, encoded, batched and sent by it), against
 * the same events sent as pre-encoded records by a bare kafkajs producer with the same settings
 * (idempotent, acks -1, gzip, requests under the same record batch limit, to topics created with
 * the same definitions), in the same run. The figure that matters is the ratio of the two rates.
 * The SDK runs kafkajs in a worker thread of its own, so it may use a second core where the bare
 * producer uses one thread: the CPU time per event of each side is reported beside its rate.
 * Prints a table for a person and one JSON line for machines.
 *
 * Usage: npm run bench -- --only sdk-throughput [--events 50000] [--rounds 3]
 *
 * Each round runs both sides once, in alternating order; the medians are compared. Every run uses
 * its own topic prefix, checks that each topic holds exactly what was sent, and deletes its
 * topics and groups at the end.
 */
import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { parseArgs } from 'node:util';

import kafkajs from 'kafkajs';
import type { Admin, Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import { pino } from 'pino';

import { loadConfig, type PanaceaConfig } from '../core/config.js';
import { createDurableProducer, messageBytes } from '../core/kafka.js';
import { createNaming, type Naming } from '../core/naming.js';
import { ensureTopics } from '../infra/topics.js';
import { createSimulatedFleet } from '../producers/demo/simulated-fleet.js';
import { createAgentPublisher } from '../producers/sdk/agent-publisher.js';
import { openEventEncoder, type EventEncoder } from '../producers/sdk/encoding.js';
import { batchBytes } from '../producers/sdk/outbox.js';
import type { AgentPublisher, EventContext } from '../producers/sdk/types.js';
import { validateEvent } from '../schemas/contract.js';
import type { AgentEvent, AgentIdentity } from '../schemas/event.js';
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

const { CompressionTypes } = kafkajs;

interface BenchOptions {
  /** Events per side per round. `--events`; default 50 000. */
  eventCount: number;
  /** Rounds of both sides. `--rounds`; default 3. */
  rounds: number;
}

const DEFAULT_OPTIONS: BenchOptions = { eventCount: 50_000, rounds: 3 };

/** Every event is this agent's: one publisher is one agent. */
const AGENT: AgentIdentity = { id: 'bench-agent-1', name: 'Bench agent', type: 'bench' };
/**
 * The publishing loop hands the event loop back after this many calls, as an agent that does
 * anything else between events would; otherwise no batch could leave before the last call.
 */
const CALLS_BETWEEN_YIELDS = 500;
const FLUSH_TIMEOUT_MS = 300_000;
/** Simulated time per fleet step; the fleet starts a day back so no event lies in the future. */
const FLEET_STEP_MS = 10_000;
const FLEET_HISTORY_MS = 24 * 60 * 60 * 1000;
const FLEET_AGENT_COUNT = 50;

interface RoundFigure {
  round: number;
  events: number;
  elapsedMs: number;
  eventsPerSecond: number;
  /**
   * CPU time of the bench process per event in the round: every thread of it (the SDK's worker,
   * libuv's gzip threads), not the broker's.
   */
  cpuMicrosPerEvent: number;
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
    recordBytesMean: number;
    maxBatchBytes: number;
    compression: 'gzip';
    acks: -1;
  };
  sdk: { rounds: RoundFigure[]; medianEventsPerSecond: number; batchesSent: number };
  bareProducer: { rounds: RoundFigure[]; medianEventsPerSecond: number; requests: number };
  /** The bare producer doing the SDK's per-event work too: validate, encode, then send. */
  bareProducerWithChecks: { rounds: RoundFigure[]; medianEventsPerSecond: number };
  sdkToBareRatio: number;
  sdkToBareWithChecksRatio: number;
  peakRssMiB: number;
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const runId = randomBytes(4).toString('hex');
  const runPrefix = `bench.${runId}.`;
  const config = loadConfig({ ...process.env, PANACEA_TOPIC_PREFIX: runPrefix });
  return runKafkaBenchmark({
    config,
    clientId: 'panacea-bench-sdk',
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
  const sdkPrefix = `${runPrefix}sdk.`;
  const barePrefix = `${runPrefix}bare.`;
  const sdkNaming = createNaming({ ...config, topicPrefix: sdkPrefix });
  const bareNaming = createNaming({ ...config, topicPrefix: barePrefix });
  const checkedNaming = createNaming({ ...config, topicPrefix: `${runPrefix}checked.` });
  await ensureTopics(admin, sdkNaming);
  await ensureTopics(admin, bareNaming);
  await ensureTopics(admin, checkedNaming);

  const roundsOfEvents = generateEvents(options.eventCount * options.rounds).reduce<AgentEvent[][]>(
    (rounds, event, index) => {
      (rounds[Math.floor(index / options.eventCount)] ??= []).push(event);
      return rounds;
    },
    [],
  );

  // The SDK connects (topics, batch limit, registry, producer) before any clock runs.
  const publisher = createAgentPublisher({
    brokers: config.kafkaBrokers,
    agent: AGENT,
    topicPrefix: sdkPrefix,
    logger: pino({ level: 'warn' }),
  });
  await publisher.heartbeat({ status: 'idle' }, { eventId: `warm-up-${runId(runPrefix)}` });
  const maxBatchBytes = publisher.stats().maxBatchBytes;

  // The bare producer gets the records the SDK makes (same codec, key as bytes, no timestamp),
  // encoded beforehand, cut into requests under the same limit by the same measure.
  const agentKey = Buffer.from(AGENT.id);
  const encoder = await openEventEncoder(kafka, {
    brokers: config.kafkaBrokers,
    topicPrefix: barePrefix,
    schemaRegistryUrl: config.schemaRegistryUrl,
  });
  const requestsByRound = roundsOfEvents.map((events) =>
    requestsUnder(
      events.map((event) => ({
        topic: bareNaming.rawTopic(event.kind),
        message: { key: agentKey, value: encoder.encode(event) },
      })),
      maxBatchBytes,
    ),
  );
  const producer = createDurableProducer(kafka);
  await producer.connect();

  const sdkRounds: RoundFigure[] = [];
  const bareRounds: RoundFigure[] = [];
  const checkedRounds: RoundFigure[] = [];
  try {
    for (let round = 0; round < options.rounds; round += 1) {
      const events = roundsOfEvents[round] ?? [];
      const requests = requestsByRound[round] ?? [];
      const runSdk = async () => sdkRounds.push(await timeSdk(round, publisher, events));
      const runBare = async () => bareRounds.push(await timeBare(round, producer, requests));
      const runChecked = async () =>
        checkedRounds.push(
          await timeBareWithChecks(round, producer, events, encoder, checkedNaming, maxBatchBytes),
        );
      // Alternating order, so neither side always runs on the warmer broker.
      if (round % 2 === 0) await runBare().then(runSdk).then(runChecked);
      else await runChecked().then(runSdk).then(runBare);
    }
  } finally {
    await producer.disconnect();
  }

  const stats = publisher.stats();
  await publisher.close();
  const total = options.eventCount * options.rounds;
  await expectRecordCount(admin, sdkNaming, total + 1);
  await expectRecordCount(admin, bareNaming, total);
  await expectRecordCount(admin, checkedNaming, total);

  const records = requestsByRound.flat(2).flatMap((request) => request.messages);
  const sdkMedian = median(sdkRounds.map((figure) => figure.eventsPerSecond));
  const bareMedian = median(bareRounds.map((figure) => figure.eventsPerSecond));
  const checkedMedian = median(checkedRounds.map((figure) => figure.eventsPerSecond));
  return {
    date: date.toISOString(),
    machine: { ...machineFacts(loadAtStart), kafkaBrokers: config.kafkaBrokers },
    settings: {
      events: options.eventCount,
      rounds: options.rounds,
      recordBytesMean: round(
        records.reduce((sum, message) => sum + messageBytes(message), 0) / records.length,
      ),
      maxBatchBytes,
      compression: 'gzip',
      acks: -1,
    },
    sdk: { rounds: sdkRounds, medianEventsPerSecond: sdkMedian, batchesSent: stats.batchesSent },
    bareProducer: {
      rounds: bareRounds,
      medianEventsPerSecond: bareMedian,
      requests: requestsByRound.flat().length,
    },
    bareProducerWithChecks: { rounds: checkedRounds, medianEventsPerSecond: checkedMedian },
    sdkToBareRatio: round(sdkMedian / bareMedian, 3),
    sdkToBareWithChecksRatio: round(sdkMedian / checkedMedian, 3),
    peakRssMiB: round(process.resourceUsage().maxRSS / 1024, 1),
  };
}

/**
 * One round through the SDK: every call as an agent makes it (body and context, not awaited),
 * then a flush; the clock stops when Kafka has acknowledged the last event.
 */
async function timeSdk(
  roundIndex: number,
  publisher: AgentPublisher,
  events: AgentEvent[],
): Promise<RoundFigure> {
  const droppedBefore = publisher.stats().dropped;
  const startCpu = process.cpuUsage();
  const startMs = performance.now();
  for (let index = 0; index < events.length; index += 1) {
    void publishThrough(publisher, events[index] as AgentEvent);
    if (index % CALLS_BETWEEN_YIELDS === CALLS_BETWEEN_YIELDS - 1) await yieldToEventLoop();
  }
  const report = await publisher.flush({ timeoutMs: FLUSH_TIMEOUT_MS });
  const elapsedMs = performance.now() - startMs;

  const dropped = publisher.stats().dropped - droppedBefore;
  if (!report.complete || dropped > 0) {
    throw new BenchFailure(
      `the SDK did not deliver round ${roundIndex + 1}: ${dropped} dropped, ` +
        `${report.undeliveredEvents} undelivered (${report.reason ?? 'no reason'})`,
    );
  }
  return figure(roundIndex, events.length, elapsedMs, startCpu);
}

function publishThrough(publisher: AgentPublisher, event: AgentEvent): Promise<unknown> {
  const context: EventContext = {
    eventId: event.eventId,
    timestamp: event.timestamp,
    ...(event.workflowId === undefined ? {} : { workflowId: event.workflowId }),
    ...(event.taskId === undefined ? {} : { taskId: event.taskId }),
    ...(event.traceId === undefined ? {} : { traceId: event.traceId }),
    ...(event.spanId === undefined ? {} : { spanId: event.spanId }),
  };
  switch (event.kind) {
    case 'activity':
      return publisher.activity(event.activity, context);
    case 'error':
      return publisher.error(event.error, context);
    case 'audit':
      return publisher.audit(event.audit, context);
    case 'heartbeat':
      return publisher.heartbeat(event.heartbeat, context);
  }
}

/** One round of the bare producer: the requests one after the other, as the SDK sends them. */
async function timeBare(
  roundIndex: number,
  producer: Producer,
  requests: TopicMessages[][],
): Promise<RoundFigure> {
  const events = requests.flat().reduce((sum, request) => sum + request.messages.length, 0);
  const startCpu = process.cpuUsage();
  const startMs = performance.now();
  for (const topicMessages of requests) {
    await producer.sendBatch({ acks: -1, compression: CompressionTypes.GZIP, topicMessages });
  }
  return figure(roundIndex, events, performance.now() - startMs, startCpu);
}

/**
 * One round of the bare producer doing what the SDK does per event before sending (validate
 * against the contract, encode), in the simplest way: one event after the other, a request sent
 * and awaited whenever the next record would not fit. It shows what the SDK's own machinery
 * (outbox, batching, promises) costs beyond that work.
 */
async function timeBareWithChecks(
  roundIndex: number,
  producer: Producer,
  events: AgentEvent[],
  encoder: EventEncoder,
  naming: Naming,
  maxBatchBytes: number,
): Promise<RoundFigure> {
  const key = Buffer.from(AGENT.id);
  const startCpu = process.cpuUsage();
  const startMs = performance.now();
  let request: TopicMessages[] = [];
  let requestBytes = batchBytes([]);
  const send = async (): Promise<void> => {
    await producer.sendBatch({
      acks: -1,
      compression: CompressionTypes.GZIP,
      topicMessages: request,
    });
    request = [];
    requestBytes = batchBytes([]);
  };
  for (const input of events) {
    const checked = validateEvent(input);
    if (!checked.ok) throw new BenchFailure(`a generated event is not valid: ${input.eventId}`);
    const message: Message = { key, value: encoder.encode(checked.event) };
    const bytes = messageBytes(message);
    if (request.length > 0 && requestBytes + bytes > maxBatchBytes) await send();
    const topic = naming.rawTopic(checked.event.kind);
    const last = request.at(-1);
    if (last?.topic === topic) last.messages.push(message);
    else request.push({ topic, messages: [message] });
    requestBytes += bytes;
  }
  if (request.length > 0) await send();
  return figure(roundIndex, events.length, performance.now() - startMs, startCpu);
}

/** Records cut into requests whose record batch stays under `maxBatchBytes`, in order. */
function requestsUnder(
  records: Array<{ topic: string; message: Message }>,
  maxBatchBytes: number,
): TopicMessages[][] {
  const requests: TopicMessages[][] = [];
  let request: TopicMessages[] = [];
  let requestBytes = batchBytes([]);
  for (const { topic, message } of records) {
    const bytes = messageBytes(message);
    if (request.length > 0 && requestBytes + bytes > maxBatchBytes) {
      requests.push(request);
      request = [];
      requestBytes = batchBytes([]);
    }
    const last = request.at(-1);
    if (last?.topic === topic) last.messages.push(message);
    else request.push({ topic, messages: [message] });
    requestBytes += bytes;
  }
  if (request.length > 0) requests.push(request);
  return requests;
}

/** Simulated-fleet events (every kind, realistic sizes), all given to the one bench agent. */
function generateEvents(count: number): AgentEvent[] {
  const startMs = Date.now() - FLEET_HISTORY_MS;
  const fleet = createSimulatedFleet(startMs, { agentCount: FLEET_AGENT_COUNT });
  const events: AgentEvent[] = [];
  for (let clockMs = startMs; events.length < count; clockMs += FLEET_STEP_MS) {
    for (const event of fleet.advanceTo(clockMs)) events.push({ ...event, agent: AGENT });
  }
  return events.slice(0, count);
}

async function expectRecordCount(admin: Admin, naming: Naming, expected: number): Promise<void> {
  let count = 0;
  for (const topic of naming.rawTopics()) {
    for (const partition of await admin.fetchTopicOffsets(topic)) {
      count += Number(partition.high) - Number(partition.low);
    }
  }
  if (count !== expected) {
    throw new BenchFailure(
      `expected ${expected} records on ${naming.rawTopic('activity')} and its sibling topics, found ${count}`,
    );
  }
}

function printReport(result: BenchResult): void {
  const { machine, settings, sdk, bareProducer, bareProducerWithChecks } = result;
  const rates = (rounds: RoundFigure[]): string =>
    rounds.map((figure) => formatNumber(figure.eventsPerSecond)).join(' / ');
  const cpu = (rounds: RoundFigure[]): string =>
    `${median(rounds.map((figure) => figure.cpuMicrosPerEvent)).toFixed(1)} µs`;

  say('Panacea agent SDK throughput');
  say(`  date           ${result.date}`);
  say(
    `  machine        ${machine.cpuCount} cores, ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ` +
      `load ${machine.loadAverage1m.start} at start, ${machine.loadAverage1m.end} at end (1 min)`,
  );
  say(`  node           ${machine.nodeVersion}; kafka ${machine.kafkaBrokers.join(',')}`);
  say(
    `  workload       ${formatNumber(settings.events)} events per side per round, ${settings.rounds} rounds, ` +
      `mean record ${settings.recordBytesMean} bytes, batches ≤ ${formatNumber(settings.maxBatchBytes)} bytes, gzip, acks -1`,
  );
  say('');
  say(
    `  SDK (createAgentPublisher)       ${formatNumber(sdk.medianEventsPerSecond).padStart(8)} events/s median` +
      `   rounds: ${rates(sdk.rounds)}; ${sdk.batchesSent} batches`,
  );
  say(
    `  bare kafkajs, pre-encoded        ${formatNumber(bareProducer.medianEventsPerSecond).padStart(8)} events/s median` +
      `   rounds: ${rates(bareProducer.rounds)}; ${bareProducer.requests} requests`,
  );
  say(
    `  bare kafkajs, validate + encode  ${formatNumber(bareProducerWithChecks.medianEventsPerSecond).padStart(8)} events/s median` +
      `   rounds: ${rates(bareProducerWithChecks.rounds)}; one event after the other`,
  );
  say(
    `  CPU per event (median, all threads of the bench process, not the broker's): SDK ` +
      `${cpu(sdk.rounds)}, bare pre-encoded ${cpu(bareProducer.rounds)}, bare validate + encode ` +
      `${cpu(bareProducerWithChecks.rounds)}`,
  );
  say(`  SDK / bare pre-encoded           ${result.sdkToBareRatio.toFixed(2).padStart(8)}`);
  say(
    `  SDK / bare validate + encode     ${result.sdkToBareWithChecksRatio.toFixed(2).padStart(8)}`,
  );
  say(`  peak resident memory             ${result.peakRssMiB} MiB (both sides, all events)`);
  say('');
  say(
    '  The SDK side includes what the pre-encoded bare side was spared: validating each event\n' +
      '  against the contract and encoding it (Avro), inside the measured time. It does that on the\n' +
      '  publishing thread while its worker thread runs kafkajs, so it can use a second core; both\n' +
      '  bare sides run on one thread. The third line does that work too, without the SDK.',
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

function figure(
  roundIndex: number,
  events: number,
  elapsedMs: number,
  startCpu: NodeJS.CpuUsage,
): RoundFigure {
  const cpu = process.cpuUsage(startCpu);
  return {
    round: roundIndex + 1,
    events,
    elapsedMs: round(elapsedMs),
    eventsPerSecond: round((events * 1000) / elapsedMs),
    cpuMicrosPerEvent: round((cpu.user + cpu.system) / events, 1),
  };
}

function runId(runPrefix: string): string {
  return runPrefix.replace(/\W/g, '');
}

process.exit(await main(process.argv.slice(2)));
