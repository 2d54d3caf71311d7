import { describe, expect, it } from 'vitest';

import type { AlertNotification } from '../../../../schemas/alert.js';
import { readAlertNotification } from '../../../../sinks/webhooks/alert-record.js';
import { parseDestinations } from '../../../../sinks/webhooks/destinations-file.js';
import {
  alertmanagerAlerts,
  alertmanagerAlertsUrl,
  alertmanagerLabels,
  formatRequest,
  slackMessage,
} from '../../../../sinks/webhooks/payloads.js';
import { thrownPanaceaError } from '../../fixtures/panacea-error.js';

const FIRING: AlertNotification = {
  notificationId: 'fp1:2026-01-01T10:00:00.000Z:firing:1',
  fingerprint: 'fp1',
  rule: 'error-rate-high',
  state: 'firing',
  severity: 'critical',
  labels: {
    alertname: 'error-rate-high',
    severity: 'critical',
    'agent.team': 'search',
    workflow: 'triage',
  },
  annotations: { summary: 'Error rate above 5 %', description: 'Search agents fail often.' },
  activeSince: '2026-01-01T09:58:00.000Z',
  firedAt: '2026-01-01T10:00:00.000Z',
  notification: 1,
  value: 0.12,
  silencedBy: [],
  notify: [],
  emittedAt: '2026-01-01T10:00:01.000Z',
};
const RESOLVED: AlertNotification = {
  ...FIRING,
  notificationId: 'fp1:2026-01-01T10:00:00.000Z:resolved:1',
  state: 'resolved',
  resolvedAt: '2026-01-01T10:20:00.000Z',
  emittedAt: '2026-01-01T10:20:01.000Z',
};

const { destinations } = parseDestinations(
  `
destinations:
  - { name: hook, type: webhook, url: "https://h.example.com/in", secret: "0123456789abcdef" }
  - { name: chat, type: slack, url: "https://chat.example.com/hooks/x" }
  - { name: am, type: alertmanager, url: "http://127.0.0.1:9093/am/", firingTtl: 1h,
      generatorUrl: "https://kibana.example.com/alerts?rule={rule}&fp={fingerprint}" }
`,
  'd.yaml',
);
const [hook, chat, am] = destinations as [
  (typeof destinations)[0],
  (typeof destinations)[0],
  (typeof destinations)[0],
];

describe('payloads per destination type', () => {
  it('sends a webhook the notification as the alerts topic carries it', () => {
    const request = formatRequest(hook, FIRING);
    expect(request.url.href).toBe('https://h.example.com/in');
    expect(JSON.parse(request.body)).toEqual(FIRING);
  });

  it('gives Slack a headline, the summary and the labels, coloured by severity and state', () => {
    const firing = slackMessage(FIRING);
    expect(firing.text).toBe('[FIRING] critical: error-rate-high: Error rate above 5 %');
    const attachment = firing.attachments[0];
    expect(attachment?.color).toBe('#d1242f');
    expect(attachment?.text).toBe('Search agents fail often.');
    expect(attachment?.fields).toEqual([
      { title: 'agent.team', value: 'search', short: true },
      { title: 'workflow', value: 'triage', short: true },
      { title: 'value', value: '0.12', short: true },
    ]);
    expect(attachment?.footer).toContain(FIRING.notificationId);
    expect(attachment?.ts).toBe(Date.parse(FIRING.firedAt) / 1000);

    const resolved = slackMessage(RESOLVED);
    expect(resolved.text).toMatch(/^\[RESOLVED\]/);
    expect(resolved.attachments[0]?.color).toBe('#1a7f37');
    expect(formatRequest(chat, FIRING).body).toBe(JSON.stringify(firing));
  });

  it('gives Alertmanager a v2 alert: startsAt, endsAt, labels, annotations, generatorURL', () => {
    const request = formatRequest(am, FIRING);
    expect(request.url.href).toBe('http://127.0.0.1:9093/am/api/v2/alerts');
    expect(JSON.parse(request.body)).toEqual([
      {
        labels: {
          alertname: 'error-rate-high',
          severity: 'critical',
          agent_team: 'search',
          workflow: 'triage',
        },
        annotations: {
          summary: 'Error rate above 5 %',
          description: 'Search agents fail often.',
          panacea_notification_id: FIRING.notificationId,
          value: '0.12',
        },
        startsAt: FIRING.firedAt,
        // emittedAt + firingTtl (1 h)
        endsAt: '2026-01-01T11:00:01.000Z',
        generatorURL: 'https://kibana.example.com/alerts?rule=error-rate-high&fp=fp1',
      },
    ]);
  });

  it('ends a resolved alert at its resolution', () => {
    const [alert] = alertmanagerAlerts(RESOLVED, am);
    expect(alert?.startsAt).toBe(FIRING.firedAt);
    expect(alert?.endsAt).toBe('2026-01-01T10:20:00.000Z');
  });

  it('makes label names Alertmanager accepts and always carries alertname', () => {
    expect(alertmanagerLabels({ 'a.b-c': 'x', '9lives': 'y', empty: '' }, 'rule-1')).toEqual({
      a_b_c: 'x',
      _9lives: 'y',
      alertname: 'rule-1',
    });
  });

  it('keeps a base URL that already names the alerts API', () => {
    const url = new URL('http://127.0.0.1:9093/api/v2/alerts');
    expect(alertmanagerAlertsUrl(url).href).toBe(url.href);
    expect(alertmanagerAlertsUrl(new URL('http://127.0.0.1:9093')).href).toBe(
      'http://127.0.0.1:9093/api/v2/alerts',
    );
  });
});

describe('alert notification records', () => {
  it('reads a record of the contract back', () => {
    expect(readAlertNotification(Buffer.from(JSON.stringify(RESOLVED)))).toEqual(RESOLVED);
  });

  it.each([
    ['a tombstone', null, 'CONTRACT_VIOLATION', 'tombstone'],
    ['text that is not JSON', Buffer.from('{oops'), 'DECODE_FAILED', 'not a JSON alert'],
    [
      'an unknown state',
      Buffer.from(JSON.stringify({ ...FIRING, state: 'pending' })),
      'CONTRACT_VIOLATION',
      'state',
    ],
    [
      'a missing notify list',
      Buffer.from(JSON.stringify({ ...FIRING, notify: undefined })),
      'CONTRACT_VIOLATION',
      'notify',
    ],
    [
      'a resolution without its time',
      Buffer.from(JSON.stringify({ ...RESOLVED, resolvedAt: undefined })),
      'CONTRACT_VIOLATION',
      'resolvedAt',
    ],
    [
      'a label that is not text',
      Buffer.from(JSON.stringify({ ...FIRING, labels: { n: 1 } })),
      'CONTRACT_VIOLATION',
      'labels',
    ],
  ])('refuses %s', (_case, value, code, words) => {
    const error = thrownPanaceaError(() => readAlertNotification(value));
    expect(error.code).toBe(code);
    expect(error.message).toContain(words);
  });
});
