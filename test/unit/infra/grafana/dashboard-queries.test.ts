import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { PipelineMetrics } from '../../../../core/metrics-registry.js';
import { packageRoot } from '../../../../core/package-root.js';
import {
  metricNamesOfExposition,
  metricNamesOfExpression,
  missingMetrics,
  queriesOfDashboard,
  readDashboards,
} from '../../../../infra/grafana/dashboard-queries.js';

const GRAFANA_DIR = path.join(packageRoot(), 'infra', 'grafana');

describe('grafana dashboard queries', () => {
  it('finds the metric names of an expression, not its labels, functions or strings', () => {
    expect(
      metricNamesOfExpression(
        'histogram_quantile(0.95, sum by (stage, le) (rate(panacea_stage_batch_duration_seconds_bucket{instance=~"panacea_x"}[5m])))' +
          ' / on (stage) panacea_stage_up',
      ),
    ).toEqual(['panacea_stage_batch_duration_seconds_bucket', 'panacea_stage_up']);
  });

  it('reads panel targets, rows and variable queries', () => {
    const queries = queriesOfDashboard(
      {
        panels: [
          { title: 'A', targets: [{ expr: 'panacea_a' }] },
          { title: 'Row', panels: [{ title: 'B', targets: [{ expr: 'panacea_b' }] }] },
        ],
        templating: {
          list: [{ name: 'agent', query: { query: 'label_values(panacea_c, agent)' } }],
        },
      },
      'test.json',
    );
    expect(queries.map((query) => query.where)).toEqual(['A', 'B', 'variable agent']);
  });

  it('offers histogram sample names of a family without observations', () => {
    const names = metricNamesOfExposition(
      '# HELP panacea_h h\n# TYPE panacea_h histogram\n# TYPE panacea_c counter\npanacea_c{a="1"} 2\n',
    );
    expect(names).toEqual(
      new Set(['panacea_h', 'panacea_h_bucket', 'panacea_h_sum', 'panacea_h_count', 'panacea_c']),
    );
  });

  it('names a query whose metric is not exposed, and a query with no Panacea metric', () => {
    const missing = missingMetrics(
      [
        { dashboard: 'd', where: 'p', expr: 'rate(panacea_renamed_total[5m])' },
        { dashboard: 'd', where: 'q', expr: 'rate(panaceaa_typo_total[5m])' },
        { dashboard: 'd', where: 'r', expr: 'panacea_c' },
      ],
      new Set(['panacea_c']),
    );
    expect(missing.map((entry) => `${entry.where}: ${entry.metric}`)).toEqual([
      'p: panacea_renamed_total',
      'q: (no panacea_ metric)',
    ]);
  });

  it('every query of the shipped dashboards reads metrics the registry declares', async () => {
    const dashboards = readDashboards(GRAFANA_DIR);
    expect([...dashboards.keys()]).toEqual(['panacea-agents.json', 'panacea-pipeline.json']);
    const queries = [...dashboards].flatMap(([name, board]) => queriesOfDashboard(board, name));
    expect(queries.length).toBeGreaterThan(20);

    const exposed = metricNamesOfExposition((await new PipelineMetrics().scrape()).body);
    expect(missingMetrics(queries, exposed)).toEqual([]);
  });
});
