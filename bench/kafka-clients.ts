/**
 * Kafka clients compared on the pipeline's hot paths, in one run on the Kafka at `KAFKA_BROKERS`:
 * produce N records, consume N records, and consume-and-produce (a passthrough to another topic),
 * with kafkajs (the product's client), @platformatic/kafka, and @confluentinc/kafka-javascript when
 * it can be loaded here. Kafka's own ProducerPerformance and ConsumerPerformance (Java, the broker's
 * version) run on the same records' size as the broker's limit on this machine. The bare kafkajs
 * producer and the bare kafkajs passthrough are the baselines the pipeline's stages are held to.
 * Prints a table for a person and one JSON line for machines. Elasticsearch is not used.
 *
 * Usage: npm run bench -- --only kafka-clients [--events 100000] [--rounds 3]
 *
 * Every side writes to topics and reads in consumer groups of its own under the run's prefix,
 * deleted at the end; consume and passthrough read one input topic filled once beforehand.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

import {
  Consumer as PlatformaticConsumer,
  MessagesStreamModes,
  ProduceAcks,
  Producer as PlatformaticProducer,
  type Message as PlatformaticMessage,
} from '@platformatic/kafka';
import type { Admin, Kafka, Message } from 'kafkajs';

import { loadConfig, type PanaceaConfig } from '../core/config.js';
import { messageOf } from '../core/errors.js';
import { createDurableProducer, createTopicsServed, sendDurably } from '../core/kafka.js';
import { packageRoot } from '../core/package-root.js';
import {
  openBrokerTools,
  runConsumerPerformance,
  runProducerPerformance,
  type BrokerTools,
  type ToolFigure,
} from './broker-tools.js';
import {
  BenchFailure,
  formatNumber,
  loadAverage1m,
  machineFacts,
  median,
  parseInteger,
  round,
  runKafkaBenchmark,
  say,
} from './report-support.js';

interface BenchOptions {
  /** Records per side per round. `--events`; default 100 000. */
  eventCount: number;
  /** Rounds of every side. `--rounds`; default 3. */
  rounds: number;
}

const DEFAULT_OPTIONS: BenchOptions = { eventCount: 100_000, rounds: 3 };

/** About the mean size of the pipeline's Avro records (298 bytes in the processors bench). */
const RECORD_BYTES = 300;
/** Keys as the pipeline keys its records: by agent, here 50 of them. */
const KEY_COUNT = 50;
/** Topics of the run: as many partitions as the pipeline's raw topics by default. */
const PARTITIONS = 3;
/**
 * Records per send on the JS producers, one request at a time: the way the pipeline's stages
 * send (about 300 KB per request, under the 1 MB a batch may carry).
 */
const SEND_BATCH_RECORDS = 1_000;
/** The platformatic passthrough pauses its stream when this many records wait to be sent. */
const PASSTHROUGH_MAX_PENDING = 2_000;
const PROGRESS_POLL_INTERVAL_MS = 10;
/** A side gives up after this long plus this per record (a floor of 500 records/s). */
const SIDE_TIMEOUT_BASE_MS = 60_000;
const SIDE_TIMEOUT_PER_RECORD_MS = 2;

export const HOT_PATHS = ['produce', 'consume', 'passthrough'] as const;
export type HotPath = (typeof HOT_PATHS)[number];

const CLIENT_NAMES = ['kafkajs', 'platformatic', 'confluent'] as const;
type ClientName = (typeof CLIENT_NAMES)[number];

const CLIENT_PACKAGES: Record<ClientName, string> = {
  kafkajs: 'kafkajs',
  platformatic: '@platformatic/kafka',
  confluent: '@confluentinc/kafka-javascript',
};

/**
 * Why @confluentinc/kafka-javascript is not measured when it does not load: what its install did
 * on this machine (tried once, 2026-12-04, `npm install --no-save`).
 */
