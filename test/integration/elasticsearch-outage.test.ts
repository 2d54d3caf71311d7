/**
 * An Elasticsearch outage of at least 30 seconds in the middle of a run: the sink keeps retrying
 * without committing, pauses its consumer and counts the time, and once Elasticsearch is back it
 * resumes and every accepted event is stored, once. This test starts an Elasticsearch of its own
 * (the shared one must stay up for the other tests) and stops it mid-run.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { componentLogger } from '../../core/logger.js';
import { freePort } from '../../infra/stack/jvm-servers.js';
import { defaultCacheDir, stackDown, stackUp, type StackOptions } from '../../infra/stack/stack.js';
import { isolate, runPanacea, spawnPanacea } from './harness.js';

const EVENT_COUNT = 4_000;

function heartbeatLine(index: number): string {
  return JSON.stringify({
    kind: 'heartbeat',
    eventId: `outage-${index}`,
    timestamp: Date.UTC(2026, 10, 30, 12) + index,
    agent: { id: `agent-${index % 5}` },
    heartbeat: { status: 'busy', queueDepth: index },
  });
}

async function count(url: string, namespace: string): Promise<number> {
  try {
    await fetch(`${url}/logs-agent.*-${namespace}/_refresh?allow_no_indices=true`, {
      method: 'POST',
    });
    const response = await fetch(`${url}/logs-agent.*-${namespace}/_count?allow_no_indices=true`);
    return ((await response.json()) as { count?: number }).count ?? 0;
  } catch {
    return -1;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

const stackDir = mkdtempSync(path.join(os.tmpdir(), 'panacea-test-outage-'));
chmodSync(stackDir, 0o755);
afterAll(async () => {
  await stackDown(stackDir);
  rmSync(stackDir, { recursive: true, force: true });
});

describe('elasticsearch outage', () => {
  it('stores every accepted event once after Elasticsearch goes away mid-run and comes back', async () => {
    const isolation = isolate('outage');
    const options: StackOptions = {
      dataDir: stackDir,
      cacheDir: defaultCacheDir(),
      kafkaPort: await freePort(),
      elasticsearchPort: await freePort(),
      externalKafkaBrokers: isolation.kafkaBrokers.split(','),
      source: 'maven',
      kafkaHeapMb: 512,
      elasticsearchHeapMb: 512,
      startTimeoutMs: 240_000,
    };
    const started = await stackUp(options, componentLogger('test-outage'));
    const url = started.elasticsearchUrl;
    const env = { ...isolation.env, ELASTICSEARCH_URL: url };
    const lines = Array.from({ length: EVENT_COUNT }, (_, index) => heartbeatLine(index));
    const half = EVENT_COUNT / 2;
    const before = lines.slice(0, half).join('\n');
    expect((await runPanacea(['produce', '--file', '-'], env, before)).exitCode).toBe(0);

    // At info, so the resume (not a warning) shows too.
    const running = spawnPanacea(['run'], { ...env, LOG_LEVEL: 'info' });
    let stderr = '';
    let stdout = '';
    running.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    running.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    expect(await waitFor(async () => (await count(url, isolation.namespace)) > 0, 60_000)).toBe(
      true,
    );

    await stackDown(stackDir);
    const stoppedAtMs = Date.now();
    // Published while Elasticsearch is away, so the sink has work it cannot finish.
    const during = lines.slice(half).join('\n');
    expect((await runPanacea(['produce', '--file', '-'], env, during)).exitCode).toBe(0);
    expect(
      await waitFor(async () => stderr.includes('bulk request failed; retrying'), 60_000),
    ).toBe(true);
    // Away for at least 30 seconds: several backoff rounds, and well past a fetch's wait.
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, stoppedAtMs + 30_000 - Date.now())),
    );
    // The consumer was paused, and stays so until Elasticsearch is back.
    expect(stderr).toContain('consumer paused: the writer cannot write');
    expect(stderr).not.toContain('consumer resumed: the writer can write again');
    await stackUp(options, componentLogger('test-outage'));

    const complete = await waitFor(
      async () => (await count(url, isolation.namespace)) === EVENT_COUNT,
      120_000,
    );
    running.kill('SIGTERM');
    const exitCode = await new Promise((resolve) => running.once('close', resolve));

    expect(complete).toBe(true);
    expect(exitCode).toBe(0);
    expect(await count(url, isolation.namespace)).toBe(EVENT_COUNT);
    // The sink said once that it held its input, and its summary counts the time it did.
    expect(stderr.split('input paused until it does').length - 1).toBeGreaterThanOrEqual(1);
    expect(stderr).toContain('consumer resumed: the writer can write again');
    const summary =
      /sink-elasticsearch: .*writer: (\d+) indexed, (\d+) duplicates, (\d+) retried, 0 refused, 0 in flight, paused (\d+\.\d) s/.exec(
        stdout,
      );
    expect(summary).not.toBeNull();
    const [, indexed, duplicates, retried, pausedSeconds] = summary!.map(Number);
    expect((indexed ?? 0) + (duplicates ?? 0)).toBeGreaterThanOrEqual(EVENT_COUNT);
    expect(retried).toBeGreaterThan(0);
    expect(pausedSeconds).toBeGreaterThan(25);
  }, 400_000);
});
