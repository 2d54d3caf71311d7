/**
 * The alert rules a deployment runs with, from the file named by `PANACEA_ALERT_RULES`: YAML
 * (`.yaml`, `.yml`) or JSON (`.json`), by extension. Every problem is refused at start with
 * ALERT_RULES_INVALID naming the file, the rule (by name, or by position when it has none), the
 * field and what was expected, so a bad file never reaches a running stage.
 *
 *   repeatInterval: 4h            # default for every rule: a firing alert is notified again after
 *   rules:
 *     - name: agent-failing       # unique; also the `alertname` label
 *       kind: threshold           # threshold | match | absence | audit_rate
 *       severity: critical        # critical | warning | info
 *       scope: agent              # threshold and absence: agent | workflow
 *       metric: failure_rate
 *       above: 0.2
 *       minTasks: 10
 *       for: 1m
 *       labels: { team: platform }
 *       annotations: { summary: "{{agent}} fails {{value}} of its tasks" }
 *       notify: [oncall]
 *
 * The kinds and their fields are listed in README.md, "Alerts".
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import isSafeRegex from 'safe-regex2';
import { parse as parseYaml } from 'yaml';

import { formatDuration, parseDurationMs } from '../../core/durations.js';
import { messageOf, PanaceaError } from '../../core/errors.js';
import { EVENT_KINDS, type EventKind } from '../../core/naming.js';
import { ALERT_SEVERITIES, type AlertSeverity } from '../../schemas/alert.js';
import { AUDIT_OUTCOMES, ERROR_SEVERITIES } from '../../schemas/event.js';

export const RULE_KINDS = ['threshold', 'match', 'absence', 'audit_rate'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

/** The window figures a threshold rule can watch, named with their unit where they have one. */
export const THRESHOLD_METRICS = [
  'success_rate',
  'failure_rate',
  'tasks_started',
  'tasks_failed',
  'duration_p50_ms',
  'duration_p95_ms',
  'duration_p99_ms',
  'duration_max_ms',
  'errors_total',
  'errors_critical',
  'events_count',
] as const;
export type ThresholdMetric = (typeof THRESHOLD_METRICS)[number];

export const SCOPES = ['agent', 'workflow'] as const;
export type Scope = (typeof SCOPES)[number];

/** The labels a match or audit_rate rule can group its alerts by, read from each event. */
export const GROUP_LABELS = [
  'agent',
  'workflow',
  'error_type',
  'severity',
  'actor',
  'action',
  'resource',
] as const;
export type GroupLabel = (typeof GROUP_LABELS)[number];

export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];
export type ErrorSeverity = (typeof ERROR_SEVERITIES)[number];

export const DEFAULT_REPEAT_INTERVAL_MS = 4 * 3_600_000;
export const DEFAULT_RESOLVE_AFTER_MS = 5 * 60_000;

interface RuleBase {
  name: string;
  severity: AlertSeverity;
  labels: Record<string, string>;
  /** `summary` always; `{{label}}` and `{{value}}` are filled in per notification. */
  annotations: Record<string, string>;
  /** How long the condition must hold before the alert fires; 0 fires at once. */
  forMs: number;
  repeatIntervalMs: number;
  /** Destination names; empty means every configured destination. */
  notify: string[];
}

export interface ThresholdRule extends RuleBase {
  kind: 'threshold';
  scope: Scope;
  metric: ThresholdMetric;
  /** Exactly one of `above` and `below`. */
  above?: number;
  below?: number;
  /** A window with fewer tasks started or finished than this gives no verdict (not firing). */
  minTasks: number;
}

export interface EventMatch {
  kind?: EventKind;
  /** Error events only. */
  severity?: ErrorSeverity[];
  errorType?: RegExp;
  /** The activity's or the audit event's action. */
  action?: RegExp;
  /** Audit events only. */
  outcome?: AuditOutcome[];
}

export interface MatchRule extends RuleBase {
  kind: 'match';
  match: EventMatch;
  groupBy: GroupLabel[];
  /** The alert resolves once no matching event has arrived for this long. */
  resolveAfterMs: number;
}

export interface AbsenceRule extends RuleBase {
  kind: 'absence';
  scope: Scope;
  /** Silence, since the subject's last event arrived, after which the alert is active. */
  afterMs: number;
}

export interface AuditRateRule extends RuleBase {
  kind: 'audit_rate';
  outcome: AuditOutcome;
  groupBy: GroupLabel[];
  /** Active while more than this many matching audit events arrived within `windowMs`. */
  above: number;
  windowMs: number;
}

