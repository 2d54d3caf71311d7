/**
 * Fetches the JVM servers from Maven Central with the machine's own Maven, into a cache that later
 * starts reuse without asking Maven again: Kafka as a classpath of jars, Elasticsearch as its
 * integration-test distribution unpacked once.
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { PanaceaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

const execFileAsync = promisify(execFile);

const MAVEN_TIMEOUT_MS = 15 * 60_000;

export async function findMaven(): Promise<string | undefined> {
  try {
    await execFileAsync('mvn', ['--version'], { timeout: 60_000 });
    return 'mvn';
  } catch {
    return undefined;
  }
}

/**
 * The Kafka broker's classpath (kafka_2.13 and its dependencies, plus a log4j2 binding for its
 * slf4j logging), resolved once per version.
 */
export async function resolveKafkaClasspath(
  cacheDir: string,
  version: string,
  logger: Logger,
): Promise<string[]> {
  const directory = path.join(cacheDir, `kafka-${version}`);
  const classpathFile = path.join(directory, 'classpath.txt');
  const cached = readCachedClasspath(classpathFile);
  if (cached !== undefined) return cached;

  mkdirSync(directory, { recursive: true });
  writeFileSync(
    path.join(directory, 'pom.xml'),
    runtimePom([
      { groupId: 'org.apache.kafka', artifactId: 'kafka_2.13', version },
      { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-slf4j-impl', version: '2.24.3' },
    ]),
  );
  logger.info({ version, directory }, 'fetching Kafka from Maven Central');
  await runMaven(directory, ['dependency:build-classpath', `-Dmdep.outputFile=${classpathFile}`]);

  const resolved = readCachedClasspath(classpathFile);
  if (resolved === undefined) {
    throw new PanaceaError('STACK_START_FAILED', `Maven did not resolve kafka_2.13 ${version}`);
  }
  return resolved;
}

/**
 * Kafka's command-line tools (`kafka-tools`, with ProducerPerformance and ConsumerPerformance) and
 * their dependencies, resolved once per version. They run on the broker's classpath plus these:
 * the benchmark uses them to measure the broker's own limit on this machine.
 */
export async function resolveKafkaToolsClasspath(
  cacheDir: string,
  version: string,
  logger: Logger,
): Promise<string[]> {
  const directory = path.join(cacheDir, `kafka-tools-${version}`);
  const classpathFile = path.join(directory, 'classpath.txt');
  const cached = readCachedClasspath(classpathFile);
  if (cached !== undefined) return cached;

  mkdirSync(directory, { recursive: true });
  writeFileSync(
    path.join(directory, 'pom.xml'),
    runtimePom([{ groupId: 'org.apache.kafka', artifactId: 'kafka-tools', version }]),
  );
  logger.info({ version, directory }, 'fetching the Kafka tools from Maven Central');
  await runMaven(directory, ['dependency:build-classpath', `-Dmdep.outputFile=${classpathFile}`]);

  const resolved = readCachedClasspath(classpathFile);
  if (resolved === undefined) {
    throw new PanaceaError('STACK_START_FAILED', `Maven did not resolve kafka-tools ${version}`);
  }
  return resolved;
}

/** The unpacked Elasticsearch integration-test distribution's home directory. */
export async function resolveElasticsearchHome(
  cacheDir: string,
  version: string,
  logger: Logger,
): Promise<string> {
  const home = path.join(cacheDir, `elasticsearch-${version}`);
  if (existsSync(path.join(home, 'bin', 'elasticsearch'))) return home;

  const directory = path.join(cacheDir, `elasticsearch-${version}-download`);
  mkdirSync(directory, { recursive: true });
  writeFileSync(
    path.join(directory, 'pom.xml'),
    runtimePom([
      {
        groupId: 'org.elasticsearch.distribution.integ-test-zip',
        artifactId: 'elasticsearch',
        version,
        type: 'zip',
      },
    ]),
  );
  logger.info({ version, directory }, 'fetching Elasticsearch from Maven Central');
  await runMaven(directory, [
    'dependency:copy-dependencies',
    '-DincludeTypes=zip',
    `-DoutputDirectory=${directory}`,
  ]);

  const archive = readdirSync(directory).find((name) => name.endsWith('.zip'));
  if (archive === undefined) {
    throw new PanaceaError(
      'STACK_START_FAILED',
      `Maven did not fetch the Elasticsearch ${version} zip`,
    );
  }
  await unpack(path.join(directory, archive), directory, home, version);
  rmSync(path.join(directory, archive));
  return home;
}

async function unpack(
  archive: string,
  workDirectory: string,
  home: string,
  version: string,
): Promise<void> {
  const extractDirectory = path.join(workDirectory, 'extract');
  rmSync(extractDirectory, { recursive: true, force: true });
  mkdirSync(extractDirectory);
  try {
    await execFileAsync('unzip', ['-q', archive, '-d', extractDirectory], {
      timeout: MAVEN_TIMEOUT_MS,
    });
  } catch (error) {
    throw new PanaceaError(
      'STACK_UNAVAILABLE',
      'could not unpack the Elasticsearch zip: the `unzip` command is needed (apt-get install unzip)',
      {},
      error,
    );
  }
  // Rename into place last, so a half-unpacked directory is never taken for a cached one.
  renameSync(path.join(extractDirectory, `elasticsearch-${version}`), home);
  rmSync(extractDirectory, { recursive: true, force: true });
}

function readCachedClasspath(classpathFile: string): string[] | undefined {
  if (!existsSync(classpathFile)) return undefined;
  const jars = readFileSync(classpathFile, 'utf8').trim().split(path.delimiter).filter(Boolean);
  return jars.length > 0 && jars.every((jar) => existsSync(jar)) ? jars : undefined;
}

/**
 * Runs Maven quietly in `directory`; a failure becomes STACK_START_FAILED with Maven's last lines.
 * `javaHome` picks the JDK Maven builds with (default: whatever `mvn` finds itself).
 */
export async function runMaven(
  directory: string,
  args: string[],
  javaHome?: string,
): Promise<void> {
  try {
    await execFileAsync('mvn', ['-B', '-q', ...args], {
      cwd: directory,
      timeout: MAVEN_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
      ...(javaHome === undefined ? {} : { env: { ...process.env, JAVA_HOME: javaHome } }),
    });
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string };
    const detail = `${output.stdout ?? ''}${output.stderr ?? ''}`
      .trim()
      .split('\n')
      .slice(-15)
      .join('\n');
    throw new PanaceaError(
      'STACK_START_FAILED',
      `Maven failed in ${directory}:\n${detail}`,
      {},
      error,
    );
  }
}

interface Coordinates {
  groupId: string;
  artifactId: string;
  version: string;
  type?: string;
}

function runtimePom(dependencies: Coordinates[]): string {
  const entries = dependencies
    .map(
      (dependency) =>
        `    <dependency><groupId>${dependency.groupId}</groupId><artifactId>${dependency.artifactId}</artifactId>` +
        `<version>${dependency.version}</version>${dependency.type === undefined ? '' : `<type>${dependency.type}</type>`}</dependency>`,
    )
    .join('\n');
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.panacea.local</groupId>
  <artifactId>server-runtime</artifactId>
  <version>1</version>
  <dependencies>
${entries}
  </dependencies>
</project>
`;
}
