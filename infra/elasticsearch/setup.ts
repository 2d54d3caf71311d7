/**
 * `panacea es setup`, also run by `stack up` and at pipeline start: installs the templates that
 * differ from what is stored, creates the data streams where the server can, and rolls over the
 * data streams whose template changed so that their next backing index has the new mappings.
 * Idempotent: a second run changes nothing and says so.
 */
import { errors, type Client } from '@elastic/elasticsearch';

import type { RetentionConfig } from '../../core/config.js';
import { componentLogger } from '../../core/logger.js';
import { EVENT_KINDS, METRICS_INDEX_RECORDS, type EventKind } from '../../core/naming.js';
import { readCapabilities, type ElasticsearchCapabilities } from './capabilities.js';
import { readDataStreams } from './index-state.js';
import { elasticsearchFailure } from './request-errors.js';
import { wantedEventTemplates } from './index-templates.js';
import { wantedMetricsTemplate } from './metrics-templates.js';
import { wantedAlertsTemplate } from './alerts-templates.js';
import type { RetentionTargets } from './retention.js';
import {
  compareTemplate,
  type TemplateChange,
  type WantedTemplate,
} from './template-comparison.js';

const logger = componentLogger('elasticsearch-setup');

/** Who deletes expired data: Elasticsearch's data stream lifecycle, or Panacea's enforcer. */
export type RetentionMechanism = 'lifecycle' | 'panacea';

export interface SetupOptions {
  namespace: string;
  retention: RetentionConfig;
  /** Read from the server when not given. */
  capabilities?: ElasticsearchCapabilities;
}

export interface SetupReport {
  elasticsearchVersion: string;
  degradations: string[];
  /** For the data streams; the metrics indices are always Panacea's. */
  mechanism: RetentionMechanism;
  templates: Array<{ name: string; type: WantedTemplate['type']; change: TemplateChange }>;
  dataStreams: Array<{
    name: string;
    /** `pending`: this server cannot create a data stream by itself; the first write does. */
    state: 'exists' | 'created' | 'pending';
    rolledOver: boolean;
  }>;
}

export function retentionMsOf(retention: RetentionConfig, kind: EventKind): number {
  const byKind: Record<EventKind, number> = {
    activity: retention.activityMs,
    error: retention.errorMs,
    audit: retention.auditMs,
    heartbeat: retention.heartbeatMs,
  };
  return byKind[kind];
}

export function mechanismOf(capabilities: ElasticsearchCapabilities): RetentionMechanism {
  return capabilities.dataStreamLifecycle ? 'lifecycle' : 'panacea';
}

/** What Panacea's enforcer expires for one namespace: all but what the lifecycle does. */
export function retentionTargetsFor(
  namespace: string,
  retention: RetentionConfig,
  mechanism: RetentionMechanism,
): RetentionTargets {
  return {
    dataStreams:
      mechanism === 'lifecycle'
        ? []
        : EVENT_KINDS.map((kind) => ({
            name: `logs-agent.${kind}-${namespace}`,
            retentionMs: retentionMsOf(retention, kind),
          })),
    // The current status holds one document per agent, its latest: kept however old, so an agent
    // that went quiet long ago still shows its last status. Its history expires with the metrics.
    metricsIndices: METRICS_INDEX_RECORDS.filter((record) => record !== 'status').map((record) => ({
      name: `metrics-agent.${record}-${namespace}`,
      retentionMs: retention.metricsMs,
    })),
    recordIndex: `panacea-retention-${namespace}`,
  };
}

export async function setupElasticsearch(
  client: Client,
  options: SetupOptions,
): Promise<SetupReport> {
  try {
    return await setUp(client, options);
  } catch (error) {
    throw elasticsearchFailure(error, 'Elasticsearch setup failed', {
      namespace: options.namespace,
    });
  }
}

async function setUp(client: Client, options: SetupOptions): Promise<SetupReport> {
  const capabilities = options.capabilities ?? (await readCapabilities(client));
  const mechanism = mechanismOf(capabilities);
  const wanted = [
    ...wantedEventTemplates(options.namespace, capabilities, (kind) => ({
      retentionMs: retentionMsOf(options.retention, kind),
      inTemplate: mechanism === 'lifecycle',
    })),
    wantedMetricsTemplate(),
    wantedAlertsTemplate(),
  ];

  // Components first: a composable template that names a missing component is refused.
  const templates: SetupReport['templates'] = [];
  const changedStreams = new Set<string>();
  for (const template of wanted) {
    const change = compareTemplate(template.body, await readStoredTemplate(client, template));
    if (change !== 'unchanged') await writeTemplate(client, template);
    // A created template can still meet an existing stream (made under an older catch-all
    // template), which then needs a rollover as much as after an update.
    if (change !== 'unchanged') template.dataStreams.forEach((name) => changedStreams.add(name));
    templates.push({ name: template.name, type: template.type, change });
    if (change !== 'unchanged')
      logger.info({ template: template.name, change }, 'template written');
  }

  const streamNames = EVENT_KINDS.map((kind) => `logs-agent.${kind}-${options.namespace}`);
  const existing = new Set((await readDataStreams(client, streamNames)).map((s) => s.name));
  const dataStreams: SetupReport['dataStreams'] = [];
  for (const name of streamNames) {
    if (existing.has(name)) {
      const rolledOver = changedStreams.has(name);
      if (rolledOver) {
        const result = await client.indices.rollover({ alias: name });
        logger.info(
          { dataStream: name, oldIndex: result.old_index, newIndex: result.new_index },
          'rolled a data stream over after its template changed',
        );
      }
      dataStreams.push({ name, state: 'exists', rolledOver });
    } else if (capabilities.dataStreamLifecycle) {
      await client.indices.createDataStream({ name });
      dataStreams.push({ name, state: 'created', rolledOver: false });
    } else {
      dataStreams.push({ name, state: 'pending', rolledOver: false });
    }
  }

  return {
    elasticsearchVersion: capabilities.version,
    degradations: capabilities.degradations,
    mechanism,
    templates,
    dataStreams,
  };
}

async function readStoredTemplate(
  client: Client,
  template: WantedTemplate,
): Promise<Record<string, unknown> | undefined> {
  try {
    if (template.type === 'component') {
      const response = await client.cluster.getComponentTemplate({ name: template.name });
      return response.component_templates[0]?.component_template as never;
    }
    const response = await client.indices.getIndexTemplate({ name: template.name });
    return response.index_templates[0]?.index_template as never;
  } catch (error) {
    if (error instanceof errors.ResponseError && error.statusCode === 404) return undefined;
    throw error;
  }
}

async function writeTemplate(client: Client, template: WantedTemplate): Promise<void> {
  if (template.type === 'component') {
    await client.cluster.putComponentTemplate({ name: template.name, ...template.body } as never);
  } else {
    await client.indices.putIndexTemplate({ name: template.name, ...template.body } as never);
  }
}
