/**
 * The index template of the alert indices `alerts-agent.<record>-<namespace>`: `alert` holds one
 * document per notification (schemas/alert.ts, `_id` = `notificationId`), `silence` one per
 * silence (`_id` = its id, overwritten when it is expired). Plain indices, not data streams: a
 * silence's document is rewritten, which a data stream refuses. Labels and annotations are
 * rule-chosen names, so they are stored as flattened-free objects with `dynamic: false` and only
 * the fields every notification has are mapped.
 */
import type { WantedTemplate } from './template-comparison.js';

export const ALERTS_INDEX_TEMPLATE = 'alerts-agent@panacea';
/** Same footing as the metrics template: above any built-in template a full server may ship. */
const ALERTS_TEMPLATE_PRIORITY = 500;

const keyword = { type: 'keyword', ignore_above: 1024 } as const;
const date = { type: 'date' } as const;

export const ALERTS_MAPPINGS = {
  dynamic: 'false',
  properties: {
    '@timestamp': date,
    // A notification.
    notificationId: keyword,
    fingerprint: keyword,
    rule: keyword,
    state: keyword,
    severity: keyword,
    labels: { type: 'object', dynamic: 'true' },
    annotations: { properties: { summary: { type: 'text' }, description: { type: 'text' } } },
    activeSince: date,
    firedAt: date,
    resolvedAt: date,
    notification: { type: 'long' },
    value: { type: 'double' },
    silencedBy: keyword,
    notify: keyword,
    emittedAt: date,
    // A silence.
    id: keyword,
    matchers: { type: 'object', dynamic: 'true' },
    startsAt: date,
    endsAt: date,
    comment: { type: 'text' },
    author: keyword,
    createdAt: date,
    updatedAt: date,
  },
  // Label values are names (agent ids, severities): searched whole, never as text.
  dynamic_templates: [
    { labels_as_keywords: { path_match: 'labels.*', mapping: keyword } },
    { matchers_as_keywords: { path_match: 'matchers.*', mapping: keyword } },
  ],
} as const;

export function wantedAlertsTemplate(): WantedTemplate {
  return {
    type: 'index',
    name: ALERTS_INDEX_TEMPLATE,
    body: {
      index_patterns: ['alerts-agent.*-*'],
      priority: ALERTS_TEMPLATE_PRIORITY,
      template: {
        settings: { 'index.auto_expand_replicas': '0-1' },
        mappings: ALERTS_MAPPINGS,
      },
      _meta: { managed_by: 'panacea', description: 'Alert notifications and silences' },
    },
    dataStreams: [],
  };
}
