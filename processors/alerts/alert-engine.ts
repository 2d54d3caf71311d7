/**
 * The life of each alert, by fingerprint: inactive → pending (the condition holds, its `for` has
 * not passed) → firing (notified) → resolved (notified, then forgotten). Pure: the stage passes
 * in the conditions that hold now, the time and the silences, and gets back the notifications to
 * publish; the state goes into the stage's checkpoint with `toJSON`.
 *
 * Deduplication: a firing alert is notified once, then again only when its repeat interval has
 * passed since the last notification, or when the silences that held back its last notification
 * have all ended (an unsilenced notification, so the alert is delivered after all). A silence
 * added while an alert fires does not notify; the alert's next notification carries it.
 */
import { createHash } from 'node:crypto';

import { formatTimestamp } from '../../schemas/timestamp.js';
import type { AlertNotification, AlertSeverity } from '../../schemas/alert.js';
import type { AlertRule } from './rules-file.js';

/** A rule's condition holding for one group of labels at the time of evaluation. */
export interface Condition {
  rule: AlertRule;
  /** The group's own labels (`agent`, `actor`…), without `alertname`, `severity` or the rule's. */
  groupLabels: Record<string, string>;
  value?: number;
}

/** The silences matching a set of labels now: their ids, sorted. */
export type SilenceMatcher = (labels: Record<string, string>, nowMs: number) => string[];

export interface AlertState {
  fingerprint: string;
  rule: string;
  severity: AlertSeverity;
  labels: Record<string, string>;
  /** Kept so an alert whose rule left the file can still be resolved with what it said. */
  annotations: Record<string, string>;
  notify: string[];
  state: 'pending' | 'firing';
  activeSinceMs: number;
  firedAtMs?: number;
  lastNotifiedAtMs?: number;
  /** Of the last notification; 0 while pending. */
  notification: number;
  /** The silences of the last notification. */
  silencedBy: string[];
  value?: number;
}

export interface AlertEngineState {
  alerts: AlertState[];
}

export class AlertEngine {
  readonly #alerts = new Map<string, AlertState>();

  static restore(state: AlertEngineState): AlertEngine {
    const engine = new AlertEngine();
    for (const alert of state.alerts) engine.#alerts.set(alert.fingerprint, alert);
    return engine;
  }

