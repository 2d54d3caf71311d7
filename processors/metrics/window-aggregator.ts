/**
 * Event-time tumbling windows of one input partition: per agent and per workflow, each window
 * `[start, start + windowSizeMs)` aligned to the epoch, its figures kept in a WindowFigures.
 *
 * Watermark: per input partition, one aggregator per partition. It is the latest event time seen
 * on the partition minus `allowedLatenessMs` (never moving back), or higher when the stage raises
 * it for an idle partition (`advanceWatermark`). A window closes once the watermark reaches its
 * end; `takeClosedWindows` hands it out, final, and forgets it. Why per partition and not global:
 * what one partition's aggregator decides then depends only on that partition's records, in their
 * log order, never on how the fetches of several partitions interleave or on which instance owns
 * which partition; so a replay of the same records decides the same, and a partition moving to
 * another instance takes its state (see `toJSON`) with it.
 *
 * Late events: an event whose window has already closed (its end at or below the watermark) is
 * counted in `lateEventCount` and left out; closed windows never change. The event itself is still
 * stored by the Elasticsearch sink like any other, this stage only leaves it out of the figures.
 *
 * Workflows: an event with a `workflowId` counts in its agent's window and in its workflow's. One
 * agent's events sit on one partition (the key is the agent id), so an agent window is complete in
 * one aggregator; a workflow whose agents sit on several partitions gets one partial window from
 * each, which WindowCombiner merges exactly (see index.ts).
 *
 * Events from the future: one event stamped far ahead (a wrong agent clock) would raise the
 * partition's watermark at once, close every open window early and make the partition's next
 * events late. So `add` takes the time the record was appended to its topic, and an event stamped
 * more than `maxFutureMs` after that is left out of every window and the watermark ('future'),
 * like a late one: still stored as an event, counted by the stage. The append time is in the log,
 * so a replay decides the same.
 *
 * Deterministic: the same records in the same order give the same results in the same order
 * (sorted by window start, then scope, then id), and `toJSON` then `restore` in the middle of a
 * stream changes nothing that follows.
 */
import { PanaceaError } from '../../core/errors.js';
import type { AgentEvent } from '../../schemas/event.js';
import { describeValue } from '../../schemas/describe-value.js';
import { definedOnly, requireInteger } from './options.js';
import { windowDocumentId, type WindowResult, type WindowScope } from './metrics-document.js';
import { DEFAULT_RELATIVE_ACCURACY } from './quantile-sketch.js';
import {
  DEFAULT_MAX_ERROR_TYPES,
  WindowFigures,
  type WindowFiguresOptions,
  type WindowFiguresState,
} from './window-figures.js';

export interface WindowAggregatorOptions {
  /** Names the input partition (`agent.events.enriched-2`); saved state is checked against it. */
  source: string;
  /** Window size. Default 60 000 ms; from 1 000 ms to 86 400 000 ms (a day). */
  windowSizeMs?: number;
  /** How far behind the latest event time an event may be and still count. Default 30 000 ms. */
  allowedLatenessMs?: number;
  /** Relative accuracy of the duration percentiles. Default 0.01 (1 %). */
  relativeAccuracy?: number;
  /** Error types per window with a count of their own; the rest count as other. Default 50. */
  maxErrorTypes?: number;
  /**
   * How far an event time may run ahead of its record's append time and still count. Default
   * 300 000 ms (5 minutes); from 0 to 86 400 000 ms.
   */
  maxFutureMs?: number;
}

export const WINDOW_AGGREGATOR_DEFAULTS = {
  windowSizeMs: 60_000,
  allowedLatenessMs: 30_000,
  relativeAccuracy: DEFAULT_RELATIVE_ACCURACY,
  maxErrorTypes: DEFAULT_MAX_ERROR_TYPES,
  maxFutureMs: 300_000,
} as const;

const MAX_WINDOW_SIZE_MS = 86_400_000;
const MAX_ALLOWED_LATENESS_MS = 7 * MAX_WINDOW_SIZE_MS;
const STATE_VERSION = 1;

export type AddOutcome = 'counted' | 'late' | 'future';

/** The JSON form of an aggregator: what a checkpoint stores and `restore` reads. */
export interface WindowAggregatorState {
  version: typeof STATE_VERSION;
  source: string;
  windowSizeMs: number;
  /** For the record; the options given to `restore` decide from then on. */
  allowedLatenessMs: number;
  /** Null before the first event. */
  maxEventTimeMs: number | null;
  watermarkMs: number | null;
  lateEventCount: number;
  /** Open windows, in output order. */
  windows: {
    scope: WindowScope;
    subjectId: string;
    windowStartMs: number;
    figures: WindowFiguresState;
  }[];
}

