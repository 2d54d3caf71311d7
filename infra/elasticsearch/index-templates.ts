/**
 * Index templates for the event data streams `logs-agent.<kind>-<namespace>`: explicit ECS-style
 * mappings for every field the enrichment produces. Unknown fields are kept in `_source` but not
 * indexed (`dynamic: false`), and free-form attributes use `flattened`, so no producer can grow the
 * mapping without bound.
 */
import { createHash } from 'node:crypto';

import { formatDuration } from '../../core/durations.js';
import { EVENT_KINDS, type EventKind } from '../../core/naming.js';
import type { ElasticsearchCapabilities } from './capabilities.js';
import type { WantedTemplate } from './template-comparison.js';

export const COMPONENT_TEMPLATE_SETTINGS = 'logs-agent@panacea-settings';
export const COMPONENT_TEMPLATE_MAPPINGS = 'logs-agent@panacea-mappings';
/**
 * Above Elastic's built-in `logs` template (100), so ours wins for `logs-agent.*`, and above the
 * catch-all `logs-agent@panacea` (500, `logs-agent.*-*`) that releases before per-stream templates
 * installed, so servers that still hold it keep working.
 */
const STREAM_TEMPLATE_PRIORITY = 510;

const keyword = { type: 'keyword', ignore_above: 1024 } as const;
const searchableText = {
  type: 'text',
  fields: { keyword: { type: 'keyword', ignore_above: 1024 } },
} as const;
const date = { type: 'date' } as const;

export const EVENT_MAPPINGS = {
  dynamic: 'false',
  properties: {
    '@timestamp': date,
    message: { type: 'text' },
    ecs: { properties: { version: keyword } },
    data_stream: {
      properties: {
        type: { type: 'constant_keyword' },
        dataset: { type: 'constant_keyword' },
        namespace: { type: 'constant_keyword' },
      },
    },
    event: {
      properties: {
        id: keyword,
        kind: keyword,
        category: keyword,
        type: keyword,
        action: keyword,
        outcome: keyword,
        duration: { type: 'long' },
        dataset: keyword,
        module: keyword,
        created: date,
        ingested: date,
        reason: searchableText,
      },
    },
    gen_ai: {
      properties: {
        agent: { properties: { id: keyword, name: keyword, type: keyword, version: keyword } },
      },
    },
    trace: { properties: { id: keyword } },
    span: { properties: { id: keyword } },
    error: {
      properties: { type: keyword, message: searchableText, stack_trace: { type: 'text' } },
    },
    log: { properties: { level: keyword } },
    source: { properties: { ip: { type: 'ip' } } },
    // What the enrichment changed on the event, e.g. `panacea.invalid_utf8`.
    tags: keyword,
    // The agent registry's labels; their keys are the operators', so one flattened field.
    labels: { type: 'flattened', ignore_above: 1024 },
    panacea: {
      properties: {
        kind: keyword,
        // Names of the redaction rules that masked something in the event.
        redactions: keyword,
        agent: {
          properties: {
            registered: { type: 'boolean' },
            display_name: keyword,
            team: keyword,
            owner: keyword,
            environment: keyword,
          },
        },
        workflow: { properties: { id: keyword } },
        task: { properties: { id: keyword } },
        activity: {
          properties: {
            action: keyword,
            status: keyword,
            duration_ms: { type: 'double' },
            attributes: { type: 'flattened', ignore_above: 1024, depth_limit: 5 },
          },
        },
        error: {
          properties: {
            severity: keyword,
            retryable: { type: 'boolean' },
            attributes: { type: 'flattened', ignore_above: 1024, depth_limit: 5 },
          },
        },
        audit: {
          properties: {
            actor: { properties: { type: keyword, id: keyword } },
            resource: { properties: { type: keyword, id: keyword } },
            outcome: keyword,
          },
        },
        heartbeat: {
          properties: {
            status: keyword,
            cpu_percent: { type: 'float' },
            memory_mb: { type: 'float' },
            queue_depth: { type: 'long' },
          },
        },
      },
    },
  },
} as const;

export const EVENT_SETTINGS = {
  // One replica where there is a second node, none on a single-node development cluster.
  'index.auto_expand_replicas': '0-1',
  'index.mapping.total_fields.limit': 2000,
};

/** The mappings this server can take: `constant_keyword` degrades to `keyword` where missing. */
export function eventMappingsFor(
  capabilities: Pick<ElasticsearchCapabilities, 'constantKeyword'>,
): object {
  if (capabilities.constantKeyword) return EVENT_MAPPINGS;
  return {
    ...EVENT_MAPPINGS,
    properties: {
      ...EVENT_MAPPINGS.properties,
      data_stream: { properties: { type: keyword, dataset: keyword, namespace: keyword } },
    },
  };
}

/** Retention of one data stream, and whether the template carries it to the lifecycle service. */
export interface StreamRetention {
  retentionMs: number;
  /** True on a server with the data stream lifecycle: `data_retention` goes in the template. */
  inTemplate: boolean;
}

/**
 * The templates one deployment (one namespace) needs for its event data streams: the two shared
 * component templates, and one composable template per kind that matches exactly that kind's data
 * stream. One per stream, because retention is per stream and per deployment (two deployments on
 * one cluster may keep data for different times); and a test can change its own template without
 * touching anybody else's.
 */
export function wantedEventTemplates(
  namespace: string,
  capabilities: Pick<ElasticsearchCapabilities, 'constantKeyword'>,
  retentionOf: (kind: EventKind) => StreamRetention,
): WantedTemplate[] {
  const components: WantedTemplate[] = [
    {
      type: 'component',
      name: COMPONENT_TEMPLATE_SETTINGS,
      body: { template: { settings: EVENT_SETTINGS } },
      dataStreams: [],
    },
    {
      type: 'component',
      name: COMPONENT_TEMPLATE_MAPPINGS,
      body: { template: { mappings: eventMappingsFor(capabilities) } },
      dataStreams: [],
    },
  ];
  // The components are shared by every deployment on the cluster, so the deployment that updates
  // them is not the only one whose streams need a rollover. Their fingerprint in each composable
  // template makes every deployment's next setup see its own template as changed, and roll over.
  const componentsHash = createHash('sha256')
    .update(JSON.stringify(components.map((component) => component.body)))
    .digest('hex')
    .slice(0, 16);

  const composables = EVENT_KINDS.map((kind): WantedTemplate => {
    const dataStream = `logs-agent.${kind}-${namespace}`;
    const retention = retentionOf(kind);
    return {
      type: 'index',
      name: `${dataStream}@panacea`,
      body: {
        index_patterns: [dataStream],
        data_stream: {},
        priority: STREAM_TEMPLATE_PRIORITY,
        composed_of: [COMPONENT_TEMPLATE_SETTINGS, COMPONENT_TEMPLATE_MAPPINGS],
        ...(retention.inTemplate
          ? { template: { lifecycle: { data_retention: formatDuration(retention.retentionMs) } } }
          : {}),
        _meta: {
          managed_by: 'panacea',
          description: `AI agent ${kind} events from the Panacea pipeline`,
          components_hash: componentsHash,
          retention: formatDuration(retention.retentionMs),
          retention_by: retention.inTemplate ? 'lifecycle' : 'panacea',
        },
      },
      dataStreams: [dataStream],
    };
  });
  return [...components, ...composables];
}
