/**
 * The bulk writer's decisions on a scripted Elasticsearch: which documents are sent again and
 * which are not, how bodies are split under the server's limit, how many requests are in flight,
 * and what the writer reports about itself. The same writer against a real server is tested in
 * test/integration/sinks/bulk-writer.test.ts.
 */
import type { Client } from '@elastic/elasticsearch';
import { describe, expect, it } from 'vitest';

import { componentLogger } from '../../../../core/logger.js';
import {
  BulkWriter,
  parseByteSize,
  type BulkItem,
} from '../../../../sinks/elasticsearch/bulk-writer.js';

const quietLogger = componentLogger('test.bulk').child({}, { level: 'silent' });

interface SentRequest {
  ids: string[];
  bodyBytes: number;
}

/** The id's answer on each attempt: a status, or `down` for a request that gets no answer. */
type Script = (id: string, attempt: number) => number | 'down';

/**
 * A client whose `bulk` answers each document as `script` says and records what was sent; its
 * `http.max_content_length` is `serverLimit`.
 */
function scriptedClient(script: Script, serverLimit = '100mb', answerDelayMs = 0) {
  const sent: SentRequest[] = [];
  const attempts = new Map<string, number>();
  let inFlight = 0;
  let peakInFlight = 0;
  const client = {
    cluster: {
      getSettings: async () => ({
        persistent: {},
        transient: {},
        defaults: { 'http.max_content_length': serverLimit },
      }),
    },
    bulk: async ({ operations }: { operations: string[] }) => {
      inFlight += 1;
      peakInFlight = Math.max(peakInFlight, inFlight);
      try {
        await new Promise((resolve) => setTimeout(resolve, answerDelayMs));
        const ids = operations.map(
          (lines) =>
            (JSON.parse(lines.split('\n')[0] ?? '') as { create: { _id: string } }).create._id,
        );
        sent.push({
          ids,
          bodyBytes: operations.reduce((sum, lines) => sum + Buffer.byteLength(lines) + 2, 0),
        });
        const statuses = ids.map((id) => {
          const attempt = (attempts.get(id) ?? 0) + 1;
          attempts.set(id, attempt);
          return script(id, attempt);
        });
        if (statuses.includes('down')) {
          throw Object.assign(new Error('connect ECONNREFUSED'), { meta: { statusCode: 0 } });
        }
        return {
          errors: statuses.some((status) => status !== 201),
          items: statuses.map((status) => ({
            create: {
              status,
              ...(status === 400
                ? { error: { type: 'document_parsing_exception', reason: 'failed to parse [n]' } }
                : {}),
            },
          })),
        };
      } finally {
        inFlight -= 1;
      }
    },
  };
  return { client: client as unknown as Client, sent, peakInFlight: () => peakInFlight };
}

function items(count: number, documentBytes = 10): BulkItem<string>[] {
  return Array.from({ length: count }, (_, index) => ({
    index: 'logs-test',
    id: `doc-${index}`,
    document: { text: 'x'.repeat(documentBytes) },
    tag: `doc-${index}`,
  }));
}

const running = { signal: new AbortController().signal };

