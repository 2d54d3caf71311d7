/**
 * Index templates for the event data streams `logs-agent.<kind>-<namespace>`: explicit ECS-style
 * mappings for every field the enrichment produces. Unknown fields are kept in `_source` but not
 * indexed (`dynamic: false`), and free-form attributes use `flattened`, so no producer can grow the
 * mapping without bound.
 */
import type { Client } from '@elastic/elasticsearch';

import type { ElasticsearchCapabilities } from './capabilities.js';

export const COMPONENT_TEMPLATE_SETTINGS = 'logs-agent@panacea-settings';
export const COMPONENT_TEMPLATE_MAPPINGS = 'logs-agent@panacea-mappings';
export const INDEX_TEMPLATE = 'logs-agent@panacea';
/** Above Elastic's built-in `logs` template (100), so ours wins for `logs-agent.*`. */
const TEMPLATE_PRIORITY = 500;

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

/** Installs (or updates) the templates; idempotent. */
export async function installIndexTemplates(
  client: Client,
  capabilities: ElasticsearchCapabilities,
): Promise<void> {
  await client.cluster.putComponentTemplate({
    name: COMPONENT_TEMPLATE_SETTINGS,
    template: { settings: EVENT_SETTINGS },
  });
  await client.cluster.putComponentTemplate({
    name: COMPONENT_TEMPLATE_MAPPINGS,
    template: { mappings: eventMappingsFor(capabilities) as never },
  });
  await client.indices.putIndexTemplate({
    name: INDEX_TEMPLATE,
    index_patterns: ['logs-agent.*-*'],
    data_stream: {},
    priority: TEMPLATE_PRIORITY,
    composed_of: [COMPONENT_TEMPLATE_SETTINGS, COMPONENT_TEMPLATE_MAPPINGS],
    _meta: { managed_by: 'panacea', description: 'AI agent events from the Panacea pipeline' },
  });
}
