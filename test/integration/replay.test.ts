/**
 * `panacea replay` on the real servers: a time range replays exactly the records inside it, at both
 * bounds; a `--from` later than every record replays nothing and says so; a replay beside a running
 * pipeline leaves the live consumer groups' offsets where they were and adds no duplicates; and a
 * replay into another namespace builds a complete copy.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { describe, expect, it } from 'vitest';

import {
  isolate,
  kafkaFor,
  readTopic,
  runPanacea,
  searchAll,
  spawnPanacea,
  type Isolation,
  type ReadRecord,
} from './harness.js';

const AGENTS = 5;

function activityLine(index: number, runId: string): string {
  return JSON.stringify({
    kind: 'activity',
    eventId: `${runId}-${index}`,
    timestamp: Date.UTC(2026, 11, 4, 9) + index,
    agent: { id: `agent-${index % AGENTS}` },
    workflowId: `wf-${index % 2}`,
    activity: { action: 'task.run', status: 'succeeded', durationMs: 100 + index },
  });
}

/** Publishes events `first` to `first + count - 1`, then the first `repeated` of them again. */
async function produce(
  isolation: Isolation,
  first: number,
  count: number,
  runId: string,
  repeated = 0,
) {
  const file = path.join(isolation.dataDir, `events-${first}.ndjson`);
  const lines = Array.from({ length: count }, (_, index) => activityLine(first + index, runId));
  writeFileSync(file, [...lines, ...lines.slice(0, repeated)].join('\n'));
  const produced = await runPanacea(['produce', '--file', file], isolation.env);
  expect(produced.stdout, produced.stderr).toContain(`published ${count + repeated}, rejected 0`);
}

interface ReplayJson {
  outcome: string;
  topics: {
    topic: string;
    read: number;
    written: number;
    alreadyStored: number;
    skippedByFilter: number;
    deadLettered: number;
    emptyPartitions: { partition: number; reason: string }[];
    metrics?: { windowsWritten: number; windowsSkippedAtEdges: number; unreadableRecords: number };
  }[];
}

async function replay(isolation: Isolation, args: string[]): Promise<ReplayJson> {
  const result = await runPanacea(['replay', ...args, '--json'], isolation.env);
  expect(result.exitCode, result.stderr.slice(-3000)).toBe(0);
  return JSON.parse(result.stdout) as ReplayJson;
}

/** Committed offsets of every consumer group of this deployment, by `group topic:partition`. */
async function liveOffsets(isolation: Isolation): Promise<Map<string, string>> {
  const admin = kafkaFor(isolation).admin();
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    const offsets = new Map<string, string>();
    for (const { groupId } of groups.filter((group) =>
      group.groupId.startsWith(isolation.topicPrefix),
    )) {
      for (const topic of await admin.fetchOffsets({ groupId })) {
        for (const partition of topic.partitions) {
          offsets.set(`${groupId} ${topic.topic}:${partition.partition}`, partition.offset);
        }
      }
    }
    return offsets;
  } finally {
    await admin.disconnect();
  }
}

async function groupIds(isolation: Isolation): Promise<string[]> {
  const admin = kafkaFor(isolation).admin();
  await admin.connect();
  try {
    return (await admin.listGroups()).groups
      .map((group) => group.groupId)
      .filter((groupId) => groupId.startsWith(isolation.topicPrefix));
  } finally {
    await admin.disconnect();
  }
}

async function waitForDocuments(isolation: Isolation, count: number): Promise<string[]> {
  const deadline = Date.now() + 90_000;
  let ids: string[] = [];
  while (Date.now() < deadline) {
    ids = (await searchAll(isolation, 'activity')).map((hit) => hit._id);
    if (ids.length >= count) return ids;
    await sleep(500);
  }
  return ids;
}

/** The event id in a raw record: the Avro body holds it as plain text, so no codec is needed. */
function eventIdOf(record: ReadRecord, runId: string): string {
  const match = new RegExp(`${runId}-\\d+`).exec(record.value?.toString('latin1') ?? '');
  return match?.[0] ?? '';
}

