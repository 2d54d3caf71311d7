/**
 * The HTTP schema registry client, and the pipeline with `SCHEMA_REGISTRY_URL` set, against a real
 * Confluent-compatible registry: Apicurio Registry 2.4.2.Final, built from Maven Central once per
 * cache and started for this file on a free port with in-memory storage; and the launcher's
 * refusals when something it needs is missing.
 *
 * The tests share that one server and its subjects, so they run in order: the last one changes
 * the error subject's mode and versions, as a later build of the pipeline would.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { loadConfig } from '../../core/config.js';
import { componentLogger } from '../../core/logger.js';
import { createNaming, EVENT_KINDS } from '../../core/naming.js';
import {
  ensureApicurioBuilt,
  launchApicurio,
  stopApicurio,
  type RunningApicurio,
} from '../../infra/schema-registry/apicurio.js';
import { freePort } from '../../infra/stack/jvm-servers.js';
import { defaultCacheDir } from '../../infra/stack/stack.js';
import { buildSchemas, newestOf } from '../../schemas/catalog.js';
import { openHttpRegistry } from '../../schemas/registry/http-registry.js';
import { schemaText } from '../../schemas/registry/schema-registry.js';
import { rejectedPanaceaError } from '../unit/fixtures/panacea-error.js';
import {
  field,
  isolate,
  kafkaFor,
  openCodecFor,
  readTopic,
  runPanacea,
  searchAll,
  type Isolation,
} from './harness.js';
import { expectNewerRecordsResolvedOrDeadLettered } from './newer-records.js';

/** A first build downloads about 220 MB from Maven Central and runs Quarkus's build. */
const FIRST_BUILD_TIMEOUT_MS = 10 * 60_000;
const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

const serverDirectory = mkdtempSync(path.join(os.tmpdir(), 'panacea-test-apicurio-'));
let apicurio: RunningApicurio | undefined;

beforeAll(async () => {
  const logger = componentLogger('test-apicurio');
  const build = await ensureApicurioBuilt(defaultCacheDir(), logger);
  apicurio = await launchApicurio(
    { build, port: await freePort(), directory: serverDirectory },
    logger,
  );
}, FIRST_BUILD_TIMEOUT_MS);

afterAll(async () => {
  if (apicurio !== undefined) await stopApicurio(apicurio);
  rmSync(serverDirectory, { recursive: true, force: true });
});

function running(): RunningApicurio {
  if (apicurio === undefined) throw new Error('Apicurio did not start; see beforeAll');
  return apicurio;
}

function registryUrl(): string {
  return running().schemaRegistryUrl;
}

function isolateOnApicurio(label: string): Isolation {
  return isolate(label, { schemaRegistryUrl: registryUrl() });
}

