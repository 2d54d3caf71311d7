/**
 * The webhook sink on the real Kafka, with real receivers: node:http servers on 127.0.0.1 that
 * this file starts (one steady, one down for a while, one chat server, one taking Alertmanager's
 * v2 alerts API, none at all on a dead port). Notifications are published onto the alerts topic
 * by the test itself. The real Alertmanager is in webhooks-alertmanager.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import type { Admin, Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../core/config.js';
import { DEAD_LETTER_HEADERS } from '../../core/dead-letter.js';
import { totalLag } from '../../core/consumer-progress.js';
import { connectKafkaAdmin, createDurableProducer, createKafka } from '../../core/kafka.js';
import { createNaming, type Naming } from '../../core/naming.js';
import type { RunningStage } from '../../core/stage-runner.js';
import { freePort } from '../../infra/stack/jvm-servers.js';
import type { AlertNotification } from '../../schemas/alert.js';
import { maxAttemptsWithin } from '../../sinks/webhooks/backoff.js';
import type { AlertmanagerAlert } from '../../sinks/webhooks/payloads.js';
import { loadDestinationsFile, type Destination } from '../../sinks/webhooks/destinations-file.js';
import { verifySignature } from '../../sinks/webhooks/signature.js';
import {
  DESTINATION_HEADER,
  startWebhookSink,
  webhookStageName,
} from '../../sinks/webhooks/webhook-stage.js';
import { isolate, readTopic, runPanacea, spawnPanacea, type Isolation } from './harness.js';

const SECRET = `secret-${randomBytes(12).toString('hex')}`;
// Ten minutes ago: Alertmanager refuses an alert that ends before it starts.
const FIRED_AT = new Date(Date.now() - 600_000).toISOString();
const FLAKY_RETRY = {
  initialDelay: '100ms',
  maxDelay: '800ms',
  maxAttempts: 50,
  maxTotalTime: '60s',
};

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
  atMs: number;
}

interface Receiver {
  url: string;
  requests: Received[];
  /** The answer to give; 200 unless changed. */
  status: number;
  close(): Promise<void>;
}

