/**
 * The bulk writer against a real Elasticsearch: create semantics by id, duplicates counted as
 * written, documents refused for good handed back with Elasticsearch's reason, and the same retry
 * policy for a whole request such as the metrics sink's `mget`.
 */
import { Client } from '@elastic/elasticsearch';
import { describe, expect, it } from 'vitest';

import { PanaceaError } from '../../../core/errors.js';
import { componentLogger } from '../../../core/logger.js';
import { freePort } from '../../../infra/stack/jvm-servers.js';
import { BulkWriter, type BulkItem } from '../../../sinks/elasticsearch/bulk-writer.js';
import { isolate } from '../harness.js';

// The retry test provokes a warning per attempt; they would only bury the test output.
const quietLogger = componentLogger('test.bulk').child({}, { level: 'silent' });

describe('elasticsearch bulk writer', () => {
  it('creates new documents, counts existing ids as duplicates and returns refused items with the reason', async () => {
    const isolation = isolate('bulk');
    const client = new Client({ node: isolation.elasticsearchUrl });
    const index = `panacea-test-bulk-${isolation.namespace}`;
    await client.indices.create({
      index,
      mappings: { dynamic: 'strict', properties: { at: { type: 'date' }, n: { type: 'long' } } },
    });
    const writer = new BulkWriter({
      client,
      logger: quietLogger,
      maxRequestBytes: 200,
    });
    const item = (id: string, document: object): BulkItem<string> => ({
      index,
      id,
      document,
      tag: id,
    });

    try {
      const first = await writer.write(
        [
          item('a', { at: '2026-01-01T00:00:00Z', n: 1 }),
          item('b', { at: '2026-01-01T00:00:01Z', n: 2 }),
          item('c', { at: 'not a date', n: 3 }),
          item('d', { unknown: true }),
        ],
        { signal: new AbortController().signal },
      );
      expect(first.created).toBe(2);
      expect(first.duplicates).toBe(0);
      // Requests run side by side (at most two in flight), so refusals come in any order.
      const refusedByTag = new Map(first.refused.map((refused) => [refused.item.tag, refused]));
      expect([...refusedByTag.keys()].sort()).toEqual(['c', 'd']);
      expect(refusedByTag.get('c')?.status).toBe(400);
      expect(refusedByTag.get('c')?.reason).toMatch(
        /^document_parsing_exception|^mapper_parsing_exception/,
      );
      expect(refusedByTag.get('d')?.reason).toContain('strict_dynamic_mapping_exception');

      const second = await writer.write(
        [
          item('a', { at: '2026-01-01T00:00:00Z', n: 1 }),
          item('e', { at: '2026-01-01T00:00:02Z', n: 5 }),
        ],
        { signal: new AbortController().signal },
      );
      expect(second).toEqual({ created: 1, duplicates: 1, refused: [] });

      await client.indices.refresh({ index });
      expect((await client.count({ index })).count).toBe(3);
    } finally {
      await client.indices.delete({ index });
      await client.close();
    }
  });

  it('overwrites by id with a version at least the stored one and keeps a newer document', async () => {
    const isolation = isolate('bulkindex');
    const client = new Client({ node: isolation.elasticsearchUrl });
    const index = `panacea-test-bulk-index-${isolation.namespace}`;
    const writer = new BulkWriter({ client, logger: quietLogger });
    const item = (version: number, n: number): BulkItem<number> => ({
      index,
      id: 'window',
      document: { n },
      operation: 'index',
      version,
      tag: n,
    });
    const write = (items: BulkItem<number>[]): Promise<unknown> =>
      writer.write(items, { signal: new AbortController().signal });
    const stored = async (): Promise<unknown> =>
      (await client.get<{ n: number }>({ index, id: 'window' }))._source?.n;

    try {
      await write([item(10, 1)]);
      await write([item(10, 2)]);
      expect(await stored()).toBe(2);

      const older = await write([item(9, 3)]);

      expect(older).toEqual({ created: 0, duplicates: 1, refused: [] });
      expect(await stored()).toBe(2);
      await write([item(11, 4)]);
      expect(await stored()).toBe(4);
    } finally {
      await client.indices.delete({ index, ignore_unavailable: true });
      await client.close();
    }
  });

  it('keeps retrying while Elasticsearch cannot be reached and gives up only when the stage stops', async () => {
    const unreachable = new Client({ node: `http://127.0.0.1:${await freePort()}`, maxRetries: 0 });
    const writer = new BulkWriter({
      client: unreachable,
      logger: quietLogger,
      initialRetryDelayMs: 20,
      maxRetryDelayMs: 50,
    });
    const stop = new AbortController();
    let attempts = 0;
    let heartbeats = 0;
    const counting = unreachable.bulk.bind(unreachable);
    unreachable.bulk = ((...args: Parameters<typeof counting>) => {
      attempts += 1;
      return counting(...args);
    }) as typeof unreachable.bulk;

    const writing = writer.write([{ index: 'nowhere', id: 'x', document: {}, tag: 'x' }], {
      signal: stop.signal,
      heartbeat: async () => {
        heartbeats += 1;
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    stop.abort();

    const outcome = await writing.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(PanaceaError);
    expect((outcome as PanaceaError).code).toBe('STAGE_STOPPED');
    expect(attempts).toBeGreaterThan(3);
    // One heartbeat before each wait; the stop may land in the last wait or just before it.
    expect(heartbeats).toBeGreaterThanOrEqual(attempts - 1);
    expect(heartbeats).toBeLessThanOrEqual(attempts);
    await unreachable.close();
  });

  it('retries a whole request (an mget) the same way and refuses one that cannot pass', async () => {
    const isolation = isolate('bulkrequest');
    const client = new Client({ node: isolation.elasticsearchUrl });
    const unreachable = new Client({ node: `http://127.0.0.1:${await freePort()}`, maxRetries: 0 });
    const writerFor = (target: Client): BulkWriter =>
      new BulkWriter({
        client: target,
        logger: quietLogger,
        initialRetryDelayMs: 20,
        maxRetryDelayMs: 50,
      });
    const index = `panacea-test-request-${isolation.namespace}`;
    await client.index({ index, id: 'a', document: { n: 1 }, refresh: false });

    try {
      const found = await writerFor(client).request(
        'mget',
        (signal) => client.mget({ index, ids: ['a', 'b'], realtime: true }, { signal }),
        { signal: new AbortController().signal },
      );
      expect(found.docs.map((doc) => 'found' in doc && doc.found)).toEqual([true, false]);

      let refusedAttempts = 0;
      const refused = await writerFor(client)
        .request(
          'mget',
          (signal) => {
            refusedAttempts += 1;
            // No ids: Elasticsearch answers 400, which no retry can change.
            return client.mget({ index, ids: [] }, { signal });
          },
          { signal: new AbortController().signal },
        )
        .then(
          () => 'resolved',
          (error: unknown) => error,
        );
      expect((refused as PanaceaError).code).toBe('ELASTICSEARCH_UNAVAILABLE');
      expect(refusedAttempts).toBe(1);

      const stop = new AbortController();
      let attempts = 0;
      const waiting = writerFor(unreachable)
        .request(
          'mget',
          (signal) => {
            attempts += 1;
            return unreachable.mget({ index, ids: ['a'] }, { signal });
          },
          { signal: stop.signal },
        )
        .then(
          () => 'resolved',
          (error: unknown) => error,
        );
      await new Promise((resolve) => setTimeout(resolve, 300));
      stop.abort();
      const outcome = await waiting;
      expect((outcome as PanaceaError).code).toBe('STAGE_STOPPED');
      expect(attempts).toBeGreaterThan(2);
    } finally {
      await client.indices.delete({ index }, { ignore: [404] });
      await client.close();
      await unreachable.close();
    }
  });
});
