/**
 * The Kibana saved objects of `infra/kibana/*.ndjson`, built here so that the Lens state (dozens
 * of nested ids per panel) is written once by helpers instead of by hand. The NDJSON files are
 * what ships and what `panacea kibana import` sends; a unit test keeps them equal to this module
 * (`npm run kibana:ndjson` rewrites them after a change here).
 *
 * Targets Kibana 8.8 or later (the `coreMigrationVersion` below): the import migrates each object
 * from its `typeMigrationVersion` to the running Kibana's shape, so an older version is safe and a
 * newer one than the server knows is refused.
 *
 * Every data view matches any namespace (`logs-agent.error-*`), so one import serves every
 * deployment on a cluster; filter on `data_stream.namespace` (events) or pick the index to narrow.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { LENS_RECORDS_FIELD, SEARCH_INDEX_REFERENCE } from './referenced-fields.js';

export interface SavedObjectReference {
  name: string;
  type: string;
  id: string;
}

export interface SavedObject {
  type: 'index-pattern' | 'search' | 'lens' | 'dashboard';
  id: string;
  attributes: Record<string, unknown>;
  references: SavedObjectReference[];
  coreMigrationVersion: string;
  typeMigrationVersion: string;
}

const CORE_MIGRATION_VERSION = '8.8.0';
const TYPE_MIGRATION_VERSION = {
  'index-pattern': '8.0.0',
  search: '8.0.0',
  // Lens renamed its `indexpattern` datasource to `formBased` in 8.6; this state uses the new name.
  lens: '8.6.0',
  dashboard: '8.7.0',
} as const;

const TIME_FIELD = '@timestamp';

/** Where a stuck task starts: PANACEA_METRICS_STUCK_MS's default (900 000 ms). */
const STUCK_QUERY = 'panacea.task.state : "in_progress" and panacea.task.started_at < "now-15m"';

function savedObject(
  type: SavedObject['type'],
  id: string,
  attributes: Record<string, unknown>,
  references: SavedObjectReference[] = [],
): SavedObject {
  return {
    type,
    id,
    attributes,
    references,
    coreMigrationVersion: CORE_MIGRATION_VERSION,
    typeMigrationVersion: TYPE_MIGRATION_VERSION[type],
  };
}

// ---------------------------------------------------------------------------------------------
// Data views

export const DATA_VIEW_IDS = {
  events: 'panacea-logs-agent',
  activity: 'panacea-logs-agent-activity',
  error: 'panacea-logs-agent-error',
  audit: 'panacea-logs-agent-audit',
  heartbeat: 'panacea-logs-agent-heartbeat',
  window: 'panacea-metrics-agent-window',
  status: 'panacea-metrics-agent-status',
  statusHistory: 'panacea-metrics-agent-status-history',
  task: 'panacea-metrics-agent-task',
} as const;

type DataViewName = keyof typeof DATA_VIEW_IDS;

/**
 * How long an event took from the producer to the pipeline, a Kibana runtime field of the
 * all-events view: ECS has no field for it, and storing it would need a mapping change in the
 * index template that another branch owns. Painless runs on Elasticsearch at query time.
 */
export const INGEST_LAG_FIELD = 'panacea.ingest_lag_ms';
const INGEST_LAG_SCRIPT = [
  "if (doc['event.ingested'].size() == 0 || doc['event.created'].size() == 0) return;",
  "emit(doc['event.ingested'].value.toInstant().toEpochMilli()",
  " - doc['event.created'].value.toInstant().toEpochMilli());",
].join(' ');

function dataView(
  name: DataViewName,
  title: string,
  displayName: string,
  runtimeFields: Record<string, { type: string; script: { source: string } }> = {},
): SavedObject {
  return savedObject('index-pattern', DATA_VIEW_IDS[name], {
    title,
    name: displayName,
    timeFieldName: TIME_FIELD,
    // Kibana reads the fields from the mappings when the view opens; none are frozen here.
    fields: '[]',
    fieldFormatMap: '{}',
    runtimeFieldMap: JSON.stringify(runtimeFields),
    typeMeta: '{}',
    allowNoIndex: true,
  });
}