describe('elasticsearch bulk writer', () => {
  it('retries only the items rejected with 429, never the ones already stored', async () => {
    const { client, sent } = scriptedClient((id, attempt) => {
      if (id === 'doc-1' && attempt === 1) return 429;
      if (id === 'doc-2' && attempt <= 2) return 503;
      if (id === 'doc-3') return 409;
      if (id === 'doc-4') return 400;
      return 201;
    });
    const writer = new BulkWriter({ client, logger: quietLogger, initialRetryDelayMs: 1 });

    const result = await writer.write(items(6), running);

    expect(sent.map((request) => request.ids)).toEqual([
      ['doc-0', 'doc-1', 'doc-2', 'doc-3', 'doc-4', 'doc-5'],
      ['doc-1', 'doc-2'],
      ['doc-2'],
    ]);
    expect(result.created).toBe(4);
    expect(result.duplicates).toBe(1);
    expect(result.refused.map((refused) => [refused.item.id, refused.status])).toEqual([
      ['doc-4', 400],
    ]);
    expect(result.refused[0]?.reason).toBe('document_parsing_exception: failed to parse [n]');
    expect(writer.stats()).toEqual({
      indexed: 4,
      duplicates: 1,
      retried: 3,
      refused: 1,
      requestsInFlight: 0,
      documentsInFlight: 0,
      pausedMs: 0,
      currentPauseMs: 0,
    });
  });

  it('keeps bodies under half the server http.max_content_length and refuses a document over it unsent', async () => {
    const { client, sent } = scriptedClient(() => 201, '4kb');
    const writer = new BulkWriter({ client, logger: quietLogger });
    const oversize: BulkItem<string> = {
      index: 'logs-test',
      id: 'huge',
      document: { text: 'x'.repeat(5_000) },
      tag: 'huge',
    };

    const result = await writer.write([...items(40, 100), oversize], running);

    expect(result.created).toBe(40);
    expect(result.refused.map((refused) => [refused.item.id, refused.status])).toEqual([
      ['huge', 413],
    ]);
    expect(result.refused[0]?.reason).toContain('http.max_content_length of 4096 bytes');
    expect(sent.length).toBeGreaterThan(1);
    for (const request of sent) expect(request.bodyBytes).toBeLessThanOrEqual(2_048);
    expect(sent.flatMap((request) => request.ids)).not.toContain('huge');
  });

  it('keeps at most maxRequestsInFlight bulk requests in flight over concurrent writes', async () => {
    const { client, sent, peakInFlight } = scriptedClient(() => 201, '100mb', 20);
    const writer = new BulkWriter({
      client,
      logger: quietLogger,
      maxRequestBytes: 500,
      maxRequestsInFlight: 2,
    });

    const results = await Promise.all([
      writer.write(items(20, 100), running),
      writer.write(items(20, 100), running),
    ]);

    expect(results.map((result) => result.created)).toEqual([20, 20]);
    expect(sent.length).toBeGreaterThan(4);
    expect(peakInFlight()).toBe(2);
  });

  it('counts the time Elasticsearch did not answer as paused, tells its listeners once per change, and resends the whole request', async () => {
    // Down until the test has looked at the writer mid-outage, whatever the machine's speed.
    let down = true;
    const { client, sent } = scriptedClient(() => (down ? 'down' : 201));
    const writer = new BulkWriter({
      client,
      logger: quietLogger,
      initialRetryDelayMs: 40,
      maxRetryDelayMs: 80,
    });
    const availability: boolean[] = [];
    writer.onAvailabilityChange((available) => availability.push(available));

    const writing = writer.write(items(2), running);
    while (sent.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(availability).toEqual([false]);
    expect(writer.stats().pausedMs).toBeGreaterThan(0);
    expect(writer.stats().currentPauseMs).toBeGreaterThan(0);
    down = false;
    const result = await writing;

    expect(result.created).toBe(2);
    // Once per change, not once per failed attempt.
    expect(availability).toEqual([false, true]);
    const stats = writer.stats();
    // Every failed request resent both documents.
    expect(stats.retried).toBe(2 * (sent.length - 1));
    expect(stats.pausedMs).toBeGreaterThanOrEqual(60);
    expect(stats.currentPauseMs).toBe(0);
    expect(stats.documentsInFlight).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(writer.stats().pausedMs).toBe(stats.pausedMs);
  });

  it('reads Elasticsearch byte sizes', () => {
    expect(parseByteSize('100mb')).toBe(104_857_600);
    expect(parseByteSize('1.5kb')).toBe(1_536);
    expect(parseByteSize('2048')).toBe(2_048);
    expect(parseByteSize('1GB')).toBe(1_073_741_824);
    expect(() => parseByteSize('lots')).toThrow('expected a byte size');
  });
});
