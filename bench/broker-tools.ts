/**
 * Kafka's own performance tools (org.apache.kafka.tools.ProducerPerformance and
 * ConsumerPerformance, from the `kafka-tools` artifact of the broker's version) run with the
 * machine's Java, the broker's classpath and the tools' classpath, as `panacea stack up` fetches
 * and runs the broker. They give the broker's limit on this machine for a client to be compared
 * with. Their output lines are parsed here (pure functions, unit-tested).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

import { componentLogger } from '../core/logger.js';
import { findJava } from '../infra/stack/java-runtime.js';
import {
  resolveKafkaClasspath,
  resolveKafkaToolsClasspath,
} from '../infra/stack/maven-artifacts.js';
import { defaultCacheDir, KAFKA_VERSION } from '../infra/stack/stack.js';

const execFileAsync = promisify(execFile);

/** Kafka 4 tools need Java 17, as the broker does. */
const TOOLS_MIN_JAVA = 17;
/** A small heap: the tools hold one batch at a time, and the machine is shared. */
const TOOLS_HEAP_MB = 256;
const TOOL_TIMEOUT_MS = 5 * 60_000;
/** ProducerPerformance's batches per partition and how long it waits to fill one. */
const PRODUCER_BATCH_BYTES = 128 * 1024;
const PRODUCER_LINGER_MS = 10;

export interface BrokerTools {
  /** `java -Xmx… -cp <broker>:<tools>` and the version they were resolved for. */
  javaBin: string;
  classpath: string;
  kafkaVersion: string;
}

/** The tools' figure for one run: the tool's own rate, and the wall time with the JVM's start. */
export interface ToolFigure {
  records: number;
  recordsPerSecond: number;
  /** ConsumerPerformance only: the rate without the group join (its `fetch.nMsg.sec`). */
  recordsPerSecondAfterJoin?: number;
  wallMs: number;
}

/** Finds Java and resolves both classpaths (Maven, cached after the first time). */
export async function openBrokerTools(): Promise<BrokerTools> {
  const logger = componentLogger('bench-broker-tools');
  const java = await findJava(TOOLS_MIN_JAVA);
  if (java.found === undefined) {
    throw new Error(`no Java ${TOOLS_MIN_JAVA}+ found for the Kafka tools`);
  }
  const cacheDir = defaultCacheDir();
  const broker = await resolveKafkaClasspath(cacheDir, KAFKA_VERSION, logger);
  const tools = await resolveKafkaToolsClasspath(cacheDir, KAFKA_VERSION, logger);
  return {
    javaBin: java.found.javaBin,
    classpath: [...new Set([...broker, ...tools])].join(path.delimiter),
    kafkaVersion: KAFKA_VERSION,
  };
}

/**
 * ProducerPerformance: `records` records of `recordBytes` random bytes, as fast as it can, with
 * acks from every in-sync replica and idempotence, no compression, up to 5 requests in flight.
 * Batches of up to PRODUCER_BATCH_BYTES per partition: about what a JS producer sending 1 000
 * records per request puts in each of 3 partitions. With the tool's default 16 KiB batches it
 * measured 29 000–55 000 records/s here against 68 000–73 000 with these (same minute, loaded
 * machine), so the defaults would show the tool's batching, not the broker's limit. Its records
 * have no key.
 */
export async function runProducerPerformance(
  tools: BrokerTools,
  options: { brokers: string[]; topic: string; records: number; recordBytes: number },
): Promise<ToolFigure> {
  const startMs = performance.now();
  const output = await runTool(tools, 'org.apache.kafka.tools.ProducerPerformance', [
    '--topic',
    options.topic,
    '--num-records',
    String(options.records),
    '--record-size',
    String(options.recordBytes),
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${options.brokers.join(',')}`,
    'acks=all',
    'enable.idempotence=true',
    `batch.size=${PRODUCER_BATCH_BYTES}`,
    `linger.ms=${PRODUCER_LINGER_MS}`,
  ]);
  const wallMs = performance.now() - startMs;
  return { ...parseProducerPerformance(output), wallMs };
}

/** ConsumerPerformance: reads `records` records of `topic` from the beginning in group `groupId`. */
export async function runConsumerPerformance(
  tools: BrokerTools,
  options: { brokers: string[]; topic: string; records: number; groupId: string },
): Promise<ToolFigure> {
  const startMs = performance.now();
  const output = await runTool(tools, 'org.apache.kafka.tools.ConsumerPerformance', [
    '--bootstrap-server',
    options.brokers.join(','),
    '--topic',
    options.topic,
    '--messages',
    String(options.records),
    '--group',
    options.groupId,
    '--timeout',
    '60000',
  ]);
  const wallMs = performance.now() - startMs;
  return { ...parseConsumerPerformance(output), wallMs };
}

/**
 * The summary line of ProducerPerformance, e.g. `200000 records sent, 50968.4 records/sec
 * (14.58 MB/sec), 982.94 ms avg latency, …`: the last such line of its output.
 */
export function parseProducerPerformance(output: string): Omit<ToolFigure, 'wallMs'> {
  const matches = [...output.matchAll(/(\d+) records sent, ([\d.]+) records\/sec/g)];
  const last = matches.at(-1);
  if (last === undefined) {
    throw new Error(`no summary line in ProducerPerformance's output: ${tail(output)}`);
  }
  return { records: Number(last[1]), recordsPerSecond: Number(last[2]) };
}

/**
 * ConsumerPerformance prints a CSV header (`start.time, end.time, …, nMsg.sec, rebalance.time.ms,
 * fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec`) and one line of values; columns are found by name.
 */
export function parseConsumerPerformance(output: string): Omit<ToolFigure, 'wallMs'> {
  const lines = output.split('\n').map((line) => line.trim());
  const headerIndex = lines.findIndex((line) => line.startsWith('start.time,'));
  const header = lines[headerIndex]?.split(',').map((cell) => cell.trim());
  const values = lines[headerIndex + 1]?.split(',').map((cell) => cell.trim());
  if (headerIndex < 0 || header === undefined || values === undefined) {
    throw new Error(`no result lines in ConsumerPerformance's output: ${tail(output)}`);
  }
  const column = (name: string): number => {
    const value = Number(values[header.indexOf(name)]);
    if (!Number.isFinite(value)) {
      throw new Error(`ConsumerPerformance gave no number for ${name}: ${tail(output)}`);
    }
    return value;
  };
  return {
    records: column('data.consumed.in.nMsg'),
    recordsPerSecond: column('nMsg.sec'),
    recordsPerSecondAfterJoin: column('fetch.nMsg.sec'),
  };
}

async function runTool(tools: BrokerTools, mainClass: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(
      tools.javaBin,
      [`-Xmx${TOOLS_HEAP_MB}m`, '-cp', tools.classpath, mainClass, ...args],
      { timeout: TOOL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
    );
    return `${stdout}\n${stderr}`;
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string };
    throw new Error(
      `${mainClass} failed: ${tail(`${output.stdout ?? ''}${output.stderr ?? ''}`)}`,
      { cause: error },
    );
  }
}

function tail(output: string): string {
  return output.trim().split('\n').slice(-5).join(' | ');
}