async function startReceiver(port?: number): Promise<Receiver> {
  const receiver: Receiver = { url: '', requests: [], status: 200, close: async () => undefined };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const status = receiver.status;
      receiver.requests.push({
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        status,
        atMs: Date.now(),
      });
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port ?? 0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('receiver has no port');
  receiver.url = `http://127.0.0.1:${address.port}/hook`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

/** The notification ids a receiver accepted (answered 2xx), in arrival order. */
function acceptedIds(receiver: Receiver): string[] {
  return receiver.requests
    .filter((request) => request.status < 300)
    .map((request) => String(request.headers['idempotency-key']));
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function notification(
  fingerprint: string,
  state: 'firing' | 'resolved',
  extra: Partial<AlertNotification> = {},
): AlertNotification {
  const firedAt = FIRED_AT;
  const rule = `rule-${fingerprint}`;
  return {
    notificationId: `${fingerprint}:${firedAt}:${state}:1`,
    fingerprint,
    rule,
    state,
    severity: 'critical',
    labels: { alertname: rule, severity: 'critical', 'agent.team': 'search' },
    annotations: { summary: `summary of ${rule}` },
    activeSince: firedAt,
    firedAt,
    ...(state === 'resolved' ? { resolvedAt: new Date(Date.now() - 1_000).toISOString() } : {}),
    notification: 1,
    silencedBy: [],
    notify: [],
    emittedAt: new Date().toISOString(),
    ...extra,
  };
}

describe('webhook sink', () => {
  let isolation: Isolation;
  let naming: Naming;
  let kafka: Kafka;
  let admin: Admin;
  let alertProducer: Producer;
  let deadLetterProducer: Producer;
  let alertmanagerApi: Receiver;
  let refusing: Receiver;
  let steady: Receiver;
  let flaky: Receiver;
  let chat: Receiver;
  let destinationsFile: string;
  let destinations: Destination[];
  let stages: RunningStage[] = [];

  const publish = async (notifications: Array<AlertNotification | string>): Promise<void> => {
    await alertProducer.send({
      topic: naming.alertsTopic(),
      acks: -1,
      messages: notifications.map((entry) =>
        typeof entry === 'string'
          ? { key: 'bad', value: entry }
          : { key: entry.fingerprint, value: JSON.stringify(entry) },
      ),
    });
  };
  const startSink = async (): Promise<void> => {
    stages = await startWebhookSink({
      kafka,
      admin,
      brokers: isolation.kafkaBrokers.split(','),
      naming,
      groupPrefix: isolation.topicPrefix,
      destinations,
      deadLetterProducer,
    });
  };
  const stopSink = async (): Promise<void> => {
    await Promise.all(stages.map((stage) => stage.stop()));
    stages = [];
  };
  const waitUntilIdle = async (): Promise<void> => {
    const groups = stages.map((stage) => ({ groupId: stage.groupId, topics: stage.inputTopics }));
    let idleReadings = 0;
    const deadline = Date.now() + 90_000;
    while (idleReadings < 2) {
      if (Date.now() > deadline) throw new Error('the webhook stages did not catch up');
      await sleep(300);
      idleReadings = (await totalLag(admin, groups)) === 0n ? idleReadings + 1 : 0;
    }
  };
  const stage = (destination: string): RunningStage => {
    const found = stages.find((entry) => entry.name === webhookStageName(destination));
    if (found === undefined) throw new Error(`no stage for ${destination}`);
    return found;
  };

  beforeAll(async () => {
    isolation = isolate('webhooks');
    const config = loadConfig(isolation.env);
    naming = createNaming(config);
    kafka = createKafka(config, 'panacea-webhooks-test');
    admin = await connectKafkaAdmin(kafka, config.kafkaBrokers);
    alertProducer = createDurableProducer(kafka);
    deadLetterProducer = createDurableProducer(kafka);
    await Promise.all([alertProducer.connect(), deadLetterProducer.connect()]);

    [steady, flaky, chat, alertmanagerApi, refusing] = await Promise.all([
      startReceiver(),
      startReceiver(),
      startReceiver(),
      startReceiver(),
      startReceiver(),
    ]);
    // Down: it answers 503 until the test brings it back.
    flaky.status = 503;
    refusing.status = 400;
    const deadPort = await freePort();

    destinationsFile = path.join(isolation.dataDir, 'destinations.yaml');
    writeFileSync(
      destinationsFile,
      [
        'allowHosts: [127.0.0.1]',
        'destinations:',
        `  - { name: steady, type: webhook, url: "${steady.url}", secret: "env:WEBHOOK_TEST_SECRET" }`,
        `  - name: flaky`,
        `    type: webhook`,
        `    url: "${flaky.url}"`,
        `    secret: "env:WEBHOOK_TEST_SECRET"`,
        `    timeout: 2s`,
        `    retry: ${JSON.stringify(FLAKY_RETRY)}`,
        `  - { name: chat, type: slack, url: "${chat.url}" }`,
        `  - name: am`,
        `    type: alertmanager`,
        `    url: "${new URL(alertmanagerApi.url).origin}"`,
        `    generatorUrl: "http://127.0.0.1/alerts/{fingerprint}"`,
        `  - name: dead`,
        `    type: webhook`,
        `    url: "http://127.0.0.1:${deadPort}/hook"`,
        `    secret: "env:WEBHOOK_TEST_SECRET"`,
        `    retry: { initialDelay: 20ms, maxDelay: 50ms, maxAttempts: 3 }`,
        `  - { name: refusing, type: webhook, url: "${refusing.url}", secret: "env:WEBHOOK_TEST_SECRET" }`,
        '',
      ].join('\n'),
    );
    destinations = loadDestinationsFile(destinationsFile, {
      WEBHOOK_TEST_SECRET: SECRET,
    }).destinations;
  });

  afterAll(async () => {
    await stopSink();
    await Promise.allSettled([alertProducer?.disconnect(), deadLetterProducer?.disconnect()]);
    await admin?.disconnect();
    await Promise.allSettled(
      [steady, flaky, chat, alertmanagerApi, refusing].map((receiver) => receiver?.close()),
    );
  });

  const alphaFiring = notification('alpha', 'firing');
  const betaFiring = notification('beta', 'firing');
  const alphaResolved = notification('alpha', 'resolved');
  const silenced = notification('gamma', 'firing', { silencedBy: ['silence-1'] });
  const steadyOnly = notification('delta', 'firing', { notify: ['steady'] });
  const epsilon = notification('epsilon', 'firing');
  const routedNowhere = notification('zeta', 'firing', { notify: ['nowhere'] });

  it('delivers to every destination while one is down, retries it on a bounded schedule, and dead-letters a dead one', async () => {
    await startSink();
    const publishedAtMs = Date.now();
    // Beta twice: the alerts stage publishing the same notification again must not deliver twice.
    await publish([
      routedNowhere,
      alphaFiring,
      betaFiring,
      betaFiring,
      alphaResolved,
      silenced,
      steadyOnly,
      '{oops',
    ]);

    // The steady destination and the chat server get theirs while `flaky` is down and `dead`
    // retries: a destination that fails delays nobody else.
    await waitFor('steady deliveries', () => acceptedIds(steady).length >= 4, 30_000);
    await waitFor('chat deliveries', () => acceptedIds(chat).length >= 3, 30_000);
    const steadyDoneMs = Date.now();
    expect(flaky.requests.every((request) => request.status === 503)).toBe(true);
    expect(acceptedIds(flaky)).toEqual([]);
    console.info(`steady and chat delivered ${steadyDoneMs - publishedAtMs} ms after publishing`);

    expect(acceptedIds(steady).sort()).toEqual(
      [alphaFiring, betaFiring, alphaResolved, steadyOnly]
        .map((entry) => entry.notificationId)
        .sort(),
    );
    // Per fingerprint in topic order: the resolution never overtakes its firing.
    const steadyOrder = acceptedIds(steady);
    expect(steadyOrder.indexOf(alphaFiring.notificationId)).toBeLessThan(
      steadyOrder.indexOf(alphaResolved.notificationId),
    );

    // Every request is signed; the signature verifies over the exact body and fails on a changed one.
    for (const request of steady.requests) {
      expect(verifySignature(SECRET, request.headers, request.body, 60_000).valid).toBe(true);
      const altered = request.body.replace('"critical"', '"warning"');
      expect(altered).not.toBe(request.body);
      expect(verifySignature(SECRET, request.headers, altered, 60_000)).toEqual({
        valid: false,
        reason: 'mismatch',
      });
    }
    const chatTexts = chat.requests.map(
      (request) => (JSON.parse(request.body) as { text: string }).text,
    );
    expect(chatTexts.sort()).toEqual([
      '[FIRING] critical: rule-alpha: summary of rule-alpha',
      '[FIRING] critical: rule-beta: summary of rule-beta',
      '[RESOLVED] critical: rule-alpha: summary of rule-alpha',
    ]);

    // Bring `flaky` back after it has been down a while longer.
    await sleep(2_000);
    const backUpAtMs = Date.now();
    flaky.status = 200;
    await waitFor('flaky deliveries', () => acceptedIds(flaky).length >= 3, 30_000);
    await waitUntilIdle();

    // Exactly one accepted delivery per fingerprint and state, in order, after it returned.
    const flakyAccepted = acceptedIds(flaky);
    expect([...flakyAccepted].sort()).toEqual(
      [alphaFiring, betaFiring, alphaResolved].map((entry) => entry.notificationId).sort(),
    );
    expect(flakyAccepted.indexOf(alphaFiring.notificationId)).toBeLessThan(
      flakyAccepted.indexOf(alphaResolved.notificationId),
    );
    // While it was down, each notification was tried no more often than its schedule allows.
    const policy = destinations.find((destination) => destination.name === 'flaky')?.retry;
    if (policy === undefined) throw new Error('no flaky policy');
    const attemptsById = new Map<string, Received[]>();
    for (const request of flaky.requests) {
      const id = String(request.headers['idempotency-key']);
      attemptsById.set(id, [...(attemptsById.get(id) ?? []), request]);
    }
    for (const [id, attempts] of attemptsById) {
      const whileDown = attempts.filter((request) => request.status === 503);
      const firstAtMs = attempts[0]?.atMs ?? 0;
      const bound = maxAttemptsWithin(Math.max(0, backUpAtMs - firstAtMs), policy);
      console.info(`flaky ${id}: ${whileDown.length} attempts while down (bound ${bound})`);
      expect(whileDown.length).toBeLessThanOrEqual(bound);
      if (id !== alphaResolved.notificationId) expect(whileDown.length).toBeGreaterThanOrEqual(2);
    }

    // The silenced notification reached nobody; the one routed to `steady` only reached it alone.
    for (const receiver of [steady, flaky, chat]) {
      expect(acceptedIds(receiver)).not.toContain(silenced.notificationId);
    }
    expect(acceptedIds(flaky)).not.toContain(steadyOnly.notificationId);

    // Alertmanager's v2 API gets one alert per notification, resolution last for alpha.
    const pushed = alertmanagerApi.requests.map((request) => {
      expect(request.path).toBe('/api/v2/alerts');
      return (JSON.parse(request.body) as AlertmanagerAlert[])[0];
    });
    expect(pushed.map((alert) => alert?.annotations.panacea_notification_id).sort()).toEqual(
      [alphaFiring, betaFiring, alphaResolved].map((entry) => entry.notificationId).sort(),
    );
    const beta = pushed.find((alert) => alert?.labels.alertname === 'rule-beta');
    expect(beta?.labels).toEqual({
      alertname: 'rule-beta',
      severity: 'critical',
      agent_team: 'search',
    });
    expect(beta?.startsAt).toBe(FIRED_AT);
    expect(Date.parse(beta?.endsAt ?? '')).toBeGreaterThan(Date.now());
    expect(beta?.generatorURL).toBe('http://127.0.0.1/alerts/beta');
    const alphaAlerts = pushed.filter((alert) => alert?.labels.alertname === 'rule-alpha');
    expect(alphaAlerts.map((alert) => alert?.endsAt)).toEqual([
      expect.any(String),
      alphaResolved.resolvedAt,
    ]);

    // The dead destination's three notifications are dead-lettered with reason and destination,
    // after its three attempts each; the record that is not a notification once, by one stage.
    const deadLetters = await readTopic(isolation, naming.deadLetterTopic(naming.alertsTopic()), 8);
    const byDestination = deadLetters.filter(
      (record) => record.headers[DESTINATION_HEADER] === 'dead',
    );
    expect(byDestination.map((record) => record.key).sort()).toEqual(['alpha', 'alpha', 'beta']);
    for (const record of byDestination) {
      expect(record.headers[DEAD_LETTER_HEADERS.reasonCode]).toBe('DELIVERY_FAILED');
      expect(record.headers[DEAD_LETTER_HEADERS.reason]).toMatch(
        /^DELIVERY_FAILED: destination "dead" \(webhook\): 3 attempts in \d+ ms; last: request failed: ECONNREFUSED/,
      );
      expect(record.headers[DEAD_LETTER_HEADERS.stage]).toBe('sink-webhooks.dead');
    }
    // A 400 is refused at once: one attempt each, no retries.
    const refused = deadLetters.filter(
      (record) => record.headers[DESTINATION_HEADER] === 'refusing',
    );
    expect(refused).toHaveLength(3);
    for (const record of refused) {
      expect(record.headers[DEAD_LETTER_HEADERS.reason]).toBe(
        'DELIVERY_REFUSED: destination "refusing" (webhook): HTTP 400',
      );
    }
    expect(refusing.requests).toHaveLength(3);
    const invalid = deadLetters.filter((record) => record.key === 'bad');
    expect(invalid).toHaveLength(1);
    expect(invalid[0]?.headers[DEAD_LETTER_HEADERS.reasonCode]).toBe('DECODE_FAILED');
    // Routed only to a name no destination has: kept once, where a person looks.
    const nowhere = deadLetters.filter((record) => record.key === 'zeta');
    expect(nowhere.map((record) => record.headers[DEAD_LETTER_HEADERS.reason])).toEqual([
      'DELIVERY_REFUSED: notify names no configured destination (nowhere)',
    ]);

    // Counters per destination, in each destination stage's stats.
    expect(stage('steady').stats().tallies).toEqual({
      delivered: { firing: 3, resolved: 1 },
      retries: {},
      skipped: { silenced: 1, 'already-delivered': 1 },
    });
    expect(stage('steady').stats().deadLetteredByCode).toEqual({
      DECODE_FAILED: 1,
      DELIVERY_REFUSED: 1,
    });
    const flakyStats = stage('flaky').stats();
    expect(flakyStats.tallies.delivered).toEqual({ firing: 2, resolved: 1 });
    expect(flakyStats.tallies.retries?.attempts).toBe(
      flaky.requests.filter((request) => request.status === 503).length,
    );
    expect(flakyStats.tallies.skipped).toEqual({
      silenced: 1,
      'not-routed': 2,
      'already-delivered': 1,
      invalid: 1,
    });
    expect(stage('dead').stats().deadLetteredByCode).toEqual({ DELIVERY_FAILED: 3 });
    expect(stage('dead').stats().tallies.retries).toEqual({ attempts: 6 });
  });

  it('restarts without repeating acknowledged deliveries, even when the topic is read again, and without losing new ones', async () => {
    await stopSink();
    const counts = new Map(
      [steady, flaky, chat, alertmanagerApi].map((receiver) => [
        receiver,
        receiver.requests.length,
      ]),
    );
    await publish([epsilon]);
    // A replay from the start, as after a crash before the commits: only the ledger stands in the way.
    const replayed = ['steady', 'flaky', 'chat', 'am'].map((name) =>
      naming.consumerGroup(webhookStageName(name)),
    );
    // Side by side: kafkajs waits out each group's leave before it may reset it.
    await Promise.all(
      replayed.map((groupId) =>
        admin.resetOffsets({ groupId, topic: naming.alertsTopic(), earliest: true }),
      ),
    );
    await startSink();
    await waitFor('epsilon at steady', () => acceptedIds(steady).includes(epsilon.notificationId));
    await waitUntilIdle();

    for (const receiver of [steady, flaky, chat, alertmanagerApi]) {
      const newRequests = receiver.requests.slice(counts.get(receiver));
      expect(newRequests.map((request) => request.headers['idempotency-key'])).toEqual([
        epsilon.notificationId,
      ]);
    }
    expect(stage('steady').stats().tallies.skipped?.['already-delivered']).toBe(5);
    expect(stage('flaky').stats().tallies.delivered).toEqual({ firing: 1 });
  });

  it('checks the destinations file and sends a signed test notification from the command line', async () => {
    const env = {
      ...isolation.env,
      PANACEA_ALERT_DESTINATIONS: destinationsFile,
      WEBHOOK_TEST_SECRET: SECRET,
    };
    const check = await runPanacea(['destinations', 'check'], env);
    expect(check.exitCode, check.stderr).toBe(0);
    expect(check.stdout).toContain('steady: webhook http://127.0.0.1:');
    expect(check.stdout.trim().split('\n')).toHaveLength(6);

    const before = steady.requests.length;
    const sent = await runPanacea(['destinations', 'test', 'steady'], env);
    expect(sent.exitCode, sent.stderr).toBe(0);
    expect(sent.stdout).toMatch(/^steady: accepted \(HTTP 200\) in \d+ ms/);
    const request = steady.requests[before];
    expect(
      request === undefined
        ? undefined
        : verifySignature(SECRET, request.headers, request.body).valid,
    ).toBe(true);
    expect(JSON.parse(request?.body ?? '{}')).toMatchObject({ rule: 'panacea-destination-test' });

    const failed = await runPanacea(['destinations', 'test', 'dead'], env);
    expect(failed.exitCode).toBe(1);
    expect(failed.stdout).toContain('dead: failed (would be retried)');

    const badFile = path.join(isolation.dataDir, 'bad-destinations.yaml');
    writeFileSync(
      badFile,
      'destinations:\n  - { name: x, type: webhook, url: "https://elsewhere.example/" }\n',
    );
    const bad = await runPanacea(['destinations', 'check'], {
      ...env,
      PANACEA_ALERT_DESTINATIONS: badFile,
    });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('destination "x": secret: required for a webhook destination');
  });

  it('runs in `panacea run` when PANACEA_ALERT_DESTINATIONS is set, with its counts in the summary', async () => {
    const wired = await startReceiver();
    try {
      const file = path.join(isolation.dataDir, 'wired.yaml');
      writeFileSync(
        file,
        `destinations:\n  - { name: wired, type: webhook, url: "${wired.url}", secret: "env:WEBHOOK_TEST_SECRET" }\n`,
      );
      const result = await runPanacea(['run', '--until-idle'], {
        ...isolation.env,
        PANACEA_ALERT_DESTINATIONS: file,
        WEBHOOK_TEST_SECRET: SECRET,
      });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(acceptedIds(wired).sort()).toEqual(
        [alphaFiring, betaFiring, alphaResolved, epsilon]
          .map((entry) => entry.notificationId)
          .sort(),
      );
      expect(result.stdout).toContain(
        // Delta names `steady` only, which this run does not configure: dead-lettered like zeta.
        'sink-webhooks.wired: 9 records, 3 dead-lettered (DECODE_FAILED 1, DELIVERY_REFUSED 2), 4 delivered (firing 3, resolved 1), 2 skipped (already-delivered 1, silenced 1)',
      );
    } finally {
      await wired.close();
    }
  });

  it('delivers what a SIGKILLed pipeline left undelivered once it runs again, and nothing twice', async () => {
    const [up, down] = await Promise.all([startReceiver(), startReceiver()]);
    down.status = 503;
    try {
      const file = path.join(isolation.dataDir, 'crash.yaml');
      writeFileSync(
        file,
        [
          'destinations:',
          `  - { name: crash-up, type: webhook, url: "${up.url}", secret: "env:WEBHOOK_TEST_SECRET" }`,
          `  - name: crash-down`,
          `    type: webhook`,
          `    url: "${down.url}"`,
          `    secret: "env:WEBHOOK_TEST_SECRET"`,
          `    retry: { initialDelay: 200ms, maxDelay: 1s, maxAttempts: 100, maxTotalTime: 5m }`,
          '',
        ].join('\n'),
      );
      const env = {
        ...isolation.env,
        PANACEA_ALERT_DESTINATIONS: file,
        WEBHOOK_TEST_SECRET: SECRET,
      };
      const expected = [alphaFiring, betaFiring, alphaResolved, epsilon]
        .map((entry) => entry.notificationId)
        .sort();

      const running = spawnPanacea(['run'], env);
      try {
        await waitFor('deliveries before the kill', () => acceptedIds(up).length >= 4, 90_000);
        await waitFor('attempts at the down receiver', () => down.requests.length >= 2, 30_000);
      } finally {
        running.kill('SIGKILL');
        await new Promise((resolve) => running.once('close', resolve));
      }
      expect(acceptedIds(down)).toEqual([]);

      down.status = 200;
      const rerun = await runPanacea(['run', '--until-idle'], env);
      expect(rerun.exitCode, rerun.stderr.slice(-3000)).toBe(0);
      expect([...acceptedIds(up)].sort()).toEqual(expected);
      expect([...acceptedIds(down)].sort()).toEqual(expected);
    } finally {
      await Promise.all([up.close(), down.close()]);
    }
  });
});
