/**
 * Recomputing the windows of one enriched partition from a range of its records, as a replay
 * reads them, and telling which of the recomputed windows are exact: the same figures the live
 * stage computed, so they may overwrite the stored documents. Pure: no Kafka, no Elasticsearch.
 *
 * The records go through a WindowAggregator with the live stage's options and each record's
 * append time, exactly as the stage counts them. A window the replay closes is then written only
 * when nothing outside the replayed records can have changed it:
 *
 * - Leading edge. Records before the range may have counted in a window, and raised the live
 *   watermark so that events of the range were late there. A record counts only when its event
 *   time is at most its append time plus `maxFutureMs`, and append times of one partition do not
 *   step back, so nothing before the range reached past `firstAppendTime + maxFutureMs`. A window
 *   starting later than that is free of them (and the live watermark was below its end); one
 *   starting at or before it is skipped. A range that begins at offset 0 has nothing before it:
 *   no leading edge.
 * - Trailing edge. Records after the range may still count in a window the replay left open;
 *   those are skipped. A window the replay closed was closed live too, at or before the same
 *   record: the live watermark is never below the replay's (it saw more records, and a window
 *   the replay found late was already closed live), so later records were late there.
 * - Quiet gaps. The live stage also closes every open window of a partition quiet for a window
 *   and the lateness (`advanceWatermark`), by its own clock, which the log does not hold. Where
 *   two consecutive records lie at least half that apart in append time, the live stage may have
 *   done so; a window that was closable then and still counts an event after the gap may hold
 *   fewer events live than here, and is skipped. Half, so that a live stage lagging further
 *   behind after the gap than before it is still covered.
 *
 * The records of the range must all be given, in offset order: a record left out in the middle
 * (a time bound that drops records whose producer clock stepped back) would be missing from the
 * figures without any window knowing. Records already seen (a batch read twice) are skipped, as
 * the live stage skips them.
 */
import type { MetricsConfig } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import type { StageRecord } from '../../core/stage-runner.js';
import type { AgentEvent } from '../../schemas/event.js';
import { readEnrichedEvent } from './enriched-event.js';
import { windowDocumentId, type WindowResult } from './metrics-document.js';
import { WindowAggregator, type WindowAggregatorOptions } from './window-aggregator.js';

/** The share of `windowSizeMs + allowedLatenessMs` of append time that counts as a quiet gap. */
const QUIET_GAP_SHARE = 0.5;

/** The aggregator options of one input partition, as the live metrics stage sets them. */
export function windowAggregatorOptions(
  settings: Pick<MetricsConfig, 'windowSizeMs' | 'allowedLatenessMs' | 'maxFutureMs'>,
  source: string,
): WindowAggregatorOptions {
  return {
    source,
    windowSizeMs: settings.windowSizeMs,
    allowedLatenessMs: settings.allowedLatenessMs,
    maxFutureMs: settings.maxFutureMs,
  };
}

export type SkipReason = 'leadingEdge' | 'trailingEdge' | 'quietGap';

export interface PartitionRecomputationCounts {
  /** Records counted in windows. */
  counted: number;
  /** Records whose window had closed already (the live stage counted them late too). */
  late: number;
  /** Records stamped too far after their append time, left out as the live stage leaves them. */
  future: number;
  /** Records that are not an enriched event (the live stage dead-lettered them). */
  unreadable: number;
  /** Records at or below an offset already counted: read twice, counted once. */
  repeated: number;
  /** Windows left alone, by reason. */
  skipped: Record<SkipReason, number>;
}

export interface PartitionRecomputationOptions {
  /** The partition's name, `<enriched topic>-<partition>`, as the live stage names its source. */
  source: string;
  settings: Pick<MetricsConfig, 'windowSizeMs' | 'allowedLatenessMs' | 'maxFutureMs'>;
}

