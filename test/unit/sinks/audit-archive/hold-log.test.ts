import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { LOCK_FILE, withArchiveLock } from '../../../../sinks/audit-archive/archive-lock.js';
import {
  HOLD_HEAD_FILE,
  HOLD_LOG_FILE,
  holdMatches,
  readHoldLog,
  recordHoldChange,
} from '../../../../sinks/audit-archive/hold-log.js';
import { GENESIS_HASH, type ManifestEntry } from '../../../../sinks/audit-archive/manifest.js';
import { rejectedPanaceaError, thrownPanaceaError } from '../../fixtures/panacea-error.js';
import { signingKey, temporaryRoot } from './archive-fixture.js';

const AT_MS = Date.UTC(2026, 2, 1, 12, 0, 0);

async function logWithChanges() {
  const root = temporaryRoot();
  const key = signingKey();
  await recordHoldChange(
    root,
    key,
    { action: 'add', criteria: { actor: 'u-1' }, reason: 'litigation 2026-14', by: 'alice' },
    AT_MS,
  );
  await recordHoldChange(
    root,
    key,
    {
      action: 'add',
      criteria: { from: '2026-01-01T00:00:00.000Z', to: '2026-01-31T23:59:59.999Z' },
      reason: 'regulator request',
      by: 'bob',
    },
    AT_MS + 1000,
  );
  await recordHoldChange(
    root,
    key,
    { action: 'remove', holdId: 'hold-1', reason: 'settled', by: 'alice' },
    AT_MS + 2000,
  );
  return { root, key, file: path.join(root, HOLD_LOG_FILE) };
}

function entry(summary: ManifestEntry['summary'], times: [string, string] | null): ManifestEntry {
  return {
    segment: 's.avro',
    sha256: '0'.repeat(64),
    records: 2,
    firstOffset: '0',
    lastOffset: '1',
    firstTimestamp: times?.[0] ?? null,
    lastTimestamp: times?.[1] ?? null,
    ...(summary === undefined ? {} : { summary }),
    previousHash: GENESIS_HASH,
    entryHash: '0'.repeat(64),
  };
}

