/**
 * The index template of the metrics indices `metrics-agent.<record>-<namespace>` (record: window,
 * window_partial, status, status_history, task; see METRICS_INDEX_RECORDS in core/naming.ts). One
 * mapping serves them all: a workflow window's partials in `window_partial` have the window
 * document's shape, with `panacea.metrics.state` stored but not indexed as in `window`, and the
 * status history holds the same documents as `status`. Plain indices, not data streams: a
 * window's document is rewritten as the window fills and again after a replay, and a data stream
 * takes only `create`.
 *
 * A full Elasticsearch ships a `metrics` template for `metrics-*-*` (priority 100) that makes every
 * matching name a data stream; ours matches first with a higher priority and no `data_stream`, so
 * the name stays a plain index. The minimal test distribution has no built-in template at all.
 */
import type { WantedTemplate } from './template-comparison.js';

export const METRICS_INDEX_TEMPLATE = 'metrics-agent@panacea';
/** Above Elastic's built-in `metrics` template (100). */
const METRICS_TEMPLATE_PRIORITY = 500;

const keyword = { type: 'keyword', ignore_above: 1024 } as const;
const date = { type: 'date' } as const;
const long = { type: 'long' } as const;
const double = { type: 'double' } as const;

const countsOf = (names: readonly string[]): object => ({
  properties: Object.fromEntries(names.map((name) => [name, long])),
});

export const METRICS_MAPPINGS = {
  dynamic: 'false',
  properties: {
    '@timestamp': date,
    event: {
      properties: {
        kind: keyword,
        dataset: keyword,
        module: keyword,
        start: date,
        end: date,
        duration: long,
      },
    },
    gen_ai: { properties: { agent: { properties: { id: keyword } } } },
    panacea: {
      properties: {
        workflow: { properties: { id: keyword } },
        source: keyword,
        metrics: {
          properties: {
            scope: keyword,
            subject_id: keyword,
            final: { type: 'boolean' },
            window_size_ms: long,
            events: {
              properties: {
                count: long,
                per_second: double,
                by_kind: countsOf(['activity', 'error', 'audit', 'heartbeat']),
              },
            },
            tasks: {
              properties: { started: long, succeeded: long, failed: long, success_rate: double },
            },
            duration_ms: {
              properties: {
                p50: double,
                p95: double,
                p99: double,
                max: double,
                count: long,
                relative_accuracy: double,
              },
            },
            errors: {
              properties: {
                total: long,
                by_severity: countsOf(['warning', 'error', 'critical']),
                by_type: { type: 'nested', properties: { type: keyword, count: long } },
                other_types: long,
              },
            },
            heartbeat: {
              properties: {
                count: long,
                status: keyword,
                by_status: countsOf(['active', 'idle', 'busy', 'error']),
                cpu_percent_mean: double,
                memory_mb_peak: double,
              },
            },
            // The partial sources a combined workflow window was merged from.
            sources: keyword,
            // The mergeable figures, for consumers that combine windows; never searched.
            state: { type: 'object', enabled: false },
          },
        },
        status: {
          properties: {
            current: keyword,
            previous: keyword,
            cause: keyword,
            since: date,
            event_time: date,
          },
        },
        task: {
          properties: {
            id: keyword,
            state: keyword,
            started_at: date,
            ended_at: date,
            duration_ms: double,
            updated_at: date,
          },
        },
      },
    },
  },
} as const;

/**
 * The metrics template, shared by every deployment on the cluster. Plain indices cannot roll over,
 * so a changed mapping applies to metrics indices created after it (see README, limitations).
 */
export function wantedMetricsTemplate(): WantedTemplate {
  return {
    type: 'index',
    name: METRICS_INDEX_TEMPLATE,
    body: {
      index_patterns: ['metrics-agent.*-*'],
      priority: METRICS_TEMPLATE_PRIORITY,
      template: {
        settings: { 'index.auto_expand_replicas': '0-1' },
        mappings: METRICS_MAPPINGS,
      },
      _meta: { managed_by: 'panacea', description: 'AI agent metrics from the Panacea pipeline' },
    },
    dataStreams: [],
  };
}
