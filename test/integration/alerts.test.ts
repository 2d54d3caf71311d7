/**
 * The alerts stage on real servers: crafted event sequences make each rule kind fire and resolve,
 * `for` holds a firing back, silences hold notifications back and end (by command and by time),
 * and restarts (SIGKILL and SIGTERM) neither lose nor repeat a notification. Notifications are
 * read from the alerts topic as a receiver would (read_committed) and from Elasticsearch.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import type { Consumer } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';

import type { AlertNotification } from '../../schemas/alert.js';
import { isolate, kafkaFor, runPanacea, spawnPanacea, type Isolation } from './harness.js';

type Child = ReturnType<typeof spawnPanacea>;

const children = new Set<Child>();

afterEach(async () => {
  for (const child of children) await stop(child, 'SIGKILL');
});

describe('alerts stage', () => {
  it('fires and resolves each rule kind on a crafted event sequence, `for` delaying firing', async () => {
    const isolation = isolate('alertkinds');
    const env = withRules(isolation, 'kinds', KINDS_RULES);
    const pipeline = await startPipeline(env);
    const log = await NotificationLog.open(isolation);
    try {
      const now = Date.now();
      await produce(isolation, 'phase-1', [
        ...tasks('a-fail', now, ['failed', 'failed', 'failed', 'failed', 'succeeded'], 100),
        ...tasks('d-slow', now, ['succeeded', 'succeeded'], 9_000),
        error('b-crash', now, 'ToolCrash', 'critical'),
        error('b-crash', now, 'Minor', 'warning'),
        ...[0, 1, 2].map((index) => denied('c-audit', now + index, 'mallory')),
        denied('c-audit', now + 3, 'alice'),
      ]);

      const failing = await log.waitFor(firing('failing-agent', { agent: 'a-fail' }));
      expect(failing.value).toBeCloseTo(0.8, 9);
      expect(failing.severity).toBe('critical');
      expect(failing.annotations.summary).toBe('a-fail fails 0.8 of its tasks');
      expect(failing.firedAt).toBe(failing.activeSince);
      const crash = await log.waitFor(
        firing('critical-error', { agent: 'b-crash', error_type: 'ToolCrash' }),
      );
      expect(crash.labels).toMatchObject({ alertname: 'critical-error', team: 'agents' });
      const mallory = await log.waitFor(firing('denied-actor', { actor: 'mallory' }));
      expect(mallory.value).toBe(3);
      // `for: 3s`: pending first, firing only once the condition held that long.
      const slow = await log.waitFor(firing('slow-agent', { agent: 'd-slow' }));
      expect(Date.parse(slow.firedAt) - Date.parse(slow.activeSince)).toBeGreaterThanOrEqual(3_000);

      // A later window in which the two agents do well again.
      const later = Date.now() + 2_000;
      await produce(isolation, 'phase-2', [
        ...tasks('a-fail', later, Array(6).fill('succeeded'), 100),
        ...tasks('d-slow', later, ['succeeded', 'succeeded'], 100),
      ]);
      await log.waitFor(resolved('failing-agent', { agent: 'a-fail' }));
      await log.waitFor(resolved('slow-agent', { agent: 'd-slow' }));
      const crashResolved = await log.waitFor(
        resolved('critical-error', { agent: 'b-crash', error_type: 'ToolCrash' }),
      );
      expect(crashResolved.notificationId).toBe(`${crash.fingerprint}:${crash.firedAt}:resolved:1`);
      await log.waitFor(resolved('denied-actor', { actor: 'mallory' }));

      // b-crash has sent nothing since phase 1: absent, until it speaks again.
      await log.waitFor(firing('agent-silent', { agent: 'b-crash' }));
      await produce(isolation, 'beat', [heartbeat('b-crash', Date.now())]);
      await log.waitFor(resolved('agent-silent', { agent: 'b-crash' }));

      // Never for what did not cross a threshold.
      const never = log.all.filter(
        (n) =>
          (n.rule === 'denied-actor' && n.labels.actor === 'alice') ||
          (n.rule === 'critical-error' && n.labels.error_type === 'Minor'),
      );
      expect(never).toEqual([]);
      expectOnceEach(log.all);
      await expectStored(isolation, log);
    } finally {
      await log.close();
      await stop(pipeline, 'SIGTERM');
    }
  });

  it('holds notifications back while silenced, and notifies once the silence ends', async () => {
    const isolation = isolate('alertsilence');
    const env = withRules(isolation, 'silence', SILENCE_RULES);

    const refused = await runPanacea(['alerts', 'silence', 'add', '--for', '1h'], env);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('--match');

    const pipeline = await startPipeline(env);
    const log = await NotificationLog.open(isolation);
    try {
      const long = await addSilence(env, ['--match', 'agent=quiet-1', '--for', '1h']);
      const short = await addSilence(env, ['--match', 'agent=quiet-2', '--for', '12s']);
      const now = Date.now();
      await produce(isolation, 'errors', [
        error('quiet-1', now, 'ToolCrash', 'critical'),
        error('quiet-2', now, 'ToolCrash', 'critical'),
        error('loud-3', now, 'ToolCrash', 'critical'),
      ]);

      const loud = await log.waitFor(firing('crash', { agent: 'loud-3' }));
      expect(loud.silencedBy).toEqual([]);
      const quiet1 = await log.waitFor(firing('crash', { agent: 'quiet-1' }));
      expect(quiet1.silencedBy).toEqual([long.id]);
      const quiet2 = await log.waitFor(firing('crash', { agent: 'quiet-2' }));
      expect(quiet2.silencedBy).toEqual([short.id]);

      const expired = await runPanacea(['alerts', 'silence', 'expire', long.id], env);
      expect(expired.stdout, expired.stderr).toContain('expired 1 silence');
      const unsilenced1 = await log.waitFor(
        (n) => n.labels.agent === 'quiet-1' && n.state === 'firing' && n.notification === 2,
      );
      expect(unsilenced1.silencedBy).toEqual([]);
      // The short silence ends by itself.
      const unsilenced2 = await log.waitFor(
        (n) => n.labels.agent === 'quiet-2' && n.state === 'firing' && n.notification === 2,
      );
      expect(unsilenced2.silencedBy).toEqual([]);
      expect(Date.parse(unsilenced2.emittedAt)).toBeGreaterThanOrEqual(Date.parse(short.endsAt));
      // The loud one was delivered the first time: nothing more.
      expect(log.all.filter((n) => n.labels.agent === 'loud-3')).toHaveLength(1);

      const listed = await runPanacea(['alerts', 'silence', 'list', '--all'], env);
      const silences = listed.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { id: string; endsAt: string; active: boolean });
      expect(silences.map((silence) => silence.id).sort()).toEqual([long.id, short.id].sort());
      expect(silences.every((silence) => !silence.active)).toBe(true);
      const active = await runPanacea(['alerts', 'silence', 'list'], env);
      expect(active.stdout.trim()).toBe('');
      await until(async () => {
        const stored = await searchAlerts(isolation, 'silence');
        const longDoc = stored.find((hit) => hit._id === long.id);
        return longDoc !== undefined && longDoc._source.endsAt !== long.endsAt;
      });
    } finally {
      await log.close();
      await stop(pipeline, 'SIGTERM');
    }
  });

  it('neither loses nor repeats a notification across SIGKILL, takeover and restart', async () => {
    const isolation = isolate('alertrestart');
    const env = withRules(isolation, 'restart', RESTART_RULES);
    const log = await NotificationLog.open(isolation, true);
    try {
      const killed = await startPipeline(env);
      await produce(isolation, 'k1', [error('k1', Date.now(), 'ToolCrash', 'critical')]);
      await log.waitFor(firing('crash', { agent: 'k1' }));
      await stop(killed, 'SIGKILL');

      // Arrives while the stage is down; then two instances, one owning the alerts input.
      await produce(isolation, 'k2', [error('k2', Date.now(), 'ToolCrash', 'critical')]);
      const pair = [await startPipeline(env), await startPipeline(env)] as const;
      await log.waitFor(firing('crash', { agent: 'k2' }));
      let owners: Child[] = [];
      await until(async () => {
        owners = pair.filter((child) => ownsAlertInput(child));
        return owners.length === 1;
      });
      const [owner] = owners as [Child];
      const standby = pair[0] === owner ? pair[1] : pair[0];
      await stop(owner, 'SIGTERM');

      // The standby takes the input over from the owner's last commit.
      await produce(isolation, 'k3', [error('k3', Date.now(), 'ToolCrash', 'critical')]);
      await log.waitFor(firing('crash', { agent: 'k3' }), 60_000);
      expect(ownsAlertInput(standby)).toBe(true);
      await stop(standby, 'SIGTERM');

      // A clean restart, during which the three alerts resolve.
      const restarted = await startPipeline(env);
      for (const agent of ['k1', 'k2', 'k3']) {
        await log.waitFor(resolved('crash', { agent }), 60_000);
      }
      // A further evaluation or two, in which a repeat would show.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      await stop(restarted, 'SIGTERM');

      for (const agent of ['k1', 'k2', 'k3']) {
        const states = log.all.filter((n) => n.labels.agent === agent).map((n) => n.state);
        expect(states, agent).toEqual(['firing', 'resolved']);
      }
      expectOnceEach(log.all);
      await expectStored(isolation, log);
    } finally {
      await log.close();
    }
  });
});

const KINDS_RULES = `
repeatInterval: 1h
rules:
  - name: failing-agent
    kind: threshold
    severity: critical
    scope: agent
    metric: failure_rate
    above: 0.2
    minTasks: 4
    annotations:
      summary: "{{agent}} fails {{value}} of its tasks"
  - name: slow-agent
    kind: threshold
    severity: warning
    metric: duration_p95_ms
    above: 5000
    for: 3s
  - name: critical-error
    kind: match
    severity: critical
    labels: { team: agents }
    match: { kind: error, severity: critical }
    groupBy: [agent, error_type]
    resolveAfter: 4s
  - name: agent-silent
    kind: absence
    severity: warning
    scope: agent
    after: 6s
  - name: denied-actor
    kind: audit_rate
    severity: critical
    outcome: denied
    groupBy: [actor]
    above: 2
    window: 5s
`;

const SILENCE_RULES = `
rules:
  - name: crash
    kind: match
    severity: critical
    match: { severity: critical }
    resolveAfter: 5m
`;

const RESTART_RULES = `
repeatInterval: 1h
rules:
  - name: crash
    kind: match
    severity: critical
    match: { severity: critical }
    resolveAfter: 8s
`;

function withRules(isolation: Isolation, name: string, rules: string): NodeJS.ProcessEnv {
  const file = path.join(isolation.dataDir, `${name}-rules.yaml`);
  writeFileSync(file, rules);
  return {
    ...isolation.env,
    PANACEA_ALERT_RULES: file,
    PANACEA_METRICS_WINDOW_MS: '2000',
    LOG_LEVEL: 'info',
  };
}

/** What each pipeline process has logged so far. */
const outputs = new WeakMap<Child, string>();