export type AlertRule = ThresholdRule | MatchRule | AbsenceRule | AuditRateRule;

export interface AlertRules {
  file: string;
  rules: AlertRule[];
}

const FILE_KEYS = ['repeatInterval', 'rules'];
const BASE_KEYS = [
  'name',
  'kind',
  'severity',
  'labels',
  'annotations',
  'for',
  'repeatInterval',
  'notify',
];
const KIND_KEYS: Record<RuleKind, string[]> = {
  threshold: ['scope', 'metric', 'above', 'below', 'minTasks'],
  match: ['match', 'groupBy', 'resolveAfter'],
  absence: ['scope', 'after'],
  audit_rate: ['outcome', 'groupBy', 'above', 'window'],
};
const MATCH_KEYS = ['kind', 'severity', 'errorType', 'action', 'outcome'];
const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Labels the stage sets itself: a rule may not set them. */
const RESERVED_LABELS = ['alertname', 'severity'];
const DURATION_FORM = 'a duration such as 30s, 5m or 4h';

/** Reads and checks the rules file named by `PANACEA_ALERT_RULES`. */
export function loadAlertRules(file: string): AlertRules {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PanaceaError(
      'ALERT_RULES_INVALID',
      `${file}: cannot read it: ${messageOf(error)}`,
      { file },
      error,
    );
  }
  // A byte order mark (some Windows editors write one) is not part of the JSON or YAML.
  return { file, rules: parseAlertRules(parseText(text.replace(/^\uFEFF/, ''), file), file) };
}

function parseText(text: string, file: string): unknown {
  const extension = path.extname(file).toLowerCase();
  try {
    if (extension === '.json') return JSON.parse(text);
    if (extension === '.yaml' || extension === '.yml') return parseYaml(text);
  } catch (error) {
    const form = extension === '.json' ? 'JSON' : 'YAML';
    throw new PanaceaError(
      'ALERT_RULES_INVALID',
      `${file}: not valid ${form}: ${messageOf(error)}`,
      {
        file,
      },
    );
  }
  throw new PanaceaError(
    'ALERT_RULES_INVALID',
    `${file}: expected a .yaml, .yml or .json file, got "${extension || 'no extension'}"`,
    { file },
  );
}

/** Checks the parsed content of a rules file; `file` names it in errors. */
export function parseAlertRules(content: unknown, file: string): AlertRule[] {
  if (!isPlainObject(content)) throw invalid(file, undefined, '', 'a mapping with rules', content);
  rejectUnknownKeys(content, FILE_KEYS, file, undefined, '');
  const repeatIntervalMs =
    content.repeatInterval === undefined
      ? DEFAULT_REPEAT_INTERVAL_MS
      : duration(content.repeatInterval, file, undefined, 'repeatInterval', 1_000);

  if (!Array.isArray(content.rules) || content.rules.length === 0) {
    throw invalid(file, undefined, 'rules', 'a non-empty list of rules', content.rules);
  }
  const names = new Set<string>();
  return content.rules.map((entry: unknown, index) => {
    const rule = readRule(entry, index, file, repeatIntervalMs);
    if (names.has(rule.name)) {
      throw invalid(file, `rule "${rule.name}"`, 'name', 'a name no other rule has', rule.name);
    }
    names.add(rule.name);
    return rule;
  });
}