interface OpenWindow {
  scope: WindowScope;
  subjectId: string;
  windowStartMs: number;
  figures: WindowFigures;
}

type ResolvedOptions = Required<WindowAggregatorOptions>;

export class WindowAggregator {
  readonly options: ResolvedOptions;
  readonly #figuresOptions: WindowFiguresOptions;
  #windows = new Map<string, OpenWindow>();
  #maxEventTimeMs: number | null = null;
  #watermarkMs: number | null = null;
  #lateEventCount = 0;

  constructor(options: WindowAggregatorOptions) {
    this.options = resolveOptions(options);
    this.#figuresOptions = {
      relativeAccuracy: this.options.relativeAccuracy,
      maxErrorTypes: this.options.maxErrorTypes,
    };
  }

  /** Event time up to which windows are closed; undefined before the first event. */
  get watermarkMs(): number | undefined {
    return this.#watermarkMs ?? undefined;
  }

  get lateEventCount(): number {
    return this.#lateEventCount;
  }

  /**
   * Counts an event in its windows; or not, as late when its window has closed already, or as
   * future when it is stamped more than `maxFutureMs` after `appendedAtMs`, the time its record
   * was appended to the topic (when known).
   */
  add(event: AgentEvent, appendedAtMs?: number): AddOutcome {
    if (appendedAtMs !== undefined && event.timestamp > appendedAtMs + this.options.maxFutureMs) {
      return 'future';
    }
    const windowStartMs = this.windowStartOf(event.timestamp);
    const windowEndMs = windowStartMs + this.options.windowSizeMs;
    if (this.#watermarkMs !== null && windowEndMs <= this.#watermarkMs) {
      this.#lateEventCount += 1;
      return 'late';
    }

    this.#windowFor('agent', event.agent.id, windowStartMs).add(event);
    if (event.workflowId !== undefined) {
      this.#windowFor('workflow', event.workflowId, windowStartMs).add(event);
    }

    this.#maxEventTimeMs = Math.max(this.#maxEventTimeMs ?? event.timestamp, event.timestamp);
    this.#raiseWatermark(this.#maxEventTimeMs - this.options.allowedLatenessMs);
    return 'counted';
  }

  /**
   * Raises the watermark to at least `watermarkMs` (never lowers it): for a partition that has
   * gone quiet, so its last windows close without waiting for an event that may never come. The
   * stage decides when, from its own clock; that decision is then part of the saved state.
   */
  advanceWatermark(watermarkMs: number): void {
    this.#raiseWatermark(watermarkMs);
  }

  /** The windows the watermark has closed, final, in output order; they are forgotten here. */
  takeClosedWindows(): WindowResult[] {
    const watermarkMs = this.#watermarkMs;
    if (watermarkMs === null) return [];

    const closed: WindowResult[] = [];
    for (const [key, window] of this.#sortedWindows()) {
      if (window.windowStartMs + this.options.windowSizeMs > watermarkMs) continue;
      closed.push(this.#resultOf(window, true, window.figures));
      this.#windows.delete(key);
    }
    return closed;
  }

  /**
   * Copies of the figures of the open windows so far, in output order, not final: all of them,
   * or only those `include` picks (copying is the cost, so the filter runs first).
   */
  openWindows(include?: (scope: WindowScope, subjectId: string) => boolean): WindowResult[] {
    return this.#sortedWindows()
      .filter(([, window]) => include?.(window.scope, window.subjectId) ?? true)
      .map(([, window]) =>
        this.#resultOf(
          window,
          false,
          WindowFigures.fromJSON(window.figures.toJSON(), this.#figuresOptions),
        ),
      );
  }

  /** The end of the latest open window; undefined when none is open. */
  latestOpenWindowEndMs(): number | undefined {
    let latestStartMs: number | undefined;
    for (const window of this.#windows.values()) {
      latestStartMs = Math.max(latestStartMs ?? window.windowStartMs, window.windowStartMs);
    }
    return latestStartMs === undefined ? undefined : latestStartMs + this.options.windowSizeMs;
  }

  windowStartOf(timestampMs: number): number {
    return Math.floor(timestampMs / this.options.windowSizeMs) * this.options.windowSizeMs;
  }

  toJSON(): WindowAggregatorState {
    return {
      version: STATE_VERSION,
      source: this.options.source,
      windowSizeMs: this.options.windowSizeMs,
      allowedLatenessMs: this.options.allowedLatenessMs,
      maxEventTimeMs: this.#maxEventTimeMs,
      watermarkMs: this.#watermarkMs,
      lateEventCount: this.#lateEventCount,
      windows: this.#sortedWindows().map(([, window]) => ({
        scope: window.scope,
        subjectId: window.subjectId,
        windowStartMs: window.windowStartMs,
        figures: window.figures.toJSON(),
      })),
    };
  }

  /**
   * An aggregator that continues exactly where the saved one stopped. Refuses state saved for
   * another partition, another version, or another window size: open windows cut with one size
   * cannot continue under another. A changed lateness is taken: it applies from the next event on,
   * and the watermark never moves back.
   */
  static restore(options: WindowAggregatorOptions, state: WindowAggregatorState): WindowAggregator {
    const aggregator = new WindowAggregator(options);
    const mismatch = describeMismatch(aggregator.options, state);
    if (mismatch !== undefined) {
      throw new PanaceaError(
        'METRICS_STATE_INVALID',
        `window state of ${options.source}: ${mismatch}`,
        {
          source: options.source,
        },
      );
    }

    aggregator.#maxEventTimeMs = state.maxEventTimeMs;
    aggregator.#watermarkMs = state.watermarkMs;
    aggregator.#lateEventCount = state.lateEventCount;
    for (const saved of state.windows) {
      const window: OpenWindow = {
        scope: saved.scope,
        subjectId: saved.subjectId,
        windowStartMs: saved.windowStartMs,
        figures: WindowFigures.fromJSON(saved.figures, aggregator.#figuresOptions),
      };
      aggregator.#windows.set(
        windowDocumentId(saved.scope, saved.subjectId, saved.windowStartMs),
        window,
      );
    }
    return aggregator;
  }

  #windowFor(scope: WindowScope, subjectId: string, windowStartMs: number): WindowFigures {
    const key = windowDocumentId(scope, subjectId, windowStartMs);
    const existing = this.#windows.get(key);
    if (existing !== undefined) return existing.figures;

    const figures = new WindowFigures(this.#figuresOptions);
    this.#windows.set(key, { scope, subjectId, windowStartMs, figures });
    return figures;
  }

  #raiseWatermark(watermarkMs: number): void {
    this.#watermarkMs = Math.max(this.#watermarkMs ?? watermarkMs, watermarkMs);
  }

  #resultOf(window: OpenWindow, final: boolean, figures: WindowFigures): WindowResult {
    return {
      documentId: windowDocumentId(window.scope, window.subjectId, window.windowStartMs),
      scope: window.scope,
      subjectId: window.subjectId,
      windowStartMs: window.windowStartMs,
      windowEndMs: window.windowStartMs + this.options.windowSizeMs,
      final,
      figures,
    };
  }

  #sortedWindows(): [string, OpenWindow][] {
    return [...this.#windows].sort(([, a], [, b]) => compareWindows(a, b));
  }
}

