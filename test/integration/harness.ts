/**
 * What integration tests share: an isolated pipeline identity per test (topic prefix, data stream
 * namespace, data directory) on the real servers of the global setup, the `panacea` command run
 * as a child process exactly as a user runs it, and small readers for Kafka and Elasticsearch.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';

import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import { inject } from 'vitest';

import { loadConfig } from '../../core/config.js';
import { packageRoot } from '../../core/package-root.js';
import { openSchemaCodec, type SchemaCodec } from '../../schemas/codec.js';
import { openSchemaRegistry } from '../../schemas/registry/open-registry.js';
import type { SchemaRegistry } from '../../schemas/registry/schema-registry.js';

export interface Isolation {
  kafkaBrokers: string;
  elasticsearchUrl: string;
  topicPrefix: string;
  namespace: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
}

export interface IsolationOptions {
  /** A Confluent-compatible registry for this pipeline; by default the embedded one in Kafka. */
  schemaRegistryUrl?: string;
}

export function isolate(label: string, options: IsolationOptions = {}): Isolation {
  const suffix = randomBytes(4).toString('hex');
  const kafkaBrokers = inject('kafkaBrokers');
  const elasticsearchUrl = inject('elasticsearchUrl');
  const topicPrefix = `test.${label}.${suffix}.`;
  const namespace = `t_${label.replace(/[^a-z0-9]/g, '_')}_${suffix}`;
  const dataDir = mkdtempSync(path.join(inject('testRoot'), `${label}-`));
  return {
    kafkaBrokers,
    elasticsearchUrl,
    topicPrefix,
    namespace,
    dataDir,
    env: {
      ...process.env,
      KAFKA_BROKERS: kafkaBrokers,
      ELASTICSEARCH_URL: elasticsearchUrl,
      PANACEA_TOPIC_PREFIX: topicPrefix,
      PANACEA_NAMESPACE: namespace,
      PANACEA_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      // The tests pin real traces from 2025, far older than any default retention: Panacea's
      // enforcement in `panacea run` would delete what they check. Retention tests turn it on.
      PANACEA_RETENTION_INTERVAL: 'off',
      // Unset unless asked for: a SCHEMA_REGISTRY_URL in the shell that runs the tests would
      // otherwise move every test off the embedded registry without saying so.
      SCHEMA_REGISTRY_URL: options.schemaRegistryUrl,
      // Off unless a test asks for it: several pipelines of one test would all claim port 9464.
      PANACEA_HTTP_PORT: 'off',
    },
  };
}

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Starts `panacea` as a child process, for tests that signal it while it runs. */
export function spawnPanacea(
  args: string[],
  env: NodeJS.ProcessEnv,
): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [path.join(packageRoot(), 'bin', 'panacea.js'), ...args], { env });
}

/** Longest a command may run in a test; a hung command is killed so no process outlives it. */
const COMMAND_TIMEOUT_MS = 150_000;

export function runPanacea(
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawnPanacea(args, env);
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      stderr += `\n[test harness] killed after ${COMMAND_TIMEOUT_MS} ms`;
      child.kill('SIGKILL');
    }, COMMAND_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

export function kafkaFor(isolation: Isolation): Kafka {
  return new Kafka({
    clientId: 'panacea-test',
    brokers: isolation.kafkaBrokers.split(','),
    logLevel: logLevel.NOTHING,
  });
}

/**
 * The codec the isolated pipeline uses (on the embedded registry in its own topic, or on the
 * isolation's `SCHEMA_REGISTRY_URL`), for tests that write raw records by hand. Close it when done.
 */
export async function openCodecFor(
  isolation: Isolation,
): Promise<{ codec: SchemaCodec; registry: SchemaRegistry }> {
  const config = loadConfig(isolation.env);
  const registry = await openSchemaRegistry(config, kafkaFor(isolation));
  try {
    return { codec: await openSchemaCodec(registry), registry };
  } catch (error) {
    await registry.close();
    throw error;
  }
}

export interface ReadRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** The record's Kafka timestamp, epoch ms. */
  timestampMs: number;
}

/** Reads a topic from the beginning until `count` records are in hand or the time is up. */
export async function readTopic(
  isolation: Isolation,
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<ReadRecord[]> {
  const consumer = kafkaFor(isolation).consumer({
    groupId: `panacea-test-reader-${randomBytes(4).toString('hex')}`,
  });
  const records: ReadRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          records.push({
            partition,
            offset: message.offset,
            key: message.key?.toString() ?? null,
            value: message.value,
            headers: stringHeaders(message.headers),
            timestampMs: Number(message.timestamp),
          });
          if (records.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}

function stringHeaders(headers: IHeaders | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers ?? {}).map(([name, value]) => [name, String(value)]),
  );
}

export interface SearchHit {
  _id: string;
  _index: string;
  _source: Record<string, unknown>;
}

/** A field of a document by dotted path, e.g. `field(hit, 'event.outcome')`. */
export function field(hit: SearchHit, dottedPath: string): unknown {
  let value: unknown = hit._source;
  for (const part of dottedPath.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

export async function searchAll(
  isolation: Isolation,
  kind = '*',
  query?: object,
): Promise<SearchHit[]> {
  const index = `logs-agent.${kind}-${isolation.namespace}`;
  await fetch(
    `${isolation.elasticsearchUrl}/${index}/_refresh?allow_no_indices=true&ignore_unavailable=true`,
    { method: 'POST' },
  );
  const response = await fetch(
    `${isolation.elasticsearchUrl}/${index}/_search?allow_no_indices=true&ignore_unavailable=true`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        size: 1000,
        query: query ?? { match_all: {} },
        sort: [{ '@timestamp': 'asc' }],
      }),
    },
  );
  const body = (await response.json()) as { hits?: { hits: SearchHit[] }; error?: unknown };
  if (body.hits === undefined) throw new Error(`search failed: ${JSON.stringify(body.error)}`);
  return body.hits.hits;
}