export class PartitionRecomputation {
  readonly source: string;
  readonly #aggregator: WindowAggregator;
  readonly #quietGapMs: number;
  readonly #maxFutureMs: number;
  /** Windows starting at or before this may hold records before the range; null: none can. */
  #leadingEdgeMs: number | null | undefined;
  #lastOffset: bigint | undefined;
  #lastAppendMs: number | undefined;
  /** Windows ending at or before this may have been closed by the live stage's quiet timer. */
  #quietClosedBeforeMs: number | undefined;
  /** Ids of windows that counted an event after a quiet gap that may have closed them. */
  readonly #afterQuietGap = new Set<string>();
  readonly #complete: WindowResult[] = [];
  readonly #counts: PartitionRecomputationCounts = {
    counted: 0,
    late: 0,
    future: 0,
    unreadable: 0,
    repeated: 0,
    skipped: { leadingEdge: 0, trailingEdge: 0, quietGap: 0 },
  };
  #finished = false;

  constructor(options: PartitionRecomputationOptions) {
    this.source = options.source;
    this.#aggregator = new WindowAggregator(
      windowAggregatorOptions(options.settings, options.source),
    );
    const { windowSizeMs, allowedLatenessMs, maxFutureMs } = this.#aggregator.options;
    this.#quietGapMs = (windowSizeMs + allowedLatenessMs) * QUIET_GAP_SHARE;
    this.#maxFutureMs = maxFutureMs;
  }

  get counts(): PartitionRecomputationCounts {
    return structuredClone(this.#counts);
  }

  /** The offset after the last record counted; undefined before the first. */
  get nextOffset(): bigint | undefined {
    return this.#lastOffset === undefined ? undefined : this.#lastOffset + 1n;
  }

  /** Counts the records (of this partition, in offset order) into their windows. */
  add(records: readonly StageRecord[]): void {
    if (this.#finished) {
      throw new PanaceaError('USAGE', `the recomputation of ${this.source} is already finished`);
    }
    for (const record of records) {
      const offset = BigInt(record.offset);
      if (this.#lastOffset !== undefined && offset <= this.#lastOffset) {
        this.#counts.repeated += 1;
        continue;
      }
      this.#noteAppendTime(offset, record.timestampMs);
      this.#lastOffset = offset;
      this.#count(record);
    }
    this.#takeClosed();
  }

  /** The exact windows closed since the last call, in output order; handed out once. */
  takeCompleteWindows(): WindowResult[] {
    return this.#complete.splice(0);
  }

  /**
   * Ends the range: every window still open may take records after it, so each is skipped as
   * the trailing edge. Returns the exact windows not yet taken.
   */
  finish(): WindowResult[] {
    if (!this.#finished) {
      this.#finished = true;
      this.#counts.skipped.trailingEdge += this.#aggregator.openWindows().length;
    }
    return this.takeCompleteWindows();
  }

  #noteAppendTime(offset: bigint, appendedAtMs: number): void {
    if (this.#leadingEdgeMs === undefined) {
      this.#leadingEdgeMs = offset === 0n ? null : appendedAtMs + this.#maxFutureMs;
    }
    if (this.#lastAppendMs !== undefined && appendedAtMs - this.#lastAppendMs >= this.#quietGapMs) {
      const closableBeforeMs = this.#aggregator.latestOpenWindowEndMs();
      if (closableBeforeMs !== undefined) {
        this.#quietClosedBeforeMs = Math.max(this.#quietClosedBeforeMs ?? 0, closableBeforeMs);
      }
    }
    this.#lastAppendMs = Math.max(this.#lastAppendMs ?? appendedAtMs, appendedAtMs);
  }

  #count(record: StageRecord): void {
    let event: AgentEvent;
    try {
      event = readEnrichedEvent(record.value);
    } catch (error) {
      if (!(error instanceof PanaceaError) || error.retriable) throw error;
      this.#counts.unreadable += 1;
      return;
    }

    const outcome = this.#aggregator.add(event, record.timestampMs);
    this.#counts[outcome] += 1;
    if (outcome !== 'counted' || this.#quietClosedBeforeMs === undefined) return;

    const windowStartMs = this.#aggregator.windowStartOf(event.timestamp);
    const windowEndMs = windowStartMs + this.#aggregator.options.windowSizeMs;
    if (windowEndMs > this.#quietClosedBeforeMs) return;
    this.#afterQuietGap.add(windowDocumentId('agent', event.agent.id, windowStartMs));
    if (event.workflowId !== undefined) {
      this.#afterQuietGap.add(windowDocumentId('workflow', event.workflowId, windowStartMs));
    }
  }

  #takeClosed(): void {
    for (const result of this.#aggregator.takeClosedWindows()) {
      const reason = this.#skipReasonOf(result);
      if (reason === undefined) this.#complete.push(result);
      else this.#counts.skipped[reason] += 1;
      this.#afterQuietGap.delete(result.documentId);
    }
  }

  #skipReasonOf(result: WindowResult): SkipReason | undefined {
    if (this.#leadingEdgeMs !== null && this.#leadingEdgeMs !== undefined) {
      if (result.windowStartMs <= this.#leadingEdgeMs) return 'leadingEdge';
    }
    if (this.#afterQuietGap.has(result.documentId)) return 'quietGap';
    return undefined;
  }
}