const CONFLUENT_INSTALL_NOTE =
  'native addon (librdkafka): its install script (node-pre-gyp) downloads a prebuilt binary from ' +
  'GitHub, then falls back to building librdkafka, whose build downloads zlib, OpenSSL, zstd and ' +
  'curl sources from their sites; none is reachable from this machine (getaddrinfo ENOTFOUND), ' +
  'so make failed and npm rolled the package back';

interface SideFigure {
  round: number;
  records: number;
  elapsedMs: number;
  recordsPerSecond: number;
  /** CPU time of the bench process per record (the Java tools' CPU is not in it). */
  cpuMicrosPerRecord?: number;
  /** The Java tools: wall time with the JVM's start, and the consumer's rate after its join. */
  wallMs?: number;
  recordsPerSecondAfterJoin?: number;
}

interface PathResult {
  rounds: SideFigure[];
  medianRecordsPerSecond: number;
}

export type ClientResult =
  | { available: true; package: string; version: string; paths: Record<HotPath, PathResult> }
  | { available: false; package: string; reason: string };

export interface KafkaClientsResult {
  date: string;
  machine: ReturnType<typeof machineFacts> & { kafkaBrokers: string[] };
  settings: {
    events: number;
    rounds: number;
    recordBytes: number;
    keys: number;
    partitions: number;
    sendBatchRecords: number;
  };
  clients: Record<ClientName, ClientResult>;
  /** Kafka's own tools: produce and consume only (there is no passthrough tool). */
  brokerTools:
    | {
        available: true;
        kafkaVersion: string;
        paths: Record<'produce' | 'consume', PathResult>;
      }
    | { available: false; reason: string };
  peakRssMiB: number;
}

/** One client's three hot paths. Each resolves when the last record is acknowledged or read. */
interface ClientDriver {
  produce(topic: string, records: Message[]): Promise<void>;
  consume(topic: string, groupId: string, count: number): Promise<void>;
  passthrough(input: string, output: string, groupId: string, count: number): Promise<void>;
  close(): Promise<void>;
}

