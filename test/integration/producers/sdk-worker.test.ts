/**
 * The SDK's Kafka worker thread against a real broker: an agent process that closes its
 * publisher exits by itself (close ends the worker), and a worker that crashes mid-send is
 * reported (PUBLISHER_WORKER_FAILED, `workerFailures`) and replaced, and every accepted event
 * still reaches the topic. Needs `npm run build`: a worker thread runs the built JavaScript.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../../core/package-root.js';
import { createAgentPublisherWithLink } from '../../../producers/sdk/agent-publisher.js';
import { DEFAULT_OPTIONS } from '../../../producers/sdk/options.js';
import { createWorkerLink } from '../../../producers/sdk/worker-link.js';
import { isolate } from '../harness.js';
import { eventIdsOnTopic, quietLogger, watchUnhandledRejections } from './sdk-support.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const AGENT_SCRIPT = path.join(FIXTURES, 'agent-publishing-then-closing.mjs');
const CRASHING_WORKER = new URL('./fixtures/crashing-kafka-worker.mjs', import.meta.url);
/** Far more than a close of a few hundred events takes; a worker left running would hit it. */
const EXIT_DEADLINE_MS = 30_000;

const scratch = mkdtempSync(path.join(os.tmpdir(), 'panacea-test-sdk-worker-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function runAgent(
  env: NodeJS.ProcessEnv,
): Promise<{ exitCode: number | null; stdout: string; stderr: string; elapsedMs: number }> {
  const startMs = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AGENT_SCRIPT], { env, cwd: packageRoot() });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_DEADLINE_MS);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, stdout, stderr, elapsedMs: performance.now() - startMs });
    });
  });
}

describe('agent publisher worker thread on a real broker', () => {
  it('lets an agent process exit by itself once it has closed its publisher', async () => {
    const isolation = isolate('sdk-exit');

    const agent = await runAgent({ ...isolation.env, EVENT_COUNT: '200' });

    expect(agent.stderr).toBe('');
    expect(agent.exitCode).toBe(0);
    expect(agent.elapsedMs).toBeLessThan(EXIT_DEADLINE_MS);
    const { report, stats } = JSON.parse(agent.stdout) as {
      report: { complete: boolean; published: number };
      stats: { workerFailures: number; bufferedEvents: number };
    };
    expect(report).toMatchObject({ complete: true, published: 200 });
    expect(stats).toMatchObject({ workerFailures: 0, bufferedEvents: 0 });
    const ids = await eventIdsOnTopic(isolation, `${isolation.topicPrefix}agent.activity`, 200);
    expect(ids).toEqual(Array.from({ length: 200 }, (_, index) => `closing-${index}`));
  });

  it('reports a worker that crashes mid-send, replaces it and still delivers every event', async () => {
    const isolation = isolate('sdk-crash');
    process.env.CRASH_MARKER_FILE = path.join(scratch, 'crashed-once');
    const unhandled = watchUnhandledRejections();
    const link = createWorkerLink(
      {
        brokers: [isolation.kafkaBrokers],
        clientId: 'sdk-worker-crash-test',
        topicPrefix: isolation.topicPrefix,
        schemaRegistryUrl: undefined,
        needsWriterIds: true,
        compression: 'gzip',
        createTopics: true,
        fallbackMaxBatchBytes: DEFAULT_OPTIONS.maxBatchBytes,
      },
      { logger: quietLogger.child({}, { level: 'fatal' }), workerUrl: CRASHING_WORKER },
    );
    const publisher = createAgentPublisherWithLink(
      {
        brokers: isolation.kafkaBrokers,
        topicPrefix: isolation.topicPrefix,
        agent: { id: 'crash-agent' },
        retryBackoffMs: 50,
        // The crash is on purpose: its error line would only be noise in the test output.
        logger: quietLogger.child({}, { level: 'fatal' }),
      },
      link,
    );

    try {
      const calls = Array.from({ length: 100 }, (_, index) =>
        publisher.heartbeat({ status: 'busy', queueDepth: index }, { eventId: `crash-${index}` }),
      );
      const outcomes = await Promise.allSettled(calls);

      expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
      expect(publisher.stats()).toMatchObject({ workerFailures: 1, published: 100, dropped: 0 });
      expect((await publisher.close()).complete).toBe(true);
      expect(link.workerRunning).toBe(false);
      // At least once: the crashed send may have landed before the worker died.
      const ids = await eventIdsOnTopic(isolation, `${isolation.topicPrefix}agent.heartbeat`, 100);
      expect(new Set(ids)).toEqual(new Set(calls.map((_, index) => `crash-${index}`)));
      expect(unhandled.seen).toEqual([]);
    } finally {
      unhandled.stop();
      delete process.env.CRASH_MARKER_FILE;
      await publisher.close({ timeoutMs: 1_000 });
    }
  });
});
