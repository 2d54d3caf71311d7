/**
 * `panacea stack` against the servers of the test run: status, the environment short-cut, `down`
 * that touches only what it started, and the message when no way to start a server exists.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { freePort } from '../../infra/stack/jvm-servers.js';
import { portInUse } from '../../infra/stack/probes.js';
import { isolate, runPanacea } from './harness.js';

describe('panacea stack', () => {
  it('uses the servers named in the environment and starts nothing', async () => {
    const isolation = isolate('stack');

    const up = await runPanacea(['stack', 'up'], isolation.env);
    expect(up.exitCode).toBe(0);
    expect(up.stdout).toContain(`KAFKA_BROKERS=${isolation.kafkaBrokers}`);
    expect(up.stdout).toContain(`ELASTICSEARCH_URL=${isolation.elasticsearchUrl}`);
    expect(up.stderr).toContain('already available (environment)');

    const status = await runPanacea(['stack', 'status'], isolation.env);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(/^kafka\tup\t/m);
    expect(status.stdout).toMatch(/^elasticsearch\tup\t/m);

    const down = await runPanacea(['stack', 'down'], isolation.env);
    expect(down.exitCode).toBe(0);
    expect(down.stdout).toContain('nothing to stop');
    const stillUp = await runPanacea(['stack', 'status'], isolation.env);
    expect(stillUp.exitCode).toBe(0);
  });

  it('names what is missing when it can start nothing', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'panacea-test-nostack-'));
    const env: NodeJS.ProcessEnv = {
      PATH: '/nonexistent',
      HOME: dataDir,
      PANACEA_DATA_DIR: dataDir,
      PANACEA_KAFKA_PORT: String(await freePort()),
      PANACEA_ELASTICSEARCH_PORT: String(await freePort()),
      PANACEA_STACK_SOURCE: 'maven',
      JAVA_HOME: '/nonexistent-java',
    };

    const up = await runPanacea(['stack', 'up'], env);
    expect(up.exitCode).toBe(2);
    expect(up.stderr).toContain('STACK_UNAVAILABLE');
    expect(up.stderr).toContain('no `mvn` on PATH');
    expect(up.stderr).toContain('KAFKA_BROKERS and ELASTICSEARCH_URL');
  });

  it('reports usage errors with exit code 2', async () => {
    const isolation = isolate('usage');
    const result = await runPanacea(['stack', 'sideways'], isolation.env);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('expected: panacea stack up|down|status');
  });
});

describe('panacea stack on this machine', () => {
  it('starts a Kafka, reports it on a second up, and stops only it on down', async () => {
    const isolation = isolate('ownstack');
    const kafkaPort = await freePort();
    // Elasticsearch is named, so only Kafka is started: the test stays within a few seconds.
    const env: NodeJS.ProcessEnv = {
      ...isolation.env,
      KAFKA_BROKERS: '',
      PANACEA_KAFKA_PORT: String(kafkaPort),
      PANACEA_STACK_SOURCE: 'maven',
    };

    const up = await runPanacea(['stack', 'up'], env);
    expect(up.stderr).toContain(`Kafka at 127.0.0.1:${kafkaPort}: started (maven`);
    expect(up.stdout).toContain(`KAFKA_BROKERS=127.0.0.1:${kafkaPort}`);
    expect(up.exitCode).toBe(0);
    const state = JSON.parse(readFileSync(path.join(isolation.dataDir, 'stack.json'), 'utf8')) as {
      kafka: { pid: number };
    };

    const again = await runPanacea(['stack', 'up'], env);
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toContain('already running (maven');
    expect(again.stderr).toContain('started nothing');

    const down = await runPanacea(['stack', 'down'], env);
    expect(down.exitCode).toBe(0);
    expect(down.stdout).toContain(`stopped kafka (pid ${state.kafka.pid}: stopped)`);
    expect(down.stdout).not.toContain('elasticsearch');
    expect(await portInUse('127.0.0.1', kafkaPort)).toBe(false);
    expect((await runPanacea(['stack', 'status'], isolation.env)).stdout).toMatch(
      /^elasticsearch\tup\t/m,
    );
  });
});
