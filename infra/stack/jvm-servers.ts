/**
 * Kafka and Elasticsearch as local JVM processes built from Maven Central artifacts: a single-node
 * KRaft broker and controller, and a single-node Elasticsearch bound to 127.0.0.1 with security
 * off, a fixed heap, and disk watermarks disabled so a busy shared disk does not block writes.
 */
import { execFile } from 'node:child_process';
import {
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

import { PanaceaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { JavaRuntime } from './java-runtime.js';
import { spawnDetached } from './processes.js';

const execFileAsync = promisify(execFile);

/** Elasticsearch refuses to run as root; when we are root it runs as this system user. */
export const ELASTICSEARCH_SYSTEM_USER = 'panacea-es';

export interface KafkaLaunch {
  java: JavaRuntime;
  classpath: string[];
  directory: string;
  port: number;
  heapMb: number;
  /** A second listener with TLS and SASL, beside the plaintext one (see KafkaSecureListener). */
  secureListener?: KafkaSecureListener;
}

/**
 * A `SASL_SSL` listener on 127.0.0.1, for trying the clients' TLS and SASL settings against a
 * real broker: the server's key and certificate chain in one PEM file (the key unencrypted, in
 * PKCS#8), and the users the PLAIN mechanism accepts.
 */
export interface KafkaSecureListener {
  port: number;
  keyAndCertificatePemFile: string;
  plainUsers: Record<string, string>;
}

export async function launchKafka(
  launch: KafkaLaunch,
  logger: Logger,
): Promise<{ pid: number; logFile: string }> {
  const dataDirectory = path.join(launch.directory, 'data');
  const propertiesFile = path.join(launch.directory, 'server.properties');
  const log4jFile = path.join(launch.directory, 'log4j2.yaml');
  const logFile = path.join(launch.directory, 'kafka.log');
  mkdirSync(launch.directory, { recursive: true });

  const controllerPort = await freePort();
  writeFileSync(
    propertiesFile,
    kafkaProperties(launch.port, controllerPort, dataDirectory, launch.secureListener?.port) +
      (launch.secureListener === undefined ? '' : secureListenerProperties(launch.secureListener)),
  );
  writeFileSync(log4jFile, KAFKA_LOG4J_CONFIG);
  const javaArgs = [
    `-Xms${launch.heapMb}m`,
    `-Xmx${launch.heapMb}m`,
    `-Dlog4j2.configurationFile=${log4jFile}`,
  ];
  const classpath = launch.classpath.join(path.delimiter);

  // KRaft storage is formatted once; the cluster id then lives in meta.properties.
  if (!existsSync(path.join(dataDirectory, 'meta.properties'))) {
    const clusterId = await runJava(launch.java, [
      ...javaArgs,
      '-cp',
      classpath,
      'kafka.tools.StorageTool',
      'random-uuid',
    ]);
    await runJava(launch.java, [
      ...javaArgs,
      '-cp',
      classpath,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId.trim().split('\n').at(-1) ?? '',
      '-c',
      propertiesFile,
    ]);
    logger.info({ dataDirectory }, 'formatted Kafka storage');
  }

  const pid = spawnDetached({
    command: launch.java.javaBin,
    args: [...javaArgs, '-cp', classpath, 'kafka.Kafka', propertiesFile],
    cwd: launch.directory,
    env: { ...process.env, JAVA_HOME: launch.java.javaHome },
    logFile,
  });
  return { pid, logFile };
}

function kafkaProperties(
  port: number,
  controllerPort: number,
  dataDirectory: string,
  securePort?: number,
): string {
  const secure = securePort === undefined ? '' : `,SASL_SSL://127.0.0.1:${securePort}`;
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}${secure}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}${secure}`,
    'controller.listener.names=CONTROLLER',
    `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${securePort === undefined ? '' : ',SASL_SSL:SASL_SSL'}`,
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${dataDirectory}`,
    'num.partitions=3',
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // A single member joins at once; the default 3 s delay only slows every test and restart.
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    '',
  ].join('\n');
}

/** The secure listener's own settings; its address is in `listeners` (see kafkaProperties). */
function secureListenerProperties(listener: KafkaSecureListener): string {
  const users = Object.entries(listener.plainUsers)
    .map(([user, password]) => `user_${user}="${password}"`)
    .join(' ');
  return [
    'listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN',
    `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${users};`,
    'listener.name.sasl_ssl.ssl.keystore.type=PEM',
    `listener.name.sasl_ssl.ssl.keystore.location=${listener.keyAndCertificatePemFile}`,
    '',
  ].join('\n');
}

const KAFKA_LOG4J_CONFIG = `Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Logger:
      - name: kafka
        level: WARN
      - name: org.apache.kafka
        level: WARN
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
`;

export interface ElasticsearchLaunch {
  java: JavaRuntime;
  home: string;
  directory: string;
  port: number;
  heapMb: number;
}

