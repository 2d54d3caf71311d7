/**
 * The figures of one window for one agent or one workflow, built up event by event and mergeable:
 * `merge` of the figures of several agents (or of several source partitions) gives the same
 * figures as one accumulator fed with all of their events, whatever the order.
 *
 * What counts as what:
 * - a task is an activity event with a `taskId`. Its `started`, `succeeded` and `failed` events are
 *   counted by status; the `durationMs` of a `succeeded` or `failed` one goes into the duration
 *   sketch. Activity without a `taskId` (a lone tool call) counts as an event, not as a task, so
 *   `started` and finished counts describe the same units of work;
 * - errors are counted by severity and by type. At most `maxErrorTypes` types keep a count of
 *   their own per window, the first ones to arrive; the others add to `otherErrorTypes`, so a
 *   flood of distinct types cannot grow the state without bound. Past that cap, which types keep
 *   their own count can depend on arrival order; the totals by severity never do;
 * - heartbeats are counted by status; the window's status is the status of the heartbeat with the
 *   latest event time (on a tie, the more severe: error, busy, active, idle, so the answer does
 *   not depend on arrival order); CPU is averaged over the heartbeats that report it and memory is
 *   the peak;
 * - every event, of every kind, counts towards the event rate.
 *
 * Why CPU is summed in integer thousandths: a sum of floating-point numbers depends on the order
 * of addition, and a workflow's partial figures from several partitions arrive in any order. An
 * integer sum (exact up to 2^53, some 90 million heartbeats at 100 000 %) gives the same mean
 * every time, which overwriting a window's document after a replay relies on.
 */
import { PanaceaError } from '../../core/errors.js';
import { EVENT_KINDS, type EventKind } from '../../core/naming.js';
import {
  ERROR_SEVERITIES,
  HEARTBEAT_STATUSES,
  type AgentEvent,
  type HeartbeatBody,
} from '../../schemas/event.js';
import { QuantileSketch, type QuantileSketchState } from './quantile-sketch.js';

export type ErrorSeverity = (typeof ERROR_SEVERITIES)[number];
export type HeartbeatStatus = HeartbeatBody['status'];

export const DEFAULT_MAX_ERROR_TYPES = 50;

const CPU_UNITS_PER_PERCENT = 1000;

// Tie-break between heartbeats of the same event time: the more severe status wins.
const STATUS_SEVERITY: Record<HeartbeatStatus, number> = { idle: 0, active: 1, busy: 2, error: 3 };

export interface WindowFiguresOptions {
  relativeAccuracy: number;
  maxErrorTypes: number;
}

/** The JSON form, for checkpoints and for merging partial results downstream. */
export interface WindowFiguresState {
  eventCount: number;
  eventsByKind: Record<EventKind, number>;
  tasks: { started: number; succeeded: number; failed: number };
  durationsMs: QuantileSketchState;
  errorsBySeverity: Record<ErrorSeverity, number>;
  /** Sorted by type, so the same figures always give the same text. */
  errorsByType: [string, number][];
  otherErrorTypes: number;
  heartbeats: {
    count: number;
    byStatus: Record<HeartbeatStatus, number>;
    latest: { status: HeartbeatStatus; atMs: number } | null;
    cpuSampleCount: number;
    cpuThousandthsSum: number;
    peakMemoryMb: number | null;
  };
}

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
}

export class WindowFigures {
  readonly #options: WindowFiguresOptions;
  #state: Omit<WindowFiguresState, 'durationsMs' | 'errorsByType'>;
  #durationsMs: QuantileSketch;
  #errorsByType = new Map<string, number>();

