/**
 * Kafka over TLS with SASL, configured through a configuration file: a Kafka of this test's own
 * with a SASL_SSL listener (a certificate made here with openssl, the PLAIN mechanism), which
 * `panacea produce` reaches with the file's CA and user and the password from the environment.
 * A wrong password fails with a message that says so. SCRAM needs users created through the
 * broker's admin tools and is not tried here.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../core/config.js';
import { createKafka } from '../../core/kafka.js';
import { componentLogger } from '../../core/logger.js';
import { freePort } from '../../infra/stack/jvm-servers.js';
import { defaultCacheDir, stackDown, stackUp } from '../../infra/stack/stack.js';
import { isolate, runPanacea } from './harness.js';

const EVENT_COUNT = 50;

const stackDir = mkdtempSync(path.join(os.tmpdir(), 'panacea-test-kafka-security-'));
chmodSync(stackDir, 0o755);
afterAll(async () => {
  await stackDown(stackDir);
  rmSync(stackDir, { recursive: true, force: true });
});

/** A self-signed certificate for 127.0.0.1, and the key and chain in one PEM file for Kafka. */
function makeCertificate(directory: string): { certificateFile: string; keyStoreFile: string } {
  const keyFile = path.join(directory, 'broker.key');
  const certificateFile = path.join(directory, 'broker.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certificateFile,
    ],
    { stdio: 'ignore' },
  );
  const keyStoreFile = path.join(directory, 'broker-keystore.pem');
  writeFileSync(
    keyStoreFile,
    readFileSync(keyFile, 'utf8') + readFileSync(certificateFile, 'utf8'),
  );
  return { certificateFile, keyStoreFile };
}

function heartbeatLine(index: number): string {
  return JSON.stringify({
    kind: 'heartbeat',
    eventId: `secure-${index}`,
    timestamp: Date.UTC(2026, 11, 1) + index,
    agent: { id: 'agent-secure' },
    heartbeat: { status: 'active' },
  });
}

describe('kafka over TLS and SASL', () => {
  it('produces through a SASL_SSL listener with the settings of a configuration file', async () => {
    const isolation = isolate('secure');
    const { certificateFile, keyStoreFile } = makeCertificate(stackDir);
    const securePort = await freePort();
    await stackUp(
      {
        dataDir: stackDir,
        cacheDir: defaultCacheDir(),
        kafkaPort: await freePort(),
        elasticsearchPort: await freePort(),
        externalElasticsearchUrl: isolation.elasticsearchUrl,
        source: 'maven',
        kafkaHeapMb: 384,
        elasticsearchHeapMb: 512,
        startTimeoutMs: 240_000,
        kafkaSecureListener: {
          port: securePort,
          keyAndCertificatePemFile: keyStoreFile,
          plainUsers: { panacea: 'correct-horse' },
        },
      },
      componentLogger('test-secure'),
    );

    const configFile = path.join(stackDir, 'panacea.yaml');
    writeFileSync(
      configFile,
      [
        'kafka:',
        `  brokers: [127.0.0.1:${securePort}]`,
        '  ssl:',
        `    caFile: ${certificateFile}`,
        '  sasl:',
        '    mechanism: plain',
        '    username: panacea',
      ].join('\n'),
    );
    // The shared brokers of the isolation would win over the file; this test's Kafka is the file's.
    const env: NodeJS.ProcessEnv = { ...isolation.env, KAFKA_BROKERS: undefined };
    const lines = Array.from({ length: EVENT_COUNT }, (_, index) => heartbeatLine(index)).join(
      '\n',
    );

    const produced = await runPanacea(
      ['--config', configFile, 'produce', '--file', '-'],
      {
        ...env,
        KAFKA_SASL_PASSWORD: 'correct-horse',
      },
      lines,
    );
    expect(produced.stderr).toBe('');
    expect(produced.exitCode).toBe(0);

    // Read back through the same settings: every event is on the raw topic of the secure broker.
    const config = loadConfig({
      ...env,
      PANACEA_CONFIG: configFile,
      KAFKA_SASL_PASSWORD: 'correct-horse',
    });
    expect(config.kafkaTls?.ca).toContain('BEGIN CERTIFICATE');
    const admin = createKafka(config, 'panacea-test-secure').admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(`${isolation.topicPrefix}agent.heartbeat`);
      const total = offsets.reduce((sum, partition) => sum + Number(partition.high), 0);
      expect(total).toBe(EVENT_COUNT);
    } finally {
      await admin.disconnect();
    }

    const refused = await runPanacea(
      ['--config', configFile, 'produce', '--file', '-'],
      {
        ...env,
        KAFKA_SASL_PASSWORD: 'wrong',
      },
      heartbeatLine(EVENT_COUNT),
    );
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/SASL|[Aa]uthentication/);
  }, 300_000);
});
