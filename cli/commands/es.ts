/**
 * `panacea es setup | status | retention`: the index templates and data streams of this
 * deployment's namespace, what they hold, and the retention that expires it.
 */
import { Client } from '@elastic/elasticsearch';

import type { PanaceaConfig } from '../../core/config.js';
import { formatDuration, parseDurationMs } from '../../core/durations.js';
import { elasticsearchConnection, printableUrl } from '../../core/elasticsearch-access.js';
import { PanaceaError } from '../../core/errors.js';
import { componentLogger } from '../../core/logger.js';
import { EVENT_KINDS, METRICS_INDEX_RECORDS } from '../../core/naming.js';
import { readCapabilities } from '../../infra/elasticsearch/capabilities.js';
import { elasticsearchFailure } from '../../infra/elasticsearch/request-errors.js';
import {
  readDataStreams,
  readPlainIndices,
  type IndexState,
} from '../../infra/elasticsearch/index-state.js';
import {
  enforceRetention,
  readLastEnforcement,
  type EnforcementReport,
} from '../../infra/elasticsearch/retention.js';
import {
  mechanismOf,
  retentionMsOf,
  retentionTargetsFor,
  setupElasticsearch,
  type RetentionMechanism,
  type SetupReport,
} from '../../infra/elasticsearch/setup.js';
import { EXIT_OK, parseCommandArgs, say } from '../command-line.js';

export const ES_USAGE = `panacea es setup|status|retention [--json] [--dry-run]`;

export async function esCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    { json: { type: 'boolean', default: false }, 'dry-run': { type: 'boolean', default: false } },
    true,
  );
  const action = positionals[0];
  if (positionals.length !== 1 || !['setup', 'status', 'retention'].includes(action ?? '')) {
    throw new PanaceaError('USAGE', `expected: ${ES_USAGE}`);
  }
  if (values['dry-run'] && action !== 'retention') {
    throw new PanaceaError('USAGE', '--dry-run: only for `panacea es retention`');
  }

  const client = new Client({
    ...elasticsearchConnection(config),
    maxRetries: 0,
    requestTimeout: 30_000,
  });
  try {
    if (action === 'setup') {
      const report = await setupElasticsearch(client, {
        namespace: config.namespace,
        retention: config.retention,
      });
      say(values.json ? JSON.stringify(report) : describeSetup(report).join('\n'));
    } else if (action === 'status') {
      const status = await readStatus(client, config);
      say(values.json ? JSON.stringify(status) : describeStatus(status).join('\n'));
    } else {
      const mechanism = mechanismOf(await readCapabilities(client));
      const targets = retentionTargetsFor(config.namespace, config.retention, mechanism);
      const report = await enforceRetention(client, targets, {
        dryRun: values['dry-run'],
        logger: componentLogger('retention'),
      });
      say(values.json ? JSON.stringify(report) : describeEnforcement(report, mechanism).join('\n'));
    }
    return EXIT_OK;
  } catch (error) {
    throw elasticsearchFailure(error, `es ${action} at ${printableUrl(config.elasticsearchUrl)}`);
  } finally {
    await client.close();
  }
}

function describeMechanism(mechanism: RetentionMechanism): string {
  return mechanism === 'lifecycle'
    ? 'lifecycle (data streams expire by the data stream lifecycle; metrics indices by Panacea)'
    : 'panacea (this server has no data stream lifecycle: Panacea rolls over and deletes expired backing indices, in `panacea run` and `panacea es retention`)';
}

export function describeSetup(report: SetupReport): string[] {
  const lines = [
    `Elasticsearch ${report.elasticsearchVersion}; retention mechanism: ${describeMechanism(report.mechanism)}`,
  ];
  for (const degradation of report.degradations) lines.push(`degraded: ${degradation}`);
  for (const template of report.templates) {
    lines.push(`${template.type} template ${template.name}: ${template.change}`);
  }
  for (const stream of report.dataStreams) {
    const state =
      stream.state === 'pending'
        ? 'not created yet: this server has no _data_stream API, the first write creates it'
        : stream.state;
    lines.push(`data stream ${stream.name}: ${state}${stream.rolledOver ? ', rolled over' : ''}`);
  }
  return lines;
}

