/**
 * `panacea dlq inspect|replay` on real servers. A mapping that refuses a field dead-letters the
 * documents that carry it; `dlq inspect` lists them by stage and reason and shows one decoded;
 * after the mapping is fixed, `dlq replay` writes them through the Elasticsearch sink, puts a
 * document that still fails back on the dead-letter topic with its new reason, and never
 * re-drives the same dead letter twice. A raw event written with a schema id nobody had
 * registered yet is re-driven through the enrichment once its schema is registered.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import path from 'node:path';

import avro from 'avsc';
import { describe, expect, it } from 'vitest';

import { DEAD_LETTER_HEADERS } from '../../core/dead-letter.js';
import { loadConfig } from '../../core/config.js';
import { createNaming } from '../../core/naming.js';
import { packageRoot } from '../../core/package-root.js';
import { ensureTopics } from '../../infra/topics.js';
import type { DeadLetterGroup } from '../../cli/dead-letters/dead-letter-entry.js';
import { REDRIVEN_FROM_HEADER } from '../../cli/dead-letters/dead-letter-entry.js';
import {
  isolate,
  kafkaFor,
  openCodecFor,
  readTopic,
  runPanacea,
  searchAll,
  spawnPanacea,
  type Isolation,
} from './harness.js';

const BASE_MS = Date.parse('2026-11-30T12:00:00.000Z');

function heartbeat(eventId: string, agentId: string, offsetMs: number): string {
  return JSON.stringify({
    kind: 'heartbeat',
    eventId,
    timestamp: new Date(BASE_MS + offsetMs).toISOString(),
    agent: { id: agentId, name: 'Agent', type: 'test-bot', version: '1.0.0' },
    heartbeat: { status: 'busy', cpuPercent: 12.5, memoryMb: 256, queueDepth: 1 },
  });
}

async function elasticsearch(
  isolation: Isolation,
  method: string,
  pathAndQuery: string,
  body?: object,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${isolation.elasticsearchUrl}/${pathAndQuery}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${method} ${pathAndQuery}: ${JSON.stringify(answer)}`);
  return answer;
}

/**
 * A template above Panacea's own for the namespace's heartbeat stream, made of the same
 * components with one field mapped otherwise: documents that cannot be read so are refused.
 */
function conflictingTemplate(dataStream: string, properties: object): object {
  return {
    index_patterns: [dataStream],
    data_stream: {},
    priority: 600,
    composed_of: ['logs-agent@panacea-settings', 'logs-agent@panacea-mappings'],
    template: { mappings: { properties } },
  };
}

/**
 * An HTTP proxy on 127.0.0.1 in front of the real Elasticsearch that answers 503 to every `_bulk`
 * request (and counts them) and forwards everything else: a cluster that reads but cannot write.
 */