function dataViews(): SavedObject[] {
  return [
    dataView('events', 'logs-agent.*-*', 'Panacea: all agent events', {
      [INGEST_LAG_FIELD]: { type: 'long', script: { source: INGEST_LAG_SCRIPT } },
    }),
    dataView('activity', 'logs-agent.activity-*', 'Panacea: agent activity'),
    dataView('error', 'logs-agent.error-*', 'Panacea: agent errors'),
    dataView('audit', 'logs-agent.audit-*', 'Panacea: agent audit'),
    dataView('heartbeat', 'logs-agent.heartbeat-*', 'Panacea: agent heartbeats'),
    dataView('window', 'metrics-agent.window-*', 'Panacea: metrics windows'),
    dataView('status', 'metrics-agent.status-*', 'Panacea: agent status'),
    dataView('statusHistory', 'metrics-agent.status_history-*', 'Panacea: agent status changes'),
    dataView('task', 'metrics-agent.task-*', 'Panacea: tasks'),
  ];
}

// ---------------------------------------------------------------------------------------------
// Saved searches

interface SearchSpec {
  id: string;
  title: string;
  description: string;
  view: DataViewName;
  query: string;
  columns: string[];
  sort: [string, 'asc' | 'desc'][];
}

function search(spec: SearchSpec): SavedObject {
  const searchSource = {
    query: { query: spec.query, language: 'kuery' },
    filter: [],
    indexRefName: SEARCH_INDEX_REFERENCE,
  };
  return savedObject(
    'search',
    spec.id,
    {
      title: spec.title,
      description: spec.description,
      columns: spec.columns,
      sort: spec.sort,
      kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify(searchSource) },
    },
    [{ name: SEARCH_INDEX_REFERENCE, type: 'index-pattern', id: DATA_VIEW_IDS[spec.view] }],
  );
}