interface IndexStatus {
  name: string;
  docs: number;
  sizeBytes: number;
  createdAt: string | undefined;
  oldestTimestamp: string | undefined;
  newestTimestamp: string | undefined;
}

export interface EsStatus {
  namespace: string;
  elasticsearchVersion: string;
  mechanism: RetentionMechanism;
  enforcementInterval: string | undefined;
  lastEnforcement: EnforcementReport | undefined;
  dataStreams: Array<
    Omit<IndexStatus, 'createdAt'> & {
      retention: string;
      retentionBy: RetentionMechanism;
      backingIndices: IndexStatus[];
    }
  >;
  metricsIndices: Array<IndexStatus & { retention: string | undefined }>;
}

async function readStatus(client: Client, config: PanaceaConfig): Promise<EsStatus> {
  const capabilities = await readCapabilities(client);
  const mechanism = mechanismOf(capabilities);
  const targets = retentionTargetsFor(config.namespace, config.retention, mechanism);
  const streamNames = EVENT_KINDS.map((kind) => `logs-agent.${kind}-${config.namespace}`);
  const streams = await readDataStreams(client, streamNames);
  const metricsNames = METRICS_INDEX_RECORDS.map(
    (record) => `metrics-agent.${record}-${config.namespace}`,
  );
  const metrics = await readPlainIndices(client, metricsNames);

  const dataStreams: EsStatus['dataStreams'] = [];
  for (const kind of EVENT_KINDS) {
    const name = `logs-agent.${kind}-${config.namespace}`;
    const stream = streams.find((candidate) => candidate.name === name);
    if (stream === undefined) continue;
    // What setup installed is what is in force, whatever this shell's variables say.
    const installed = await readInstalledRetention(client, `${name}@panacea`);
    dataStreams.push({
      ...summarise(name, stream.backingIndices),
      retention: installed?.retention ?? formatDuration(retentionMsOf(config.retention, kind)),
      retentionBy: installed?.retentionBy ?? mechanism,
      backingIndices: stream.backingIndices.map((index) => indexStatus(index)),
    });
  }
  return {
    namespace: config.namespace,
    elasticsearchVersion: capabilities.version,
    mechanism,
    enforcementInterval:
      config.retention.enforcementIntervalMs === undefined
        ? undefined
        : formatDuration(config.retention.enforcementIntervalMs),
    lastEnforcement: await readLastEnforcement(client, targets.recordIndex),
    dataStreams,
    metricsIndices: metrics.map((index) => {
      const target = targets.metricsIndices.find((candidate) => candidate.name === index.name);
      return {
        ...indexStatus(index),
        retention: target === undefined ? undefined : formatDuration(target.retentionMs),
      };
    }),
  };
}

async function readInstalledRetention(
  client: Client,
  template: string,
): Promise<{ retention: string; retentionBy: RetentionMechanism } | undefined> {
  const response = await client.indices.getIndexTemplate({ name: template }, { ignore: [404] });
  const meta = response.index_templates?.[0]?.index_template._meta as
    { retention?: string; retention_by?: RetentionMechanism } | undefined;
  if (meta?.retention === undefined || parseDurationMs(meta.retention) === undefined)
    return undefined;
  return { retention: meta.retention, retentionBy: meta.retention_by ?? 'panacea' };
}

function indexStatus(index: IndexState): IndexStatus {
  return {
    name: index.name,
    docs: index.docCount,
    sizeBytes: index.sizeBytes,
    createdAt: isoOrUndefined(index.createdAtMs || undefined),
    oldestTimestamp: isoOrUndefined(index.oldestTimestampMs),
    newestTimestamp: isoOrUndefined(index.newestTimestampMs),
  };
}

