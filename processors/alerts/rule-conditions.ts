/**
 * What each rule has seen, and which of its conditions hold at a given time. Pure: the stage feeds
 * in enriched events and metrics records with the times it has for them, asks for the conditions
 * at an evaluation, and keeps the state in its checkpoint with `toJSON`.
 *
 * Times (see index.ts, "Time"): threshold rules read event-time windows as the metrics stage
 * computed them and need no clock. The other kinds run on processing time: `arrivedAtMs` is the
 * enriched record's Kafka timestamp (when the enrichment wrote it, in the log, so a replay sees
 * the same), `nowMs` the stage's clock at counting or evaluation.
 * - match: holds from the counting of a matching event until `resolveAfter` has passed without one;
 * - absence: holds once no event of the subject has arrived for `after`;
 * - audit_rate: trips when more than `above` matching events arrived within `window` of each
 *   other, and holds until `window` has passed without tripping again.
 */
import { PanaceaError } from '../../core/errors.js';
import type { AgentEvent } from '../../schemas/event.js';
import type { MetricsRecord } from '../metrics/metrics-records.js';
import { toMetricsDocument, type MetricsDocument } from '../metrics/metrics-document.js';
import { WINDOW_AGGREGATOR_DEFAULTS } from '../metrics/window-aggregator.js';
import { combinePartialWindows } from '../metrics/window-combiner.js';
import { WindowFigures, type WindowFiguresState } from '../metrics/window-figures.js';
import type { Condition } from './alert-engine.js';
import type {
  AbsenceRule,
  AlertRule,
  AuditRateRule,
  GroupLabel,
  MatchRule,
  Scope,
  ThresholdMetric,
  ThresholdRule,
} from './rules-file.js';

type WindowValues = Record<ThresholdMetric, number | null> & { tasks: number };

interface LatestWindow {
  startMs: number;
  values: WindowValues;
  /**
   * The window before, as it was last seen: a window that has just begun holds too few tasks for
   * a verdict, and without this an alert would resolve at the start of every window and fire
   * again once the window filled.
   */
  previous?: WindowValues;
}

interface WorkflowWindow extends LatestWindow {
  endMs: number;
  /** The latest partial of each source (input partition of the enriched topic). */
  partials: Record<string, { final: boolean; state: WindowFiguresState }>;
}

interface GroupSeen {
  labels: Record<string, string>;
  /** Processing time of the last matching event (match) or the last trip (audit_rate). */
  lastAtMs: number;
  /** match: matching events since the condition began; audit_rate: events in the window. */
  count: number;
  /** audit_rate: arrival times of the matching events within the window. */
  arrivalsMs?: number[];
}

export interface RuleConditionsState {
  agentWindows: [string, LatestWindow][];
  workflowWindows: [string, WorkflowWindow][];
  lastArrival: { agent: [string, number][]; workflow: [string, number][] };
  groups: Record<string, [string, GroupSeen][]>;
}

const FIGURES_OPTIONS = {
  relativeAccuracy: WINDOW_AGGREGATOR_DEFAULTS.relativeAccuracy,
  maxErrorTypes: WINDOW_AGGREGATOR_DEFAULTS.maxErrorTypes,
};

