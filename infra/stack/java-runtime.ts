/**
 * Finds a Java runtime of at least a given major version: `JAVA_HOME` first, then every JDK in the
 * system's JVM directory, newest first. Kafka 4 needs 17+, Elasticsearch 9 needs 21+.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const SYSTEM_JVM_DIRECTORIES = [
  '/usr/lib/jvm',
  '/usr/java',
  '/opt/java',
  '/Library/Java/JavaVirtualMachines',
];

export interface JavaRuntime {
  javaHome: string;
  javaBin: string;
  majorVersion: number;
}

export interface JavaSearch {
  found?: JavaRuntime;
  /** Every runtime looked at, for the message when none is new enough. */
  candidates: JavaRuntime[];
}

export async function findJava(
  minimumMajorVersion: number,
  environment = process.env,
): Promise<JavaSearch> {
  const homes = candidateHomes(environment);
  const candidates: JavaRuntime[] = [];

  for (const javaHome of homes) {
    const runtime = await inspectJavaHome(javaHome);
    if (runtime === undefined) continue;
    candidates.push(runtime);
    if (runtime.majorVersion >= minimumMajorVersion) return { found: runtime, candidates };
  }
  return { candidates };
}

function candidateHomes(environment: NodeJS.ProcessEnv): string[] {
  const homes: string[] = [];
  if (environment.JAVA_HOME !== undefined && environment.JAVA_HOME !== '')
    homes.push(environment.JAVA_HOME);

  for (const directory of SYSTEM_JVM_DIRECTORIES) {
    if (!existsSync(directory)) continue;
    const entries = readdirSync(directory)
      .map((entry) => path.join(directory, entry))
      .map((home) =>
        existsSync(path.join(home, 'Contents', 'Home'))
          ? path.join(home, 'Contents', 'Home')
          : home,
      );
    // Names usually carry the version; trying the highest first finds a new enough one sooner.
    entries.sort((left, right) => versionHint(right) - versionHint(left));
    homes.push(...entries);
  }
  return [...new Set(homes)];
}

async function inspectJavaHome(javaHome: string): Promise<JavaRuntime | undefined> {
  const javaBin = path.join(javaHome, 'bin', 'java');
  if (!existsSync(javaBin)) return undefined;
  try {
    // `java -version` prints to stderr, e.g. `openjdk version "25.0.1" 2025-10-21`.
    const { stderr } = await execFileAsync(javaBin, ['-version'], { timeout: 15_000 });
    const match = /version "(\d+)(?:\.(\d+))?/.exec(stderr);
    if (match === null) return undefined;
    const first = Number(match[1]);
    const majorVersion = first === 1 ? Number(match[2]) : first;
    return { javaHome, javaBin, majorVersion };
  } catch {
    // A broken or foreign JVM directory is not a candidate; the caller lists the ones that worked.
    return undefined;
  }
}

function versionHint(home: string): number {
  const match = /(\d+)/.exec(path.basename(home));
  return match === null ? 0 : Number(match[1]);
}