interface RunContext {
  config: PanaceaConfig;
  kafka: Kafka;
  admin: Admin;
  runPrefix: string;
  records: Message[];
  inputTopic: string;
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const runPrefix = `bench.clients.${randomBytes(4).toString('hex')}.`;
  const config = loadConfig({ ...process.env, PANACEA_TOPIC_PREFIX: runPrefix });
  return runKafkaBenchmark({
    config,
    clientId: 'panacea-bench-clients',
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
): Promise<KafkaClientsResult> {
  const date = new Date();
  const loadAtStart = loadAverage1m();
  const records = generateRecords(options.eventCount);

  // 1. The one input of every consume and passthrough side, filled by a bare kafkajs producer.
  const inputTopic = `${runPrefix}input`;
  await createTopics(admin, [inputTopic]);
  const filler = createDurableProducer(kafka);
  await filler.connect();
  try {
    await sendDurably(filler, [{ topic: inputTopic, messages: records }]);
  } finally {
    await filler.disconnect();
  }
  await expectRecords(admin, inputTopic, records.length);
  const context: RunContext = { config, kafka, admin, runPrefix, records, inputTopic };

  // 2. The clients that load here, and the broker's tools when Java and Maven can provide them.
  const drivers = await openDrivers(config, kafka);
  const tools = await openBrokerTools().then(
    (opened): BrokerTools | string => opened,
    (error: unknown) => messageOf(error),
  );

  // 3. Rounds: every client on every path, in an order that rotates each round so no client
  //    always runs on the warmer broker; the tools after the clients.
  const figures = new Map<string, SideFigure[]>();
  const record = (key: string, figure: SideFigure): void => {
    figures.set(key, [...(figures.get(key) ?? []), figure]);
  };
  const available = CLIENT_NAMES.filter((name) => typeof drivers[name] !== 'string');
  try {
    for (let roundIndex = 0; roundIndex < options.rounds; roundIndex += 1) {
      const order = rotate(available, roundIndex);
      for (const hotPath of HOT_PATHS) {
        for (const name of order) {
          const driver = drivers[name] as ClientDriver;
          record(`${name}.${hotPath}`, await timeSide(context, driver, name, hotPath, roundIndex));
        }
      }
      if (typeof tools !== 'string') {
        record('tools.produce', await timeToolProduce(context, tools, roundIndex));
        record('tools.consume', await timeToolConsume(context, tools, roundIndex));
      }
      say(
        `round ${roundIndex + 1}: ` +
          [...figures.entries()]
            .map(([key, list]) => `${key} ${formatNumber(list.at(-1)?.recordsPerSecond ?? 0)}/s`)
            .join(', '),
      );
    }
  } finally {
    await Promise.allSettled(
      Object.values(drivers).map((driver) =>
        typeof driver === 'string' ? undefined : driver.close(),
      ),
    );
  }

  const summarise = (key: string): PathResult => {
    const rounds = figures.get(key) ?? [];
    return {
      rounds,
      medianRecordsPerSecond: median(rounds.map((figure) => figure.recordsPerSecond)),
    };
  };
  const clients = Object.fromEntries(
    CLIENT_NAMES.map((name): [ClientName, ClientResult] => {
      const driver = drivers[name];
      if (typeof driver === 'string') {
        return [name, { available: false, package: CLIENT_PACKAGES[name], reason: driver }];
      }
      const paths = Object.fromEntries(
        HOT_PATHS.map((hotPath) => [hotPath, summarise(`${name}.${hotPath}`)]),
      ) as Record<HotPath, PathResult>;
      return [
        name,
        {
          available: true,
          package: CLIENT_PACKAGES[name],
          version: packageVersion(CLIENT_PACKAGES[name]),
          paths,
        },
      ];
    }),
  ) as Record<ClientName, ClientResult>;

  return {
    date: date.toISOString(),
    machine: { ...machineFacts(loadAtStart), kafkaBrokers: config.kafkaBrokers },
    settings: {
      events: records.length,
      rounds: options.rounds,
      recordBytes: RECORD_BYTES,
      keys: KEY_COUNT,
      partitions: PARTITIONS,
      sendBatchRecords: SEND_BATCH_RECORDS,
    },
    clients,
    brokerTools:
      typeof tools === 'string'
        ? { available: false, reason: tools }
        : {
            available: true,
            kafkaVersion: tools.kafkaVersion,
            paths: { produce: summarise('tools.produce'), consume: summarise('tools.consume') },
          },
    // maxRSS is in KiB.
    peakRssMiB: round(process.resourceUsage().maxRSS / 1024, 1),
  };
}

// ---------------------------------------------------------------------------------------------
// The sides.
// ---------------------------------------------------------------------------------------------

/** One client on one path, in topics and a group of its own; the output is counted after. */
async function timeSide(
  context: RunContext,
  driver: ClientDriver,
  name: ClientName,
  hotPath: HotPath,
  roundIndex: number,
): Promise<SideFigure> {
  const sidePrefix = `${context.runPrefix}r${roundIndex + 1}.${name}.${hotPath}`;
  const count = context.records.length;
  const outputTopic = `${sidePrefix}.out`;
  if (hotPath !== 'consume') await createTopics(context.admin, [outputTopic]);

  const work = (): Promise<void> => {
    switch (hotPath) {
      case 'produce':
        return driver.produce(outputTopic, context.records);
      case 'consume':
        return driver.consume(context.inputTopic, `${sidePrefix}.group`, count);
      case 'passthrough':
        return driver.passthrough(context.inputTopic, outputTopic, `${sidePrefix}.group`, count);
    }
  };
  const startCpu = process.cpuUsage();
  const startMs = performance.now();
  await withTimeout(work(), count, `${name} ${hotPath}`);
  const elapsedMs = performance.now() - startMs;
  const cpu = process.cpuUsage(startCpu);

  if (hotPath !== 'consume') await expectRecords(context.admin, outputTopic, count);
  return {
    round: roundIndex + 1,
    records: count,
    elapsedMs: round(elapsedMs),
    recordsPerSecond: round((count * 1000) / elapsedMs),
    cpuMicrosPerRecord: round((cpu.user + cpu.system) / count, 1),
  };
}

async function timeToolProduce(
  context: RunContext,
  tools: BrokerTools,
  roundIndex: number,
): Promise<SideFigure> {
  const topic = `${context.runPrefix}r${roundIndex + 1}.tools.produce.out`;
  await createTopics(context.admin, [topic]);
  const figure = await runProducerPerformance(tools, {
    brokers: context.config.kafkaBrokers,
    topic,
    records: context.records.length,
    recordBytes: RECORD_BYTES,
  });
  await expectRecords(context.admin, topic, context.records.length);
  return toolSide(roundIndex, figure);
}

async function timeToolConsume(
  context: RunContext,
  tools: BrokerTools,
  roundIndex: number,
): Promise<SideFigure> {
  const figure = await runConsumerPerformance(tools, {
    brokers: context.config.kafkaBrokers,
    topic: context.inputTopic,
    records: context.records.length,
    groupId: `${context.runPrefix}r${roundIndex + 1}.tools.consume.group`,
  });
  if (figure.records < context.records.length) {
    throw new BenchFailure(
      `ConsumerPerformance read ${figure.records} of ${context.records.length} records`,
    );
  }
  return toolSide(roundIndex, figure);
}

function toolSide(roundIndex: number, figure: ToolFigure): SideFigure {
  return {
    round: roundIndex + 1,
    records: figure.records,
    elapsedMs: round((figure.records * 1000) / figure.recordsPerSecond),
    recordsPerSecond: round(figure.recordsPerSecond),
    wallMs: round(figure.wallMs),
    ...(figure.recordsPerSecondAfterJoin === undefined
      ? {}
      : { recordsPerSecondAfterJoin: round(figure.recordsPerSecondAfterJoin) }),
  };
}

// ---------------------------------------------------------------------------------------------
// The clients.
// ---------------------------------------------------------------------------------------------

/** Every client's driver, or the reason it cannot run here. */
async function openDrivers(
  config: PanaceaConfig,
  kafka: Kafka,
): Promise<Record<ClientName, ClientDriver | string>> {
  return {
    kafkajs: kafkajsDriver(kafka),
    platformatic: platformaticDriver(config),
    confluent: await confluentUnavailable(),
  };
}

/**
 * kafkajs as the stages use it: the product's durable producer (idempotent, acks -1, one request
 * in flight), requests cut by `sendDurably`; consumers with kafkajs's defaults and `eachBatch`.
 */
function kafkajsDriver(kafka: Kafka): ClientDriver {
  const producer = createDurableProducer(kafka);
  const connected = producer.connect();

  const consumeEach = async (
    topic: string,
    groupId: string,
    count: number,
    handle: (messages: Message[]) => Promise<void>,
  ): Promise<void> => {
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
    let handled = 0;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          await handle(batch.messages);
          handled += batch.messages.length;
        },
      });
      await waitUntil(() => handled >= count);
    } finally {
      await consumer.disconnect();
    }
  };

  return {
    async produce(topic, records) {
      await connected;
      for (let start = 0; start < records.length; start += SEND_BATCH_RECORDS) {
        const messages = records.slice(start, start + SEND_BATCH_RECORDS);
        await sendDurably(producer, [{ topic, messages }]);
      }
    },
    consume: (topic, groupId, count) => consumeEach(topic, groupId, count, async () => undefined),
    async passthrough(input, output, groupId, count) {
      await connected;
      await consumeEach(input, groupId, count, async (messages) => {
        const copies = messages.map(({ key, value, headers }) => ({ key, value, headers }));
        await producer.send({ topic: output, acks: -1, messages: copies });
      });
    },
    async close() {
      await producer.disconnect();
    },
  };
}

