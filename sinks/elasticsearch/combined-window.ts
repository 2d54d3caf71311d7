/**
 * The pure part of combining a workflow window in the metrics sink: the partial documents of one
 * window, as stored in `metrics-agent.window_partial-<namespace>` (one per input partition of the
 * enriched topic, `_id` `<window id>|<source>`), restored to figures from their
 * `panacea.metrics.state`, merged with `combinePartialWindows`, and turned into the window's one
 * document under the window id.
 *
 * The combined document's version is the sum of the partials' stored versions. Each partial's
 * version is the input offset its source had reached, so it only grows; a later reading of the
 * same partials therefore has a sum at least as large, equal only when every partial is the same.
 * Written with `version_type: external_gte`, a combination from an older reading (a sink consumer
 * that lost its partition but still writes) never replaces a newer one.
 */
import { PanaceaError } from '../../core/errors.js';
import {
  toMetricsDocument,
  windowDocumentId,
  type MetricsDocument,
} from '../../processors/metrics/metrics-document.js';
import {
  combinePartialWindows,
  type PartialWindow,
} from '../../processors/metrics/window-combiner.js';
import {
  WindowFigures,
  type WindowFiguresOptions,
  type WindowFiguresState,
} from '../../processors/metrics/window-figures.js';

/** One partial as `mget` found it. */
export interface StoredPartial {
  /** The input partition it came from (`agent.events.enriched-2`). */
  source: string;
  /** Its stored `_version`: the input offset its source had reached. */
  version: number;
  /** Its `_source`. */
  document: unknown;
}

export type CombinedWindowDocument = MetricsDocument & {
  panacea: { metrics: { sources: string[] } };
};

export interface CombinedWindow {
  /** The window id, `workflow:<workflow id>:<window start>`. */
  id: string;
  /** The sum of the partials' versions. */
  version: number;
  document: CombinedWindowDocument;
}

/** The `_id` of a window's partial from one source. */
export function partialWindowId(windowId: string, source: string): string {
  return `${windowId}|${source}`;
}

/**
 * The window id of a partial's `_id`. The source (a topic name and a partition) holds no `|`, so
 * the last one separates them even when the workflow id holds one.
 */
export function windowIdOfPartial(partialId: string): string {
  const separator = partialId.lastIndexOf('|');
  if (separator < 0) {
    throw new PanaceaError('CONTRACT_VIOLATION', `partial window id ${partialId} has no source`, {
      field: 'id',
    });
  }
  return partialId.slice(0, separator);
}

/** A stored partial document back to the window result it was made from. */
export function restorePartialWindow(
  stored: StoredPartial,
  figuresOptions: WindowFiguresOptions,
): PartialWindow {
  const document = stored.document as Partial<MetricsDocument> | null;
  const metrics = document?.panacea?.metrics;
  const startMs = Date.parse(String(document?.event?.start));
  const endMs = Date.parse(String(document?.event?.end));
  if (
    metrics === undefined ||
    metrics.scope !== 'workflow' ||
    typeof metrics.subject_id !== 'string' ||
    typeof metrics.final !== 'boolean' ||
    typeof metrics.state !== 'object' ||
    metrics.state === null ||
    Number.isNaN(startMs) ||
    Number.isNaN(endMs)
  ) {
    throw new PanaceaError(
      'METRICS_STATE_INVALID',
      `the partial window from ${stored.source} is not a workflow window with its state`,
      { source: stored.source },
    );
  }

  const figures = WindowFigures.fromJSON(metrics.state as WindowFiguresState, figuresOptions);
  return {
    source: stored.source,
    result: {
      documentId: windowDocumentId('workflow', metrics.subject_id, startMs),
      scope: 'workflow',
      subjectId: metrics.subject_id,
      windowStartMs: startMs,
      windowEndMs: endMs,
      final: metrics.final,
      figures,
    },
  };
}

/**
 * The one document of a window from every partial found: exact figures over all sources, `final`
 * only when every partial found is final, and the sources merged under `panacea.metrics.sources`.
 */
export function combineStoredPartials(
  stored: readonly StoredPartial[],
  figuresOptions: WindowFiguresOptions,
): CombinedWindow {
  const partials = stored.map((partial) => restorePartialWindow(partial, figuresOptions));
  const combined = combinePartialWindows(partials, figuresOptions);

  const document = toMetricsDocument(combined);
  const sources = [...new Set(stored.map((partial) => partial.source))].sort();
  return {
    id: combined.documentId,
    version: stored.reduce((sum, partial) => sum + partial.version, 0),
    document: {
      ...document,
      panacea: { ...document.panacea, metrics: { ...document.panacea.metrics, sources } },
    },
  };
}
