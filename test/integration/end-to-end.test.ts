/**
 * The first complete path on real servers: NDJSON → `panacea produce` → Kafka → `panacea run
 * --until-idle` → Elasticsearch, the audit archive and the dead-letter topics.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { readArchivedRecords } from './audit-archive-reader.js';

import { DEAD_LETTER_HEADERS } from '../../core/dead-letter.js';
import { validateEvent } from '../../schemas/contract.js';
import type { AgentEvent } from '../../schemas/event.js';
import {
  field,
  isolate,
  kafkaFor,
  openCodecFor,
  readTopic,
  runPanacea,
  searchAll,
} from './harness.js';

const EVENTS_PER_KIND = 5;
const BASE_MS = Date.parse('2026-11-30T12:00:00.000Z');

function validLines(): string[] {
  const lines: object[] = [];
  for (let index = 0; index < EVENTS_PER_KIND; index += 1) {
    const agent = {
      id: `agent-${index % 2}`,
      name: `Agent ${index % 2}`,
      type: 'test-bot',
      version: '1.2.3',
    };
    const timestamp = new Date(BASE_MS + index * 1_000).toISOString();
    lines.push(
      {
        kind: 'activity',
        eventId: `act-${index}`,
        timestamp,
        agent,
        workflowId: 'wf-1',
        taskId: `task-${index}`,
        traceId: 'trace-1',
        activity: {
          action: 'tool.call',
          status: index === 3 ? 'failed' : 'succeeded',
          durationMs: 100 + index,
          attributes: { 'tool.name': 'web.search', tokens: index, cached: index % 2 === 0 },
        },
      },
      {
        kind: 'error',
        eventId: `err-${index}`,
        timestamp: BASE_MS + index * 1_000 + 1,
        agent,
        error: {
          type: 'ToolTimeout',
          message: `timed out after ${index} s`,
          stack: 'Error: timeout\n    at call (tool.ts:1:1)',
          severity: (['warning', 'error', 'critical'] as const)[index % 3],
          retryable: true,
        },
      },
      {
        kind: 'audit',
        eventId: `aud-${index}`,
        timestamp,
        agent,
        audit: {
          actor: { type: 'agent', id: agent.id },
          action: 'secret.read',
          resource: { type: 'secret', id: `s-${index}` },
          outcome: index === 2 ? 'denied' : 'success',
          ...(index === 2 ? { reason: 'not allowed', sourceIp: '10.0.0.7' } : {}),
        },
      },
      {
        kind: 'heartbeat',
        eventId: `hb-${index}`,
        timestamp,
        agent,
        heartbeat: { status: 'busy', cpuPercent: 12.5, memoryMb: 256, queueDepth: index },
      },
    );
  }
  return lines.map((line) => JSON.stringify(line));
}

const INVALID_LINES = [
  { text: 'this is not json', reason: 'INVALID_JSON' },
  {
    text: JSON.stringify({
      kind: 'activity',
      timestamp: 1_700_000_000,
      agent: { id: 'a' },
      activity: { action: 'x', status: 'started' },
    }),
    reason: 'epoch seconds',
  },
  {
    text: JSON.stringify({ kind: 'unknown', timestamp: BASE_MS, agent: { id: 'a' } }),
    reason: 'kind expected one of',
  },
  {
    text: JSON.stringify({
      kind: 'error',
      timestamp: BASE_MS,
      agent: { id: 'a' },
      error: { type: 'x', message: 'y', severity: 'fatal' },
    }),
    reason: 'error.severity',
  },
  {
    text: JSON.stringify({
      kind: 'audit',
      timestamp: BASE_MS,
      agent: { id: 'a' },
      heartbeat: { status: 'idle' },
    }),
    reason: 'heartbeat is the body of kind "heartbeat"',
  },
  {
    text: JSON.stringify({
      kind: 'heartbeat',
      timestamp: BASE_MS,
      agent: {},
      heartbeat: { status: 'idle' },
      extra: 1,
    }),
    reason: 'agent.id is required',
  },
];

describe('events flow end to end', () => {
  it('stores exactly the valid events once, reports invalid lines, dead-letters bad records and archives audits', async () => {
    const isolation = isolate('e2e');
    const input = path.join(isolation.dataDir, 'events.ndjson');
    const valid = validLines();
    // Invalid lines are interleaved so their reported numbers are checked, not just their count.
    const lines = [
      ...valid.slice(0, 3),
      ...INVALID_LINES.map((line) => line.text),
      ...valid.slice(3),
    ];
    writeFileSync(input, `${lines.join('\n')}\n`);

    const produced = await runPanacea(['produce', '--file', input], isolation.env);
    expect(produced.exitCode).toBe(1);
    expect(produced.stdout).toContain(
      `published ${valid.length}, rejected ${INVALID_LINES.length}`,
    );
    INVALID_LINES.forEach((line, index) => {
      const reported = produced.stderr
        .split('\n')
        .find((entry) => entry.startsWith(`line ${4 + index}: `));
      expect(reported, `line ${4 + index}`).toBeDefined();
      expect(reported).toContain(line.reason);
    });

    // Records no contract producer would write, put straight on the raw topics.
    const kafka = kafkaFor(isolation);
    const producer = kafka.producer();
    await producer.connect();
    const activityTopic = `${isolation.topicPrefix}agent.activity`;
    const auditTopic = `${isolation.topicPrefix}agent.audit`;
    const errorEvent = validateEvent(JSON.parse(valid[1] as string)) as {
      ok: true;
      event: AgentEvent;
    };
    const unknownSchema = Buffer.from([0, 0, 0, 3, 231, 1, 2, 3]);
    const { codec, registry } = await openCodecFor(isolation);
    await registry.close();
    await producer.send({
      topic: activityTopic,
      messages: [
        { key: 'bad', value: Buffer.from('{"plain":"json"}') },
        { key: 'bad', value: unknownSchema },
        { key: 'bad', value: codec.encode(errorEvent.event) },
        {
          key: 'bad',
          value: Buffer.concat([
            Buffer.from([0, 0, 0, 0, codec.writerIds.activity]),
            Buffer.from([0xff]),
          ]),
        },
      ],
    });
    await producer.send({
      topic: auditTopic,
      messages: [{ key: 'bad', value: Buffer.from('garbage') }],
    });
    await producer.disconnect();

    const run = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(run.stderr).not.toContain('stage consumer crashed');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(
      'enrich: 25 records, 5 dead-lettered (DECODE_FAILED 3, KIND_TOPIC_MISMATCH 1, UNKNOWN_SCHEMA_ID 1)',
    );
    expect(run.stdout).toContain('sink-elasticsearch: 20 records, 0 dead-lettered');
    expect(run.stdout).toContain(
      'sink-audit-archive: 6 records, 1 dead-lettered (DECODE_FAILED 1)',
    );

    const hits = await searchAll(isolation);
    expect(hits).toHaveLength(valid.length);
    for (const hit of hits) expect(field(hit, 'event.id')).toBe(hit._id);
    const ids = hits.map((hit) => hit._id).sort();
    expect(ids).toEqual(
      valid.map((line) => (JSON.parse(line) as { eventId: string }).eventId).sort(),
    );

    const failedTask = hits.find((hit) => hit._id === 'act-3');
    expect(failedTask?._index).toContain(`logs-agent.activity-${isolation.namespace}`);
    expect(field(failedTask!, '@timestamp')).toBe('2026-11-30T12:00:03.000Z');
    expect(field(failedTask!, 'event.outcome')).toBe('failure');
    expect(field(failedTask!, 'event.duration')).toBe(103_000_000);
    expect(field(failedTask!, 'gen_ai.agent.id')).toBe('agent-1');
    expect(field(failedTask!, 'trace.id')).toBe('trace-1');
    expect(field(failedTask!, 'panacea.activity.attributes')).toEqual({
      'tool.name': 'web.search',
      tokens: 3,
      cached: false,
    });
    const denied = hits.find((hit) => hit._id === 'aud-2');
    expect(field(denied!, 'panacea.audit.outcome')).toBe('denied');
    expect(field(denied!, 'source.ip')).toBe('10.0.0.7');
    const critical = hits.find((hit) => hit._id === 'err-2');
    expect(field(critical!, 'log.level')).toBe('critical');
    expect(field(critical!, 'error.type')).toBe('ToolTimeout');
    expect(field(critical!, '@timestamp')).toBe('2026-11-30T12:00:02.001Z');

    // Searchable: the mapping makes these queries work, not just storage.
    const failures = await searchAll(isolation, 'activity', {
      term: { 'event.outcome': 'failure' },
    });
    expect(failures.map((hit) => hit._id)).toEqual(['act-3']);
    const byAttribute = await searchAll(isolation, 'activity', {
      term: { 'panacea.activity.attributes.tokens': '4' },
    });
    expect(byAttribute.map((hit) => hit._id)).toEqual(['act-4']);

    const activityDeadLetters = await readTopic(isolation, `${activityTopic}.dlq`, 4);
    const codes = activityDeadLetters
      .map((record) => record.headers[DEAD_LETTER_HEADERS.reasonCode])
      .sort();
    expect(codes).toEqual([
      'DECODE_FAILED',
      'DECODE_FAILED',
      'KIND_TOPIC_MISMATCH',
      'UNKNOWN_SCHEMA_ID',
    ]);
    for (const record of activityDeadLetters) {
      expect(record.headers[DEAD_LETTER_HEADERS.stage]).toBe('enrich');
      expect(record.headers[DEAD_LETTER_HEADERS.sourceTopic]).toBe(activityTopic);
      expect(record.headers[DEAD_LETTER_HEADERS.sourcePartition]).toMatch(/^\d+$/);
      expect(record.headers[DEAD_LETTER_HEADERS.sourceOffset]).toMatch(/^\d+$/);
      expect(record.headers[DEAD_LETTER_HEADERS.reason]?.length).toBeGreaterThan(20);
    }
    const unknown = activityDeadLetters.find(
      (record) => record.headers[DEAD_LETTER_HEADERS.reasonCode] === 'UNKNOWN_SCHEMA_ID',
    );
    expect(unknown?.value).toEqual(unknownSchema);
    expect(unknown?.headers[DEAD_LETTER_HEADERS.reason]).toContain('999');
    // Both stages that read the audit topic reject the garbage record, each under its own name.
    const auditDeadLetters = await readTopic(isolation, `${auditTopic}.dlq`, 2);
    expect(
      auditDeadLetters.map((record) => record.headers[DEAD_LETTER_HEADERS.stage]).sort(),
    ).toEqual(['enrich', 'sink-audit-archive']);

    const archived = await readArchivedRecords(isolation.dataDir, auditTopic);
    expect(archived.map((record) => record.eventId).sort()).toEqual([
      'aud-0',
      'aud-1',
      'aud-2',
      'aud-3',
      'aud-4',
    ]);

    // The same input again, through the whole path: nothing new in Elasticsearch or the archive.
    const again = await runPanacea(['produce', '--file', input], isolation.env);
    expect(again.exitCode).toBe(1);
    const rerun = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(rerun.exitCode).toBe(0);
    expect(await searchAll(isolation)).toHaveLength(valid.length);
    // The archive is the record of what arrived: the republished records are new records (new
    // offsets) with the same event ids, so a reviewer sees both and can tell them apart.
    const rearchived = await readArchivedRecords(isolation.dataDir, auditTopic);
    expect(rearchived).toHaveLength(10);
    expect(new Set(rearchived.map((record) => record.eventId)).size).toBe(5);
  });
});
