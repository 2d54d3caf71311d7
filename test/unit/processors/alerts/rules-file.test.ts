/**
 * The alert rules file: YAML and JSON read to the same rules with their defaults, and every
 * problem refused with a message naming the file, the rule and the field, and what was expected.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  DEFAULT_REPEAT_INTERVAL_MS,
  DEFAULT_RESOLVE_AFTER_MS,
  loadAlertRules,
  parseAlertRules,
} from '../../../../processors/alerts/rules-file.js';
import { thrownPanaceaError } from '../../fixtures/panacea-error.js';

const directory = mkdtempSync(path.join(os.tmpdir(), 'panacea-alert-rules-'));

function fileWith(name: string, text: string): string {
  const file = path.join(directory, name);
  writeFileSync(file, text);
  return file;
}

const YAML_RULES = `
repeatInterval: 2h
rules:
  - name: failing
    kind: threshold
    severity: critical
    metric: failure_rate
    above: 0.2
    minTasks: 10
    for: 5m
    labels: { team: platform }
    annotations: { summary: "{{agent}} fails", description: "rate {{value}}" }
    notify: [oncall]
  - name: crash
    kind: match
    severity: warning
    match: { kind: error, severity: [critical, error], errorType: "^Tool" }
  - name: silent
    kind: absence
    severity: info
    scope: workflow
    after: 90s
    repeatInterval: 30m
  - name: denied
    kind: audit_rate
    severity: critical
    above: 5
    window: 1m
`;

/** The message of the error a rules list gives, parsed as if from `rules.yaml`. */
function problemOf(rules: unknown[], extra: Record<string, unknown> = {}): string {
  return thrownPanaceaError(() => parseAlertRules({ ...extra, rules }, 'rules.yaml')).message;
}

const valid = { name: 'r', kind: 'absence', severity: 'warning', after: '1m' };

