/**
 * The local stack: one Kafka broker and one Elasticsearch node for this machine. `up` finds the
 * servers in this order: URLs given in the environment (start nothing), something of ours or
 * anybody's already answering, a Docker engine (testcontainers), or the machine's Java and Maven.
 * What it starts is written to `<data dir>/stack.json`, and `down` stops exactly that.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { PanaceaError } from '../../core/errors.js';
import { componentLogger, type Logger } from '../../core/logger.js';
import {
  dockerEngineAvailable,
  removeContainer,
  startElasticsearchContainer,
  startKafkaContainer,
} from './docker-servers.js';
import { findJava, type JavaRuntime } from './java-runtime.js';
import { launchElasticsearch, launchKafka, type KafkaSecureListener } from './jvm-servers.js';
import { findMaven, resolveElasticsearchHome, resolveKafkaClasspath } from './maven-artifacts.js';
import { elasticsearchAnswers, kafkaAnswers, portInUse, waitUntil } from './probes.js';
import { isOurProcess, isProcessAlive, stopProcessGroup, tailOfFile } from './processes.js';

export const KAFKA_VERSION = '4.1.1';
export const ELASTICSEARCH_VERSION = '9.2.0';
const KAFKA_MIN_JAVA = 17;
const ELASTICSEARCH_MIN_JAVA = 21;
/** Parts of the servers' command lines that tell a recorded pid is still ours. */
const KAFKA_COMMAND_MARKER = 'kafka.Kafka';
const ELASTICSEARCH_COMMAND_MARKER = 'org.elasticsearch';

export interface StackOptions {
  dataDir: string;
  /** Downloaded and unpacked servers, shared by every data directory. */
  cacheDir: string;
  kafkaPort: number;
  elasticsearchPort: number;
  /** Set when `KAFKA_BROKERS` names a cluster to use: nothing is started for Kafka. */
  externalKafkaBrokers?: string[];
  /** Set when `ELASTICSEARCH_URL` names a cluster to use: nothing is started for Elasticsearch. */
  externalElasticsearchUrl?: string;
  /** `auto` (default): Docker when an engine answers, else Maven. */
  source: 'auto' | 'docker' | 'maven';
  kafkaHeapMb: number;
  elasticsearchHeapMb: number;
  /** How long to wait for a started server to answer. Default 180 s. */
  startTimeoutMs: number;
  /** A TLS and SASL listener beside the plaintext one, on a Kafka started with Maven. */
  kafkaSecureListener?: KafkaSecureListener;
}

type Source = 'environment' | 'already-running' | 'docker' | 'maven';

interface ComponentState {
  source: Source;
  address: string;
  pid?: number;
  /** A string the server's command line contains, to recognise `pid` as ours later. */
  commandMarker?: string;
  containerId?: string;
  logFile?: string;
  detail?: string;
  startedAt: string;
}

interface StackState {
  kafka?: ComponentState;
  elasticsearch?: ComponentState;
}

export interface StackUpResult {
  /** The servers this call started; empty when everything was already there. */
  startedNow: Array<'kafka' | 'elasticsearch'>;
  kafkaBrokers: string[];
  elasticsearchUrl: string;
  kafka: ComponentState;
  elasticsearch: ComponentState;
}

export function defaultCacheDir(environment = process.env): string {
  if (environment.PANACEA_CACHE_DIR) return path.resolve(environment.PANACEA_CACHE_DIR);
  // As root the cache must be readable by the Elasticsearch system user, which cannot enter /root.
  if (process.getuid?.() === 0) return '/var/cache/panacea';
  return path.join(environment.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'panacea');
}