function searches(): SavedObject[] {
  return [
    search({
      id: 'panacea-errors-by-agent-and-severity',
      title: 'Panacea: errors by agent and severity',
      description: 'Every error event, grouped by agent, then severity, newest first.',
      view: 'error',
      query: '',
      columns: [
        'gen_ai.agent.id',
        'panacea.error.severity',
        'error.type',
        'error.message',
        'panacea.error.retryable',
        'panacea.task.id',
      ],
      sort: [
        ['gen_ai.agent.id', 'asc'],
        ['panacea.error.severity', 'asc'],
        [TIME_FIELD, 'desc'],
      ],
    }),
    search({
      id: 'panacea-denied-audit-actions',
      title: 'Panacea: denied audit actions',
      description: 'Audit events whose action was denied: who tried what on which resource.',
      view: 'audit',
      query: 'panacea.audit.outcome : "denied"',
      columns: [
        'gen_ai.agent.id',
        'panacea.audit.actor.id',
        'event.action',
        'panacea.audit.resource.type',
        'panacea.audit.resource.id',
        'event.reason',
        'source.ip',
      ],
      sort: [[TIME_FIELD, 'desc']],
    }),
    search({
      id: 'panacea-failed-tasks',
      title: 'Panacea: failed tasks',
      description: 'Tasks whose last activity failed (one document per task).',
      view: 'task',
      query: 'panacea.task.state : "failed"',
      columns: [
        'gen_ai.agent.id',
        'panacea.task.id',
        'panacea.workflow.id',
        'panacea.task.started_at',
        'panacea.task.ended_at',
        'panacea.task.duration_ms',
      ],
      sort: [[TIME_FIELD, 'desc']],
    }),
    search({
      id: 'panacea-stale-agents',
      title: 'Panacea: stale agents',
      description:
        'Agents with no heartbeat for PANACEA_METRICS_STALE_MS. The time is when the agent went ' +
        'stale: widen the time range to see agents that have been silent for long.',
      view: 'status',
      query: 'panacea.status.current : "stale"',
      columns: [
        'gen_ai.agent.id',
        'panacea.status.previous',
        'panacea.status.since',
        'panacea.status.cause',
      ],
      sort: [[TIME_FIELD, 'desc']],
    }),
    search({
      id: 'panacea-stuck-tasks',
      title: 'Panacea: stuck tasks',
      description:
        'Tasks in progress for more than 15 minutes (PANACEA_METRICS_STUCK_MS default; edit the ' +
        'query for another value). The time is when the task started: widen the time range.',
      view: 'task',
      query: STUCK_QUERY,
      columns: [
        'gen_ai.agent.id',
        'panacea.task.id',
        'panacea.workflow.id',
        'panacea.task.started_at',
        'panacea.task.updated_at',
      ],
      sort: [['panacea.task.started_at', 'asc']],
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// Lens visualizations

type Column = Record<string, unknown>;

const column = {
  dateHistogram: (field = TIME_FIELD): Column => ({
    label: field,
    dataType: 'date',
    operationType: 'date_histogram',
    sourceField: field,
    isBucketed: true,
    scale: 'interval',
    params: { interval: 'auto', includeEmptyRows: true, dropPartials: false },
  }),
  /** Buckets by `field`, the largest `orderByColumnId` first, or alphabetically without one. */
  terms: (label: string, field: string, orderByColumnId?: string, size = 10): Column => ({
    label,
    customLabel: true,
    dataType: 'string',
    operationType: 'terms',
    sourceField: field,
    isBucketed: true,
    scale: 'ordinal',
    params: {
      size,
      orderBy:
        orderByColumnId === undefined
          ? { type: 'alphabetical', fallback: false }
          : { type: 'column', columnId: orderByColumnId },
      orderDirection: orderByColumnId === undefined ? 'asc' : 'desc',
      otherBucket: true,
      missingBucket: false,
      parentFormat: { id: 'terms' },
    },
  }),
  /** With a filter, a tile that must read 0 rather than "no data" when nothing matches. */
  count: (label: string, filter?: string): Column => ({
    label,
    customLabel: true,
    dataType: 'number',
    operationType: 'count',
    sourceField: LENS_RECORDS_FIELD,
    isBucketed: false,
    scale: 'ratio',
    params: { emptyAsNull: filter === undefined },
    ...(filter === undefined ? {} : { filter: { query: filter, language: 'kuery' } }),
  }),
  metric: (
    operation: 'max' | 'average' | 'sum' | 'median',
    label: string,
    field: string,
    extra: Column = {},
  ): Column => ({
    label,
    customLabel: true,
    dataType: 'number',
    operationType: operation,
    sourceField: field,
    isBucketed: false,
    scale: 'ratio',
    params: { emptyAsNull: true },
    ...extra,
  }),
  lastValue: (label: string, field: string, dataType: 'string' | 'date'): Column => ({
    label,
    customLabel: true,
    dataType,
    operationType: 'last_value',
    sourceField: field,
    isBucketed: false,
    scale: dataType === 'string' ? 'ordinal' : 'ratio',
    params: { sortField: TIME_FIELD, showArrayValues: false },
  }),
};

interface LensSpec {
  id: string;
  title: string;
  description: string;
  view: DataViewName;
  /** Column ids in display order, each with its column. */
  columns: [string, Column][];
  visualizationType: 'lnsXY' | 'lnsDatatable' | 'lnsMetric';
  visualization: (layerId: string) => Record<string, unknown>;
  query?: string;
}

function lens(spec: LensSpec): SavedObject {
  const layerId = `${spec.id}-layer`;
  const layer = {
    columnOrder: spec.columns.map(([id]) => id),
    columns: Object.fromEntries(spec.columns),
    incompleteColumns: {},
  };
  return savedObject(
    'lens',
    spec.id,
    {
      title: spec.title,
      description: spec.description,
      visualizationType: spec.visualizationType,
      state: {
        datasourceStates: { formBased: { layers: { [layerId]: layer } } },
        visualization: spec.visualization(layerId),
        query: { query: spec.query ?? '', language: 'kuery' },
        filters: [],
        internalReferences: [],
        adHocDataViews: {},
      },
    },
    [
      {
        name: `indexpattern-datasource-layer-${layerId}`,
        type: 'index-pattern',
        id: DATA_VIEW_IDS[spec.view],
      },
    ],
  );
}

function xy(
  seriesType: 'line' | 'bar_stacked' | 'bar_horizontal',
  x: string,
  accessors: string[],
  split?: string,
): (layerId: string) => Record<string, unknown> {
  return (layerId) => ({
    legend: { isVisible: true, position: 'right' },
    valueLabels: 'hide',
    preferredSeriesType: seriesType,
    layers: [
      {
        layerId,
        layerType: 'data',
        seriesType,
        xAccessor: x,
        accessors,
        ...(split === undefined ? {} : { splitAccessor: split }),
      },
    ],
  });
}

function datatable(columnIds: string[]): (layerId: string) => Record<string, unknown> {
  return (layerId) => ({
    layerId,
    layerType: 'data',
    columns: columnIds.map((columnId) => ({ columnId })),
  });
}

function metricTile(accessor: string): (layerId: string) => Record<string, unknown> {
  return (layerId) => ({ layerId, layerType: 'data', metricAccessor: accessor });
}

/** Agent windows only: a workflow's window counts the same events again. */
const AGENT_WINDOWS = 'panacea.metrics.scope : "agent"';

function visualizations(): SavedObject[] {
  return [
    // Agent status
    lens({
      id: 'panacea-agents-by-status',
      title: 'Agents by status',
      description: 'Current status of every agent (one status document per agent).',
      view: 'status',
      columns: [
        ['status', column.terms('Status', 'panacea.status.current', 'agents')],
        ['agents', column.count('Agents')],
      ],
      visualizationType: 'lnsXY',
      visualization: xy('bar_horizontal', 'status', ['agents']),
    }),
    lens({
      id: 'panacea-agent-status-table',
      title: 'Agent status',
      description: 'Each agent with its current and previous status and since when.',
      view: 'status',
      columns: [
        ['agent', column.terms('Agent', 'gen_ai.agent.id', undefined, 100)],
        ['current', column.lastValue('Status', 'panacea.status.current', 'string')],
        ['previous', column.lastValue('Previous', 'panacea.status.previous', 'string')],
        ['since', column.lastValue('Since', 'panacea.status.since', 'date')],
      ],
      visualizationType: 'lnsDatatable',
      visualization: datatable(['agent', 'current', 'previous', 'since']),
    }),
    lens({
      id: 'panacea-status-changes',
      title: 'Status changes',
      description: 'Agents entering each status over time, from the status history.',
      view: 'statusHistory',
      columns: [
        ['time', column.dateHistogram()],
        ['status', column.terms('Entered', 'panacea.status.current', 'changes', 6)],
        ['changes', column.count('Changes')],
      ],
      visualizationType: 'lnsXY',
      visualization: xy('bar_stacked', 'time', ['changes'], 'status'),
    }),
    // Task overview
    lens({
      id: 'panacea-tasks-by-state',
      title: 'Tasks by state',
      description: 'In progress, succeeded (completed) and failed tasks started in the time range.',
      view: 'task',
      columns: [
        ['state', column.terms('State', 'panacea.task.state', 'tasks')],
        ['tasks', column.count('Tasks')],
      ],
      visualizationType: 'lnsXY',
      visualization: xy('bar_horizontal', 'state', ['tasks']),
    }),
    lens({
      id: 'panacea-stuck-tasks-count',
      title: 'Stuck tasks',
      description: 'Tasks in progress for more than 15 minutes.',
      view: 'task',
      columns: [['stuck', column.count('Stuck tasks', STUCK_QUERY)]],
      visualizationType: 'lnsMetric',
      visualization: metricTile('stuck'),
    }),
    // Performance
    lens({
      id: 'panacea-task-duration-p95',
      title: 'Task duration p95 (ms)',
      description: 'The highest per-agent p95 task duration of each window, and the mean p95.',
      view: 'window',
      query: AGENT_WINDOWS,
      columns: [
        ['time', column.dateHistogram()],
        ['p95max', column.metric('max', 'p95, worst agent', 'panacea.metrics.duration_ms.p95')],
        ['p95mean', column.metric('average', 'p95, mean', 'panacea.metrics.duration_ms.p95')],
      ],
      visualizationType: 'lnsXY',
      visualization: xy('line', 'time', ['p95max', 'p95mean']),
    }),
    lens({
      id: 'panacea-task-success-rate',
      title: 'Task success rate',
      description: 'Succeeded / (succeeded + failed) per window, mean over agents.',
      view: 'window',
      query: AGENT_WINDOWS,
      columns: [
        ['time', column.dateHistogram()],
        [
          'rate',
          column.metric('average', 'Success rate', 'panacea.metrics.tasks.success_rate', {
            params: { emptyAsNull: true, format: { id: 'percent', params: { decimals: 1 } } },
          }),
        ],
      ],
      visualizationType: 'lnsXY',
      visualization: xy('line', 'time', ['rate']),
    }),
    lens({
      id: 'panacea-events-per-second',
      title: 'Events per second',
      description:
        'Events of all agents, normalised per second whatever the chart interval (sum of window ' +
        'counts with Lens time scaling).',
      view: 'window',
      query: AGENT_WINDOWS,
      columns: [
        ['time', column.dateHistogram()],
        [
          'rate',
          column.metric('sum', 'Events/s', 'panacea.metrics.events.count', { timeScale: 's' }),
        ],
      ],
      visualizationType: 'lnsXY',
      visualization: xy('line', 'time', ['rate']),
    }),
    // Pipeline health
    lens({
      id: 'panacea-events-ingested-by-kind',
      title: 'Events ingested by kind',
      description:
        'Events by the time the pipeline took them in (event.ingested), per kind. Dead letters ' +
        'stay on Kafka (`<topic>.dlq`) and are not in Elasticsearch.',
      view: 'events',
      columns: [
        ['time', column.dateHistogram('event.ingested')],
        ['kind', column.terms('Kind', 'panacea.kind', 'events', 4)],
        ['events', column.count('Events')],
      ],
      visualizationType: 'lnsXY',
      visualization: xy('bar_stacked', 'time', ['events'], 'kind'),
    }),
    lens({
      id: 'panacea-ingest-lag',
      title: 'Ingest lag (ms)',
      description:
        'event.ingested - event.created: from the producer sending an event to the pipeline ' +
        'taking it in. A runtime field of the all-events data view.',
      view: 'events',
      columns: [
        ['time', column.dateHistogram()],
        ['median', column.metric('median', 'Median', INGEST_LAG_FIELD)],
        ['max', column.metric('max', 'Max', INGEST_LAG_FIELD)],
      ],
      visualizationType: 'lnsXY',
      visualization: xy('line', 'time', ['median', 'max']),
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// Dashboard

interface PanelPlacement {
  lensId: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The grid is 48 columns wide; rows are the dashboard's sections. */
const PANELS: PanelPlacement[] = [
  { lensId: 'panacea-agents-by-status', x: 0, y: 0, w: 12, h: 12 },
  { lensId: 'panacea-agent-status-table', x: 12, y: 0, w: 20, h: 12 },
  { lensId: 'panacea-status-changes', x: 32, y: 0, w: 16, h: 12 },
  { lensId: 'panacea-tasks-by-state', x: 0, y: 12, w: 32, h: 10 },
  { lensId: 'panacea-stuck-tasks-count', x: 32, y: 12, w: 16, h: 10 },
  { lensId: 'panacea-task-duration-p95', x: 0, y: 22, w: 16, h: 12 },
  { lensId: 'panacea-task-success-rate', x: 16, y: 22, w: 16, h: 12 },
  { lensId: 'panacea-events-per-second', x: 32, y: 22, w: 16, h: 12 },
  { lensId: 'panacea-events-ingested-by-kind', x: 0, y: 34, w: 24, h: 12 },
  { lensId: 'panacea-ingest-lag', x: 24, y: 34, w: 24, h: 12 },
];

export const DASHBOARD_ID = 'panacea-agent-overview';

function dashboard(): SavedObject {
  // By reference: each panel names a lens object, and the reference `<panel>:panel_<panel>` is
  // how Kibana 8 exports tie a panel to it.
  const panels = PANELS.map((placement, index) => {
    const panelIndex = String(index + 1);
    return {
      version: TYPE_MIGRATION_VERSION.dashboard,
      type: 'lens',
      gridData: { x: placement.x, y: placement.y, w: placement.w, h: placement.h, i: panelIndex },
      panelIndex,
      embeddableConfig: { enhancements: {} },
      panelRefName: `panel_${panelIndex}`,
    };
  });
  const references = PANELS.map((placement, index) => ({
    name: `${index + 1}:panel_${index + 1}`,
    type: 'lens',
    id: placement.lensId,
  }));
  return savedObject(
    'dashboard',
    DASHBOARD_ID,
    {
      title: 'Panacea: AI agents overview',
      description:
        'Agent status, task overview, performance (p95 duration, success rate, events/s) and ' +
        'pipeline health (ingest by kind, ingest lag).',
      panelsJSON: JSON.stringify(panels),
      optionsJSON: JSON.stringify({
        useMargins: true,
        syncColors: false,
        syncCursor: true,
        syncTooltips: false,
        hidePanelTitles: false,
      }),
      timeRestore: true,
      timeFrom: 'now-24h',
      timeTo: 'now',
      refreshInterval: { pause: false, value: 60_000 },
      kibanaSavedObjectMeta: {
        searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] }),
      },
    },
    references,
  );
}

// ---------------------------------------------------------------------------------------------
// Files

/**
 * File name in `infra/kibana/` → its objects. The names sort in dependency order (data views, then
 * what reads them), so the import request, which joins the files in name order, never refers
 * forward; Kibana resolves references within one request anyway, but a person reading it need not.
 */
export function savedObjectFiles(): Record<string, SavedObject[]> {
  return {
    '01-data-views.ndjson': dataViews(),
    '02-searches.ndjson': searches(),
    '03-dashboard.ndjson': [...visualizations(), dashboard()],
  };
}

export function toNdjson(objects: SavedObject[]): string {
  return objects.map((object) => JSON.stringify(object)).join('\n') + '\n';
}

/** Rewrites the NDJSON files in `directory` from this module. */
export function writeSavedObjectFiles(directory: string): void {
  for (const [name, objects] of Object.entries(savedObjectFiles())) {
    writeFileSync(path.join(directory, name), toNdjson(objects));
  }
}