describe('alert rules file', () => {
  it('reads every kind from YAML with the file and kind defaults', () => {
    const { rules } = loadAlertRules(fileWith('rules.yaml', YAML_RULES));

    expect(rules.map((rule) => rule.kind)).toEqual(['threshold', 'match', 'absence', 'audit_rate']);
    expect(rules[0]).toMatchObject({
      name: 'failing',
      scope: 'agent',
      metric: 'failure_rate',
      above: 0.2,
      minTasks: 10,
      forMs: 300_000,
      repeatIntervalMs: 7_200_000,
      labels: { team: 'platform' },
      notify: ['oncall'],
    });
    expect(rules[1]).toMatchObject({
      groupBy: ['agent'],
      resolveAfterMs: DEFAULT_RESOLVE_AFTER_MS,
      forMs: 0,
      annotations: { summary: 'crash is firing' },
    });
    const match = rules[1]?.kind === 'match' ? rules[1].match : undefined;
    expect(match?.errorType?.test('ToolTimeout')).toBe(true);
    expect(match?.severity).toEqual(['critical', 'error']);
    expect(rules[2]).toMatchObject({
      scope: 'workflow',
      afterMs: 90_000,
      repeatIntervalMs: 1_800_000,
    });
    expect(rules[3]).toMatchObject({
      outcome: 'denied',
      groupBy: ['actor'],
      above: 5,
      windowMs: 60_000,
    });
  });

  it('reads JSON by its extension, with the default repeat interval', () => {
    const file = fileWith('rules.json', JSON.stringify({ rules: [valid] }));
    expect(loadAlertRules(file).rules[0]?.repeatIntervalMs).toBe(DEFAULT_REPEAT_INTERVAL_MS);
  });

  it('reads a JSON file that starts with a byte order mark', () => {
    const file = fileWith('bom.json', `\uFEFF${JSON.stringify({ rules: [valid] })}`);
    expect(loadAlertRules(file).rules).toHaveLength(1);
  });

  it('refuses a file it cannot read, an unknown extension and broken syntax, naming the file', () => {
    const missing = path.join(directory, 'missing.yaml');
    expect(thrownPanaceaError(() => loadAlertRules(missing)).message).toContain(missing);
    const toml = fileWith('rules.toml', '');
    expect(thrownPanaceaError(() => loadAlertRules(toml)).message).toContain(
      'expected a .yaml, .yml or .json file, got ".toml"',
    );
    const broken = fileWith('broken.json', '{ "rules": [');
    const error = thrownPanaceaError(() => loadAlertRules(broken));
    expect(error.code).toBe('ALERT_RULES_INVALID');
    expect(error.message).toMatch(/broken\.json: not valid JSON/);
  });

  it.each([
    ['no rules', [], {}, 'rules.yaml: field "rules": expected a non-empty list of rules, got []'],
    [
      'a bad file repeat interval',
      [valid],
      { repeatInterval: 'soon' },
      'field "repeatInterval": expected a duration such as 30s, 5m or 4h, at least 1s and at most 365d, got "soon"',
    ],
    ['an unknown file field', [valid], { route: 1 }, 'field "route": expected one of the fields'],
  ])('refuses %s', (_, rules, extra, expected) => {
    expect(problemOf(rules, extra)).toContain(expected);
  });

  it.each([
    ['a rule without a name, by position', { ...valid, name: undefined }, 'rule #1: field "name"'],
    [
      'an unknown kind',
      { ...valid, kind: 'regex' },
      'rule "r": field "kind": expected one of threshold, match, absence, audit_rate, got "regex"',
    ],
    [
      'a bad severity',
      { ...valid, severity: 'high' },
      'field "severity": expected one of critical, warning, info',
    ],
    ['a bad for', { ...valid, for: '5 minutes' }, 'rule "r": field "for": expected a duration'],
    ['a bad repeat interval', { ...valid, repeatInterval: 10 }, 'field "repeatInterval"'],
    ['a reserved label', { ...valid, labels: { severity: 'x' } }, 'field "labels.severity"'],
    [
      'a label that is not text',
      { ...valid, labels: { team: {} } },
      'field "labels.team": expected a text value',
    ],
    [
      'a non-text annotation',
      { ...valid, annotations: { summary: 3 } },
      'field "annotations.summary": expected text',
    ],
    [
      'an empty notify name',
      { ...valid, notify: [''] },
      'field "notify": expected a list of destination names',
    ],
    [
      'a field of another kind',
      { ...valid, metric: 'success_rate' },
      'field "metric": expected one of the fields',
    ],
    [
      'an absence without after',
      { ...valid, after: undefined },
      'rule "r": field "after": expected a value (it is required)',
    ],
    [
      'an absence of a bad scope',
      { ...valid, scope: 'team' },
      'field "scope": expected one of agent, workflow',
    ],
  ])('refuses %s', (_, rule, expected) => {
    expect(problemOf([rule])).toContain(expected);
  });

  const threshold = {
    name: 't',
    kind: 'threshold',
    severity: 'warning',
    metric: 'duration_p95_ms',
    above: 1000,
  };
  const match = { name: 'm', kind: 'match', severity: 'critical', match: { kind: 'error' } };
  const audit = { name: 'a', kind: 'audit_rate', severity: 'critical', above: 3, window: '1m' };

  it.each([
    [
      'a threshold without a metric',
      { ...threshold, metric: undefined },
      'rule "t": field "metric": expected a value',
    ],
    [
      'an unknown metric',
      { ...threshold, metric: 'p95' },
      'field "metric": expected one of success_rate',
    ],
    [
      'both above and below',
      { ...threshold, below: 3 },
      'field "above": expected exactly one of above and below, got "both"',
    ],
    [
      'neither above nor below',
      { ...threshold, above: undefined },
      'expected exactly one of above and below',
    ],
    [
      'a bound that is not a number',
      { ...threshold, above: '1s' },
      'field "above": expected a number, got "1s"',
    ],
    [
      'a negative minTasks',
      { ...threshold, minTasks: -1 },
      'field "minTasks": expected a whole number from 0',
    ],
    [
      'a match without a match',
      { ...match, match: undefined },
      'rule "m": field "match": expected a mapping',
    ],
    ['an unknown match field', { ...match, match: { agent: 'x' } }, 'field "match.agent"'],
    [
      'a bad pattern',
      { ...match, match: { errorType: '(' } },
      'field "match.errorType": expected a valid regular expression',
    ],
    [
      'a pattern that can backtrack for an exponential time',
      { ...match, match: { errorType: '(a+)+$' } },
      'field "match.errorType": expected a regular expression without a repetition inside a repetition',
    ],
    [
      'a severity on audit events',
      { ...match, match: { kind: 'audit', severity: 'critical' } },
      'field "match.severity": expected match.kind error with it, got "audit"',
    ],
    [
      'a bad error severity',
      { ...match, match: { severity: 'fatal' } },
      'field "match.severity": expected one of warning, error, critical',
    ],
    [
      'an unknown group label',
      { ...match, groupBy: ['host'] },
      'field "groupBy": expected one of agent, workflow',
    ],
    [
      'a group label twice',
      { ...match, groupBy: ['agent', 'agent'] },
      'field "groupBy": expected each label once',
    ],
    ['a resolveAfter under a second', { ...match, resolveAfter: '10ms' }, 'field "resolveAfter"'],
    [
      'an audit rate without a window',
      { ...audit, window: undefined },
      'rule "a": field "window": expected a value',
    ],
    [
      'an audit rate with a fractional bound',
      { ...audit, above: 2.5 },
      'field "above": expected a whole number from 0, got 2.5',
    ],
    [
      'an unknown outcome',
      { ...audit, outcome: 'refused' },
      'field "outcome": expected one of success, failure, denied',
    ],
  ])('refuses %s', (_, rule, expected) => {
    expect(problemOf([rule])).toContain(expected);
  });

  it('refuses a name used twice, naming it', () => {
    const error = thrownPanaceaError(() =>
      parseAlertRules({ rules: [valid, valid] }, 'rules.yaml'),
    );
    expect(error.message).toBe(
      'rules.yaml: rule "r": field "name": expected a name no other rule has, got "r"',
    );
    expect(error.context).toMatchObject({ file: 'rules.yaml', rule: 'rule "r"', field: 'name' });
  });
});