export async function stackUp(options: StackOptions, logger: Logger): Promise<StackUpResult> {
  mkdirSync(options.dataDir, { recursive: true });
  const state = readState(options.dataDir);
  const kafkaAddress = `127.0.0.1:${options.kafkaPort}`;
  const elasticsearchAddress = `http://127.0.0.1:${options.elasticsearchPort}`;

  const kafka = await findRunning({
    external: options.externalKafkaBrokers?.join(','),
    variable: 'KAFKA_BROKERS',
    localAddress: kafkaAddress,
    port: options.kafkaPort,
    portOption: '--kafka-port',
    recorded: state.kafka,
    answers: (address) => kafkaAnswers(address.split(',')),
    description: 'Kafka',
  });
  const elasticsearch = await findRunning({
    external: options.externalElasticsearchUrl,
    variable: 'ELASTICSEARCH_URL',
    localAddress: elasticsearchAddress,
    port: options.elasticsearchPort,
    portOption: '--elasticsearch-port',
    recorded: state.elasticsearch,
    answers: (address) => elasticsearchAnswers(address),
    description: 'a healthy Elasticsearch',
  });
  const launcher =
    kafka === undefined || elasticsearch === undefined
      ? await chooseLauncher(options, kafka === undefined, elasticsearch === undefined)
      : undefined;

  const pending: Array<Promise<void>> = [];
  if (kafka === undefined && launcher !== undefined) {
    state.kafka = await launcher.startKafka();
    writeState(options.dataDir, state);
    pending.push(awaitReady('Kafka', state.kafka, () => kafkaAnswers([kafkaAddress]), options));
  } else if (kafka !== undefined) {
    state.kafka = kafka;
  }
  if (elasticsearch === undefined && launcher !== undefined) {
    state.elasticsearch = await launcher.startElasticsearch();
    writeState(options.dataDir, state);
    pending.push(
      awaitReady(
        'Elasticsearch',
        state.elasticsearch,
        () => elasticsearchAnswers(elasticsearchAddress),
        options,
      ),
    );
  } else if (elasticsearch !== undefined) {
    state.elasticsearch = elasticsearch;
  }
  await Promise.all(pending);
  logger.info(
    { kafka: state.kafka?.address, elasticsearch: state.elasticsearch?.address },
    'stack ready',
  );

  const ready = {
    kafka: state.kafka as ComponentState,
    elasticsearch: state.elasticsearch as ComponentState,
  };
  return {
    startedNow: [
      ...(kafka === undefined ? (['kafka'] as const) : []),
      ...(elasticsearch === undefined ? (['elasticsearch'] as const) : []),
    ],
    kafkaBrokers: ready.kafka.address.split(','),
    elasticsearchUrl: ready.elasticsearch.address,
    ...ready,
  };
}

/** What tells one server apart when looking for a running one. */
interface ServerLookup {
  /** Address given in the environment: use it and start nothing. */
  external?: string;
  /** The environment variable that gave `external`, for the message when nothing answers. */
  variable: string;
  /** Where a local one would answer. */
  localAddress: string;
  port: number;
  portOption: string;
  recorded: ComponentState | undefined;
  answers(address: string): Promise<boolean>;
  /** Name in messages, e.g. "a healthy Elasticsearch". */
  description: string;
}

/**
 * A server already there (given, ours, or anybody's answering on the port), or undefined when
 * one must be started. A recorded server of ours that no longer answers is stopped first.
 */
async function findRunning(lookup: ServerLookup): Promise<ComponentState | undefined> {
  const now = new Date().toISOString();
  if (lookup.external !== undefined) {
    if (!(await lookup.answers(lookup.external))) {
      throw new PanaceaError(
        'STACK_UNAVAILABLE',
        `${lookup.variable} is set to ${lookup.external} but no ${lookup.description.replace(/^an? /, '')} answers there`,
      );
    }
    return { source: 'environment', address: lookup.external, startedAt: now };
  }
  if (await lookup.answers(lookup.localAddress)) {
    return isOurs(lookup.recorded)
      ? lookup.recorded
      : { source: 'already-running', address: lookup.localAddress, startedAt: now };
  }
  if (isOurs(lookup.recorded) && isRecordedProcessAlive(lookup.recorded)) {
    // Ours but not answering: a half-dead server from an earlier run. Replace it.
    await stopProcessGroup(lookup.recorded.pid as number, 30_000);
  }
  if (await portInUse('127.0.0.1', lookup.port)) {
    throw new PanaceaError(
      'STACK_UNAVAILABLE',
      `port ${lookup.port} is taken by something that is not ${lookup.description}; free it or set ${lookup.portOption}`,
    );
  }
  return undefined;
}

interface Launcher {
  startKafka(): Promise<ComponentState>;
  startElasticsearch(): Promise<ComponentState>;
}

async function chooseLauncher(
  options: StackOptions,
  needKafka: boolean,
  needElasticsearch: boolean,
): Promise<Launcher> {
  const missing: string[] = [];
  if (options.source !== 'maven') {
    if (await dockerEngineAvailable()) return dockerLauncher(options);
    if (options.source === 'docker') {
      throw new PanaceaError(
        'STACK_UNAVAILABLE',
        'PANACEA_STACK_SOURCE=docker but no Docker engine answers',
      );
    }
    missing.push('no Docker engine answers');
  }

  const maven = await findMaven();
  const kafkaJava = needKafka ? await findJava(KAFKA_MIN_JAVA) : undefined;
  const elasticsearchJava = needElasticsearch ? await findJava(ELASTICSEARCH_MIN_JAVA) : undefined;
  if (maven === undefined) missing.push('no `mvn` on PATH (Apache Maven)');
  for (const [search, minimum, server] of [
    [kafkaJava, KAFKA_MIN_JAVA, 'Kafka'],
    [elasticsearchJava, ELASTICSEARCH_MIN_JAVA, 'Elasticsearch'],
  ] as const) {
    if (search !== undefined && search.found === undefined) {
      const seen = search.candidates
        .map((candidate) => `${candidate.majorVersion} at ${candidate.javaHome}`)
        .join(', ');
      missing.push(
        `no Java ${minimum}+ for ${server} (set JAVA_HOME; found: ${seen === '' ? 'none' : seen})`,
      );
    }
  }
  if (
    maven === undefined ||
    (kafkaJava?.found === undefined && needKafka) ||
    (elasticsearchJava?.found === undefined && needElasticsearch)
  ) {
    throw new PanaceaError(
      'STACK_UNAVAILABLE',
      `cannot start the local stack: ${missing.join('; ')}. ` +
        'Install Docker, or Java 21+ with Maven, or set KAFKA_BROKERS and ELASTICSEARCH_URL to existing servers.',
    );
  }
  return mavenLauncher(options, kafkaJava?.found, elasticsearchJava?.found);
}