export class RuleConditions {
  readonly #rules: readonly AlertRule[];
  readonly #agentWindows = new Map<string, LatestWindow>();
  readonly #workflowWindows = new Map<string, WorkflowWindow>();
  readonly #lastArrival: Record<Scope, Map<string, number>> = {
    agent: new Map(),
    workflow: new Map(),
  };
  /** Per match or audit_rate rule, by group key. */
  readonly #groups = new Map<string, Map<string, GroupSeen>>();
  readonly #absenceScopes: Set<Scope>;

  constructor(rules: readonly AlertRule[]) {
    this.#rules = rules;
    this.#absenceScopes = new Set(
      rules.filter((rule): rule is AbsenceRule => rule.kind === 'absence').map((r) => r.scope),
    );
    for (const rule of rules) {
      if (rule.kind === 'match' || rule.kind === 'audit_rate')
        this.#groups.set(rule.name, new Map());
    }
  }

  static restore(rules: readonly AlertRule[], state: RuleConditionsState): RuleConditions {
    const conditions = new RuleConditions(rules);
    for (const [id, window] of state.agentWindows) conditions.#agentWindows.set(id, window);
    for (const [id, window] of state.workflowWindows) conditions.#workflowWindows.set(id, window);
    for (const scope of ['agent', 'workflow'] as const) {
      if (!conditions.#absenceScopes.has(scope)) continue;
      for (const [id, atMs] of state.lastArrival[scope])
        conditions.#lastArrival[scope].set(id, atMs);
    }
    // Groups of a rule that left the file are dropped; a new rule starts empty.
    for (const [rule, groups] of Object.entries(state.groups)) {
      const kept = conditions.#groups.get(rule);
      if (kept !== undefined) for (const [key, seen] of groups) kept.set(key, seen);
    }
    return conditions;
  }

  toJSON(): RuleConditionsState {
    return structuredClone({
      agentWindows: [...this.#agentWindows],
      workflowWindows: [...this.#workflowWindows],
      lastArrival: {
        agent: [...this.#lastArrival.agent],
        workflow: [...this.#lastArrival.workflow],
      },
      groups: Object.fromEntries(
        [...this.#groups].map(([rule, groups]) => [rule, [...groups]] as const),
      ),
    });
  }

  /** Counts one enriched event for the match, absence and audit_rate rules. */
  observeEvent(event: AgentEvent, arrivedAtMs: number, nowMs: number): void {
    this.#noteArrival('agent', event.agent.id, arrivedAtMs);
    if (event.workflowId !== undefined)
      this.#noteArrival('workflow', event.workflowId, arrivedAtMs);

    for (const rule of this.#rules) {
      if (rule.kind === 'match' && matches(rule, event)) {
        this.#countMatch(rule, event, nowMs);
      } else if (rule.kind === 'audit_rate' && event.kind === 'audit') {
        if (event.audit.outcome === rule.outcome) this.#countAudit(rule, event, arrivedAtMs, nowMs);
      }
    }
  }

  /** Takes the window figures of a metrics record; other records are not used. */
  observeMetrics(record: MetricsRecord): void {
    if (record.record !== 'window') return;
    const document = record.document as MetricsDocument;
    const metrics = document.panacea.metrics;
    const startMs = Date.parse(document.event.start);

    if (metrics.scope === 'agent') {
      const latest = this.#agentWindows.get(metrics.subject_id);
      if (latest !== undefined && latest.startMs > startMs) return;
      const previous =
        latest === undefined || latest.startMs === startMs ? latest?.previous : latest.values;
      this.#agentWindows.set(metrics.subject_id, {
        startMs,
        values: valuesOf(document),
        ...(previous === undefined ? {} : { previous }),
      });
      return;
    }

    let window = this.#workflowWindows.get(metrics.subject_id);
    if (window !== undefined && window.startMs > startMs) return;
    if (window === undefined || window.startMs < startMs) {
      const endMs = Date.parse(document.event.end);
      const previous = window?.values;
      window = {
        startMs,
        endMs,
        partials: {},
        values: valuesOf(document),
        ...(previous === undefined ? {} : { previous }),
      };
      this.#workflowWindows.set(metrics.subject_id, window);
    }
    window.partials[record.source] = { final: metrics.final, state: metrics.state };
    window.values = combinedValues(metrics.subject_id, window);
  }

  /** The conditions holding at `nowMs`, over every rule. */
  conditionsAt(nowMs: number): Condition[] {
    const conditions: Condition[] = [];
    for (const rule of this.#rules) {
      switch (rule.kind) {
        case 'threshold':
          conditions.push(...this.#thresholdConditions(rule));
          break;
        case 'absence':
          conditions.push(...this.#absenceConditions(rule, nowMs));
          break;
        case 'match':
        case 'audit_rate':
          conditions.push(...this.#groupConditions(rule, nowMs));
          break;
      }
    }
    return conditions;
  }

  #noteArrival(scope: Scope, id: string, arrivedAtMs: number): void {
    if (!this.#absenceScopes.has(scope)) return;
    const known = this.#lastArrival[scope].get(id) ?? 0;
    this.#lastArrival[scope].set(id, Math.max(known, arrivedAtMs));
  }

  #countMatch(rule: MatchRule, event: AgentEvent, nowMs: number): void {
    const labels = groupLabelsOf(rule.groupBy, event);
    if (labels === undefined) return;
    const groups = this.#groupsOf(rule);
    const key = JSON.stringify(labels);
    const seen = groups.get(key);
    const stillHolding = seen !== undefined && nowMs - seen.lastAtMs < rule.resolveAfterMs;
    groups.set(key, { labels, lastAtMs: nowMs, count: stillHolding ? seen.count + 1 : 1 });
  }

  #countAudit(rule: AuditRateRule, event: AgentEvent, arrivedAtMs: number, nowMs: number): void {
    const labels = groupLabelsOf(rule.groupBy, event);
    if (labels === undefined) return;
    const groups = this.#groupsOf(rule);
    const key = JSON.stringify(labels);
    const seen = groups.get(key) ?? { labels, lastAtMs: 0, count: 0, arrivalsMs: [] };
    const arrivalsMs = [...(seen.arrivalsMs ?? []), arrivedAtMs]
      .filter((atMs) => atMs > arrivedAtMs - rule.windowMs)
      .sort((a, b) => a - b);
    seen.arrivalsMs = arrivalsMs;
    if (arrivalsMs.length > rule.above) {
      seen.lastAtMs = nowMs;
      seen.count = arrivalsMs.length;
    }
    groups.set(key, seen);
  }

  #groupsOf(rule: MatchRule | AuditRateRule): Map<string, GroupSeen> {
    const groups = this.#groups.get(rule.name);
    if (groups === undefined) {
      throw new PanaceaError('ALERTS_STATE_INVALID', `no state for the rule "${rule.name}"`);
    }
    return groups;
  }

  #thresholdConditions(rule: ThresholdRule): Condition[] {
    const windows = rule.scope === 'agent' ? this.#agentWindows : this.#workflowWindows;
    const conditions: Condition[] = [];
    const verdict = (values: WindowValues | undefined): number | undefined => {
      if (values === undefined || values.tasks < rule.minTasks) return undefined;
      return values[rule.metric] ?? undefined;
    };
    for (const [subject, window] of windows) {
      // The latest window speaks once it holds enough; until then, the one before it.
      const value = verdict(window.values) ?? verdict(window.previous);
      if (value === undefined) continue;
      const crossed = rule.above !== undefined ? value > rule.above : value < (rule.below ?? 0);
      if (crossed) conditions.push({ rule, groupLabels: { [rule.scope]: subject }, value });
    }
    return conditions;
  }

  #absenceConditions(rule: AbsenceRule, nowMs: number): Condition[] {
    const conditions: Condition[] = [];
    for (const [subject, lastMs] of this.#lastArrival[rule.scope]) {
      const silentMs = nowMs - lastMs;
      if (silentMs >= rule.afterMs) {
        conditions.push({
          rule,
          groupLabels: { [rule.scope]: subject },
          value: Math.round(silentMs / 1000),
        });
      }
    }
    return conditions;
  }

  #groupConditions(rule: MatchRule | AuditRateRule, nowMs: number): Condition[] {
    const holdMs = rule.kind === 'match' ? rule.resolveAfterMs : rule.windowMs;
    const groups = this.#groupsOf(rule);
    const conditions: Condition[] = [];
    for (const [key, seen] of groups) {
      if (nowMs - seen.lastAtMs < holdMs) {
        conditions.push({ rule, groupLabels: seen.labels, value: seen.count });
        continue;
      }
      // Nothing to remember once it no longer holds, except the recent arrivals of a rate.
      const recent = (seen.arrivalsMs ?? []).some((atMs) => atMs > nowMs - holdMs);
      if (!recent) groups.delete(key);
    }
    return conditions;
  }
}

