/**
 * What each type of destination receives for one alert notification: the request's path and
 * JSON body. Formatting is pure, so one notification always gives the same bytes (and the same
 * signature for the same timestamp).
 *
 * - `webhook`: the AlertNotification itself (schemas/alert.ts), as the alerts topic carries it.
 * - `slack`: an incoming-webhook message (`text` plus one coloured attachment), which Slack and
 *   the chat servers that copy its webhook format (Mattermost, Rocket.Chat) display.
 * - `alertmanager`: a one-alert list for `POST /api/v2/alerts`, so Alertmanager's own routing,
 *   grouping, inhibition and silences apply.
 */
import type { AlertNotification, AlertSeverity } from '../../schemas/alert.js';
import type { Destination } from './destinations-file.js';

export interface DeliveryRequest {
  url: URL;
  body: string;
}

export const ALERTMANAGER_ALERTS_PATH = '/api/v2/alerts';

export function formatRequest(
  destination: Destination,
  notification: AlertNotification,
): DeliveryRequest {
  switch (destination.type) {
    case 'webhook':
      return { url: destination.url, body: JSON.stringify(notification) };
    case 'slack':
      return { url: destination.url, body: JSON.stringify(slackMessage(notification)) };
    case 'alertmanager':
      return {
        url: alertmanagerAlertsUrl(destination.url),
        body: JSON.stringify(alertmanagerAlerts(notification, destination)),
      };
  }
}

const SEVERITY_COLOURS: Record<AlertSeverity, string> = {
  critical: '#d1242f',
  warning: '#d4a72c',
  info: '#0969da',
};
const RESOLVED_COLOUR = '#1a7f37';

export interface SlackMessage {
  text: string;
  attachments: Array<{
    color: string;
    title: string;
    text: string;
    fields: Array<{ title: string; value: string; short: boolean }>;
    footer: string;
    ts: number;
  }>;
}

export function slackMessage(notification: AlertNotification): SlackMessage {
  const { state, severity, rule, annotations, labels } = notification;
  const summary = annotations.summary ?? rule;
  const headline = `[${state.toUpperCase()}] ${severity}: ${rule}`;
  const fields = Object.entries(labels)
    .filter(([name]) => name !== 'alertname' && name !== 'severity')
    .sort(([left], [right]) => left.localeCompare(right))
    .map(([name, value]) => ({ title: name, value, short: true }));
  if (notification.value !== undefined) {
    fields.push({ title: 'value', value: String(notification.value), short: true });
  }
  const atTime =
    state === 'resolved'
      ? (notification.resolvedAt ?? notification.emittedAt)
      : notification.firedAt;

  return {
    text: `${headline}: ${summary}`,
    attachments: [
      {
        color: state === 'resolved' ? RESOLVED_COLOUR : SEVERITY_COLOURS[severity],
        title: summary,
        text: annotations.description ?? '',
        fields,
        footer: `panacea · ${notification.notificationId}`,
        ts: Math.floor(Date.parse(atTime) / 1000),
      },
    ],
  };
}

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

/**
 * The notification as Alertmanager's v2 alert. A firing alert ends `firingTtl` after it was
 * emitted unless a newer notification (a repeat) moves it on, so an alert whose rule engine
 * stopped does not stay up for ever; a resolved one ends at `resolvedAt`, which resolves it.
 */
export function alertmanagerAlerts(
  notification: AlertNotification,
  destination: Pick<Destination, 'generatorUrl' | 'firingTtlMs'>,
): AlertmanagerAlert[] {
  const endsAt =
    notification.state === 'resolved'
      ? (notification.resolvedAt ?? notification.emittedAt)
      : new Date(Date.parse(notification.emittedAt) + destination.firingTtlMs).toISOString();
  const annotations: Record<string, string> = {
    ...notification.annotations,
    panacea_notification_id: notification.notificationId,
  };
  if (notification.value !== undefined) annotations.value = String(notification.value);
  const alert: AlertmanagerAlert = {
    labels: alertmanagerLabels(notification.labels, notification.rule),
    annotations,
    startsAt: notification.firedAt,
    endsAt,
  };
  if (destination.generatorUrl !== undefined) {
    alert.generatorURL = destination.generatorUrl
      .replaceAll('{rule}', encodeURIComponent(notification.rule))
      .replaceAll('{fingerprint}', encodeURIComponent(notification.fingerprint));
  }
  return [alert];
}

/**
 * Alertmanager 0.25 takes label names of Prometheus's classic form (`[a-zA-Z_][a-zA-Z0-9_]*`) and
 * treats an empty value as no label: other characters become `_`, empty values are left out, and
 * `alertname` is always there.
 */
export function alertmanagerLabels(
  labels: Record<string, string>,
  rule: string,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(labels)) {
    if (value === '') continue;
    const safeName = name.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^(?=[0-9])/, '_');
    result[safeName] = value;
  }
  result.alertname ??= rule;
  return result;
}

export function alertmanagerAlertsUrl(base: URL): URL {
  if (base.pathname.endsWith(ALERTMANAGER_ALERTS_PATH)) return base;
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${ALERTMANAGER_ALERTS_PATH}`;
  return url;
}