function mavenLauncher(
  options: StackOptions,
  kafkaJava?: JavaRuntime,
  elasticsearchJava?: JavaRuntime,
): Launcher {
  const logger = componentLogger('stack.maven');
  return {
    async startKafka() {
      const java = kafkaJava as JavaRuntime;
      const classpath = await resolveKafkaClasspath(options.cacheDir, KAFKA_VERSION, logger);
      const directory = path.join(options.dataDir, 'kafka');
      const { pid, logFile } = await launchKafka(
        {
          java,
          classpath,
          directory,
          port: options.kafkaPort,
          heapMb: options.kafkaHeapMb,
          ...(options.kafkaSecureListener === undefined
            ? {}
            : { secureListener: options.kafkaSecureListener }),
        },
        logger,
      );
      logger.info(
        { pid, java: java.javaHome, javaVersion: java.majorVersion, version: KAFKA_VERSION },
        'started Kafka',
      );
      return {
        source: 'maven',
        address: `127.0.0.1:${options.kafkaPort}`,
        pid,
        commandMarker: KAFKA_COMMAND_MARKER,
        logFile,
        detail: `kafka_2.13 ${KAFKA_VERSION} on Java ${java.majorVersion} (${java.javaHome})`,
        startedAt: new Date().toISOString(),
      };
    },
    async startElasticsearch() {
      const java = elasticsearchJava as JavaRuntime;
      const home = await resolveElasticsearchHome(options.cacheDir, ELASTICSEARCH_VERSION, logger);
      const directory = path.join(options.dataDir, 'elasticsearch');
      const { pid, logFile, runAs } = await launchElasticsearch(
        {
          java,
          home,
          directory,
          port: options.elasticsearchPort,
          heapMb: options.elasticsearchHeapMb,
        },
        logger,
      );
      logger.info(
        {
          pid,
          java: java.javaHome,
          javaVersion: java.majorVersion,
          version: ELASTICSEARCH_VERSION,
          runAs,
        },
        'started Elasticsearch',
      );
      return {
        source: 'maven',
        address: `http://127.0.0.1:${options.elasticsearchPort}`,
        pid,
        commandMarker: ELASTICSEARCH_COMMAND_MARKER,
        logFile,
        detail: `elasticsearch integ-test-zip ${ELASTICSEARCH_VERSION} on Java ${java.majorVersion} (${java.javaHome})${runAs === undefined ? '' : ` as user ${runAs}`}`,
        startedAt: new Date().toISOString(),
      };
    },
  };
}

function dockerLauncher(options: StackOptions): Launcher {
  return {
    async startKafka() {
      const containerId = await startKafkaContainer(options.kafkaPort);
      return {
        source: 'docker',
        address: `127.0.0.1:${options.kafkaPort}`,
        containerId,
        startedAt: new Date().toISOString(),
      };
    },
    async startElasticsearch() {
      const containerId = await startElasticsearchContainer(
        options.elasticsearchPort,
        options.elasticsearchHeapMb,
      );
      return {
        source: 'docker',
        address: `http://127.0.0.1:${options.elasticsearchPort}`,
        containerId,
        startedAt: new Date().toISOString(),
      };
    },
  };
}

async function awaitReady(
  server: string,
  component: ComponentState,
  check: () => Promise<boolean>,
  options: StackOptions,
): Promise<void> {
  const outcome = await waitUntil(check, {
    timeoutMs: options.startTimeoutMs,
    failFast: () =>
      component.pid !== undefined && !isProcessAlive(component.pid)
        ? 'the process exited'
        : undefined,
  });
  if (outcome === 'ready') return;
  const log =
    component.logFile === undefined
      ? ''
      : `\nlast lines of ${component.logFile}:\n${tailOfFile(component.logFile, 20)}`;
  throw new PanaceaError(
    'STACK_START_FAILED',
    `${server} did not come up at ${component.address}: ${outcome}${log}`,
  );
}