/** One request to the server itself, bypassing the client under test. */
async function server(
  method: string,
  urlPath: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const response = await fetch(registryUrl() + urlPath, {
    method,
    headers: { 'content-type': CONTENT_TYPE },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, ...((await response.json()) as object) };
}

function racerSchema(fields: object[]): object {
  return { type: 'record', name: 'Racer', namespace: 'test.http', fields };
}

function writeSchema(isolation: Isolation, name: string, schema: object): string {
  const file = path.join(isolation.dataDir, name);
  writeFileSync(file, JSON.stringify(schema));
  return file;
}

/** `panacea schemas list` as `{ subject: { mode, ids by version } }`. */
async function listed(
  isolation: Isolation,
): Promise<Record<string, { mode: string; ids: number[] }>> {
  const result = await runPanacea(['schemas', 'list'], isolation.env);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  expect(result.stdout).toContain(`registry: Confluent-compatible at ${registryUrl()}`);
  const subjects: Record<string, { mode: string; ids: number[] }> = {};
  let current: { mode: string; ids: number[] } | undefined;
  for (const line of result.stdout.split('\n')) {
    const subject = /^(\S+) \((\w+)\)$/.exec(line);
    const version = /^ {2}version \d+: id (\d+)$/.exec(line);
    if (subject !== null) {
      current = { mode: subject[2] as string, ids: [] };
      subjects[subject[1] as string] = current;
    } else if (version !== null) {
      current?.ids.push(Number(version[1]));
    }
  }
  return subjects;
}

describe('HTTP schema registry on Apicurio Registry 2.4.2.Final', () => {
  it('gives the shipped schemas the same ids on every open, and another process lists the same ids', async () => {
    const isolation = isolateOnApicurio('http-ids');

    const first = await openCodecFor(isolation);
    await first.registry.close();
    const second = await openCodecFor(isolation);
    await second.registry.close();
    expect(second.codec.writerIds).toEqual(first.codec.writerIds);

    // A separate process, a separate client: the same ids, each version registered once, and
    // every subject BACKWARD although Apicurio's own default is NONE.
    const subjects = await listed(isolation);
    expect(await listed(isolation)).toEqual(subjects);
    for (const kind of EVENT_KINDS) {
      const shipped = buildSchemas().filter((entry) => entry.kind === kind);
      const entry = subjects[newestOf(shipped, kind).subject];
      expect(entry?.mode).toBe('BACKWARD');
      expect(entry?.ids).toHaveLength(shipped.length);
      expect(entry?.ids.at(-1)).toBe(first.codec.writerIds[kind]);
    }
    expect(new Set(Object.values(first.codec.writerIds)).size).toBe(EVENT_KINDS.length);
  });

  it('makes a new subject BACKWARD, refuses an incompatible version naming the field, and takes it under NONE', async () => {
    const isolation = isolateOnApicurio('http-mode');
    const v1 = writeSchema(
      isolation,
      'racer.v1.avsc',
      racerSchema([{ name: 'id', type: 'string' }]),
    );
    const incompatibleSchema = racerSchema([{ name: 'id', type: 'long' }]);
    const incompatible = writeSchema(isolation, 'racer.v2.avsc', incompatibleSchema);

    const registered = await runPanacea(['schemas', 'register', v1], isolation.env);
    expect(registered.stderr).toBe('');
    expect(registered.stdout.trim()).toMatch(/^test\.http\.Racer version 1: id \d+$/);
    // The server itself holds the mode now, and enforces it on any client.
    expect(await server('GET', '/config/test.http.Racer')).toMatchObject({
      status: 200,
      compatibilityLevel: 'BACKWARD',
    });
    expect(
      await server('POST', '/compatibility/subjects/test.http.Racer/versions/latest', {
        schema: schemaText(incompatibleSchema as avro.Schema),
      }),
    ).toMatchObject({ status: 200, is_compatible: false });

    const refused = await runPanacea(['schemas', 'register', incompatible], isolation.env);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('SCHEMA_INCOMPATIBLE');
    expect(refused.stderr).toContain('Racer.id: the type changed from string to long');

    const mode = await runPanacea(['schemas', 'mode', 'test.http.Racer', 'NONE'], isolation.env);
    expect(mode.stdout.trim()).toBe('test.http.Racer: NONE');
    const accepted = await runPanacea(['schemas', 'register', incompatible], isolation.env);
    expect(accepted.stderr).toBe('');
    expect(accepted.exitCode).toBe(0);
    expect(accepted.stdout).toContain('test.http.Racer version 2');
  });

  it('keeps a mode set before the subject existed', async () => {
    const registry = openHttpRegistry({ url: registryUrl() });
    const subject = 'test.http.Early';
    expect(await registry.compatibility(subject)).toBe('BACKWARD');

    await registry.setCompatibility(subject, 'FORWARD');
    await registry.register(subject, {
      type: 'record',
      name: 'Early',
      namespace: 'test.http',
      fields: [{ name: 'id', type: 'string' }],
    });
    expect(await registry.compatibility(subject)).toBe('FORWARD');
    expect(await server('GET', `/config/${subject}`)).toMatchObject({
      compatibilityLevel: 'FORWARD',
    });
  });

  it('answers undefined for an id nobody registered, and reports refusals with the HTTP status', async () => {
    const registry = openHttpRegistry({ url: registryUrl() });
    const known = await registry.register('test.http.Known', {
      type: 'record',
      name: 'Known',
      namespace: 'test.http',
      fields: [{ name: 'id', type: 'string' }],
    });

    expect(await registry.schemaById(987_654)).toBeUndefined();
    // A fresh client, so the answer comes from the server and not from the cache.
    const reader = openHttpRegistry({ url: registryUrl() });
    expect(await reader.schemaById(known.id)).toEqual(known);

    const invalid = await rejectedPanaceaError(
      registry.register('test.http.Broken', {
        type: 'record',
        name: 'Broken',
        fields: [{ name: 'x', type: 'nosuchtype' }],
      } as unknown as avro.Schema),
    );
    expect(invalid.code).toBe('SCHEMA_INVALID');
    expect(invalid.context).toMatchObject({ subject: 'test.http.Broken', status: 422 });

    // The server's root instead of its Confluent-compatible API: a configuration mistake.
    const misconfigured = openHttpRegistry({ url: running().url });
    const unreachable = await rejectedPanaceaError(misconfigured.subjects());
    expect(unreachable.code).toBe('SCHEMA_REGISTRY_UNAVAILABLE');
    expect(unreachable.context.status).toBe(404);
    expect(unreachable.message).toContain('HTTP 404');
  });

  it("falls back on the server's 409 when another client registered in between the check and the write", async () => {
    const subject = 'test.http.Raced';
    const schemaOf = (extra: object[]): avro.Schema =>
      ({
        type: 'record',
        name: 'Raced',
        namespace: 'test.http',
        fields: [{ name: 'id', type: 'string' }, ...extra],
      }) as avro.Schema;
    const registry = openHttpRegistry({ url: registryUrl() });
    await registry.register(subject, schemaOf([]));
    // Compatible with version 1 but not with what the other client writes: n as int cannot
    // read n written as long.
    const candidate = schemaOf([{ name: 'n', type: 'int', default: 0 }]);
    const concurrent = schemaOf([{ name: 'n', type: 'long', default: 0 }]);

    // The other client's registration lands just before this client's write reaches the server.
    const realFetch = globalThis.fetch;
    const versionsUrl = `${registryUrl()}/subjects/${subject}/versions`;
    let raced = false;
    const spy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      if (!raced && String(input) === versionsUrl && init?.method === 'POST') {
        raced = true;
        await realFetch(versionsUrl, {
          method: 'POST',
          headers: { 'content-type': CONTENT_TYPE },
          body: JSON.stringify({ schema: schemaText(concurrent) }),
        });
      }
      return realFetch(input, init);
    });
    try {
      const refused = await rejectedPanaceaError(registry.register(subject, candidate));
      expect(raced).toBe(true);
      expect(refused.code).toBe('SCHEMA_INCOMPATIBLE');
      expect(refused.context).toMatchObject({ subject, status: 409 });
      expect(refused.message).toContain('answered 409');
      expect(refused.message).toContain('not compatible with writer type: LONG');
    } finally {
      spy.mockRestore();
    }
  });

  it('runs the pipeline end to end with the ids of the registry, and no embedded registry topic', async () => {
    const isolation = isolateOnApicurio('http-pipeline');
    const events = [
      {
        kind: 'activity',
        eventId: 'http-activity-1',
        timestamp: '2026-12-04T18:00:00.001Z',
        agent: { id: 'agent-http' },
        activity: { action: 'tool.call', status: 'succeeded', durationMs: 12.5 },
      },
      {
        kind: 'error',
        eventId: 'http-error-1',
        timestamp: '2026-12-04T18:00:00.002Z',
        agent: { id: 'agent-http' },
        error: { type: 'Timeout', message: 'slow tool', severity: 'error', attributes: { n: 1 } },
      },
      {
        kind: 'audit',
        eventId: 'http-audit-1',
        timestamp: '2026-12-04T18:00:00.003Z',
        agent: { id: 'agent-http' },
        audit: {
          actor: { type: 'agent', id: 'agent-http' },
          action: 'secret.read',
          resource: { type: 'secret', id: 's-1' },
          outcome: 'denied',
        },
      },
      {
        kind: 'heartbeat',
        eventId: 'http-heartbeat-1',
        timestamp: '2026-12-04T18:00:00.004Z',
        agent: { id: 'agent-http' },
        heartbeat: { status: 'busy', queueDepth: 3 },
      },
    ];

    const produced = await runPanacea(
      ['produce', '--file', '-'],
      isolation.env,
      events.map((event) => JSON.stringify(event)).join('\n'),
    );
    expect(produced.stderr).toBe('');
    expect(produced.stdout).toContain('published 4, rejected 0');
    const run = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('enrich: 4 records, 0 dead-lettered');

    const hits = await searchAll(isolation);
    expect(hits.map((hit) => hit._id).sort()).toEqual(events.map((event) => event.eventId).sort());
    const error = hits.find((hit) => hit._id === 'http-error-1');
    expect(field(error!, 'panacea.error.attributes')).toEqual({ n: 1 });

    // Each raw record carries the id Apicurio gave its kind's newest schema.
    const subjects = await listed(isolation);
    const naming = createNaming(loadConfig(isolation.env));
    for (const kind of EVENT_KINDS) {
      const [record] = await readTopic(isolation, naming.rawTopic(kind), 1);
      const subject = newestOf(buildSchemas(), kind).subject;
      expect(record?.value?.readUInt32BE(1)).toBe(subjects[subject]?.ids.at(-1));
    }
    const admin = kafkaFor(isolation).admin();
    await admin.connect();
    const topics = await admin.listTopics();
    await admin.disconnect();
    expect(topics).toContain(naming.rawTopic('activity'));
    expect(topics).not.toContain(naming.schemaRegistryTopic());
  });

  it('resolves a newer compatible record, dead-letters an unresolvable one with the reason', async () => {
    await expectNewerRecordsResolvedOrDeadLettered(isolateOnApicurio('http-evolve'), 'http-later');
  });
});