function readRule(entry: unknown, index: number, file: string, defaultRepeatMs: number): AlertRule {
  const position = `rule #${index + 1}`;
  if (!isPlainObject(entry)) throw invalid(file, position, '', 'a mapping', entry);
  const rawName = entry.name;
  if (typeof rawName !== 'string' || !RULE_NAME.test(rawName)) {
    throw invalid(file, position, 'name', 'letters, digits, "_", "." or "-" (1-100)', rawName);
  }
  const where = `rule "${rawName}"`;
  const kind = oneOf(entry.kind, RULE_KINDS, file, where, 'kind');
  rejectUnknownKeys(entry, [...BASE_KEYS, ...KIND_KEYS[kind]], file, where, '');

  const labels = readLabels(entry.labels, file, where);
  const base: RuleBase = {
    name: rawName,
    severity: oneOf(entry.severity, ALERT_SEVERITIES, file, where, 'severity'),
    labels,
    annotations: readAnnotations(entry.annotations, file, where, rawName),
    forMs: entry.for === undefined ? 0 : duration(entry.for, file, where, 'for', 0),
    repeatIntervalMs:
      entry.repeatInterval === undefined
        ? defaultRepeatMs
        : duration(entry.repeatInterval, file, where, 'repeatInterval', 1_000),
    notify: readNames(entry.notify, file, where, 'notify'),
  };

  switch (kind) {
    case 'threshold':
      return readThreshold(entry, base, file, where);
    case 'match': {
      const match = readMatch(entry.match, file, where);
      return {
        ...base,
        kind,
        match,
        groupBy: readGroupBy(entry.groupBy, ['agent'], file, where),
        resolveAfterMs:
          entry.resolveAfter === undefined
            ? DEFAULT_RESOLVE_AFTER_MS
            : duration(entry.resolveAfter, file, where, 'resolveAfter', 1_000),
      };
    }
    case 'absence':
      return {
        ...base,
        kind,
        scope: oneOf(entry.scope ?? 'agent', SCOPES, file, where, 'scope'),
        afterMs: duration(required(entry, 'after', file, where), file, where, 'after', 1_000),
      };
    case 'audit_rate':
      return {
        ...base,
        kind,
        outcome: oneOf(entry.outcome ?? 'denied', AUDIT_OUTCOMES, file, where, 'outcome'),
        groupBy: readGroupBy(entry.groupBy, ['actor'], file, where),
        above: count(required(entry, 'above', file, where), file, where, 'above'),
        windowMs: duration(required(entry, 'window', file, where), file, where, 'window', 1_000),
      };
  }
}

function readThreshold(
  entry: Record<string, unknown>,
  base: RuleBase,
  file: string,
  where: string,
): ThresholdRule {
  const hasAbove = entry.above !== undefined;
  const hasBelow = entry.below !== undefined;
  if (hasAbove === hasBelow) {
    throw invalid(file, where, 'above', 'exactly one of above and below', hasAbove ? 'both' : '');
  }
  const bound = hasAbove ? 'above' : 'below';
  const value = entry[bound];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalid(file, where, bound, 'a number', value);
  }
  return {
    ...base,
    kind: 'threshold',
    scope: oneOf(entry.scope ?? 'agent', SCOPES, file, where, 'scope'),
    metric: oneOf(required(entry, 'metric', file, where), THRESHOLD_METRICS, file, where, 'metric'),
    ...(hasAbove ? { above: value } : { below: value }),
    minTasks: entry.minTasks === undefined ? 0 : count(entry.minTasks, file, where, 'minTasks'),
  };
}

function readMatch(value: unknown, file: string, where: string): EventMatch {
  if (!isPlainObject(value) || Object.keys(value).length === 0) {
    throw invalid(file, where, 'match', `a mapping of ${MATCH_KEYS.join(', ')}`, value);
  }
  rejectUnknownKeys(value, MATCH_KEYS, file, where, 'match.');
  const match: EventMatch = {};
  if (value.kind !== undefined)
    match.kind = oneOf(value.kind, EVENT_KINDS, file, where, 'match.kind');
  if (value.severity !== undefined) {
    match.severity = list(value.severity).map((item) =>
      oneOf(item, ERROR_SEVERITIES, file, where, 'match.severity'),
    );
  }
  if (value.outcome !== undefined) {
    match.outcome = list(value.outcome).map((item) =>
      oneOf(item, AUDIT_OUTCOMES, file, where, 'match.outcome'),
    );
  }
  if (value.errorType !== undefined) {
    match.errorType = pattern(value.errorType, file, where, 'match.errorType');
  }
  if (value.action !== undefined) match.action = pattern(value.action, file, where, 'match.action');

  // A field that only one kind of event has, with another kind asked for, could never match.
  const kindOf = { severity: 'error', errorType: 'error', outcome: 'audit' } as const;
  for (const [key, eventKind] of Object.entries(kindOf)) {
    if (match[key as keyof typeof kindOf] !== undefined && match.kind !== undefined) {
      if (match.kind !== eventKind) {
        throw invalid(file, where, `match.${key}`, `match.kind ${eventKind} with it`, match.kind);
      }
    }
  }
  return match;
}

function readGroupBy(
  value: unknown,
  fallback: GroupLabel[],
  file: string,
  where: string,
): GroupLabel[] {
  if (value === undefined) return fallback;
  const labels = list(value).map((item) => oneOf(item, GROUP_LABELS, file, where, 'groupBy'));
  if (new Set(labels).size !== labels.length) {
    throw invalid(file, where, 'groupBy', 'each label once', labels.join(', '));
  }
  return labels;
}

