/**
 * The alert state machine: `for` holds a firing back, one notification per firing until the
 * repeat interval, a resolution when the condition clears, silences carried in `silencedBy` and an
 * unsilenced notification when they end, and the same decisions after a restore.
 */
import { describe, expect, it } from 'vitest';

import {
  AlertEngine,
  fingerprintOf,
  renderAnnotations,
  type Condition,
  type SilenceMatcher,
} from '../../../../processors/alerts/alert-engine.js';
import { parseAlertRules, type AlertRule } from '../../../../processors/alerts/rules-file.js';

const [rule] = parseAlertRules(
  {
    rules: [
      {
        name: 'crash',
        kind: 'match',
        severity: 'critical',
        labels: { team: 'agents' },
        match: { severity: 'critical' },
        for: '10s',
        repeatInterval: '1m',
        annotations: { summary: '{{agent}} crashed {{value}} times', runbook: '{{nothing}}' },
        notify: ['oncall'],
      },
    ],
  },
  'rules.yaml',
) as [AlertRule];

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const noSilences: SilenceMatcher = () => [];

function holding(agent: string, value = 1): Condition {
  return { rule, groupLabels: { agent }, value };
}

describe('alert engine', () => {
  it('fires once `for` has passed, then stays quiet until the repeat interval', () => {
    const engine = new AlertEngine();

    expect(engine.evaluate([holding('a')], T0, noSilences)).toEqual([]);
    expect(engine.alerts()[0]?.state).toBe('pending');
    expect(engine.evaluate([holding('a')], T0 + 9_999, noSilences)).toEqual([]);
    const [fired] = engine.evaluate([holding('a', 3)], T0 + 10_000, noSilences);
    expect(fired).toMatchObject({
      rule: 'crash',
      state: 'firing',
      severity: 'critical',
      labels: { agent: 'a', alertname: 'crash', severity: 'critical', team: 'agents' },
      annotations: { summary: 'a crashed 3 times', runbook: '{{nothing}}' },
      activeSince: '2026-12-01T10:00:00.000Z',
      firedAt: '2026-12-01T10:00:10.000Z',
      notification: 1,
      value: 3,
      silencedBy: [],
      notify: ['oncall'],
    });
    expect(fired?.fingerprint).toBe(fingerprintOf('crash', fired?.labels ?? {}));
    expect(fired?.notificationId).toBe(`${fired?.fingerprint}:2026-12-01T10:00:10.000Z:firing:1`);

    expect(engine.evaluate([holding('a')], T0 + 69_999, noSilences)).toEqual([]);
    const [repeat] = engine.evaluate([holding('a')], T0 + 70_000, noSilences);
    expect(repeat).toMatchObject({ state: 'firing', notification: 2 });
  });

  it('forgets a pending alert whose condition cleared, without a notification', () => {
    const engine = new AlertEngine();
    engine.evaluate([holding('a')], T0, noSilences);
    expect(engine.evaluate([], T0 + 5_000, noSilences)).toEqual([]);
    expect(engine.alerts()).toEqual([]);
    // Starting again starts the `for` again.
    engine.evaluate([holding('a')], T0 + 6_000, noSilences);
    expect(engine.evaluate([holding('a')], T0 + 15_000, noSilences)).toEqual([]);
  });

  it('resolves a firing alert once its condition clears, with the last notification number', () => {
    const engine = new AlertEngine();
    engine.evaluate([holding('a')], T0, noSilences);
    engine.evaluate([holding('a')], T0 + 10_000, noSilences);
    const [done] = engine.evaluate([], T0 + 12_000, noSilences);
    expect(done).toMatchObject({
      state: 'resolved',
      firedAt: '2026-12-01T10:00:10.000Z',
      resolvedAt: '2026-12-01T10:00:12.000Z',
      notification: 1,
    });
    expect(done?.notificationId).toMatch(/:resolved:1$/);
    expect(engine.evaluate([], T0 + 13_000, noSilences)).toEqual([]);
  });

  it('keeps alerts of different labels apart', () => {
    const engine = new AlertEngine();
    const now = T0 + 10_000;
    engine.evaluate([holding('a'), holding('b')], T0, noSilences);
    const fired = engine.evaluate([holding('a'), holding('b'), holding('a')], now, noSilences);
    expect(fired.map((n) => n.labels.agent)).toEqual(['a', 'b']);
    expect(fired[0]?.fingerprint).not.toBe(fired[1]?.fingerprint);
  });

  it('notifies silenced, then unsilenced once the silence ends, and not again', () => {
    const engine = new AlertEngine();
    const endsAtMs = T0 + 30_000;
    const silences: SilenceMatcher = (labels, nowMs) =>
      labels.agent === 'a' && nowMs < endsAtMs ? ['s-1'] : [];

    engine.evaluate([holding('a')], T0, silences);
    const [silenced] = engine.evaluate([holding('a')], T0 + 10_000, silences);
    expect(silenced).toMatchObject({ notification: 1, silencedBy: ['s-1'] });
    expect(engine.evaluate([holding('a')], T0 + 20_000, silences)).toEqual([]);
    const [unsilenced] = engine.evaluate([holding('a')], endsAtMs, silences);
    expect(unsilenced).toMatchObject({ state: 'firing', notification: 2, silencedBy: [] });
    expect(engine.evaluate([holding('a')], endsAtMs + 1_000, silences)).toEqual([]);
  });

  it('does not notify again when a silence starts over an alert already delivered', () => {
    const engine = new AlertEngine();
    let silenced = false;
    const silences: SilenceMatcher = () => (silenced ? ['s-2'] : []);
    engine.evaluate([holding('a')], T0, silences);
    engine.evaluate([holding('a')], T0 + 10_000, silences);
    silenced = true;
    expect(engine.evaluate([holding('a')], T0 + 20_000, silences)).toEqual([]);
    silenced = false;
    expect(engine.evaluate([holding('a')], T0 + 30_000, silences)).toEqual([]);
  });

  it('carries on after a restore exactly as without one', () => {
    const steps: Array<[Condition[], number]> = [
      [[holding('a')], T0],
      [[holding('a')], T0 + 10_000],
      [[holding('a')], T0 + 50_000],
      [[holding('a')], T0 + 70_000],
      [[], T0 + 80_000],
    ];
    const straight = new AlertEngine();
    const expected = steps.flatMap(([conditions, nowMs]) =>
      straight.evaluate(conditions, nowMs, noSilences),
    );

    let engine = new AlertEngine();
    const actual = steps.flatMap(([conditions, nowMs]) => {
      engine = AlertEngine.restore(JSON.parse(JSON.stringify(engine.toJSON())));
      return engine.evaluate(conditions, nowMs, noSilences);
    });
    expect(actual).toEqual(expected);
    expect(actual.map((n) => `${n.state}:${n.notification}`)).toEqual([
      'firing:1',
      'firing:2',
      'resolved:2',
    ]);
  });

  it('fills annotation placeholders, leaving unknown ones as written', () => {
    expect(
      renderAnnotations({ summary: '{{ agent }} at {{value}}, {{x}}' }, { agent: 'a' }, 0.123456),
    ).toEqual({ summary: 'a at 0.1235, {{x}}' });
  });
});