export async function launchElasticsearch(
  launch: ElasticsearchLaunch,
  logger: Logger,
): Promise<{ pid: number; logFile: string; runAs?: string }> {
  const configDirectory = path.join(launch.directory, 'config');
  const dataDirectory = path.join(launch.directory, 'data');
  const logsDirectory = path.join(launch.directory, 'logs');
  const logFile = path.join(launch.directory, 'elasticsearch.out');
  for (const directory of [configDirectory, dataDirectory, logsDirectory])
    mkdirSync(directory, { recursive: true });

  // The distribution's config is copied once so the shared cached home stays read-only.
  if (!existsSync(path.join(configDirectory, 'jvm.options'))) {
    cpSync(path.join(launch.home, 'config'), configDirectory, { recursive: true });
  }
  writeFileSync(
    path.join(configDirectory, 'elasticsearch.yml'),
    elasticsearchSettings(launch.port, dataDirectory, logsDirectory),
  );

  const account =
    process.getuid?.() === 0
      ? await ensureSystemUser(ELASTICSEARCH_SYSTEM_USER, logger)
      : undefined;
  if (account !== undefined) {
    assertTraversable(launch.directory, ELASTICSEARCH_SYSTEM_USER);
    assertTraversable(launch.home, ELASTICSEARCH_SYSTEM_USER);
    chownRecursive(launch.directory, account.uid, account.gid);
  }

  const pid = spawnDetached({
    command: '/bin/bash',
    args: [path.join(launch.home, 'bin', 'elasticsearch')],
    cwd: launch.directory,
    env: {
      PATH: process.env.PATH,
      HOME: launch.directory,
      ES_JAVA_HOME: launch.java.javaHome,
      ES_PATH_CONF: configDirectory,
      ES_JAVA_OPTS: `-Xms${launch.heapMb}m -Xmx${launch.heapMb}m`,
    },
    logFile,
    ...(account ?? {}),
  });
  return { pid, logFile, ...(account === undefined ? {} : { runAs: ELASTICSEARCH_SYSTEM_USER }) };
}

function elasticsearchSettings(port: number, dataDirectory: string, logsDirectory: string): string {
  return [
    'cluster.name: panacea-local',
    'node.name: panacea-local-1',
    'network.host: 127.0.0.1',
    `http.port: ${port}`,
    'discovery.type: single-node',
    `path.data: ${dataDirectory}`,
    `path.logs: ${logsDirectory}`,
    // A plain local node: no TLS or users, as for any development cluster on loopback.
    'xpack.security.enabled: false',
    // The disk is shared with other work; watermarks would turn indices read-only at random.
    'cluster.routing.allocation.disk.threshold_enabled: false',
    '',
  ].join('\n');
}

async function ensureSystemUser(
  user: string,
  logger: Logger,
): Promise<{ uid: number; gid: number }> {
  const existing = await lookupUser(user);
  if (existing !== undefined) return existing;

  try {
    await execFileAsync('useradd', [
      '--system',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      user,
    ]);
    logger.info({ user }, 'created a system user to run Elasticsearch (it refuses to run as root)');
  } catch (error) {
    throw new PanaceaError(
      'STACK_UNAVAILABLE',
      `Elasticsearch refuses to run as root and the user "${user}" could not be created with useradd`,
      {},
      error,
    );
  }
  const created = await lookupUser(user);
  if (created === undefined)
    throw new PanaceaError('STACK_UNAVAILABLE', `user "${user}" not found after useradd`);
  return created;
}

async function lookupUser(user: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const uid = Number((await execFileAsync('id', ['-u', user])).stdout.trim());
    const gid = Number((await execFileAsync('id', ['-g', user])).stdout.trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** Every directory above `target` must let others pass through, or the server user cannot reach it. */
function assertTraversable(target: string, user: string): void {
  let directory = path.dirname(path.resolve(target));
  while (true) {
    if ((statSync(directory).mode & 0o001) === 0) {
      throw new PanaceaError(
        'STACK_UNAVAILABLE',
        `Elasticsearch runs as "${user}", which cannot enter ${directory} (no execute permission for others); ` +
          'set PANACEA_DATA_DIR to a directory under /var/tmp or /srv, or chmod o+x that directory',
      );
    }
    const parent = path.dirname(directory);
    if (parent === directory) return;
    directory = parent;
  }
}

function chownRecursive(target: string, uid: number, gid: number): void {
  chownSync(target, uid, gid);
  if (!statSync(target).isDirectory()) return;
  for (const entry of readdirSync(target)) chownRecursive(path.join(target, entry), uid, gid);
}

async function runJava(java: JavaRuntime, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(java.javaBin, args, {
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string };
    throw new PanaceaError(
      'STACK_START_FAILED',
      `${args.slice(-4).join(' ')} failed: ${(output.stderr ?? output.stdout ?? '').trim().split('\n').slice(-5).join(' | ')}`,
      {},
      error,
    );
  }
}

/** A TCP port that is free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}