describe('panacea replay', () => {
  it('replays exactly the records of [from, to) by time and by offsets, and nothing from a future --from', async () => {
    const isolation = isolate('replay-range');
    const runId = isolation.topicPrefix.split('.')[2] as string;
    const topic = `${isolation.topicPrefix}agent.activity`;
    // Three chunks published apart, so the bounds fall between distinct timestamps.
    for (const chunk of [0, 1, 2]) {
      await produce(isolation, chunk * 60, 60, runId);
      await sleep(300);
    }
    const records = await readTopic(isolation, topic, 180);
    expect(records).toHaveLength(180);

    // Bounds on real record times: the 50th and the 130th in time order.
    const byTime = [...records].sort((a, b) => a.timestampMs - b.timestampMs);
    const fromMs = byTime[50]!.timestampMs;
    const toMs = byTime[130]!.timestampMs;
    const expected = records.filter(
      (record) => record.timestampMs >= fromMs && record.timestampMs < toMs,
    );
    const copyTopic = `${isolation.topicPrefix}replay-copy`;
    const copied = await replay(isolation, [
      '--topic',
      'agent.activity',
      '--from',
      new Date(fromMs).toISOString(),
      '--to',
      new Date(toMs).toISOString(),
      '--into',
      `topic:${copyTopic}`,
    ]);
    expect(copied.topics[0]).toMatchObject({ read: expected.length, written: expected.length });
    const copy = await readTopic(isolation, copyTopic, expected.length, 15_000);
    const copyIds = new Set(copy.map((record) => eventIdOf(record, runId)));
    expect(copyIds).toEqual(new Set(expected.map((record) => eventIdOf(record, runId))));
    // Both bounds: a record exactly at --from is in, one exactly at --to is not.
    expect(copyIds.has(eventIdOf(byTime[50]!, runId))).toBe(true);
    expect(copyIds.has(eventIdOf(byTime[130]!, runId))).toBe(false);
    expect(copy.some((record) => record.timestampMs < fromMs || record.timestampMs >= toMs)).toBe(
      false,
    );
    // Byte for byte, with the key.
    const original = records.find(
      (record) => eventIdOf(record, runId) === eventIdOf(copy[0]!, runId),
    );
    expect(copy[0]!.value?.equals(original!.value!)).toBe(true);
    expect(copy[0]!.key).toBe(original!.key);

    // Offsets, per partition: [from, to) of the partition named, and no other partition.
    const partition = records[0]!.partition;
    const byOffset = await replay(isolation, [
      '--topic',
      'agent.activity',
      '--from',
      `${partition}:2`,
      '--to',
      `${partition}:7`,
      '--dry-run',
    ]);
    expect(byOffset.topics[0]).toMatchObject({ read: 5, written: 5 });

    // An offset outside the partition, and a topic that does not exist: named, exit 2.
    const outside = await runPanacea(
      ['replay', '--topic', 'agent.activity', '--from', `${partition}:99999`],
      isolation.env,
    );
    expect(outside.exitCode).toBe(2);
    expect(outside.stderr).toContain(`offset 99999 is outside partition ${partition} of ${topic}`);
    const missing = await runPanacea(['replay', '--topic', 'agent.nothing'], isolation.env);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain(
      `--topic ${isolation.topicPrefix}agent.nothing: there is no such topic`,
    );

    // A --from later than every record: Kafka answers with the end offset, which is no match.
    const future = await runPanacea(
      ['replay', '--topic', 'agent.activity', '--from', new Date(toMs + 3_600_000).toISOString()],
      isolation.env,
    );
    expect(future.exitCode, future.stderr).toBe(0);
    expect(future.stdout).toContain('nothing to replay');
    expect(future.stdout).toContain('no record at or after --from');
    expect(future.stdout).toContain('read 0');
  });

  it('replays beside the running pipeline without moving its offsets or adding duplicates, and copies to another namespace', async () => {
    const isolation = isolate('replay-live');
    const runId = isolation.topicPrefix.split('.')[2] as string;
    // Ten events published twice: two records of one document, which a replay must not store
    // twice either.
    await produce(isolation, 0, 150, runId, 10);
    const first = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(first.exitCode, first.stderr.slice(-3000)).toBe(0);
    expect(await waitForDocuments(isolation, 150)).toHaveLength(150);

    const live = spawnPanacea(['run'], isolation.env);
    const exited = new Promise((resolve) => live.once('close', resolve));
    try {
      // Joined and idle: its groups have members and nothing to commit.
      await sleep(8_000);
      const before = await liveOffsets(isolation);
      expect(before.size).toBeGreaterThan(0);

      const again = await replay(isolation, ['--topic', 'agent.events.enriched']);
      expect(again.topics[0]).toMatchObject({
        read: 160,
        written: 0,
        alreadyStored: 160,
        deadLettered: 0,
      });
      // The enriched topic's windows are recomputed too; every one is still open (all events
      // fall in one window, a day old), so the replay writes none over the live figures.
      expect(again.topics[0]!.metrics).toMatchObject({ windowsWritten: 0, unreadableRecords: 0 });
      expect(again.topics[0]!.metrics!.windowsSkippedAtEdges).toBeGreaterThan(0);
      expect(await liveOffsets(isolation)).toEqual(before);
      // The replay's own group is gone once it is done.
      expect((await groupIds(isolation)).filter((id) => id.includes('.panacea.replay.'))).toEqual(
        [],
      );

      // A rollover first: the events replayed next are in the older backing index, where a
      // create by id in the new write index would not find them.
      const rollover = await fetch(
        `${isolation.elasticsearchUrl}/logs-agent.activity-${isolation.namespace}/_rollover`,
        { method: 'POST' },
      );
      expect(rollover.status, await rollover.text()).toBe(200);

      // New events while a replay of the raw topic runs: the live pipeline takes them once.
      const [, rawReplay] = await Promise.all([
        produce(isolation, 150, 50, runId),
        replay(isolation, ['--topic', 'agent.activity', '--to', new Date().toISOString()]),
      ]);
      expect(rawReplay.topics[0]!.read).toBeGreaterThanOrEqual(160);
      expect(rawReplay.topics[0]!.deadLettered).toBe(0);
      expect(rawReplay.topics[0]!.alreadyStored).toBeGreaterThanOrEqual(160);
      const ids = await waitForDocuments(isolation, 200);
      expect(ids).toHaveLength(200);
      expect(new Set(ids).size).toBe(200);
    } finally {
      live.kill('SIGTERM');
      await exited;
    }
    // Nothing more after the pipeline stopped: exactly the 200 events, once each.
    expect(await searchAll(isolation, 'activity')).toHaveLength(200);

    // A complete copy in a side namespace, same ids.
    const side = `${isolation.namespace}_side`;
    const copied = await replay(isolation, [
      '--topic',
      'agent.events.enriched',
      '--into',
      `elasticsearch:${side}`,
    ]);
    expect(copied.topics[0]).toMatchObject({ read: 210, written: 200, alreadyStored: 10 });
    const sideIds = (await searchAll({ ...isolation, namespace: side }, 'activity')).map(
      (hit) => hit._id,
    );
    expect(new Set(sideIds)).toEqual(new Set(await waitForDocuments(isolation, 200)));

    // A filter by agent replays that agent's events only.
    const oneAgent = await replay(isolation, [
      '--topic',
      'agent.events.enriched',
      '--agent',
      'agent-1',
      '--dry-run',
    ]);
    // agent-1's 40 events, two of them (events 1 and 6) published twice.
    expect(oneAgent.topics[0]).toMatchObject({ read: 210, written: 42, skippedByFilter: 168 });
  });
});
