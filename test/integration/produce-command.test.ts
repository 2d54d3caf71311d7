/**
 * `panacea produce` at its edges: standard input, a file that cannot be read, and a Kafka that
 * cannot be reached.
 */
import { describe, expect, it } from 'vitest';

import { freePort } from '../../infra/stack/jvm-servers.js';
import { isolate, runPanacea, searchAll } from './harness.js';

const EVENT = {
  kind: 'heartbeat',
  eventId: 'stdin-1',
  timestamp: '2026-11-30T12:00:00Z',
  agent: { id: 'agent-stdin' },
  heartbeat: { status: 'idle' },
};

describe('panacea produce', () => {
  it('reads events from standard input with --file -', async () => {
    const isolation = isolate('stdin');

    const produced = await runPanacea(
      ['produce', '--file', '-'],
      isolation.env,
      `${JSON.stringify(EVENT)}\r\n\r\n`,
    );
    expect(produced.stdout).toContain('published 1, rejected 0');
    expect(produced.exitCode).toBe(0);
    expect((await runPanacea(['run', '--until-idle'], isolation.env)).exitCode).toBe(0);

    expect((await searchAll(isolation)).map((hit) => hit._id)).toEqual(['stdin-1']);
  });

  it('refuses a file it cannot read before connecting, with exit code 2', async () => {
    const isolation = isolate('nofile');

    const result = await runPanacea(['produce', '--file', '/nonexistent/events.ndjson'], {
      ...isolation.env,
      KAFKA_BROKERS: `127.0.0.1:${await freePort()}`,
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(
      'FILE_UNREADABLE: cannot read /nonexistent/events.ndjson: no such file',
    );
    expect(result.stdout).not.toContain('published');
  });

  it('says Kafka cannot be reached and exits 2 instead of hanging', async () => {
    const isolation = isolate('nokafka');
    const brokers = `127.0.0.1:${await freePort()}`;
    const startedAtMs = Date.now();

    const result = await runPanacea(
      ['produce', '--file', '-'],
      { ...isolation.env, KAFKA_BROKERS: brokers },
      JSON.stringify(EVENT),
    );
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`KAFKA_UNAVAILABLE: cannot reach Kafka at ${brokers}`);
    expect(Date.now() - startedAtMs).toBeLessThan(60_000);
  });

  it('publishes many large events of one agent, which together exceed one Kafka request', async () => {
    const isolation = isolate('large');
    // Each just under the 256 KiB event limit; eight of them on one partition are ~2 MB.
    const lines = Array.from({ length: 8 }, (_, index) =>
      JSON.stringify({
        kind: 'error',
        eventId: `large-${index}`,
        timestamp: '2026-11-30T12:00:00Z',
        agent: { id: 'agent-large' },
        error: {
          type: 'Big',
          message: 'm'.repeat(60_000),
          stack: 's'.repeat(190_000),
          severity: 'error',
        },
      }),
    );

    const produced = await runPanacea(['produce', '--file', '-'], isolation.env, lines.join('\n'));
    expect(produced.stdout).toContain('published 8, rejected 0');
    expect((await runPanacea(['run', '--until-idle'], isolation.env)).exitCode).toBe(0);

    expect((await searchAll(isolation)).map((hit) => hit._id).sort()).toEqual(
      lines.map((_, index) => `large-${index}`).sort(),
    );
  });

  it('refuses a bad LOG_LEVEL as a configuration error', async () => {
    const isolation = isolate('loglevel');

    const result = await runPanacea(
      ['produce', '--file', '-'],
      { ...isolation.env, LOG_LEVEL: 'loud' },
      '',
    );
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('CONFIG_INVALID: LOG_LEVEL: expected one of');
  });
});
