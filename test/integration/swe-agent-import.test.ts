/**
 * The two shipped SWE-agent runs, imported with `panacea import --format swe-agent` as a user runs
 * it, are on Kafka as the events the importer promises, and after the pipeline in Elasticsearch;
 * a broken file publishes nothing, and with --partial publishes exactly its complete steps.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { createNaming } from '../../core/naming.js';
import {
  requireDataset,
  SWE_AGENT_MARSHMALLOW_FILE,
  SWE_AGENT_PYDICOM_FILE,
} from '../../producers/importers/shipped-datasets.js';
import { importSweAgentTrajectory } from '../../producers/importers/swe-agent.js';
import type { AgentEvent } from '../../schemas/event.js';
import { readRawEvent } from '../../schemas/raw-record.js';
import {
  field,
  isolate,
  kafkaFor,
  openCodecFor,
  readTopic,
  runPanacea,
  searchAll,
  type Isolation,
  type ReadRecord,
} from './harness.js';

const START = '2025-01-20T20:30:00Z';
const MARSHMALLOW_RUN_ID = '446e76ce113e';
const PYDICOM_RUN_ID = 'f081b131803e';

/** Records on each raw topic of the isolation, by kind, from the partitions' high watermarks. */
async function recordCounts(isolation: Isolation): Promise<Record<string, number>> {
  const naming = createNaming({
    topicPrefix: isolation.topicPrefix,
    namespace: isolation.namespace,
  });
  const admin = kafkaFor(isolation).admin();
  await admin.connect();
  try {
    const counts: Record<string, number> = {};
    for (const kind of ['activity', 'error', 'audit', 'heartbeat'] as const) {
      const offsets = await admin.fetchTopicOffsets(naming.rawTopic(kind));
      counts[kind] = offsets.reduce((sum, partition) => sum + Number(partition.high), 0);
    }
    return counts;
  } finally {
    await admin.disconnect();
  }
}

/** What the importer promises for a shipped file, computed here to compare with what arrived. */
function expectedEvents(relativePath: string): AgentEvent[] {
  const file = requireDataset(relativePath);
  return importSweAgentTrajectory(readFileSync(file, 'utf8'), {
    sourceName: file,
    start: new Date(START),
  }).events;
}

/** Decodes each record with the pipeline's codec, keeping its key. */
async function decodedEvents(
  isolation: Isolation,
  records: ReadRecord[],
): Promise<Array<{ key: string | null; event: AgentEvent }>> {
  const { codec, registry } = await openCodecFor(isolation);
  try {
    return await Promise.all(
      records.map(async (record) => ({
        key: record.key,
        event: await readRawEvent(codec, record.value, undefined),
      })),
    );
  } finally {
    await registry.close();
  }
}

function importRun(isolation: Isolation, file: string, ...options: string[]) {
  return runPanacea(
    ['import', '--format', 'swe-agent', file, '--start', START, ...options],
    isolation.env,
  );
}