  constructor(options: WindowFiguresOptions) {
    this.#options = options;
    this.#durationsMs = new QuantileSketch(options.relativeAccuracy);
    this.#state = {
      eventCount: 0,
      eventsByKind: zeroes(EVENT_KINDS),
      tasks: { started: 0, succeeded: 0, failed: 0 },
      errorsBySeverity: zeroes(ERROR_SEVERITIES),
      otherErrorTypes: 0,
      heartbeats: {
        count: 0,
        byStatus: zeroes(HEARTBEAT_STATUSES),
        latest: null,
        cpuSampleCount: 0,
        cpuThousandthsSum: 0,
        peakMemoryMb: null,
      },
    };
  }

  get eventCount(): number {
    return this.#state.eventCount;
  }

  get durationsMs(): QuantileSketch {
    return this.#durationsMs;
  }

  add(event: AgentEvent): void {
    const state = this.#state;
    state.eventCount += 1;
    state.eventsByKind[event.kind] += 1;

    switch (event.kind) {
      case 'activity': {
        if (event.taskId === undefined) return;
        const { status, durationMs } = event.activity;
        state.tasks[status] += 1;
        if (status !== 'started' && durationMs !== undefined) this.#durationsMs.add(durationMs);
        return;
      }
      case 'error': {
        state.errorsBySeverity[event.error.severity] += 1;
        this.#countErrorType(event.error.type, 1);
        return;
      }
      case 'heartbeat': {
        const { status, cpuPercent, memoryMb } = event.heartbeat;
        const heartbeats = state.heartbeats;
        heartbeats.count += 1;
        heartbeats.byStatus[status] += 1;
        heartbeats.latest = laterStatus(heartbeats.latest, { status, atMs: event.timestamp });
        if (cpuPercent !== undefined) {
          heartbeats.cpuSampleCount += 1;
          heartbeats.cpuThousandthsSum += Math.round(cpuPercent * CPU_UNITS_PER_PERCENT);
        }
        if (memoryMb !== undefined) {
          heartbeats.peakMemoryMb = Math.max(heartbeats.peakMemoryMb ?? memoryMb, memoryMb);
        }
        return;
      }
      case 'audit':
        return;
    }
  }

  /** Adds another window's figures into these; the other is left unchanged. */
  merge(other: WindowFigures): void {
    const mine = this.#state;
    const theirs = other.#state;

    mine.eventCount += theirs.eventCount;
    addCounts(mine.eventsByKind, theirs.eventsByKind);
    addCounts(mine.tasks, theirs.tasks);
    this.#durationsMs.merge(other.#durationsMs);
    addCounts(mine.errorsBySeverity, theirs.errorsBySeverity);
    for (const [type, count] of [...other.#errorsByType].sort(byKey)) {
      this.#countErrorType(type, count);
    }
    mine.otherErrorTypes += theirs.otherErrorTypes;

    const heartbeats = mine.heartbeats;
    heartbeats.count += theirs.heartbeats.count;
    addCounts(heartbeats.byStatus, theirs.heartbeats.byStatus);
    heartbeats.latest = laterStatus(heartbeats.latest, theirs.heartbeats.latest);
    heartbeats.cpuSampleCount += theirs.heartbeats.cpuSampleCount;
    heartbeats.cpuThousandthsSum += theirs.heartbeats.cpuThousandthsSum;
    const peaks = [heartbeats.peakMemoryMb, theirs.heartbeats.peakMemoryMb].filter(
      (peak): peak is number => peak !== null,
    );
    heartbeats.peakMemoryMb = peaks.length === 0 ? null : Math.max(...peaks);
  }

  /** The mean CPU of the heartbeats that reported it, in percent; null when none did. */
  meanCpuPercent(): number | null {
    const { cpuSampleCount, cpuThousandthsSum } = this.#state.heartbeats;
    return cpuSampleCount === 0 ? null : cpuThousandthsSum / cpuSampleCount / CPU_UNITS_PER_PERCENT;
  }

  toJSON(): WindowFiguresState {
    return {
      ...structuredClone(this.#state),
      durationsMs: this.#durationsMs.toJSON(),
      errorsByType: [...this.#errorsByType].sort(byKey),
    };
  }

  static fromJSON(state: WindowFiguresState, options: WindowFiguresOptions): WindowFigures {
    if (state.durationsMs.relativeAccuracy !== options.relativeAccuracy) {
      throw new PanaceaError(
        'METRICS_STATE_INVALID',
        `window figures were saved with relative accuracy ` +
          `${state.durationsMs.relativeAccuracy}, this stage runs with ${options.relativeAccuracy}`,
      );
    }

    const figures = new WindowFigures(options);
    const { durationsMs, errorsByType, ...rest } = structuredClone(state);
    figures.#state = rest;
    figures.#durationsMs = QuantileSketch.fromJSON(durationsMs);
    figures.#errorsByType = new Map(errorsByType);
    return figures;
  }

  #countErrorType(type: string, count: number): void {
    const known = this.#errorsByType.get(type);
    if (known !== undefined) {
      this.#errorsByType.set(type, known + count);
    } else if (this.#errorsByType.size < this.#options.maxErrorTypes) {
      this.#errorsByType.set(type, count);
    } else {
      this.#state.otherErrorTypes += count;
    }
  }
}

function addCounts<K extends string>(into: Record<K, number>, from: Record<K, number>): void {
  for (const key of Object.keys(from) as K[]) into[key] += from[key];
}

function byKey(a: [string, number], b: [string, number]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

type LatestStatus = WindowFiguresState['heartbeats']['latest'];

function laterStatus(a: LatestStatus, b: LatestStatus): LatestStatus {
  if (a === null) return b;
  if (b === null) return a;
  if (a.atMs !== b.atMs) return a.atMs > b.atMs ? a : b;
  return STATUS_SEVERITY[b.status] > STATUS_SEVERITY[a.status] ? b : a;
}