export interface StackDownResult {
  stopped: string[];
  leftAlone: string[];
}

/** Stops what `up` started (recorded in the state file) and nothing else. */
export async function stackDown(dataDir: string): Promise<StackDownResult> {
  const state = readState(dataDir);
  const result: StackDownResult = { stopped: [], leftAlone: [] };

  for (const name of ['kafka', 'elasticsearch'] as const) {
    const component = state[name];
    if (component === undefined) continue;
    if (component.pid !== undefined && !isRecordedProcessAlive(component)) {
      result.stopped.push(`${name} (pid ${component.pid} had already exited)`);
    } else if (component.pid !== undefined) {
      const outcome = await stopProcessGroup(component.pid, 60_000);
      result.stopped.push(`${name} (pid ${component.pid}: ${outcome})`);
    } else if (component.containerId !== undefined) {
      await removeContainer(component.containerId);
      result.stopped.push(`${name} (container ${component.containerId.slice(0, 12)})`);
    } else {
      result.leftAlone.push(
        `${name} at ${component.address} (${component.source}, not started by panacea)`,
      );
    }
    delete state[name];
  }
  writeState(dataDir, state);
  return result;
}

export interface ComponentStatus {
  name: 'kafka' | 'elasticsearch';
  address: string;
  answering: boolean;
  source: Source | 'none';
  detail?: string;
  pid?: number;
}

export async function stackStatus(
  options: Pick<
    StackOptions,
    | 'dataDir'
    | 'kafkaPort'
    | 'elasticsearchPort'
    | 'externalKafkaBrokers'
    | 'externalElasticsearchUrl'
  >,
): Promise<ComponentStatus[]> {
  const state = readState(options.dataDir);
  const kafkaAddress =
    options.externalKafkaBrokers?.join(',') ??
    state.kafka?.address ??
    `127.0.0.1:${options.kafkaPort}`;
  const elasticsearchAddress =
    options.externalElasticsearchUrl ??
    state.elasticsearch?.address ??
    `http://127.0.0.1:${options.elasticsearchPort}`;

  const kafkaUp = await kafkaAnswers(kafkaAddress.split(','));
  const elasticsearchUp = await elasticsearchAnswers(elasticsearchAddress);
  return [
    describeComponent(
      'kafka',
      kafkaAddress,
      kafkaUp,
      options.externalKafkaBrokers !== undefined,
      state.kafka,
    ),
    describeComponent(
      'elasticsearch',
      elasticsearchAddress,
      elasticsearchUp,
      options.externalElasticsearchUrl !== undefined,
      state.elasticsearch,
    ),
  ];
}

function describeComponent(
  name: 'kafka' | 'elasticsearch',
  address: string,
  answering: boolean,
  external: boolean,
  component: ComponentState | undefined,
): ComponentStatus {
  const source: Source | 'none' = external
    ? 'environment'
    : (component?.source ?? (answering ? 'already-running' : 'none'));
  return {
    name,
    address,
    answering,
    source,
    ...(component?.detail === undefined ? {} : { detail: component.detail }),
    ...(component?.pid === undefined ? {} : { pid: component.pid }),
  };
}

/** The recorded server process is alive and still the one we started (not a reused pid). */
function isRecordedProcessAlive(component: ComponentState): boolean {
  if (component.pid === undefined) return false;
  if (component.commandMarker === undefined) return isProcessAlive(component.pid);
  return isOurProcess(component.pid, component.commandMarker);
}

function isOurs(component: ComponentState | undefined): component is ComponentState {
  return component !== undefined && (component.source === 'maven' || component.source === 'docker');
}

function stateFile(dataDir: string): string {
  return path.join(dataDir, 'stack.json');
}

function readState(dataDir: string): StackState {
  const file = stateFile(dataDir);
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StackState;
  } catch (error) {
    throw new PanaceaError(
      'STACK_UNAVAILABLE',
      `${file} is not valid JSON; remove it after stopping any server it names`,
      {},
      error,
    );
  }
}

function writeState(dataDir: string, state: StackState): void {
  const file = stateFile(dataDir);
  // Only what panacea started is worth remembering; state for found servers is rebuilt each time.
  const kept: StackState = {};
  if (isOurs(state.kafka)) kept.kafka = state.kafka;
  if (isOurs(state.elasticsearch)) kept.elasticsearch = state.elasticsearch;
  if (kept.kafka === undefined && kept.elasticsearch === undefined) {
    rmSync(file, { force: true });
    return;
  }
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(kept, null, 2)}\n`);
}