describe('swe-agent import on the real pipeline', () => {
  it('publishes both shipped runs to Kafka and stores their failures and outcome', async () => {
    const isolation = isolate('swe');
    const naming = createNaming({
      topicPrefix: isolation.topicPrefix,
      namespace: isolation.namespace,
    });

    const marshmallow = await importRun(isolation, requireDataset(SWE_AGENT_MARSHMALLOW_FILE));
    expect(marshmallow.stderr).toBe('');
    expect(marshmallow.exitCode).toBe(0);
    expect(marshmallow.stdout).toBe('published 14 (activity 13, error 1), rejected 0\n');
    const pydicom = await importRun(isolation, requireDataset(SWE_AGENT_PYDICOM_FILE));
    expect(pydicom.exitCode).toBe(0);
    expect(pydicom.stdout).toBe('published 18 (activity 14, error 4), rejected 0\n');

    // On Kafka: every promised event once, on the raw topic of its kind, keyed by agent id.
    expect(await recordCounts(isolation)).toEqual({
      activity: 27,
      error: 5,
      audit: 0,
      heartbeat: 0,
    });
    const decoded = await decodedEvents(isolation, [
      ...(await readTopic(isolation, naming.rawTopic('activity'), 27)),
      ...(await readTopic(isolation, naming.rawTopic('error'), 5)),
    ]);
    const promised = [
      ...expectedEvents(SWE_AGENT_MARSHMALLOW_FILE),
      ...expectedEvents(SWE_AGENT_PYDICOM_FILE),
    ];
    expect(promised).toHaveLength(32);
    expect(decoded.map((record) => record.key)).toEqual(new Array(32).fill('swe-agent'));
    const byId = (events: AgentEvent[]) =>
      [...events].sort((left, right) => left.eventId.localeCompare(right.eventId));
    expect(byId(decoded.map((record) => record.event))).toStrictEqual(byId(promised));
    const errorTypes = decoded.flatMap((record) =>
      record.event.kind === 'error' ? [record.event.error.type] : [],
    );
    expect(errorTypes.sort()).toEqual([
      'AttributeError',
      'swe-agent.EditRejected',
      'swe-agent.EditRejected',
      'swe-agent.EditRejected',
      'swe-agent.EditRejected',
    ]);

    // In Elasticsearch, after the pipeline.
    const run = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(run.exitCode).toBe(0);
    const hits = await searchAll(isolation);
    expect(hits).toHaveLength(32);
    const activityHits = hits.filter((hit) => field(hit, 'panacea.kind') === 'activity');
    expect(activityHits).toHaveLength(27);
    const failed = activityHits.filter((hit) => field(hit, 'event.outcome') === 'failure');
    expect(failed.map((hit) => hit._id).sort()).toEqual(
      [
        `swe-agent:${MARSHMALLOW_RUN_ID}:step:6`,
        ...[2, 5, 6, 7].map((index) => `swe-agent:${PYDICOM_RUN_ID}:step:${index}`),
      ].sort(),
    );

    const rejectedEdit = failed.find((hit) =>
      hit._id.startsWith(`swe-agent:${MARSHMALLOW_RUN_ID}`),
    )!;
    expect(field(rejectedEdit, 'event.action')).toBe('swe.edit');
    expect(field(rejectedEdit, 'panacea.activity.duration_ms')).toBe(685.382);
    expect(field(rejectedEdit, 'event.duration')).toBe(685_382_000);
    expect(field(rejectedEdit, '@timestamp')).toBe('2025-01-20T20:30:01.686Z');
    expect(field(rejectedEdit, 'gen_ai.agent.name')).toBe('SWE-agent');
    expect(field(rejectedEdit, 'panacea.workflow.id')).toBe(`swe-agent-run-${MARSHMALLOW_RUN_ID}`);

    const traceback = hits.find((hit) => field(hit, 'error.type') === 'AttributeError')!;
    expect(field(traceback, 'error.message')).toContain('PixelRepresentation');
    expect(field(traceback, 'error.stack_trace')).toMatch(/^Traceback \(most recent call last\):/);
    expect(field(traceback, 'panacea.task.id')).toBe(`swe-agent-${PYDICOM_RUN_ID}-step-2`);

    const pydicomEnd = hits.find((hit) => hit._id === `swe-agent:${PYDICOM_RUN_ID}:run:ended`)!;
    expect(field(pydicomEnd, 'event.outcome')).toBe('success');
    const attributes = field(pydicomEnd, 'panacea.activity.attributes') as Record<string, unknown>;
    expect(attributes['llm.cost_usd']).toBe(1.26719);
    expect(attributes['llm.usage.prompt_tokens']).toBe(122612);
    expect(attributes['llm.api_calls']).toBe(12);

    // A cut file publishes nothing without --partial, and names where it ends.
    const fullText = readFileSync(requireDataset(SWE_AGENT_MARSHMALLOW_FILE), 'utf8');
    const cutDirectory = mkdtempSync(path.join(os.tmpdir(), 'panacea-swe-'));
    const cutFile = path.join(cutDirectory, 'cut.traj');
    writeFileSync(cutFile, fullText.slice(0, fullText.indexOf('"action": "open') + 10));
    const refused = await importRun(isolation, cutFile);
    expect(refused.exitCode).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(
      `IMPORT_INVALID: ${cutFile}: is not valid JSON at line 60 column 23: unexpected end of input`,
    );
    expect(refused.stderr).toContain('nothing was published (--partial publishes the valid steps');
    expect(await recordCounts(isolation)).toEqual({
      activity: 27,
      error: 5,
      audit: 0,
      heartbeat: 0,
    });

    // With --partial: the run start and the five complete steps, exit 1 and the reason on stderr.
    const partial = await importRun(isolation, cutFile, '--partial');
    expect(partial.exitCode).toBe(1);
    expect(partial.stdout).toBe(
      "published 6 (activity 6) from 5 steps, skipped: trajectory[5] onwards, info (the run's " +
        'outcome) (reasons on stderr)\n',
    );
    expect(partial.stderr).toContain(
      `skipped trajectory[5] onwards, info (the run's outcome): ${cutFile}: is not valid JSON ` +
        'at line 60 column 23',
    );
    expect(await recordCounts(isolation)).toEqual({
      activity: 33,
      error: 5,
      audit: 0,
      heartbeat: 0,
    });

    // Importing the shipped runs again changes nothing stored: the ids come from the files.
    await importRun(isolation, requireDataset(SWE_AGENT_MARSHMALLOW_FILE));
    await importRun(isolation, requireDataset(SWE_AGENT_PYDICOM_FILE));
    expect((await runPanacea(['run', '--until-idle'], isolation.env)).exitCode).toBe(0);
    expect(await searchAll(isolation)).toHaveLength(38);
    rmSync(cutDirectory, { recursive: true, force: true });
  });
});
