/**
 * The webhook sink's `alertmanager` destination against a real Prometheus Alertmanager, fetched
 * from the Debian mirror and unpacked without root by infra/stack/alertmanager.ts, on a free port
 * of 127.0.0.1 with clustering off, stopped at the end.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import type { Admin, Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../core/config.js';
import { totalLag } from '../../core/consumer-progress.js';
import { connectKafkaAdmin, createDurableProducer, createKafka } from '../../core/kafka.js';
import { componentLogger } from '../../core/logger.js';
import { createNaming, type Naming } from '../../core/naming.js';
import type { RunningStage } from '../../core/stage-runner.js';
import {
  resolveAlertmanagerBinary,
  startAlertmanager,
  type RunningAlertmanager,
} from '../../infra/stack/alertmanager.js';
import { freePort } from '../../infra/stack/jvm-servers.js';
import { defaultCacheDir } from '../../infra/stack/stack.js';
import type { AlertNotification } from '../../schemas/alert.js';
import { loadDestinationsFile } from '../../sinks/webhooks/destinations-file.js';
import { startWebhookSink } from '../../sinks/webhooks/webhook-stage.js';
import { isolate, type Isolation } from './harness.js';

const FIRED_AT = new Date(Date.now() - 600_000).toISOString();

function notification(fingerprint: string, state: 'firing' | 'resolved'): AlertNotification {
  const rule = `rule-${fingerprint}`;
  return {
    notificationId: `${fingerprint}:${FIRED_AT}:${state}:1`,
    fingerprint,
    rule,
    state,
    severity: 'warning',
    labels: { alertname: rule, severity: 'warning', workflow: 'triage' },
    annotations: { summary: `summary of ${rule}` },
    activeSince: FIRED_AT,
    firedAt: FIRED_AT,
    ...(state === 'resolved' ? { resolvedAt: new Date(Date.now() - 1_000).toISOString() } : {}),
    notification: 1,
    silencedBy: [],
    notify: [],
    emittedAt: new Date().toISOString(),
  };
}

interface ListedAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  status: { state: string };
}

describe('webhook sink to a real Alertmanager', () => {
  let isolation: Isolation;
  let naming: Naming;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  let alertmanager: RunningAlertmanager | undefined;
  let stages: RunningStage[] = [];

  beforeAll(async () => {
    isolation = isolate('webhooks_am');
    const config = loadConfig(isolation.env);
    naming = createNaming(config);
    kafka = createKafka(config, 'panacea-webhooks-am-test');
    admin = await connectKafkaAdmin(kafka, config.kafkaBrokers);
    producer = createDurableProducer(kafka);
    await producer.connect();
    const binary = await resolveAlertmanagerBinary(defaultCacheDir(), componentLogger('test'));
    alertmanager = await startAlertmanager({
      binary,
      workDirectory: path.join(isolation.dataDir, 'alertmanager'),
      port: await freePort(),
    });
  });

  afterAll(async () => {
    await Promise.allSettled(stages.map((stage) => stage.stop()));
    await producer?.disconnect();
    await admin?.disconnect();
    await alertmanager?.stop();
  });

  it('lists the pushed alerts with their labels, and a resolved one no longer as active', async () => {
    if (alertmanager === undefined) throw new Error('Alertmanager did not start');
    const file = path.join(isolation.dataDir, 'destinations.yaml');
    writeFileSync(
      file,
      `destinations:\n  - { name: am, type: alertmanager, url: "${alertmanager.url}", generatorUrl: "http://127.0.0.1/a/{fingerprint}" }\n`,
    );
    stages = await startWebhookSink({
      kafka,
      admin,
      brokers: isolation.kafkaBrokers.split(','),
      naming,
      groupPrefix: isolation.topicPrefix,
      destinations: loadDestinationsFile(file).destinations,
      deadLetterProducer: producer,
    });
    const published = [
      notification('alpha', 'firing'),
      notification('beta', 'firing'),
      notification('alpha', 'resolved'),
    ];
    await producer.send({
      topic: naming.alertsTopic(),
      acks: -1,
      messages: published.map((entry) => ({
        key: entry.fingerprint,
        value: JSON.stringify(entry),
      })),
    });

    const groups = stages.map((stage) => ({ groupId: stage.groupId, topics: stage.inputTopics }));
    const deadline = Date.now() + 60_000;
    while ((await totalLag(admin, groups)) > 0n) {
      if (Date.now() > deadline) throw new Error('the alertmanager stage did not catch up');
      await sleep(300);
    }
    expect(stages[0]?.stats().tallies.delivered).toEqual({ firing: 2, resolved: 1 });

    const response = await fetch(`${alertmanager.url}/api/v2/alerts`);
    expect(response.status).toBe(200);
    const alerts = (await response.json()) as ListedAlert[];
    const beta = alerts.find((alert) => alert.labels.alertname === 'rule-beta');
    expect(beta?.labels).toEqual({
      alertname: 'rule-beta',
      severity: 'warning',
      workflow: 'triage',
    });
    expect(beta?.annotations.summary).toBe('summary of rule-beta');
    expect(beta?.startsAt).toBe(FIRED_AT);
    expect(beta?.generatorURL).toBe('http://127.0.0.1/a/beta');
    expect(beta?.status.state).toBe('active');
    const alpha = alerts.find((alert) => alert.labels.alertname === 'rule-alpha');
    expect(alpha === undefined || Date.parse(alpha.endsAt) <= Date.now()).toBe(true);
  });
});