export function matches(rule: MatchRule, event: AgentEvent): boolean {
  const { match } = rule;
  if (match.kind !== undefined && event.kind !== match.kind) return false;
  if (match.severity !== undefined || match.errorType !== undefined) {
    if (event.kind !== 'error') return false;
    if (match.severity !== undefined && !match.severity.includes(event.error.severity))
      return false;
    if (match.errorType !== undefined && !match.errorType.test(event.error.type)) return false;
  }
  if (match.outcome !== undefined) {
    if (event.kind !== 'audit' || !match.outcome.includes(event.audit.outcome)) return false;
  }
  if (match.action !== undefined) {
    const action = actionOf(event);
    if (action === undefined || !match.action.test(action)) return false;
  }
  return true;
}

/** The group's labels read from the event; undefined when the event lacks one of them. */
export function groupLabelsOf(
  groupBy: readonly GroupLabel[],
  event: AgentEvent,
): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  for (const name of groupBy) {
    const value = labelOf(name, event);
    if (value === undefined || value === '') return undefined;
    labels[name] = value;
  }
  return labels;
}

function labelOf(name: GroupLabel, event: AgentEvent): string | undefined {
  switch (name) {
    case 'agent':
      return event.agent.id;
    case 'workflow':
      return event.workflowId;
    case 'error_type':
      return event.kind === 'error' ? event.error.type : undefined;
    case 'severity':
      return event.kind === 'error' ? event.error.severity : undefined;
    case 'actor':
      return event.kind === 'audit' ? event.audit.actor.id : undefined;
    case 'resource':
      return event.kind === 'audit' ? event.audit.resource.id : undefined;
    case 'action':
      return actionOf(event);
  }
}

