/**
 * Apicurio Registry 2.4.2.Final as a local process: a real Confluent-compatible schema registry
 * (its API under `/apis/ccompat/v7`) for testing the HTTP registry client and the pipeline with
 * `SCHEMA_REGISTRY_URL` set.
 *
 * Maven Central has Apicurio only as plain classes, so `ensureApicurioBuilt` runs the build in
 * `apicurio-build/` once (see its pom.xml for the three workarounds and why), with a private local
 * Maven repository in the cache, and keeps the runnable result in the cache; later calls reuse it
 * without asking Maven again. `launchApicurio` starts it detached on 127.0.0.1 with in-memory
 * storage (every start is an empty registry) and waits until its API answers.
 *
 * Deliberately not part of `panacea stack up`: the embedded registry (in Kafka) is the default and
 * needs no server; the tests start this one themselves.
 */
import {
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { PanaceaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { packageRoot } from '../../core/package-root.js';
import { findJava, type JavaRuntime } from '../stack/java-runtime.js';
import { findMaven, runMaven } from '../stack/maven-artifacts.js';
import { portInUse, waitUntil } from '../stack/probes.js';
import {
  isOurProcess,
  isProcessAlive,
  spawnDetached,
  stopProcessGroup,
  tailOfFile,
} from '../stack/processes.js';

export const APICURIO_VERSION = '2.4.2.Final';
/** Where an Apicurio 2.x server serves the Confluent Schema Registry API. */
export const APICURIO_CCOMPAT_PATH = '/apis/ccompat/v7';
/**
 * Quarkus 2.16, which Apicurio 2.4 runs on, needs Java 11+; the project's servers use 17+. Built
 * and run here with OpenJDK 17 and with Temurin 25 (the newest one, which findJava prefers).
 */
const APICURIO_MIN_JAVA = 17;
const RUNNER_JAR = `apicurio-registry-panacea-${APICURIO_VERSION}-runner.jar`;
/** The runner jar's name is on the server's command line and nowhere else: it tells a pid is ours. */
const COMMAND_MARKER = RUNNER_JAR;
const BUILD_SOURCE_DIRECTORY = path.join('infra', 'schema-registry', 'apicurio-build');
/** A first build downloads about 220 MB; on a slow link that takes a while. */
const BUILD_WAIT_TIMEOUT_MS = 20 * 60_000;
const BUILD_LOCK_POLL_MS = 2_000;
const DEFAULT_HEAP_MB = 256;
const DEFAULT_START_TIMEOUT_MS = 120_000;
const STOP_GRACE_PERIOD_MS = 20_000;
const PROBE_TIMEOUT_MS = 3_000;

export interface ApicurioBuild {
  /** The cached directory with the runner jar and its `lib/`. */
  home: string;
  runnerJar: string;
  java: JavaRuntime;
}

/**
 * The runnable Apicurio in `cacheDir`, built now if it is not there yet. Safe against a second
 * caller on the same cache: one builds, the other waits for it (a lock file with the builder's
 * pid, taken over when that pid is gone), and a build is renamed into place only when complete.
 */
export async function ensureApicurioBuilt(
  cacheDir: string,
  logger: Logger,
): Promise<ApicurioBuild> {
  const java = await requireJava();
  const home = path.join(cacheDir, `apicurio-registry-${APICURIO_VERSION}`);
  if (isCompleteBuild(home)) return buildAt(home, java);

  if ((await findMaven()) === undefined) {
    throw new PanaceaError(
      'STACK_UNAVAILABLE',
      `cannot build Apicurio Registry ${APICURIO_VERSION}: no \`mvn\` on PATH (Apache Maven is needed once, to build it from Maven Central into ${home})`,
    );
  }
  mkdirSync(cacheDir, { recursive: true });
  const lockFile = `${home}.lock`;
  if ((await acquireBuildLock(lockFile, home, logger)) === 'built-meanwhile') {
    return buildAt(home, java);
  }
  try {
    // Another process may have finished the build while this one waited for the lock.
    if (!isCompleteBuild(home)) await buildInto(home, java, logger);
  } finally {
    rmSync(lockFile, { force: true });
  }
  return buildAt(home, java);
}

export interface ApicurioLaunch {
  build: ApicurioBuild;
  /** Port on 127.0.0.1; it must be free. */
  port: number;
  /** Holds the server's log, pid file and temporary files; created when missing. */
  directory: string;
  /** Default 256 MiB, plenty for a test registry. */
  heapMb?: number;
  /** How long to wait for the API to answer. Default 120 s. */
  startTimeoutMs?: number;
}

export interface RunningApicurio {
  pid: number;
  /** The server's root, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** What `SCHEMA_REGISTRY_URL` is set to for this server: its Confluent-compatible API. */
  schemaRegistryUrl: string;
  logFile: string;
  /** From spawning the process to the first answer of its API. */
  startMs: number;
}

export async function launchApicurio(
  launch: ApicurioLaunch,
  logger: Logger,
): Promise<RunningApicurio> {
  if (await portInUse('127.0.0.1', launch.port)) {
    throw new PanaceaError(
      'STACK_UNAVAILABLE',
      `port ${launch.port} on 127.0.0.1 is taken; Apicurio needs a free one`,
    );
  }
  const temporaryDirectory = path.join(launch.directory, 'tmp');
  mkdirSync(temporaryDirectory, { recursive: true });
  const logFile = path.join(launch.directory, 'apicurio.log');
  const url = `http://127.0.0.1:${launch.port}`;
  const { build } = launch;

  const startedAtMs = Date.now();
  const pid = spawnDetached({
    command: build.java.javaBin,
    args: [
      `-Xmx${launch.heapMb ?? DEFAULT_HEAP_MB}m`,
      `-Djava.io.tmpdir=${temporaryDirectory}`,
      // Loopback only: the registry has no authentication. (Its transaction manager's recovery
      // listener, on a port of its own choosing, binds to loopback by itself.)
      '-Dquarkus.http.host=127.0.0.1',
      `-Dquarkus.http.port=${launch.port}`,
      '-jar',
      build.runnerJar,
    ],
    cwd: launch.directory,
    // Not our environment: Apicurio reads LOG_LEVEL, HTTP_PORT, KAFKA_BOOTSTRAP_SERVERS and more
    // from it, and a test's values for our own variables must not reconfigure the registry.
    env: { PATH: process.env.PATH, JAVA_HOME: build.java.javaHome, LANG: 'C.UTF-8' },
    logFile,
  });
  const running: RunningApicurio = {
    pid,
    url,
    schemaRegistryUrl: url + APICURIO_CCOMPAT_PATH,
    logFile,
    startMs: 0,
  };
  // For a person cleaning up after a crashed test run: which pid, and how to recognise it.
  const record = {
    pid,
    url,
    commandMarker: COMMAND_MARKER,
    startedAt: new Date(startedAtMs).toISOString(),
  };
  writeFileSync(
    path.join(launch.directory, 'apicurio.json'),
    `${JSON.stringify(record, null, 2)}\n`,
  );

  const outcome = await waitUntil(() => apicurioAnswers(running.schemaRegistryUrl), {
    timeoutMs: launch.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    failFast: () => (isProcessAlive(pid) ? undefined : 'the process exited'),
  });
  if (outcome !== 'ready') {
    // A server that did not come up is not left behind for the caller to find.
    await stopApicurio(running);
    throw new PanaceaError(
      'STACK_START_FAILED',
      `Apicurio Registry did not come up at ${url}: ${outcome}\nlast lines of ${logFile}:\n${tailOfFile(logFile, 20)}`,
    );
  }
  running.startMs = Date.now() - startedAtMs;
  logger.info(
    {
      pid,
      url: running.schemaRegistryUrl,
      startMs: running.startMs,
      java: build.java.javaHome,
      javaVersion: build.java.majorVersion,
      version: APICURIO_VERSION,
    },
    'started Apicurio Registry',
  );
  return running;
}

/** SIGTERM, then SIGKILL after a grace period; a pid that is no longer our server is left alone. */
export async function stopApicurio(
  running: Pick<RunningApicurio, 'pid'>,
): Promise<'stopped' | 'killed' | 'absent' | 'still-running'> {
  if (!isOurProcess(running.pid, COMMAND_MARKER)) return 'absent';
  return stopProcessGroup(running.pid, STOP_GRACE_PERIOD_MS);
}

/** The registry counts as up when its Confluent-compatible API answers a real request. */
async function apicurioAnswers(schemaRegistryUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${schemaRegistryUrl}/config`, {
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    return response.status === 200;
  } catch {
    return false;
  }
}

async function requireJava(): Promise<JavaRuntime> {
  const search = await findJava(APICURIO_MIN_JAVA);
  if (search.found !== undefined) return search.found;
  const seen = search.candidates
    .map((candidate) => `${candidate.majorVersion} at ${candidate.javaHome}`)
    .join(', ');
  throw new PanaceaError(
    'STACK_UNAVAILABLE',
    `cannot run Apicurio Registry ${APICURIO_VERSION}: no Java ${APICURIO_MIN_JAVA}+ (set JAVA_HOME; found: ${seen === '' ? 'none' : seen})`,
  );
}

function isCompleteBuild(home: string): boolean {
  return (
    existsSync(path.join(home, RUNNER_JAR)) &&
    existsSync(path.join(home, 'lib')) &&
    existsSync(path.join(home, 'build.json'))
  );
}

function buildAt(home: string, java: JavaRuntime): ApicurioBuild {
  return { home, runnerJar: path.join(home, RUNNER_JAR), java };
}

/**
 * The build: install our stand-in extension module into the build's private local repository,
 * let Quarkus build the registry (Maven, twice), then move the result into the cache.
 */
async function buildInto(home: string, java: JavaRuntime, logger: Logger): Promise<void> {
  const workspace = `${home}-build`;
  const project = path.join(workspace, 'project');
  // Kept across failed attempts, so a retry does not download everything again; removed with
  // the workspace once the build is in place.
  const repository = path.join(workspace, 'repository');
  rmSync(project, { recursive: true, force: true });
  mkdirSync(repository, { recursive: true });
  cpSync(path.join(packageRoot(), BUILD_SOURCE_DIRECTORY), project, { recursive: true });
  const mavenArgs = [
    '-ntp',
    '-s',
    path.join(project, 'settings.xml'),
    `-Dmaven.repo.local=${repository}`,
  ];

  const startedAtMs = Date.now();
  logger.info(
    { version: APICURIO_VERSION, workspace, java: java.javaHome, javaVersion: java.majorVersion },
    'building Apicurio Registry from Maven Central (once per cache)',
  );
  await runMaven(
    project,
    [...mavenArgs, '-f', path.join('config-index-stand-in', 'pom.xml'), 'install'],
    java.javaHome,
  );
  await runMaven(project, [...mavenArgs, 'package', '-DskipTests'], java.javaHome);

  const target = path.join(project, 'target');
  if (!existsSync(path.join(target, RUNNER_JAR))) {
    throw new PanaceaError(
      'STACK_START_FAILED',
      `the Apicurio build in ${project} finished without ${RUNNER_JAR}`,
    );
  }
  const buildMs = Date.now() - startedAtMs;
  const staging = `${home}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  renameSync(path.join(target, RUNNER_JAR), path.join(staging, RUNNER_JAR));
  renameSync(path.join(target, 'lib'), path.join(staging, 'lib'));
  const record = {
    version: APICURIO_VERSION,
    builtAt: new Date().toISOString(),
    buildMs,
    javaVersion: java.majorVersion,
  };
  writeFileSync(path.join(staging, 'build.json'), `${JSON.stringify(record, null, 2)}\n`);
  // Renamed into place last, so a half-built directory is never taken for a cached one.
  rmSync(home, { recursive: true, force: true });
  renameSync(staging, home);
  const downloadedBytes = directoryBytes(repository);
  rmSync(workspace, { recursive: true, force: true });
  logger.info(
    { home, buildMs, sizeBytes: directoryBytes(home), downloadedBytes },
    'built Apicurio Registry',
  );
}

/**
 * Takes the build lock, waiting while another live process holds it, unless that process's build
 * is complete already (then the lock stays its own). A lock whose pid is gone (a build killed
 * half-way) is taken over; its leftovers are replaced by the new build. Not guarded: two waiters
 * taking over the same dead lock at the same instant would both build in one workspace; for the
 * one test run this serves, a dead builder is already the rare case.
 */
async function acquireBuildLock(
  lockFile: string,
  home: string,
  logger: Logger,
): Promise<'acquired' | 'built-meanwhile'> {
  const deadline = Date.now() + BUILD_WAIT_TIMEOUT_MS;
  let waitLogged = false;
  while (true) {
    if (tryCreateLock(lockFile)) return 'acquired';

    const holder = lockHolder(lockFile);
    if (holder === undefined) continue; // released between the two calls: try again
    if (!Number.isInteger(holder) || holder <= 0 || !isProcessAlive(holder)) {
      logger.warn({ lockFile, holder }, 'taking over the lock of an Apicurio build that is gone');
      rmSync(lockFile, { force: true });
      continue;
    }
    if (isCompleteBuild(home)) return 'built-meanwhile';
    if (Date.now() > deadline) {
      throw new PanaceaError(
        'STACK_START_FAILED',
        `waited ${BUILD_WAIT_TIMEOUT_MS / 60_000} min for process ${holder} to finish building Apicurio Registry (lock ${lockFile})`,
      );
    }
    if (!waitLogged) {
      logger.info({ lockFile, holder }, 'another process is building Apicurio Registry; waiting');
      waitLogged = true;
    }
    await sleep(BUILD_LOCK_POLL_MS);
  }
}

/**
 * Creates the lock file with our pid in it, in one step: the pid is written to a file of our own
 * first and then hard-linked to the lock's name, which fails when the lock exists. A lock never
 * exists empty, so no reader takes a lock being written for an abandoned one.
 */
function tryCreateLock(lockFile: string): boolean {
  const ownFile = `${lockFile}.${process.pid}`;
  writeFileSync(ownFile, String(process.pid));
  try {
    linkSync(ownFile, lockFile);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(ownFile, { force: true });
  }
}

/** The pid in the lock file, or undefined when there is no lock file any more. */
function lockHolder(lockFile: string): number | undefined {
  try {
    return Number(readFileSync(lockFile, 'utf8').trim());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function directoryBytes(target: string): number {
  const stats = statSync(target);
  if (!stats.isDirectory()) return stats.size;
  return readdirSync(target).reduce(
    (total, entry) => total + directoryBytes(path.join(target, entry)),
    0,
  );
}