  toJSON(): AlertEngineState {
    return { alerts: [...this.#alerts.values()].map((alert) => structuredClone(alert)) };
  }

  /** The alerts pending or firing now, for `list`-like views and tests. */
  alerts(): AlertState[] {
    return [...this.#alerts.values()];
  }

  /**
   * Moves every alert on by the conditions that hold at `nowMs`: those not held before start
   * pending, pending ones whose `for` has passed fire, firing ones repeat when due, and alerts
   * whose condition no longer holds resolve (or are forgotten, when they never fired).
   */
  evaluate(
    conditions: readonly Condition[],
    nowMs: number,
    silencesOf: SilenceMatcher,
  ): AlertNotification[] {
    const notifications: AlertNotification[] = [];
    const holding = new Set<string>();

    for (const condition of conditions) {
      const labels = labelsOf(condition);
      const fingerprint = fingerprintOf(condition.rule.name, labels);
      if (holding.has(fingerprint)) continue;
      holding.add(fingerprint);
      const alert =
        this.#alerts.get(fingerprint) ?? this.#start(condition, fingerprint, labels, nowMs);
      if (condition.value !== undefined) alert.value = condition.value;
      alert.annotations = condition.rule.annotations;
      alert.notify = condition.rule.notify;

      const notification = this.#advance(alert, condition.rule, nowMs, silencesOf);
      if (notification !== undefined) notifications.push(notification);
    }

    for (const [fingerprint, alert] of this.#alerts) {
      if (holding.has(fingerprint)) continue;
      this.#alerts.delete(fingerprint);
      if (alert.state !== 'firing') continue;
      alert.silencedBy = silencesOf(alert.labels, nowMs);
      notifications.push(notificationOf(alert, 'resolved', nowMs, nowMs));
    }
    return notifications;
  }

  #start(
    condition: Condition,
    fingerprint: string,
    labels: Record<string, string>,
    nowMs: number,
  ): AlertState {
    const alert: AlertState = {
      fingerprint,
      rule: condition.rule.name,
      severity: condition.rule.severity,
      labels,
      annotations: condition.rule.annotations,
      notify: condition.rule.notify,
      state: 'pending',
      activeSinceMs: nowMs,
      notification: 0,
      silencedBy: [],
    };
    this.#alerts.set(fingerprint, alert);
    return alert;
  }

  #advance(
    alert: AlertState,
    rule: AlertRule,
    nowMs: number,
    silencesOf: SilenceMatcher,
  ): AlertNotification | undefined {
    if (alert.state === 'pending') {
      if (nowMs - alert.activeSinceMs < rule.forMs) return undefined;
      alert.state = 'firing';
      alert.firedAtMs = nowMs;
      return this.#notify(alert, silencesOf(alert.labels, nowMs), nowMs);
    }

    const silences = silencesOf(alert.labels, nowMs);
    const unsilenced = alert.silencedBy.length > 0 && silences.length === 0;
    const repeatDue =
      nowMs - (alert.lastNotifiedAtMs ?? alert.activeSinceMs) >= rule.repeatIntervalMs;
    if (!unsilenced && !repeatDue) return undefined;
    return this.#notify(alert, silences, nowMs);
  }

  #notify(alert: AlertState, silences: string[], nowMs: number): AlertNotification {
    alert.notification += 1;
    alert.lastNotifiedAtMs = nowMs;
    alert.silencedBy = silences;
    return notificationOf(alert, 'firing', nowMs);
  }
}

/** `alertname`, `severity`, the rule's labels, then the group's (which win a clash). */
function labelsOf(condition: Condition): Record<string, string> {
  const merged: Record<string, string> = {
    ...condition.rule.labels,
    ...condition.groupLabels,
    alertname: condition.rule.name,
    severity: condition.rule.severity,
  };
  return Object.fromEntries(Object.entries(merged).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Hex SHA-256 of the rule name and the sorted labels, as schemas/alert.ts defines it. */
export function fingerprintOf(rule: string, labels: Record<string, string>): string {
  const sorted = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256')
    .update(JSON.stringify([rule, sorted]))
    .digest('hex');
}

function notificationOf(
  alert: AlertState,
  state: 'firing' | 'resolved',
  emittedAtMs: number,
  resolvedAtMs?: number,
): AlertNotification {
  const firedAt = formatTimestamp(alert.firedAtMs ?? alert.activeSinceMs);
  return {
    notificationId: `${alert.fingerprint}:${firedAt}:${state}:${alert.notification}`,
    fingerprint: alert.fingerprint,
    rule: alert.rule,
    state,
    severity: alert.severity,
    labels: alert.labels,
    annotations: renderAnnotations(alert.annotations, alert.labels, alert.value),
    activeSince: formatTimestamp(alert.activeSinceMs),
    firedAt,
    ...(resolvedAtMs === undefined ? {} : { resolvedAt: formatTimestamp(resolvedAtMs) }),
    notification: alert.notification,
    ...(alert.value === undefined ? {} : { value: alert.value }),
    silencedBy: alert.silencedBy,
    notify: alert.notify,
    emittedAt: formatTimestamp(emittedAtMs),
  };
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** Fills `{{label}}` and `{{value}}`; an unknown name is left as written, so it shows. */
export function renderAnnotations(
  annotations: Record<string, string>,
  labels: Record<string, string>,
  value: number | undefined,
): Record<string, string> {
  const fill = (text: string): string =>
    text.replace(PLACEHOLDER, (whole, name: string) => {
      if (name === 'value') return value === undefined ? '' : formatValue(value);
      return labels[name] ?? whole;
    });
  return Object.fromEntries(Object.entries(annotations).map(([key, text]) => [key, fill(text)]));
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(4)));
}