describe('legal hold log', () => {
  it('records who placed and lifted each hold, when and why, chained and signed', async () => {
    const { root, key, file } = await logWithChanges();

    const log = readHoldLog(root, key.publicKey);

    expect(
      log.changes.map(({ sequence, action, holdId, by, at, reason }) => ({
        sequence,
        action,
        holdId,
        by,
        at,
        reason,
      })),
    ).toEqual([
      {
        sequence: 1,
        action: 'add',
        holdId: 'hold-1',
        by: 'alice',
        at: '2026-03-01T12:00:00.000Z',
        reason: 'litigation 2026-14',
      },
      {
        sequence: 2,
        action: 'add',
        holdId: 'hold-2',
        by: 'bob',
        at: '2026-03-01T12:00:01.000Z',
        reason: 'regulator request',
      },
      {
        sequence: 3,
        action: 'remove',
        holdId: 'hold-1',
        by: 'alice',
        at: '2026-03-01T12:00:02.000Z',
        reason: 'settled',
      },
    ]);
    expect(log.changes[1]?.previousHash).toBe(log.changes[0]?.entryHash);
    expect(log.active).toEqual([
      {
        holdId: 'hold-2',
        criteria: { from: '2026-01-01T00:00:00.000Z', to: '2026-01-31T23:59:59.999Z' },
        placedAt: '2026-03-01T12:00:01.000Z',
        placedBy: 'bob',
        reason: 'regulator request',
      },
    ]);
    // Append-only: three lines, the first one as it was written first.
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(3);
  });

  it('detects a change edited, a change removed, and a log signed with another key', async () => {
    const { root, key, file } = await logWithChanges();
    const original = readFileSync(file, 'utf8');
    const lines = original.trimEnd().split('\n');

    writeFileSync(file, original.replace('"by":"bob"', '"by":"mallory"'));
    expect(thrownPanaceaError(() => readHoldLog(root, key.publicKey)).message).toBe(
      'hold log line 2: the entry does not match its entryHash',
    );

    writeFileSync(file, `${[lines[0], lines[2]].join('\n')}\n`);
    expect(thrownPanaceaError(() => readHoldLog(root, key.publicKey)).message).toBe(
      'hold log line 2: sequence 3 is out of order',
    );

    writeFileSync(file, original);
    expect(thrownPanaceaError(() => readHoldLog(root, signingKey().publicKey)).message).toBe(
      'hold log line 1: the signature does not match the public key',
    );
  });

  it('detects changes cut from the end of the log, or the whole log emptied or removed, by its signed head', async () => {
    const { root, key, file } = await logWithChanges();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');

    // The last change (hold-1 lifted) cut: hold-1 would be active again.
    writeFileSync(file, `${lines.slice(0, 2).join('\n')}\n`);
    expect(thrownPanaceaError(() => readHoldLog(root, key.publicKey)).message).toMatch(
      /^the hold log does not reach its signed head: it has 2 changes, the head records 3 ending in /,
    );

    writeFileSync(file, '');
    expect(thrownPanaceaError(() => readHoldLog(root, key.publicKey)).message).toContain(
      'it has 0 changes, the head records 3',
    );

    rmSync(file);
    expect(thrownPanaceaError(() => readHoldLog(root, key.publicKey)).code).toBe('ARCHIVE_INVALID');

    // A head signed by another key is no head.
    writeFileSync(file, `${lines.join('\n')}\n`);
    const head = JSON.parse(readFileSync(path.join(root, HOLD_HEAD_FILE), 'utf8')) as object;
    writeFileSync(
      path.join(root, HOLD_HEAD_FILE),
      JSON.stringify({ ...head, signature: Buffer.alloc(64).toString('base64') }),
    );
    expect(thrownPanaceaError(() => readHoldLog(root, key.publicKey)).message).toBe(
      'holds.head.json: the signature does not match the public key',
    );
    rmSync(path.join(root, HOLD_HEAD_FILE));
    expect(thrownPanaceaError(() => readHoldLog(root, key.publicKey)).message).toContain(
      'holds.head.json is missing',
    );
  });

  it('says the hold log cannot be read when it is not a file, rather than failing unexpectedly', () => {
    const root = temporaryRoot();
    mkdirSync(path.join(root, HOLD_LOG_FILE));
    const error = thrownPanaceaError(() => readHoldLog(root, signingKey().publicKey));
    expect(error.code).toBe('ARCHIVE_INVALID');
    expect(error.message).toBe('the hold log cannot be read (EISDIR)');
  });

  it('accepts one change past its head: appended and flushed before a crash kept the head behind', async () => {
    const { root, key, file } = await logWithChanges();
    const headFile = path.join(root, HOLD_HEAD_FILE);
    const headBefore = readFileSync(headFile, 'utf8');
    await recordHoldChange(
      root,
      key,
      { action: 'add', criteria: { actor: 'u-9' }, reason: 'late', by: 'dan' },
      AT_MS + 5000,
    );
    writeFileSync(headFile, headBefore);

    expect(readHoldLog(root, key.publicKey).changes).toHaveLength(4);
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(4);
  });

  it('drops an append a crash cut short before recording the next change', async () => {
    const { root, key, file } = await logWithChanges();
    writeFileSync(file, `${readFileSync(file, 'utf8')}{"sequence":4,"action":"add","hol`);

    await recordHoldChange(
      root,
      key,
      { action: 'add', criteria: { resource: 'ticket-9' }, reason: 'after a crash', by: 'carol' },
      AT_MS + 3000,
    );

    const log = readHoldLog(root, key.publicKey);
    expect(log.changes.map((change) => change.sequence)).toEqual([1, 2, 3, 4]);
    expect(log.active.map((hold) => hold.holdId)).toEqual(['hold-2', 'hold-4']);
  });

  it('refuses to lift a hold that is not active, and a hold with no criteria', async () => {
    const { root, key } = await logWithChanges();

    const lifted = await rejectedPanaceaError(
      recordHoldChange(root, key, { action: 'remove', holdId: 'hold-1', reason: 'x', by: 'y' }),
    );
    expect(lifted.code).toBe('USAGE');
    expect(lifted.message).toBe('no active hold "hold-1"; active: hold-2');

    const empty = await rejectedPanaceaError(
      recordHoldChange(root, key, { action: 'add', criteria: {}, reason: 'x', by: 'y' }),
    );
    expect(empty.message).toContain('at least one of --from, --to, --actor or --resource');
  });

  it('holds a segment whose summary lists the actor or resource, or cannot tell', () => {
    const summary = {
      events: 2,
      oldestEventTime: '2026-01-10T00:00:00.000Z',
      newestEventTime: '2026-01-12T00:00:00.000Z',
      actors: ['u-1', 'u-2'],
      resources: ['s-1'],
    };
    const times: [string, string] = ['2026-01-10T00:00:01.000Z', '2026-01-12T00:00:01.000Z'];

    expect(holdMatches({ actor: 'u-2' }, entry(summary, times))).toBe(true);
    expect(holdMatches({ actor: 'u-3' }, entry(summary, times))).toBe(false);
    expect(holdMatches({ actor: 'u-1', resource: 's-2' }, entry(summary, times))).toBe(false);
    expect(holdMatches({ from: '2026-01-12T00:00:00.500Z' }, entry(summary, times))).toBe(true);
    expect(holdMatches({ from: '2026-01-13T00:00:00.000Z' }, entry(summary, times))).toBe(false);
    expect(holdMatches({ to: '2026-01-09T23:59:59.999Z' }, entry(summary, times))).toBe(false);
    // Too many ids to list, or a segment from before summaries: any id may be in it.
    expect(holdMatches({ actor: 'u-3' }, entry({ ...summary, actors: null }, times))).toBe(true);
    expect(holdMatches({ resource: 's-9' }, entry(undefined, times))).toBe(true);
  });
});

describe('archive lock', () => {
  it('refuses a second holder while the first holds it, and frees it after', async () => {
    const root = temporaryRoot();

    const inner = await withArchiveLock(root, 'retention', () =>
      rejectedPanaceaError(withArchiveLock(root, 'hold add', async () => 'ran')),
    );

    expect(inner.code).toBe('ARCHIVE_BUSY');
    expect(inner.message).toContain('(retention, since');
    expect(await withArchiveLock(root, 'hold add', async () => 'ran')).toBe('ran');
  });

  it('takes over a lock left by a process that no longer runs', async () => {
    const root = temporaryRoot();
    // A pid far above any pid_max: no process has it.
    writeFileSync(
      path.join(root, LOCK_FILE),
      JSON.stringify({
        pid: 2 ** 30,
        host: (await import('node:os')).hostname(),
        purpose: 'retention',
        since: 'then',
      }),
    );

    expect(await withArchiveLock(root, 'hold add', async () => 'ran')).toBe('ran');
  });

  it('treats a lock that is not one of its own (null, {}) as unreadable: busy, never undefined', async () => {
    for (const content of ['null', '{}', '"x"']) {
      const root = temporaryRoot();
      writeFileSync(path.join(root, LOCK_FILE), content);

      const busy = await rejectedPanaceaError(withArchiveLock(root, 'hold add', async () => 'ran'));

      expect(busy.code).toBe('ARCHIVE_BUSY');
      expect(busy.message).toBe(
        'the audit archive is locked by a process that is just taking it; try again when it ends',
      );
    }
  });
});