function readLabels(value: unknown, file: string, where: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw invalid(file, where, 'labels', 'a mapping of name: text', value);
  const labels: Record<string, string> = {};
  for (const [name, text] of Object.entries(value)) {
    if (!LABEL_NAME.test(name) || RESERVED_LABELS.includes(name)) {
      throw invalid(
        file,
        where,
        `labels.${name}`,
        `a label name of letters, digits and "_", not ${RESERVED_LABELS.join(' or ')}`,
        name,
      );
    }
    if (typeof text !== 'string' && typeof text !== 'number' && typeof text !== 'boolean') {
      throw invalid(file, where, `labels.${name}`, 'a text value', text);
    }
    labels[name] = String(text);
  }
  return labels;
}

function readAnnotations(
  value: unknown,
  file: string,
  where: string,
  name: string,
): Record<string, string> {
  if (value === undefined) return { summary: `${name} is firing` };
  if (!isPlainObject(value)) {
    throw invalid(file, where, 'annotations', 'a mapping with summary and description', value);
  }
  const annotations: Record<string, string> = {};
  for (const [key, text] of Object.entries(value)) {
    if (typeof text !== 'string') throw invalid(file, where, `annotations.${key}`, 'text', text);
    annotations[key] = text;
  }
  annotations.summary ??= `${name} is firing`;
  return annotations;
}

function readNames(value: unknown, file: string, where: string, field: string): string[] {
  if (value === undefined) return [];
  const names = list(value);
  for (const name of names) {
    if (typeof name !== 'string' || name === '') {
      throw invalid(file, where, field, 'a list of destination names', name);
    }
  }
  return names as string[];
}

function required(
  entry: Record<string, unknown>,
  field: string,
  file: string,
  where: string,
): unknown {
  const value = entry[field];
  if (value === undefined) throw invalid(file, where, field, 'a value (it is required)', value);
  return value;
}

const MAX_DURATION_MS = 365 * 86_400_000;

function duration(
  value: unknown,
  file: string,
  where: string | undefined,
  field: string,
  minMs: number,
): number {
  const durationMs = typeof value === 'string' ? parseDurationMs(value) : undefined;
  // Longer than a year is a typo, and past the range a JavaScript date can add it to.
  if (durationMs === undefined || durationMs < minMs || durationMs > MAX_DURATION_MS) {
    const floor = minMs === 0 ? '' : ` at least ${formatDuration(minMs)} and`;
    throw invalid(file, where, field, `${DURATION_FORM},${floor} at most 365d`, value);
  }
  return durationMs;
}

function count(value: unknown, file: string, where: string, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(file, where, field, 'a whole number from 0', value);
  }
  return value;
}

function pattern(value: unknown, file: string, where: string, field: string): RegExp {
  if (typeof value !== 'string' || value === '') {
    throw invalid(file, where, field, 'a regular expression', value);
  }
  let compiled: RegExp;
  try {
    compiled = new RegExp(value);
  } catch (error) {
    throw invalid(file, where, field, `a valid regular expression (${messageOf(error)})`, value);
  }
  // A repetition inside a repetition, `(a+)+`, can backtrack for an exponential time on a long
  // enough text: one such event would stall the stage. safe-regex2 finds that shape.
  if (!isSafeRegex(compiled)) {
    throw invalid(
      file,
      where,
      field,
      'a regular expression without a repetition inside a repetition (such as (a+)+), which can take exponential time',
      value,
    );
  }
  return compiled;
}

function oneOf<T extends string>(
  value: unknown,
  allowed: readonly T[],
  file: string,
  where: string | undefined,
  field: string,
): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value))
    return value as T;
  throw invalid(file, where, field, `one of ${allowed.join(', ')}`, value);
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value];
}

function rejectUnknownKeys(
  value: Record<string, unknown>,
  known: string[],
  file: string,
  where: string | undefined,
  prefix: string,
): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw invalid(file, where, `${prefix}${key}`, `one of the fields ${known.join(', ')}`, key);
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `<file>: rule "x": field "for": expected …, got "…"`. */
function invalid(
  file: string,
  where: string | undefined,
  field: string,
  expected: string,
  got?: unknown,
): PanaceaError {
  const parts = [file, ...(where === undefined ? [] : [where])];
  if (field !== '') parts.push(`field "${field}"`);
  const gotText = got === undefined ? 'nothing' : JSON.stringify(got);
  return new PanaceaError(
    'ALERT_RULES_INVALID',
    `${parts.join(': ')}: expected ${expected}, got ${gotText}`,
    { file, ...(where === undefined ? {} : { rule: where }), field },
  );
}