async function startPipeline(env: NodeJS.ProcessEnv): Promise<Child> {
  const child = spawnPanacea(['run'], env);
  children.add(child);
  outputs.set(child, '');
  child.stderr.on('data', (chunk: Buffer) => {
    outputs.set(child, (outputs.get(child) ?? '') + chunk.toString());
  });
  await untilOutput(child, '"msg":"pipeline started"');
  return child;
}

/** Whether the process's alerts stage holds the input now: its last word on it was a restore. */
function ownsAlertInput(child: Child): boolean {
  const output = outputs.get(child) ?? '';
  const restored = output.lastIndexOf('"msg":"alert state restored"');
  return restored >= 0 && restored > output.lastIndexOf('"msg":"alert input moved to another');
}

async function stop(child: Child, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  children.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill(signal);
  await closed;
}

function untilOutput(child: Child, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no "${text}" within 90 s`)), 90_000);
    child.stderr.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`panacea run ended (${code}) before "${text}": ${seen.slice(-2000)}`));
    });
  });
}

/** Every notification on the alerts topic, as a receiver reading committed records sees them. */
class NotificationLog {
  readonly all: AlertNotification[] = [];
  readonly #consumer: Consumer;

  private constructor(consumer: Consumer) {
    this.#consumer = consumer;
  }

  /** `createTopic`: the pipeline has not started yet, so the topic may not exist. */
  static async open(isolation: Isolation, createTopic = false): Promise<NotificationLog> {
    const kafka = kafkaFor(isolation);
    const topic = `${isolation.topicPrefix}agent.alerts`;
    if (createTopic) {
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
      await admin.disconnect();
    }
    const consumer = kafka.consumer({
      groupId: `panacea-test-alerts-${randomBytes(4).toString('hex')}`,
      maxWaitTimeInMs: 200,
    });
    const log = new NotificationLog(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        log.all.push(JSON.parse(message.value?.toString('utf8') ?? '') as AlertNotification);
      },
    });
    return log;
  }

  async waitFor(
    predicate: (notification: AlertNotification) => boolean,
    timeoutMs = 45_000,
  ): Promise<AlertNotification> {
    let found: AlertNotification | undefined;
    await until(async () => {
      found = this.all.find(predicate);
      return found !== undefined;
    }, timeoutMs).catch((error: unknown) => {
      const seen = this.all.map((n) => `${n.rule} ${n.state} ${JSON.stringify(n.labels)}`);
      throw new Error(`${String(error)}; notifications seen: ${seen.join('; ')}`);
    });
    return found as AlertNotification;
  }

  async close(): Promise<void> {
    await this.#consumer.disconnect();
  }
}

function firing(rule: string, labels: Record<string, string>) {
  return (n: AlertNotification): boolean =>
    n.rule === rule && n.state === 'firing' && hasLabels(n, labels);
}

function resolved(rule: string, labels: Record<string, string>) {
  return (n: AlertNotification): boolean =>
    n.rule === rule && n.state === 'resolved' && hasLabels(n, labels);
}

function hasLabels(n: AlertNotification, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([name, value]) => n.labels[name] === value);
}

/** One notification per id, one first firing per fingerprint and firing, no repeats. */
function expectOnceEach(notifications: AlertNotification[]): void {
  const ids = notifications.map((n) => n.notificationId);
  expect(new Set(ids).size).toBe(ids.length);
  const firstFirings = notifications
    .filter((n) => n.state === 'firing' && n.notification === 1)
    .map((n) => `${n.fingerprint}:${n.firedAt}`);
  expect(new Set(firstFirings).size).toBe(firstFirings.length);
  expect(notifications.filter((n) => n.state === 'firing' && n.notification > 1)).toEqual([]);
}

/** Every notification is a document under its id, and there are no others. */
async function expectStored(isolation: Isolation, log: NotificationLog): Promise<void> {
  const wanted = log.all.map((n) => n.notificationId).sort();
  let stored: string[] = [];
  await until(async () => {
    stored = (await searchAlerts(isolation, 'alert')).map((hit) => hit._id).sort();
    return stored.length >= wanted.length;
  }).catch(() => undefined);
  expect(stored).toEqual(wanted);
}

interface Hit {
  _id: string;
  _source: Record<string, unknown>;
}

async function searchAlerts(isolation: Isolation, record: 'alert' | 'silence'): Promise<Hit[]> {
  const index = `alerts-agent.${record}-${isolation.namespace}`;
  const url = isolation.elasticsearchUrl;
  const options = 'allow_no_indices=true&ignore_unavailable=true';
  await fetch(`${url}/${index}/_refresh?${options}`, { method: 'POST' });
  const response = await fetch(`${url}/${index}/_search?${options}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ size: 1000, query: { match_all: {} } }),
  });
  const body = (await response.json()) as { hits?: { hits: Hit[] } };
  return body.hits?.hits ?? [];
}

