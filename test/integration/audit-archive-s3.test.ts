/**
 * The S3-compatible segment store against a real server (s3proxy, started here on 127.0.0.1):
 * the same scenarios the archive directory passes (segment-store-scenarios.ts), Object Lock
 * headers refused visibly by a server without Object Lock, and `panacea run` archiving into a
 * bucket that `panacea audit verify` then checks.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ArchiveS3Config } from '../../core/config.js';
import { s3SegmentStore } from '../../sinks/audit-archive/s3-segment-store.js';
import { archivedPartitions, partitionDirectory } from '../../sinks/audit-archive/segment-files.js';
import { rejectedPanaceaError } from '../unit/fixtures/panacea-error.js';
import { describeSegmentStore } from '../unit/sinks/audit-archive/segment-store-scenarios.js';
import { isolate, runPanacea } from './harness.js';
import { startS3Proxy, type S3ProxyServer } from './s3proxy-server.js';

const BUCKET = 'panacea-archive';
let server: S3ProxyServer;

beforeAll(async () => {
  server = await startS3Proxy();
  await server.createBucket(BUCKET);
});

afterAll(async () => {
  await server?.stop();
});

function settingsFor(prefix: string): ArchiveS3Config {
  return {
    bucket: BUCKET,
    prefix,
    endpoint: server.endpoint,
    region: 'us-east-1',
    objectLock: 'off',
  };
}

async function readObject(key: string): Promise<Buffer | undefined> {
  try {
    const response = await server.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from((await response.Body?.transformToByteArray()) ?? []);
  } catch {
    return undefined;
  }
}

// Each scenario in a prefix of its own, so they share the server and the bucket.
describeSegmentStore('S3 (s3proxy)', async () => {
  const prefix = `scenario-${randomBytes(4).toString('hex')}/`;
  return {
    store: s3SegmentStore({
      settings: settingsFor(prefix),
      lockRetentionMs: 86_400_000,
      client: server.client,
    }),
    readCopy: (relativePath) => readObject(`${prefix}${relativePath.split(path.sep).join('/')}`),
  };
});

describe('S3 segment store', () => {
  it('refuses a segment with Object Lock headers on a server without Object Lock, and keeps the local file', async () => {
    const store = s3SegmentStore({
      settings: { ...settingsFor('locked/'), objectLock: 'governance' },
      lockRetentionMs: 86_400_000,
      client: server.client,
    });
    const file = path.join(isolate('archive-s3-lock').dataDir, 'segment.avro');
    writeFileSync(file, 'segment bytes');

    const error = await rejectedPanaceaError(
      store.putSegment({ topic: 'agent.audit', partition: 0, segment: 'a.avro' }, file, {
        sha256: '0'.repeat(64),
      }),
    );

    expect(error.code).toBe('ARCHIVE_STORE_UNAVAILABLE');
    expect(error.message).toContain('NotImplemented (HTTP 501)');
    expect(readdirSync(path.dirname(file))).toContain('segment.avro');
  });

  it('archives what panacea run reads into the bucket, and verify checks it there', async () => {
    const isolation = isolate('archive-s3');
    const topic = `${isolation.topicPrefix}agent.audit`;
    const prefix = `${isolation.namespace}/`;
    const env = {
      ...isolation.env,
      PANACEA_ARCHIVE_S3_BUCKET: BUCKET,
      PANACEA_ARCHIVE_S3_PREFIX: prefix,
      PANACEA_ARCHIVE_S3_ENDPOINT: server.endpoint,
      AWS_ACCESS_KEY_ID: server.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    };
    const events = Array.from({ length: 60 }, (_, index) =>
      JSON.stringify({
        kind: 'audit',
        eventId: `s3-${index}`,
        timestamp: Date.now() + index,
        agent: { id: `agent-${index % 3}` },
        audit: {
          actor: { type: 'agent', id: `agent-${index % 3}` },
          action: 'ticket.read',
          resource: { type: 'ticket', id: `t-${index}` },
          outcome: 'success',
        },
      }),
    );
    const file = path.join(isolation.dataDir, 'audit.ndjson');
    writeFileSync(file, events.join('\n'));
    expect((await runPanacea(['produce', '--file', file], env)).stdout).toContain(
      'published 60, rejected 0',
    );

    const run = await runPanacea(['run', '--until-idle'], env);
    expect(run.exitCode, run.stderr.slice(-3000)).toBe(0);

    // The segments are in the bucket only; the directory keeps the chain and the hold log.
    const root = path.join(isolation.dataDir, 'audit-archive');
    const partitions = archivedPartitions(root, topic);
    expect(partitions.length).toBeGreaterThan(0);
    for (const partition of partitions) {
      const names = readdirSync(partitionDirectory(root, topic, partition));
      expect(names.filter((name) => name.endsWith('.avro'))).toEqual([]);
    }
    const listed = await server.client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }),
    );
    const keys = (listed.Contents ?? []).map((object) => object.Key ?? '');
    expect(keys.filter((key) => key.endsWith('.avro')).length).toBeGreaterThanOrEqual(
      partitions.length,
    );
    expect(keys.filter((key) => key.endsWith('/manifest.ndjson'))).toHaveLength(partitions.length);

    const verified = await runPanacea(['audit', 'verify', '--json'], env);
    expect(verified.exitCode, verified.stdout + verified.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({
      ok: true,
      events: 60,
      segmentStore: `s3://${BUCKET}/${prefix} at ${server.endpoint}`,
    });

    // Without the bucket, the same directory has its chain but none of the segments.
    const local = await runPanacea(['audit', 'verify'], isolation.env);
    expect(local.exitCode).toBe(1);
    expect(local.stdout).toContain('the segment file is missing');

    // The bucket alone is a whole archive: copied into an empty data directory, it verifies.
    const copy = isolate('archive-s3-copy');
    // (s3proxy's filesystem store also lists its directories, as keys ending in a slash.)
    for (const key of keys.filter((name) => !name.endsWith('/'))) {
      const target = path.join(copy.dataDir, 'audit-archive', key.slice(prefix.length));
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, (await readObject(key)) ?? Buffer.alloc(0));
    }
    const fromBucket = await runPanacea(
      ['audit', 'verify', '--json', '--public-key', path.join(root, 'signing-key.pub.pem')],
      copy.env,
    );
    expect(fromBucket.exitCode, fromBucket.stdout + fromBucket.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(fromBucket.stdout)).toMatchObject({ ok: true, events: 60 });
  });
});