function summarise(name: string, indices: IndexState[]): Omit<IndexStatus, 'createdAt'> {
  const oldest = indices.map((index) => index.oldestTimestampMs).filter(isNumber);
  const newest = indices.map((index) => index.newestTimestampMs).filter(isNumber);
  return {
    name,
    docs: indices.reduce((sum, index) => sum + index.docCount, 0),
    sizeBytes: indices.reduce((sum, index) => sum + index.sizeBytes, 0),
    oldestTimestamp: isoOrUndefined(oldest.length === 0 ? undefined : Math.min(...oldest)),
    newestTimestamp: isoOrUndefined(newest.length === 0 ? undefined : Math.max(...newest)),
  };
}

export function describeStatus(status: EsStatus): string[] {
  const interval =
    status.enforcementInterval === undefined
      ? 'off in panacea run'
      : `every ${status.enforcementInterval} in panacea run`;
  const last = status.lastEnforcement;
  const lines = [
    `namespace ${status.namespace}, Elasticsearch ${status.elasticsearchVersion}`,
    `retention mechanism: ${describeMechanism(status.mechanism)}; Panacea's enforcement ${interval}`,
    last === undefined
      ? 'last enforcement: never'
      : `last enforcement: ${last.ranAt} (rolled over ${last.rolledOver.length}, deleted ${last.deletedIndices.length} backing indices, ${last.deletedDocuments.reduce((sum, entry) => sum + entry.count, 0)} metrics documents)`,
  ];
  if (status.dataStreams.length === 0) lines.push('no data streams yet');
  for (const stream of status.dataStreams) {
    lines.push(
      `data stream ${stream.name}: retention ${stream.retention} by ${stream.retentionBy}, ${stream.backingIndices.length} backing indices, ${describeContent(stream)}`,
    );
    stream.backingIndices.forEach((index, position) => {
      const write = position === stream.backingIndices.length - 1 ? ' (write index)' : '';
      lines.push(
        `  ${index.name}${write}: created ${index.createdAt ?? '?'}, ${describeContent(index)}`,
      );
    });
  }
  for (const index of status.metricsIndices) {
    const retention =
      index.retention === undefined
        ? 'kept (current state)'
        : `retention ${index.retention} by panacea`;
    lines.push(`metrics index ${index.name}: ${retention}, ${describeContent(index)}`);
  }
  return lines;
}

function describeContent(index: Omit<IndexStatus, 'createdAt'>): string {
  const range =
    index.oldestTimestamp === undefined
      ? ''
      : `, @timestamp ${index.oldestTimestamp} … ${index.newestTimestamp ?? '?'}`;
  return `${index.docs} docs, ${index.sizeBytes} bytes${range}`;
}

export function describeEnforcement(
  report: EnforcementReport,
  mechanism: RetentionMechanism,
): string[] {
  const verb = report.dryRun ? 'would ' : '';
  const lines = [`retention mechanism: ${describeMechanism(mechanism)}`];
  for (const rollover of report.rolledOver) {
    lines.push(`${verb}roll over ${rollover.dataStream} (${rollover.reason})`);
  }
  for (const deletion of report.deletedIndices) {
    lines.push(
      `${verb}delete ${deletion.index} of ${deletion.dataStream} (newest document ${deletion.newestTimestamp})`,
    );
  }
  for (const entry of report.deletedDocuments) {
    lines.push(`${verb}delete ${entry.count} expired documents of ${entry.index}`);
  }
  if (lines.length === 1) lines.push('nothing expired');
  return lines;
}

function isoOrUndefined(timeMs: number | undefined): string | undefined {
  return timeMs === undefined ? undefined : new Date(timeMs).toISOString();
}

function isNumber(value: number | undefined): value is number {
  return value !== undefined;
}