/**
 * @platformatic/kafka with the same guarantees: an idempotent producer with acks from every
 * in-sync replica, the same records per send, one send at a time; consumers as streams from the
 * earliest offset with its default auto-commit.
 */
function platformaticDriver(config: PanaceaConfig): ClientDriver {
  const clientId = 'panacea-bench-platformatic';
  const bootstrapBrokers = config.kafkaBrokers;
  const producer = new PlatformaticProducer({
    clientId,
    bootstrapBrokers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    autocreateTopics: false,
  });

  const consumeEach = async (
    topic: string,
    groupId: string,
    count: number,
    handle: (messages: PlatformaticMessage[]) => Promise<void>,
  ): Promise<void> => {
    const consumer = new PlatformaticConsumer({ clientId, bootstrapBrokers, groupId });
    try {
      const stream = await consumer.consume({
        topics: [topic],
        mode: MessagesStreamModes.EARLIEST,
      });
      let handled = 0;
      let pending: PlatformaticMessage[] = [];
      let failure: unknown;
      stream.on('error', (error: unknown) => (failure ??= error));
      stream.on('data', (message: PlatformaticMessage) => {
        pending.push(message);
        if (pending.length >= PASSTHROUGH_MAX_PENDING) stream.pause();
      });
      // What the stream delivered is handed on in batches, as eachBatch hands on a fetch.
      while (handled < count) {
        if (failure !== undefined) throw failure;
        if (pending.length === 0) {
          await sleep(PROGRESS_POLL_INTERVAL_MS / 10);
          continue;
        }
        const batch = pending;
        pending = [];
        await handle(batch);
        handled += batch.length;
        if (stream.isPaused()) stream.resume();
      }
      await stream.close();
    } finally {
      await consumer.close(true);
    }
  };

  return {
    async produce(topic, records) {
      for (let start = 0; start < records.length; start += SEND_BATCH_RECORDS) {
        await producer.send({
          messages: records
            .slice(start, start + SEND_BATCH_RECORDS)
            .map(({ key, value }) => ({ topic, key: key as Buffer, value: value as Buffer })),
        });
      }
    },
    consume: (topic, groupId, count) => consumeEach(topic, groupId, count, async () => undefined),
    passthrough: (input, output, groupId, count) =>
      consumeEach(input, groupId, count, async (messages) => {
        await producer.send({
          messages: messages.map(({ key, value }) => ({ topic: output, key, value })),
        });
      }),
    async close() {
      await producer.close(true);
    },
  };
}