describe('Apicurio launcher', () => {
  it('names Maven as what is missing when it must build and no mvn is on PATH', async () => {
    const emptyCache = mkdtempSync(path.join(os.tmpdir(), 'panacea-test-apicurio-cache-'));
    const pathBefore = process.env.PATH;
    process.env.PATH = emptyCache;
    try {
      const refused = await rejectedPanaceaError(
        ensureApicurioBuilt(emptyCache, componentLogger('test-apicurio')),
      );
      expect(refused.code).toBe('STACK_UNAVAILABLE');
      expect(refused.message).toContain('no `mvn` on PATH');
    } finally {
      process.env.PATH = pathBefore;
      rmSync(emptyCache, { recursive: true, force: true });
    }
  });

  it('refuses a port that is taken instead of starting a second server', async () => {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'panacea-test-apicurio-port-'));
    try {
      const logger = componentLogger('test-apicurio');
      const build = await ensureApicurioBuilt(defaultCacheDir(), logger);
      const port = Number(new URL(running().url).port);
      const refused = await rejectedPanaceaError(
        launchApicurio({ build, port, directory }, logger),
      );
      expect(refused.code).toBe('STACK_UNAVAILABLE');
      expect(refused.message).toContain(`port ${port} on 127.0.0.1 is taken`);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
