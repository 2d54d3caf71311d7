/**
 * The enrichment's promises on real servers: secrets never reach the enriched topic or
 * Elasticsearch, colliding attribute keys and invalid UTF-8 are stored tagged and counted, and
 * the agent registry's entries (registered, changed and removed while the pipeline runs) apply to
 * the events published after them.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { describe, expect, it } from 'vitest';

import { readArchivedRecords } from './audit-archive-reader.js';

import type { ActivityEvent, AuditEvent } from '../../schemas/event.js';
import {
  field,
  isolate,
  kafkaFor,
  openCodecFor,
  readTopic,
  runPanacea,
  searchAll,
  spawnPanacea,
  type Isolation,
  type SearchHit,
} from './harness.js';

const BASE_MS = Date.parse('2026-12-01T08:00:00.000Z');

// Assembled at run time so no secret scanner mistakes this file for a leak.
const SECRETS = {
  openai: ['sk', 'proj', 'Q1w2E3r4T5y6U7i8O9p0A1s2D3f4'].join('-'),
  aws: 'AKIA' + 'Z7XQ4MTESTKEY123',
  github: 'ghp_' + 'Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8',
  slack: 'xoxb-' + '998877665544-112233445566-QwErTyUiOpAsDfGhJkLzXcVb',
  bearer: 'b3ar3r' + 'TokenValue0987654321',
  jwt:
    'eyJhbGciOiJIUzI1NiJ9' +
    '.eyJzdWIiOiJpbnRlZ3JhdGlvbi10ZXN0In0' +
    '.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg',
  password: 'pg' + 'Pa55word',
  apiKey: 'k3y' + 'Value9876',
  emailLocal: 'jane.' + 'secretperson',
  pemBody: 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDmonkeyTESTBODY',
};
const PEM = `-----BEGIN PRIVATE KEY-----\n${SECRETS.pemBody}\n-----END PRIVATE KEY-----`;

function event(eventId: string, agent: object, body: object, offsetMs = 0): object {
  return { eventId, timestamp: new Date(BASE_MS + offsetMs).toISOString(), agent, ...body };
}

function secretEvents(): object[] {
  return [
    event(
      'sec-act',
      { id: 'agent-s' },
      {
        kind: 'activity',
        activity: {
          action: `tool.call with ${SECRETS.openai}`,
          status: 'failed',
          attributes: {
            'aws.key': SECRETS.aws,
            [`token.${SECRETS.github}`]: true,
            'db.url': `postgres://app:${SECRETS.password}@db.internal:5432/app`,
            'user.email': `${SECRETS.emailLocal}@example.org`,
            'http.status': 401,
            'http.status.text': 'Unauthorized',
          },
        },
      },
    ),
    event(
      'sec-err',
      { id: 'agent-s' },
      {
        kind: 'error',
        error: {
          type: 'UpstreamRefused',
          message: `request with Authorization: Bearer ${SECRETS.bearer} refused; slack ${SECRETS.slack}`,
          stack: `Error: refused\n  session=${SECRETS.jwt}\n  api_key=${SECRETS.apiKey}\n${PEM}`,
          severity: 'error',
        },
      },
      1,
    ),
    event(
      'sec-aud',
      { id: 'agent-s' },
      {
        kind: 'audit',
        audit: {
          actor: { type: 'user', id: `${SECRETS.emailLocal}@example.org` },
          action: 'secret.read',
          resource: { type: 'secret', id: 'vault/db' },
          outcome: 'denied',
          reason: `token ${SECRETS.github} lacks scope`,
        },
      },
      2,
    ),
  ];
}

async function produce(isolation: Isolation, events: object[], name: string): Promise<void> {
  const file = path.join(isolation.dataDir, `${name}.ndjson`);
  writeFileSync(file, `${events.map((entry) => JSON.stringify(entry)).join('\n')}\n`);
  const produced = await runPanacea(['produce', '--file', file], isolation.env);
  expect(produced.exitCode, produced.stderr).toBe(0);
}

/** The record with its first `ABCD` turned into bytes that are not UTF-8 (`C3 28`). */
function withInvalidUtf8(record: Buffer): Buffer {
  const position = record.indexOf(Buffer.from('ABCD'));
  record[position] = 0xc3;
  record[position + 1] = 0x28;
  return record;
}

async function waitForDocuments(isolation: Isolation, ids: string[]): Promise<SearchHit[]> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const hits = await searchAll(isolation);
    if (ids.every((id) => hits.some((hit) => hit._id === id))) return hits;
    if (Date.now() > deadline) throw new Error(`documents ${ids.join(', ')} did not arrive`);
    await sleep(500);
  }
}