function compareWindows(a: OpenWindow, b: OpenWindow): number {
  if (a.windowStartMs !== b.windowStartMs) return a.windowStartMs - b.windowStartMs;
  if (a.scope !== b.scope) return a.scope < b.scope ? -1 : 1;
  if (a.subjectId === b.subjectId) return 0;
  return a.subjectId < b.subjectId ? -1 : 1;
}

function resolveOptions(options: WindowAggregatorOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    ...WINDOW_AGGREGATOR_DEFAULTS,
    ...definedOnly(options),
    source: options.source,
  };

  requireInteger('metrics', 'windowSizeMs', resolved.windowSizeMs, 1000, MAX_WINDOW_SIZE_MS);
  requireInteger(
    'metrics',
    'allowedLatenessMs',
    resolved.allowedLatenessMs,
    0,
    MAX_ALLOWED_LATENESS_MS,
  );
  requireInteger('metrics', 'maxErrorTypes', resolved.maxErrorTypes, 0, 10_000);
  requireInteger('metrics', 'maxFutureMs', resolved.maxFutureMs, 0, MAX_WINDOW_SIZE_MS);
  if (typeof resolved.source !== 'string' || resolved.source.length === 0) {
    throw new PanaceaError(
      'CONFIG_INVALID',
      `metrics option source: expected a non-empty string, got ${describeValue(resolved.source)}`,
    );
  }
  return resolved;
}

function describeMismatch(
  options: ResolvedOptions,
  state: WindowAggregatorState,
): string | undefined {
  if (state.version !== STATE_VERSION) {
    return `expected state version ${STATE_VERSION}, got ${describeValue(state.version)}`;
  }
  if (state.source !== options.source) return `the state was saved for ${state.source}`;
  if (state.windowSizeMs !== options.windowSizeMs) {
    return (
      `the state has windows of ${state.windowSizeMs} ms, ` +
      `this stage makes ${options.windowSizeMs} ms`
    );
  }
  if (!Number.isSafeInteger(state.lateEventCount) || !Array.isArray(state.windows)) {
    return 'lateEventCount or windows is missing';
  }
  return undefined;
}