/**
 * The reason @confluentinc/kafka-javascript is not measured: it did not install here (see
 * CONFLUENT_INSTALL_NOTE), so only loading it is tried. A driver for it (its KafkaJS-compatible
 * API) is not written: it could not be run on this machine once.
 */
async function confluentUnavailable(): Promise<string> {
  // A variable, so that TypeScript does not look for the package's types at build time.
  const specifier: string = CLIENT_PACKAGES.confluent;
  try {
    await import(specifier);
    return 'loads here, but no driver is written for it yet (it never installed on the development machine)';
  } catch (error) {
    return `does not load (${messageOf(error).split('\n')[0]}): ${CONFLUENT_INSTALL_NOTE}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/** N records of RECORD_BYTES random bytes each, keyed by one of KEY_COUNT agents. */
function generateRecords(count: number): Message[] {
  const payload = randomBytes(count + RECORD_BYTES);
  return Array.from({ length: count }, (_, index) => ({
    key: Buffer.from(`bench-agent-${index % KEY_COUNT}`),
    value: payload.subarray(index, index + RECORD_BYTES),
  }));
}

async function createTopics(admin: Admin, topics: string[]): Promise<void> {
  await createTopicsServed(
    admin,
    topics.map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
  );
}

async function expectRecords(admin: Admin, topic: string, expected: number): Promise<void> {
  const partitions = await admin.fetchTopicOffsets(topic);
  const found = partitions.reduce(
    (sum, partition) => sum + Number(partition.high) - Number(partition.low),
    0,
  );
  if (found !== expected) {
    throw new BenchFailure(`expected ${expected} records in ${topic}, found ${found}`);
  }
}

async function waitUntil(done: () => boolean): Promise<void> {
  while (!done()) await sleep(PROGRESS_POLL_INTERVAL_MS);
}

/** Fails the side after its time limit, so a stuck client fails the bench instead of hanging it. */
async function withTimeout(work: Promise<void>, records: number, side: string): Promise<void> {
  const timeoutMs = SIDE_TIMEOUT_BASE_MS + records * SIDE_TIMEOUT_PER_RECORD_MS;
  const timeout = sleep(timeoutMs, undefined, { ref: false }).then(() => {
    throw new BenchFailure(`${side}: no end after ${timeoutMs} ms of ${records} records`);
  });
  await Promise.race([work, timeout]);
}

function rotate<Item>(items: readonly Item[], by: number): Item[] {
  const shift = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

function packageVersion(name: string): string {
  const file = path.join(packageRoot(), 'node_modules', name, 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

function printReport(result: KafkaClientsResult): void {
  const { machine, settings } = result;
  const rates = (figures: SideFigure[]): string =>
    figures.map((figure) => formatNumber(figure.recordsPerSecond)).join(' / ');

  say('Panacea Kafka clients on the hot paths');
  say(`  date       ${result.date}`);
  say(
    `  machine    ${machine.cpuCount} cores, ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ` +
      `load ${machine.loadAverage1m.start} at start, ${machine.loadAverage1m.end} at end (1 min)`,
  );
  say(
    `  workload   ${formatNumber(settings.events)} records of ${settings.recordBytes} bytes, ` +
      `${settings.keys} keys, ${settings.partitions} partitions, ${settings.rounds} rounds; ` +
      `JS producers send ${formatNumber(settings.sendBatchRecords)} records per request, acks -1, ` +
      'idempotent',
  );
  say('');
  say(`  ${'client'.padEnd(34)} ${'path'.padEnd(12)} ${'records/s'.padStart(9)}  rounds`);
  for (const name of CLIENT_NAMES) {
    const client = result.clients[name];
    const label = client.available ? `${client.package} ${client.version}` : client.package;
    if (!client.available) {
      say(`  ${label.padEnd(34)} unavailable: ${client.reason}`);
      continue;
    }
    for (const hotPath of HOT_PATHS) {
      const { rounds, medianRecordsPerSecond } = client.paths[hotPath];
      say(
        `  ${label.padEnd(34)} ${hotPath.padEnd(12)} ` +
          `${formatNumber(medianRecordsPerSecond).padStart(9)}  ${rates(rounds)}`,
      );
    }
  }
  const tools = result.brokerTools;
  if (tools.available) {
    for (const hotPath of ['produce', 'consume'] as const) {
      const { rounds, medianRecordsPerSecond } = tools.paths[hotPath];
      say(
        `  ${`Kafka ${tools.kafkaVersion} tools (Java)`.padEnd(34)} ${hotPath.padEnd(12)} ` +
          `${formatNumber(medianRecordsPerSecond).padStart(9)}  ${rates(rounds)}`,
      );
    }
  } else {
    say(`  ${'Kafka tools (Java)'.padEnd(34)} unavailable: ${tools.reason}`);
  }
  say('');
  say(`  peak resident memory  ${result.peakRssMiB} MiB`);
  say(
    '  Medians over rounds. Consume and passthrough clocks include the group join. The Java\n' +
      "  tools' rate is their own figure (without the JVM's start; ProducerPerformance keeps up to\n" +
      '  5 requests of 128 KiB batches in flight, the JS producers one 1 000-record request).',
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