describe('enrichment', () => {
  it('keeps secrets out of the enriched topic and Elasticsearch, and stores colliding keys and invalid UTF-8 tagged and counted', async () => {
    const isolation = isolate('redact');
    await produce(isolation, secretEvents(), 'secrets');

    // An activity record whose action is not UTF-8 on the wire, written by hand.
    const { codec, registry } = await openCodecFor(isolation);
    await registry.close();
    const utf8Event: ActivityEvent = {
      kind: 'activity',
      eventId: 'bad-utf8',
      timestamp: BASE_MS + 3,
      agent: { id: 'agent-s' },
      activity: { action: 'tool.ABCD', status: 'started' },
    };
    const auditEvent: AuditEvent = {
      kind: 'audit',
      eventId: 'bad-utf8-audit',
      timestamp: BASE_MS + 4,
      agent: { id: 'agent-s' },
      audit: {
        actor: { type: 'agent', id: 'agent-s' },
        action: 'file.ABCD',
        resource: { type: 'file', id: 'f-1' },
        outcome: 'success',
      },
    };
    const producer = kafkaFor(isolation).producer();
    await producer.connect();
    await producer.send({
      topic: `${isolation.topicPrefix}agent.activity`,
      messages: [{ key: 'agent-s', value: withInvalidUtf8(codec.encode(utf8Event)) }],
    });
    await producer.send({
      topic: `${isolation.topicPrefix}agent.audit`,
      messages: [{ key: 'agent-s', value: withInvalidUtf8(codec.encode(auditEvent)) }],
    });
    await producer.disconnect();

    const run = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(run.stderr).not.toContain('stage consumer crashed');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(
      'enrich: 5 records, 0 dead-lettered, 12 redacted (aws_access_key 1, bearer 1, email 2, ' +
        'github_token 2, jwt 1, pem_private_key 1, secret_assignment 1, sk_key 1, slack_token 1, ' +
        'url_password 1), 3 normalised (invalid_utf8 2, key_collision 1)',
    );
    expect(run.stdout).toContain('sink-audit-archive: 2 records, 0 dead-lettered');

    const enriched = await readTopic(isolation, `${isolation.topicPrefix}agent.events.enriched`, 5);
    expect(enriched).toHaveLength(5);
    const hits = await searchAll(isolation);
    expect(hits.map((hit) => hit._id).sort()).toEqual([
      'bad-utf8',
      'bad-utf8-audit',
      'sec-act',
      'sec-aud',
      'sec-err',
    ]);

    const stored = [
      ...enriched.map((entry) => entry.value?.toString('utf8') ?? ''),
      ...hits.map((hit) => JSON.stringify(hit._source)),
    ];
    for (const [name, secret] of Object.entries(SECRETS)) {
      for (const text of stored) expect(text, name).not.toContain(secret);
      const found = await searchAll(isolation, '*', {
        query_string: { query: `"${secret}"`, default_field: '*', lenient: true },
      });
      expect(found, name).toEqual([]);
    }

    const activity = hits.find((hit) => hit._id === 'sec-act')!;
    expect(field(activity, 'panacea.activity.attributes')).toEqual({
      'aws.key': '[REDACTED:aws_access_key]',
      'token.[REDACTED:github_token]': true,
      'db.url': 'postgres://app:[REDACTED:url_password]@db.internal:5432/app',
      'user.email': '[REDACTED:email]@example.org',
      'http.status._value': 401,
      'http.status.text': 'Unauthorized',
    });
    expect(field(activity, 'tags')).toEqual(['panacea.key_collision']);
    expect(field(activity, 'panacea.redactions')).toEqual([
      'aws_access_key',
      'email',
      'github_token',
      'sk_key',
      'url_password',
    ]);
    const error = hits.find((hit) => hit._id === 'sec-err')!;
    expect(field(error, 'message')).toContain('Authorization: Bearer [REDACTED:bearer]');
    expect(field(error, 'error.stack_trace')).toContain('[REDACTED:pem_private_key]');

    // Searchable by what was kept and by the marks.
    const byDomain = await searchAll(isolation, 'activity', {
      term: { 'panacea.activity.attributes.user.email': '[REDACTED:email]@example.org' },
    });
    expect(byDomain.map((hit) => hit._id)).toEqual(['sec-act']);
    const byRule = await searchAll(isolation, '*', { term: { 'panacea.redactions': 'bearer' } });
    expect(byRule.map((hit) => hit._id)).toEqual(['sec-err']);
    const repaired = await searchAll(isolation, '*', { term: { tags: 'panacea.invalid_utf8' } });
    expect(repaired.map((hit) => hit._id)).toEqual(['bad-utf8', 'bad-utf8-audit']);
    expect(field(repaired[0]!, 'event.action')).toBe('tool.\uFFFD(CD');
    expect(field(repaired[1]!, 'event.action')).toBe('file.\uFFFD(CD');

    // The audit archive keeps the raw audit records byte for byte, bad bytes included.
    const archived = await readArchivedRecords(
      isolation.dataDir,
      `${isolation.topicPrefix}agent.audit`,
    );
    expect(archived.map((record) => record.eventId)).toEqual(['sec-aud', 'bad-utf8-audit']);
    expect(archived[1]?.value.includes(Buffer.from([0xc3, 0x28]))).toBe(true);
  });

  it('refuses a redaction rules file that is not valid, naming the rule and the field', async () => {
    const isolation = isolate('rules');
    const file = path.join(isolation.dataDir, 'rules.json');
    writeFileSync(file, JSON.stringify({ rules: [{ name: 'ticket', pattern: '(' }] }));

    const run = await runPanacea(['run', '--until-idle'], {
      ...isolation.env,
      PANACEA_REDACTION_RULES: file,
    });

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('CONFIG_INVALID: PANACEA_REDACTION_RULES');
    expect(run.stderr).toContain('rules[0].pattern rule "ticket"');
  });

  it('adds a registered agent’s entry, and applies changes and removal made while running to later events', async () => {
    const isolation = isolate('agents');
    const registered = await runPanacea(
      [
        'agents',
        'register',
        'agent-r',
        '--name',
        'Registered agent',
        '--team',
        'search',
        '--owner',
        'ann',
        '--env',
        'production',
        '--label',
        'tier=gold',
      ],
      isolation.env,
    );
    expect(registered.exitCode, registered.stderr).toBe(0);
    expect(registered.stdout).toContain('registered 1 agent');
    const invalid = await runPanacea(
      ['agents', 'register', 'agent-x', '--team', 't'],
      isolation.env,
    );
    expect(invalid.exitCode).toBe(2);
    expect(invalid.stderr).toContain('AGENT_INVALID: agent agent-x: name is required');

    const pipeline = spawnPanacea(['run'], isolation.env);
    let output = '';
    pipeline.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    pipeline.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => pipeline.once('close', resolve));
    try {
      const heartbeat = (eventId: string, agent: object, offsetMs: number): object =>
        event(eventId, agent, { kind: 'heartbeat', heartbeat: { status: 'idle' } }, offsetMs);

      await produce(
        isolation,
        [
          heartbeat('r-1', { id: 'agent-r' }, 0),
          heartbeat('u-1', { id: 'agent-u', name: 'own' }, 1),
        ],
        'first',
      );
      let hits = await waitForDocuments(isolation, ['r-1', 'u-1']);
      const first = hits.find((hit) => hit._id === 'r-1')!;
      expect(field(first, 'gen_ai.agent.name')).toBe('Registered agent');
      expect(field(first, 'panacea.agent')).toEqual({
        registered: true,
        display_name: 'Registered agent',
        team: 'search',
        owner: 'ann',
        environment: 'production',
      });
      expect(field(first, 'labels')).toEqual({ tier: 'gold' });
      const unregistered = hits.find((hit) => hit._id === 'u-1')!;
      expect(field(unregistered, 'gen_ai.agent')).toEqual({ id: 'agent-u', name: 'own' });
      expect(field(unregistered, 'panacea.agent')).toBeUndefined();
      const byTeam = await searchAll(isolation, '*', { term: { 'panacea.agent.team': 'search' } });
      expect(byTeam.map((hit) => hit._id)).toEqual(['r-1']);
      const byLabel = await searchAll(isolation, '*', { term: { 'labels.tier': 'gold' } });
      expect(byLabel.map((hit) => hit._id)).toEqual(['r-1']);

      const changed = await runPanacea(
        ['agents', 'register', 'agent-r', '--name', 'Renamed agent', '--team', 'platform'],
        isolation.env,
      );
      expect(changed.exitCode).toBe(0);
      const listed = await runPanacea(['agents', 'list'], isolation.env);
      expect(
        listed.stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as object),
      ).toEqual([{ id: 'agent-r', name: 'Renamed agent', team: 'platform' }]);
      await produce(isolation, [heartbeat('r-2', { id: 'agent-r' }, 2)], 'second');
      hits = await waitForDocuments(isolation, ['r-2']);
      const second = hits.find((hit) => hit._id === 'r-2')!;
      expect(field(second, 'gen_ai.agent.name')).toBe('Renamed agent');
      expect(field(second, 'panacea.agent')).toEqual({
        registered: true,
        display_name: 'Renamed agent',
        team: 'platform',
      });
      expect(field(second, 'labels')).toBeUndefined();

      const removed = await runPanacea(
        ['agents', 'remove', 'agent-r', 'agent-none'],
        isolation.env,
      );
      expect(removed.exitCode).toBe(1);
      expect(removed.stdout).toContain('removed 1 agent');
      expect(removed.stderr).toContain('agent agent-none: not registered');
      await produce(isolation, [heartbeat('r-3', { id: 'agent-r' }, 3)], 'third');
      hits = await waitForDocuments(isolation, ['r-3']);
      const third = hits.find((hit) => hit._id === 'r-3')!;
      expect(field(third, 'gen_ai.agent')).toEqual({ id: 'agent-r' });
      expect(field(third, 'panacea.agent')).toBeUndefined();
      expect((await runPanacea(['agents', 'list'], isolation.env)).stdout).toBe('');
    } finally {
      pipeline.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(output).toContain('enrich: 4 records, 0 dead-lettered');
  });
});