function actionOf(event: AgentEvent): string | undefined {
  if (event.kind === 'activity') return event.activity.action;
  if (event.kind === 'audit') return event.audit.action;
  return undefined;
}

/** The figures a threshold rule can compare, from one window's document. */
export function valuesOf(document: MetricsDocument): WindowValues {
  const { tasks, duration_ms: durations, errors, events } = document.panacea.metrics;
  const finished = tasks.succeeded + tasks.failed;
  return {
    success_rate: tasks.success_rate,
    failure_rate: finished === 0 ? null : tasks.failed / finished,
    tasks_started: tasks.started,
    tasks_failed: tasks.failed,
    duration_p50_ms: durations.p50,
    duration_p95_ms: durations.p95,
    duration_p99_ms: durations.p99,
    duration_max_ms: durations.max,
    errors_total: errors.total,
    errors_critical: errors.by_severity.critical,
    events_count: events.count,
    tasks: Math.max(tasks.started, finished),
  };
}

/** A workflow window's figures, merged from the latest partial of each source. */
function combinedValues(subjectId: string, window: WorkflowWindow): WindowValues {
  const documentId = `workflow:${subjectId}:${new Date(window.startMs).toISOString()}`;
  const partials = Object.entries(window.partials).map(([source, partial]) => ({
    source,
    result: {
      documentId,
      scope: 'workflow' as const,
      subjectId,
      windowStartMs: window.startMs,
      windowEndMs: window.endMs,
      final: partial.final,
      figures: WindowFigures.fromJSON(partial.state, FIGURES_OPTIONS),
    },
  }));
  return valuesOf(toMetricsDocument(combinePartialWindows(partials, FIGURES_OPTIONS)));
}