async function addSilence(
  env: NodeJS.ProcessEnv,
  args: string[],
): Promise<{ id: string; endsAt: string }> {
  const added = await runPanacea(['alerts', 'silence', 'add', ...args], env);
  expect(added.exitCode, added.stderr).toBe(0);
  return JSON.parse(added.stdout) as { id: string; endsAt: string };
}

async function produce(isolation: Isolation, name: string, events: object[]): Promise<void> {
  const file = path.join(isolation.dataDir, `${name}.ndjson`);
  writeFileSync(file, events.map((event) => JSON.stringify(event)).join('\n'));
  const produced = await runPanacea(['produce', '--file', file], isolation.env);
  expect(produced.stdout, produced.stderr).toContain(`published ${events.length}, rejected 0`);
}

let sequence = 0;

function envelope(kind: string, agentId: string, timestampMs: number): Record<string, unknown> {
  sequence += 1;
  return {
    kind,
    eventId: `${agentId}-${sequence}-${randomBytes(3).toString('hex')}`,
    timestamp: timestampMs,
    agent: { id: agentId },
  };
}

function tasks(agentId: string, startMs: number, outcomes: string[], durationMs: number): object[] {
  return outcomes.flatMap((status, index) => {
    const taskId = `${agentId}-task-${sequence}-${index}`;
    return [
      {
        ...envelope('activity', agentId, startMs + index),
        taskId,
        activity: { action: 'task.run', status: 'started' },
      },
      {
        ...envelope('activity', agentId, startMs + index + 1),
        taskId,
        activity: { action: 'task.run', status, durationMs },
      },
    ];
  });
}

function error(agentId: string, atMs: number, type: string, severity: string): object {
  return { ...envelope('error', agentId, atMs), error: { type, message: 'boom', severity } };
}

function denied(agentId: string, atMs: number, actor: string): object {
  return {
    ...envelope('audit', agentId, atMs),
    audit: {
      actor: { type: 'user', id: actor },
      action: 'secrets.read',
      resource: { type: 'secret', id: 'prod-db' },
      outcome: 'denied',
    },
  };
}

function heartbeat(agentId: string, atMs: number): object {
  return { ...envelope('heartbeat', agentId, atMs), heartbeat: { status: 'active' } };
}

async function until(check: () => Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadlineMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
