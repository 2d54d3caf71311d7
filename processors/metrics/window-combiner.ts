/**
 * Combines the partial results of one window from several input partitions into the window's
 * figures: a workflow whose agents sit on several partitions gets a partial window from each
 * partition's aggregator (see window-aggregator.ts).
 *
 * Exact, because every figure merges exactly (integer counts, integer CPU sums, sketch buckets,
 * maxima), and independent of the order the partials arrive in, because they are merged in the
 * order of their source names. Idempotent when the caller keeps the latest partial per source and
 * combines them all again: a partial delivered twice replaces itself.
 */
import { PanaceaError } from '../../core/errors.js';
import type { WindowResult } from './metrics-document.js';
import { WindowFigures, type WindowFiguresOptions } from './window-figures.js';

export interface PartialWindow {
  /** The input partition the partial came from (`agent.events.enriched-2`). */
  source: string;
  result: WindowResult;
}

/**
 * One result from the latest partial of each source. Final only when every partial is final;
 * the caller knows best whether every source has reported.
 */
export function combinePartialWindows(
  partials: readonly PartialWindow[],
  figuresOptions: WindowFiguresOptions,
): WindowResult {
  const [first] = partials;
  if (first === undefined) {
    throw new PanaceaError('METRICS_STATE_INVALID', 'no partial windows to combine');
  }
  const strangers = partials.filter(({ result }) => result.documentId !== first.result.documentId);
  if (strangers.length > 0) {
    throw new PanaceaError(
      'METRICS_STATE_INVALID',
      `partials of ${first.result.documentId} mixed with ${strangers[0]?.result.documentId}`,
    );
  }

  const latestBySource = new Map(partials.map((partial) => [partial.source, partial.result]));
  const sources = [...latestBySource.keys()].sort();
  const figures = new WindowFigures(figuresOptions);
  let final = true;
  for (const source of sources) {
    const result = latestBySource.get(source);
    if (result === undefined) continue;
    figures.merge(result.figures);
    final &&= result.final;
  }

  return { ...first.result, final, figures };
}
