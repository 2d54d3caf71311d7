/**
 * Checks the Grafana dashboards in this folder against the metrics a pipeline exposes: every
 * metric name a panel's PromQL (or a template variable's query) names must be in a `/metrics`
 * scrape, so a renamed metric cannot leave a dashboard silently empty.
 *
 * Metric names are told apart from functions, labels and keywords by the project's prefix: every
 * metric Panacea exposes starts with `panacea_`, and no label, function or keyword does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const METRIC_NAME = /\bpanacea_[A-Za-z0-9_:]*/g;
// Label values and matchers' right-hand sides: a name inside quotes is text, not a metric.
const STRING_LITERAL = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g;

export interface DashboardQuery {
  dashboard: string;
  /** The panel title or `variable <name>`. */
  where: string;
  expr: string;
}

/** The metric names a PromQL expression reads. */
export function metricNamesOfExpression(expr: string): string[] {
  const code = expr.replace(STRING_LITERAL, '""');
  return [...new Set(code.match(METRIC_NAME) ?? [])];
}

/** Every query of a dashboard: panel targets (rows' panels included) and variable queries. */
export function queriesOfDashboard(dashboard: unknown, name: string): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  const board = dashboard as {
    panels?: Panel[];
    templating?: { list?: { name?: string; query?: unknown }[] };
  };

  const visit = (panels: Panel[] | undefined): void => {
    for (const panel of panels ?? []) {
      for (const target of panel.targets ?? []) {
        if (typeof target.expr === 'string') {
          queries.push({ dashboard: name, where: panel.title ?? '(untitled)', expr: target.expr });
        }
      }
      visit(panel.panels);
    }
  };
  visit(board.panels);

  for (const variable of board.templating?.list ?? []) {
    const query = variable.query;
    const text =
      typeof query === 'object' && query !== null ? (query as { query?: unknown }).query : query;
    if (typeof text === 'string' && metricNamesOfExpression(text).length > 0) {
      queries.push({ dashboard: name, where: `variable ${variable.name ?? '?'}`, expr: text });
    }
  }
  return queries;
}

interface Panel {
  title?: string;
  targets?: { expr?: unknown }[];
  panels?: Panel[];
}

/** The dashboards of a folder, by file name. */
export function readDashboards(directory: string): Map<string, unknown> {
  const dashboards = new Map<string, unknown>();
  for (const file of readdirSync(directory)
    .filter((name) => name.endsWith('.json'))
    .sort()) {
    dashboards.set(file, JSON.parse(readFileSync(path.join(directory, file), 'utf8')));
  }
  return dashboards;
}

/**
 * The metric names a scrape in the Prometheus text format offers to a query: every sample's name,
 * every family's name from its `# TYPE` line, and for histograms and summaries the names of their
 * samples (`_bucket`, `_sum`, `_count`), which a family with no observation yet does not print.
 */
export function metricNamesOfExposition(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const typed = /^# TYPE (\S+) (\S+)/.exec(line);
    if (typed !== null) {
      const [, family = '', type] = typed;
      names.add(family);
      if (type === 'histogram')
        for (const suffix of ['_bucket', '_sum', '_count']) names.add(family + suffix);
      if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(family + suffix);
      continue;
    }
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)[{ ]/.exec(line);
    if (sample?.[1] !== undefined) names.add(sample[1]);
  }
  return names;
}

export interface MissingMetric extends DashboardQuery {
  metric: string;
}

/**
 * The metric names the queries read that the scrape does not offer; also every query that reads
 * no Panacea metric at all (a typo in the prefix would otherwise pass unseen).
 */
export function missingMetrics(queries: DashboardQuery[], exposed: Set<string>): MissingMetric[] {
  const missing: MissingMetric[] = [];
  for (const query of queries) {
    const names = metricNamesOfExpression(query.expr);
    if (names.length === 0) missing.push({ ...query, metric: '(no panacea_ metric)' });
    for (const metric of names) if (!exposed.has(metric)) missing.push({ ...query, metric });
  }
  return missing;
}