async function bulkRefusingProxy(
  elasticsearchUrl: string,
): Promise<{ url: string; bulkRequests: () => number; close: () => Promise<void> }> {
  const upstream = new URL(elasticsearchUrl);
  let bulkRequests = 0;
  const server: Server = createServer((request, response) => {
    if ((request.url ?? '').split('?')[0]?.endsWith('/_bulk')) {
      bulkRequests += 1;
      request.resume();
      response.writeHead(503, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: 'unavailable for the test', status: 503 }));
      return;
    }
    const forwarded = httpRequest(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        path: request.url,
        method: request.method,
        headers: request.headers,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    forwarded.on('error', () => response.destroy());
    request.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    bulkRequests: () => bulkRequests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function inspectGroups(isolation: Isolation): Promise<DeadLetterGroup[]> {
  const inspected = await runPanacea(['dlq', 'inspect', '--json'], isolation.env);
  expect(inspected.stderr).toBe('');
  expect(inspected.exitCode).toBe(0);
  return (JSON.parse(inspected.stdout) as { groups: DeadLetterGroup[] }).groups;
}

describe('panacea dlq', () => {
  it('re-drives a document refused by a mapping once the mapping is fixed, once, and parks what fails again with its new reason', async () => {
    const isolation = isolate('dlq');
    const naming = createNaming(loadConfig(isolation.env));
    const dataStream = naming.dataStream('heartbeat');
    const enrichedDeadLetters = naming.deadLetterTopic(naming.enrichedTopic());
    const conflictName = `${dataStream}@dlq-test-conflict`;
    const input = path.join(isolation.dataDir, 'events.ndjson');
    // hb-number's agent id reads as a number, hb-named's does not: the second fix tells them apart.
    writeFileSync(
      input,
      [heartbeat('hb-number', '1001', 0), heartbeat('hb-named', 'agent-named', 1_000)].join('\n'),
    );

    expect((await runPanacea(['es', 'setup'], isolation.env)).exitCode).toBe(0);
    await elasticsearch(
      isolation,
      'PUT',
      `_index_template/${conflictName}`,
      conflictingTemplate(dataStream, {
        panacea: { properties: { heartbeat: { properties: { status: { type: 'long' } } } } },
      }),
    );
    expect((await runPanacea(['produce', '--file', input], isolation.env)).exitCode).toBe(0);
    const run = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(run.stdout).toContain(
      'sink-elasticsearch: 2 records, 2 dead-lettered (DOCUMENT_REJECTED 2)',
    );
    expect(await searchAll(isolation, 'heartbeat')).toHaveLength(0);

    // Listed by stage and reason, with the source topic.
    const groups = await inspectGroups(isolation);
    expect(groups).toHaveLength(1);
    expect(groups[0]).toMatchObject({
      stage: 'sink-elasticsearch',
      reasonCode: 'DOCUMENT_REJECTED',
      count: 2,
      redriven: 0,
      sourceTopics: [naming.enrichedTopic()],
      deadLetterTopics: [enrichedDeadLetters],
    });
    const table = await runPanacea(['dlq', 'inspect'], isolation.env);
    expect(table.stdout).toMatch(/sink-elasticsearch\s+DOCUMENT_REJECTED\s+2\s+0\s/);
    expect(table.stdout).toContain('panacea.heartbeat.status');

    // One shown decoded, with its reason and its source offset.
    const parked = await readTopic(isolation, enrichedDeadLetters, 2);
    const named = parked.find((record) => record.key === 'agent-named');
    expect(named).toBeDefined();
    const shown = await runPanacea(
      ['dlq', 'inspect', '--show', `${enrichedDeadLetters}:${named?.partition}:${named?.offset}`],
      isolation.env,
    );
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toContain('stage: sink-elasticsearch');
    expect(shown.stdout).toMatch(
      /reason: DOCUMENT_REJECTED: Elasticsearch answered 400: .*panacea\.heartbeat\.status/,
    );
    expect(shown.stdout).toContain(
      `source: ${naming.enrichedTopic()}:${named?.headers[DEAD_LETTER_HEADERS.sourcePartition]}:${named?.headers[DEAD_LETTER_HEADERS.sourceOffset]}`,
    );
    expect(shown.stdout).toContain('key: agent-named');
    expect(shown.stdout).toContain('value: JSON:');
    expect(shown.stdout).toContain('"id": "hb-named"');
    const outOfRange = await runPanacea(
      ['dlq', 'inspect', '--show', `${enrichedDeadLetters}:0:99`],
      isolation.env,
    );
    expect(outOfRange.exitCode).toBe(2);
    expect(outOfRange.stderr).toContain('--show');
    expect(outOfRange.stderr).toContain('offset 99 is out of range');

    // A dry run counts and changes nothing.
    const dryRun = await runPanacea(
      ['dlq', 'replay', '--reason', 'DOCUMENT_REJECTED', '--dry-run'],
      isolation.env,
    );
    expect(dryRun.exitCode).toBe(0);
    expect(dryRun.stdout).toContain('would be re-driven: 2');
    expect(await searchAll(isolation, 'heartbeat')).toHaveLength(0);

    // Elasticsearch not there at all: said with its address, nothing re-driven.
    const unreachable = await runPanacea(['dlq', 'replay', '--reason', 'DOCUMENT_REJECTED'], {
      ...isolation.env,
      ELASTICSEARCH_URL: 'http://127.0.0.1:1',
    });
    expect(unreachable.exitCode).toBe(2);
    expect(unreachable.stderr).toContain(
      'ELASTICSEARCH_UNAVAILABLE: cannot reach Elasticsearch at http://127.0.0.1:1',
    );
    expect(unreachable.stderr).not.toMatch(/^\s+at /m);
    expect(unreachable.stdout).toContain('stopped by ELASTICSEARCH_UNAVAILABLE');
    expect(unreachable.stdout).toContain('re-driven ok: 0');

    // Elasticsearch refusing every bulk write: the writers retry until the replay is
    // interrupted, which prints what was done so far and exits 130.
    const proxy = await bulkRefusingProxy(isolation.elasticsearchUrl);
    try {
      const child = spawnPanacea(['dlq', 'replay', '--reason', 'DOCUMENT_REJECTED'], {
        ...isolation.env,
        ELASTICSEARCH_URL: proxy.url,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
      while (proxy.bulkRequests() < 2 && child.exitCode === null) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      child.kill('SIGINT');
      expect(await exited, stderr).toBe(130);
      expect(stdout).toContain('interrupted: stopped by a signal; what was done so far:');
      expect(stdout).toContain('matched: 2');
      expect(stdout).toContain('re-driven ok: 0');
      expect(stderr).not.toContain('STAGE_STOPPED');
    } finally {
      await proxy.close();
    }
    expect(await searchAll(isolation, 'heartbeat')).toHaveLength(0);

    // Half a fix: the status reads again, but the agent id must now be a number.
    await elasticsearch(
      isolation,
      'PUT',
      `_index_template/${conflictName}`,
      conflictingTemplate(dataStream, {
        gen_ai: { properties: { agent: { properties: { id: { type: 'long' } } } } },
      }),
    );
    await elasticsearch(isolation, 'POST', `${dataStream}/_rollover`);
    const first = await runPanacea(
      ['dlq', 'replay', '--reason', 'DOCUMENT_REJECTED'],
      isolation.env,
    );
    expect(first.stdout).toContain('matched: 2');
    expect(first.stdout).toContain('re-driven ok: 1');
    expect(first.stdout).toContain('failed again: 1 (DOCUMENT_REJECTED 1)');
    expect(first.stdout).toContain('skipped as already re-driven: 0');
    expect(first.exitCode).toBe(1);
    expect((await searchAll(isolation, 'heartbeat')).map((hit) => hit._id)).toEqual(['hb-number']);
    const again = (await readTopic(isolation, enrichedDeadLetters, 3)).find(
      (record) => record.headers[REDRIVEN_FROM_HEADER] !== undefined,
    );
    expect(again?.headers).toMatchObject({
      [DEAD_LETTER_HEADERS.stage]: 'sink-elasticsearch',
      [DEAD_LETTER_HEADERS.reasonCode]: 'DOCUMENT_REJECTED',
      [DEAD_LETTER_HEADERS.sourceTopic]: naming.enrichedTopic(),
      [DEAD_LETTER_HEADERS.sourceOffset]: named?.headers[DEAD_LETTER_HEADERS.sourceOffset],
      [REDRIVEN_FROM_HEADER]: `${enrichedDeadLetters}:${named?.partition}:${named?.offset}`,
    });
    expect(again?.headers[DEAD_LETTER_HEADERS.reason]).toContain('gen_ai.agent.id');
    expect(again?.value).toEqual(named?.value);

    // The whole fix: the new dead letter is re-driven, the two first ones are skipped.
    await elasticsearch(isolation, 'DELETE', `_index_template/${conflictName}`);
    await elasticsearch(isolation, 'POST', `${dataStream}/_rollover`);
    const second = await runPanacea(
      ['dlq', 'replay', '--reason', 'DOCUMENT_REJECTED'],
      isolation.env,
    );
    expect(second.stdout).toContain('matched: 3');
    expect(second.stdout).toContain('re-driven ok: 1');
    expect(second.stdout).toContain('failed again: 0');
    expect(second.stdout).toContain('skipped as already re-driven: 2');
    expect(second.exitCode).toBe(0);
    const stored = await searchAll(isolation, 'heartbeat');
    expect(stored.map((hit) => hit._id).sort()).toEqual(['hb-named', 'hb-number']);
    expect(
      (await searchAll(isolation, 'heartbeat', { term: { 'gen_ai.agent.id': 'agent-named' } })).map(
        (hit) => hit._id,
      ),
    ).toEqual(['hb-named']);

    // Nothing is re-driven twice.
    const third = await runPanacea(
      ['dlq', 'replay', '--reason', 'DOCUMENT_REJECTED'],
      isolation.env,
    );
    expect(third.stdout).toContain('re-driven ok: 0');
    expect(third.stdout).toContain('skipped as already re-driven: 3');
    expect(third.exitCode).toBe(0);
    expect(await searchAll(isolation, 'heartbeat')).toHaveLength(2);

    // Forced once more, after the stream rolled over past hb-number's backing index: the sink
    // writes only what its data stream does not hold, so nothing is stored twice.
    const forced = await runPanacea(
      ['dlq', 'replay', '--reason', 'DOCUMENT_REJECTED', '--again'],
      isolation.env,
    );
    expect(forced.stdout).toContain('re-driven ok: 3');
    expect(forced.stdout).toContain('skipped as already re-driven: 0');
    expect(forced.exitCode).toBe(0);
    expect((await searchAll(isolation, 'heartbeat')).map((hit) => hit._id).sort()).toEqual([
      'hb-named',
      'hb-number',
    ]);
    expect(await inspectGroups(isolation)).toEqual([
      expect.objectContaining({ stage: 'sink-elasticsearch', count: 3, redriven: 3 }),
    ]);
  });

  it('re-drives an event written under a schema registered too late through the enrichment', async () => {
    const isolation = isolate('dlq-enrich');
    const naming = createNaming(loadConfig(isolation.env));
    const activityTopic = naming.rawTopic('activity');
    const activityDeadLetters = naming.deadLetterTopic(activityTopic);

    // Version 2 of the activity schema, with a field the build does not know: a producer has it
    // and writes with the id it will get, before anybody registered it with this pipeline.
    const v1 = JSON.parse(
      readFileSync(path.join(packageRoot(), 'schemas/avro/activity.v1.avsc'), 'utf8'),
    ) as { fields: object[] };
    const v2 = {
      ...v1,
      fields: [
        ...v1.fields,
        { name: 'note', type: ['null', 'string'], default: null, doc: 'A producer note.' },
      ],
    };
    const schemaFile = path.join(isolation.dataDir, 'activity.v2.avsc');
    writeFileSync(schemaFile, JSON.stringify(v2, null, 2));
    const { codec, registry } = await openCodecFor(isolation);
    const lateId = Math.max(...Object.values(codec.writerIds)) + 1;
    const event = {
      kind: 'activity' as const,
      eventId: 'act-late',
      timestamp: BASE_MS,
      agent: { id: 'agent-late' },
      activity: { action: 'tool.call', status: 'succeeded' as const, durationMs: 12 },
    };
    const v1Body = codec.encode(event).subarray(5);
    await registry.close();
    const decodedV1 = avro.Type.forSchema(v1 as avro.Schema).fromBuffer(v1Body) as object;
    const header = Buffer.alloc(5);
    header.writeUInt32BE(lateId, 1);
    const value = Buffer.concat([
      header,
      avro.Type.forSchema(v2 as avro.Schema).toBuffer({ ...decodedV1, note: 'from the future' }),
    ]);
    const kafka = kafkaFor(isolation);
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, naming);
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    const [sent] = await producer.send({
      topic: activityTopic,
      acks: -1,
      messages: [{ key: 'agent-late', value }],
    });
    await producer.disconnect();

    const run = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(run.stdout).toContain('enrich: 1 record, 1 dead-lettered (UNKNOWN_SCHEMA_ID 1)');
    const position = `${activityDeadLetters}:0:0`;
    const before = await runPanacea(['dlq', 'inspect', '--show', position], isolation.env);
    expect(before.stdout).toContain(`reason code: UNKNOWN_SCHEMA_ID`);
    expect(before.stdout).toContain(
      `source: ${activityTopic}:${sent?.partition}:${sent?.baseOffset}`,
    );
    expect(before.stdout).toContain(`framed for schema id ${lateId}, but the codec cannot read it`);

    // Not yet fixed: re-driven and rejected again with the same reason.
    const early = await runPanacea(
      ['dlq', 'replay', '--reason', 'UNKNOWN_SCHEMA_ID'],
      isolation.env,
    );
    expect(early.stdout).toContain('failed again: 1 (UNKNOWN_SCHEMA_ID 1)');
    expect(early.exitCode).toBe(1);

    const registered = await runPanacea(['schemas', 'register', schemaFile], isolation.env);
    expect(registered.stdout).toContain(`id ${lateId}`);
    const after = await runPanacea(['dlq', 'inspect', '--show', position], isolation.env);
    expect(after.stdout).toContain(
      `value: Avro, schema id ${lateId}, decoded into this build's schema:`,
    );
    expect(after.stdout).toContain('"eventId": "act-late"');
    // Read into this build's schema, which has no `note`.
    expect(after.stdout).toContain('"durationMs": 12');
    expect(after.stdout).not.toContain('from the future');

    // The first dead letter was re-driven already; the second, from the early replay, goes now.
    const replayed = await runPanacea(
      ['dlq', 'replay', '--reason', 'UNKNOWN_SCHEMA_ID', '--stage', 'enrich'],
      isolation.env,
    );
    expect(replayed.stdout).toContain('matched: 2');
    expect(replayed.stdout).toContain('re-driven ok: 1');
    expect(replayed.stdout).toContain('skipped as already re-driven: 1');
    expect(replayed.exitCode).toBe(0);
    const [enriched] = await readTopic(isolation, naming.enrichedTopic(), 1);
    expect(enriched?.key).toBe('agent-late');

    // Forced: both dead letters of the event are skipped, as its enriched record is published
    // already; publishing it again would count it twice in the metrics and the alerts.
    const forced = await runPanacea(
      ['dlq', 'replay', '--reason', 'UNKNOWN_SCHEMA_ID', '--again'],
      isolation.env,
    );
    expect(forced.stdout).toContain('matched: 2');
    expect(forced.stdout).toContain('re-driven ok: 0');
    expect(forced.stdout).toContain(
      'skipped as enriched already (re-driven ok before; --again does not publish an event twice): 2',
    );
    expect(forced.exitCode).toBe(0);
    expect(await readTopic(isolation, naming.enrichedTopic(), 2, 5_000)).toHaveLength(1);

    // The live pipeline takes the enriched event as new input.
    const indexed = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(indexed.stdout).toContain('sink-elasticsearch: 1 record, 0 dead-lettered');
    const hits = await searchAll(isolation, 'activity');
    expect(hits.map((hit) => hit._id)).toEqual(['act-late']);
  });

  it('says there are no dead-letter topics under a prefix that has none, and creates nothing', async () => {
    const isolation = isolate('dlq-empty');
    const kafka = kafkaFor(isolation);
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const args of [
        ['dlq', 'inspect'],
        ['dlq', 'replay', '--reason', 'DOCUMENT_REJECTED', '--dry-run'],
        ['dlq', 'replay', '--reason', 'DOCUMENT_REJECTED'],
      ]) {
        const result = await runPanacea(args, isolation.env);
        expect(result.exitCode, result.stderr).toBe(0);
        expect(result.stdout).toContain(
          `no dead-letter topics under prefix ${isolation.topicPrefix}`,
        );
      }
      const shown = await runPanacea(
        ['dlq', 'inspect', '--show', 'agent.events.enriched.dlq:0:0'],
        isolation.env,
      );
      expect(shown.exitCode).toBe(2);
      expect(shown.stderr).toContain('no topic');

      const created = (await admin.listTopics()).filter((topic) =>
        topic.startsWith(isolation.topicPrefix),
      );
      expect(created).toEqual([]);
    } finally {
      await admin.disconnect();
    }
  });

  it('re-delivers a notification whose retries ran out once its destination answers, routes one to a destination added since, and refuses to re-drive into the audit archive', async () => {
    const isolation = isolate('dlq-webhooks');
    const naming = createNaming(loadConfig(isolation.env));
    let answer = 503;
    const accepted: string[] = [];
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        if (answer < 300) accepted.push(String(request.headers['idempotency-key']));
        response.writeHead(answer).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const destinationsFile = path.join(isolation.dataDir, 'destinations.yaml');
    const destination = (name: string): string[] => [
      `  - name: ${name}`,
      '    type: webhook',
      `    url: "http://127.0.0.1:${address.port}/${name}"`,
      '    secret: "env:DLQ_TEST_WEBHOOK_SECRET"',
      '    retry: { initialDelay: 20ms, maxDelay: 50ms, maxAttempts: 2 }',
    ];
    const writeDestinations = (names: string[]): void =>
      writeFileSync(
        destinationsFile,
        ['allowHosts: [127.0.0.1]', 'destinations:', ...names.flatMap(destination), ''].join('\n'),
      );
    writeDestinations(['hook']);
    const env = {
      ...isolation.env,
      PANACEA_ALERT_DESTINATIONS: destinationsFile,
      DLQ_TEST_WEBHOOK_SECRET: randomBytes(16).toString('hex'),
    };
    const firedAt = new Date(Date.now() - 600_000).toISOString();
    const notification = {
      notificationId: `fp-1:${firedAt}:firing:1`,
      fingerprint: 'fp-1',
      rule: 'rule-1',
      state: 'firing',
      severity: 'critical',
      labels: { alertname: 'rule-1', severity: 'critical' },
      annotations: { summary: 'summary of rule-1' },
      activeSince: firedAt,
      firedAt,
      notification: 1,
      silencedBy: [],
      notify: [],
      emittedAt: new Date().toISOString(),
    };
    // Routed to a destination nobody has configured yet: refused for every destination.
    const routedToLater = {
      ...notification,
      notificationId: `fp-2:${firedAt}:firing:1`,
      fingerprint: 'fp-2',
      notify: ['later'],
    };

    try {
      const kafka = kafkaFor(isolation);
      const admin = kafka.admin();
      await admin.connect();
      await ensureTopics(admin, naming);
      await admin.disconnect();
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: naming.alertsTopic(),
        acks: -1,
        messages: [
          { key: 'fp-1', value: JSON.stringify(notification) },
          { key: 'fp-2', value: JSON.stringify(routedToLater) },
        ],
      });
      // Not Avro: the enrichment and the audit archive both dead-letter it.
      await producer.send({
        topic: naming.rawTopic('audit'),
        acks: -1,
        messages: [{ key: 'garbage', value: 'not an audit event' }],
      });
      await producer.disconnect();

      const run = await runPanacea(['run', '--until-idle'], env);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toContain(
        'sink-webhooks.hook: 2 records, 2 dead-lettered (DELIVERY_FAILED 1, DELIVERY_REFUSED 1)',
      );
      expect(accepted).toEqual([]);

      answer = 200;
      const first = await runPanacea(['dlq', 'replay', '--reason', 'DELIVERY_FAILED'], env);
      expect(first.stdout).toContain('re-driven ok: 1');
      expect(first.exitCode).toBe(0);
      expect(accepted).toEqual([notification.notificationId]);

      // Forced once more: re-driven through the stage, whose delivery ledger sends nothing twice.
      const forced = await runPanacea(
        ['dlq', 'replay', '--reason', 'DELIVERY_FAILED', '--again'],
        env,
      );
      expect(forced.stdout).toContain('re-driven ok: 1');
      expect(forced.stdout).toContain('skipped as already re-driven: 0');
      expect(accepted).toEqual([notification.notificationId]);

      // The destination is configured now: re-driven through every destination, as the sink routes.
      writeDestinations(['hook', 'later']);
      const routed = await runPanacea(['dlq', 'replay', '--reason', 'DELIVERY_REFUSED'], env);
      expect(routed.stdout).toContain('matched: 1');
      expect(routed.stdout).toContain('re-driven ok: 1');
      expect(routed.exitCode).toBe(0);
      expect(accepted).toEqual([notification.notificationId, routedToLater.notificationId]);

      const refused = await runPanacea(['dlq', 'replay', '--reason', 'DECODE_FAILED'], env);
      expect(refused.stdout).toContain('matched: 2');
      expect(refused.stdout).toContain('failed again: 1 (DECODE_FAILED 1)');
      expect(refused.stdout).toContain(
        'not re-driven (sink-audit-archive): 1: the audit archive is append-only',
      );
      expect(refused.exitCode).toBe(1);
      const usage = await runPanacea(
        ['dlq', 'replay', '--reason', 'DECODE_FAILED', '--stage', 'sink-audit-archive'],
        env,
      );
      expect(usage.exitCode).toBe(2);
      expect(usage.stderr).toContain('--stage sink-audit-archive: not re-driven');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
