/**
 * A real S3-compatible server for the archive's S3 tests, without Docker: s3proxy
 * (`org.gaul:s3proxy`, its jar-with-dependencies from Maven Central, cached like the stack's
 * servers) on the machine's Java, with its filesystem blob store in a temporary directory,
 * bound to 127.0.0.1 on a free port, with SigV4 credentials of its own. Started and stopped by
 * the test file that uses it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

import { runMaven } from '../../infra/stack/maven-artifacts.js';
import { defaultCacheDir } from '../../infra/stack/stack.js';

const S3PROXY_VERSION = '2.6.0';
const START_TIMEOUT_MS = 90_000;

export interface S3ProxyServer {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A client for the test's own requests (creating buckets, changing objects). */
  client: S3Client;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startS3Proxy(): Promise<S3ProxyServer> {
  const jar = await resolveS3ProxyJar();
  const port = await freePort();
  const directory = mkdtempSync(path.join(tmpdir(), 'panacea-s3proxy-'));
  const endpoint = `http://127.0.0.1:${port}`;
  const accessKeyId = 'panacea-test';
  const secretAccessKey = 'panacea-test-secret';
  mkdirSync(path.join(directory, 'blobs'));
  writeFileSync(
    path.join(directory, 's3proxy.conf'),
    [
      `s3proxy.endpoint=${endpoint}`,
      's3proxy.authorization=aws-v2-or-v4',
      `s3proxy.identity=${accessKeyId}`,
      `s3proxy.credential=${secretAccessKey}`,
      'jclouds.provider=filesystem',
      `jclouds.filesystem.basedir=${path.join(directory, 'blobs')}`,
      '',
    ].join('\n'),
  );
  const child = spawn('java', ['-jar', jar, '--properties', path.join(directory, 's3proxy.conf')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));

  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const stop = async (): Promise<void> => {
    client.destroy();
    await stopProcess(child);
    rmSync(directory, { recursive: true, force: true });
  };
  try {
    await waitUntilAnswering(endpoint, child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    client,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop,
  };
}

/** The jar, fetched once into the cache the stack's servers use. */
async function resolveS3ProxyJar(): Promise<string> {
  const directory = path.join(defaultCacheDir(), `s3proxy-${S3PROXY_VERSION}`);
  const jar = path.join(directory, `s3proxy-${S3PROXY_VERSION}-jar-with-dependencies.jar`);
  if (existsSync(jar)) return jar;
  mkdirSync(directory, { recursive: true });
  await runMaven(directory, [
    'dependency:copy',
    `-Dartifact=org.gaul:s3proxy:${S3PROXY_VERSION}:jar:jar-with-dependencies`,
    `-DoutputDirectory=${directory}`,
  ]);
  if (!existsSync(jar)) throw new Error(`Maven did not fetch ${jar}`);
  return jar;
}

function freePort(): Promise<number> {
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

/** Any HTTP answer (an anonymous request is refused with 403) means it is up. */
async function waitUntilAnswering(
  endpoint: string,
  child: ChildProcess,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`s3proxy exited with ${child.exitCode}:\n${output()}`);
    }
    try {
      await fetch(endpoint, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await sleep(250);
    }
  }
  throw new Error(
    `s3proxy did not answer at ${endpoint} within ${START_TIMEOUT_MS} ms:\n${output()}`,
  );
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const forced = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(forced);
}
