/**
 * The alert contract: what the alerts stage publishes on `agent.alerts` (one JSON object per
 * Kafka record, keyed by `fingerprint`) and what the webhook sink delivers. One record is one
 * notification: an alert starting to fire, a repeat of a firing alert after the repeat interval,
 * or its resolution. Times are RFC 3339 UTC strings, as in the documents Elasticsearch stores.
 */

export const ALERT_SEVERITIES = ['critical', 'warning', 'info'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export const ALERT_STATES = ['firing', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

export interface AlertNotification {
  /**
   * Unique per notification and stable across redelivery: `<fingerprint>:<firedAt>:<state>:
   * <notification>`. Receivers use it as the idempotency key, and the sink as the document id.
   */
  notificationId: string;
  /** Hex SHA-256 of the rule name and the sorted labels: the same alert has the same one. */
  fingerprint: string;
  /** The rule's name, unique within the rules file; also the `alertname` label. */
  rule: string;
  state: AlertState;
  severity: AlertSeverity;
  /** Identify the alert: `alertname`, `severity`, the rule's own labels and its group-by labels. */
  labels: Record<string, string>;
  /** Describe it to a human: at least `summary`; `description` when the rule gives one. */
  annotations: Record<string, string>;
  /** When the condition was first seen true for this firing (before its `for` elapsed). */
  activeSince: string;
  /** When the alert started firing (Alertmanager's `startsAt`). */
  firedAt: string;
  /** When the condition cleared; only on `resolved`. */
  resolvedAt?: string;
  /** 1 for the first firing notification, 2 and on for repeats; resolutions carry the last one. */
  notification: number;
  /** The observed value that crossed the threshold (rate, count, p95 ms…), when there is one. */
  value?: number;
  /**
   * Ids of the silences that matched when the alert was evaluated. A silenced notification is
   * stored but not delivered; when a silence expires while the alert still fires, the stage
   * publishes a new, unsilenced notification.
   */
  silencedBy: string[];
  /** Destination names the rule routes to; empty means every configured destination. */
  notify: string[];
  /** When the stage published this notification. */
  emittedAt: string;
}
