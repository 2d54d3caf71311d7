import { describe, expect, it } from 'vitest';

import {
  toMetricsDocument,
  windowDocumentId,
  type WindowResult,
} from '../../../../processors/metrics/metrics-document.js';
import { WindowFigures } from '../../../../processors/metrics/window-figures.js';
import type { AgentEvent } from '../../../../schemas/event.js';
import {
  combineStoredPartials,
  partialWindowId,
  restorePartialWindow,
  windowIdOfPartial,
  type StoredPartial,
} from '../../../../sinks/elasticsearch/combined-window.js';
import { thrownPanaceaError } from '../../fixtures/panacea-error.js';
import {
  T0_MS,
  activityAt,
  errorAt,
  heartbeatAt,
  seededRandom,
} from '../../processors/metrics/support.js';

const OPTIONS = { relativeAccuracy: 0.01, maxErrorTypes: 50 };
const WINDOW_MS = 60_000;
const WINDOW_ID = windowDocumentId('workflow', 'wf-1', T0_MS);

function eventsOf(seed: number, length: number): AgentEvent[] {
  const random = seededRandom(seed);
  return Array.from({ length }, (_, index) => {
    const atMs = T0_MS + Math.floor(random() * WINDOW_MS);
    const roll = random();
    if (roll < 0.3) {
      return heartbeatAt(atMs, { status: 'busy', cpuPercent: random() * 100, memoryMb: 100 });
    }
    if (roll < 0.9) {
      return activityAt(
        atMs,
        { status: random() < 0.8 ? 'succeeded' : 'failed', durationMs: 1 + random() * 5000 },
        { taskId: `t-${seed}-${index}` },
      );
    }
    return errorAt(atMs, { type: `E${index % 4}`, severity: 'error' });
  });
}

function resultOf(events: AgentEvent[], final: boolean): WindowResult {
  const figures = new WindowFigures(OPTIONS);
  for (const event of events) figures.add(event);
  return {
    documentId: WINDOW_ID,
    scope: 'workflow',
    subjectId: 'wf-1',
    windowStartMs: T0_MS,
    windowEndMs: T0_MS + WINDOW_MS,
    final,
    figures,
  };
}

/** A partial as the sink stores it and `mget` returns it: the record's document, through JSON. */
function storedPartial(
  source: string,
  version: number,
  events: AgentEvent[],
  final = true,
): StoredPartial {
  const document = toMetricsDocument(resultOf(events, final));
  const withSource = { ...document, panacea: { ...document.panacea, source } };
  return { source, version, document: JSON.parse(JSON.stringify(withSource)) as unknown };
}

describe('combined workflow window', () => {
  it('restores a partial document to the figures it was made from', () => {
    const events = eventsOf(1, 200);
    const stored = storedPartial('agent.events.enriched-1', 7, events, false);

    const partial = restorePartialWindow(stored, OPTIONS);

    expect(partial.source).toBe('agent.events.enriched-1');
    expect(partial.result).toMatchObject({
      documentId: WINDOW_ID,
      scope: 'workflow',
      subjectId: 'wf-1',
      windowStartMs: T0_MS,
      windowEndMs: T0_MS + WINDOW_MS,
      final: false,
    });
    expect(partial.result.figures.toJSON()).toEqual(resultOf(events, false).figures.toJSON());
  });

  it('refuses a stored partial without its state', () => {
    const stored = storedPartial('agent.events.enriched-0', 1, eventsOf(2, 10));
    const document = stored.document as { panacea: { metrics: Record<string, unknown> } };
    delete document.panacea.metrics.state;

    const error = thrownPanaceaError(() => restorePartialWindow(stored, OPTIONS));

    expect(error.code).toBe('METRICS_STATE_INVALID');
    expect(error.context).toMatchObject({ source: 'agent.events.enriched-0' });
  });

  it('gives the figures of all events together, with the sources and the sum of versions', () => {
    const first = eventsOf(3, 300);
    const second = eventsOf(4, 500);
    const stored = [
      storedPartial('agent.events.enriched-2', 40, second),
      storedPartial('agent.events.enriched-0', 15, first),
    ];

    const combined = combineStoredPartials(stored, OPTIONS);

    const whole = toMetricsDocument(resultOf([...first, ...second], true));
    expect(combined.id).toBe(WINDOW_ID);
    expect(combined.version).toBe(55);
    expect(combined.document).toEqual({
      ...whole,
      panacea: {
        ...whole.panacea,
        metrics: {
          ...whole.panacea.metrics,
          sources: ['agent.events.enriched-0', 'agent.events.enriched-2'],
        },
      },
    });
    expect(combined.document.panacea).not.toHaveProperty('source');
  });

  it('is final only when every partial found is final', () => {
    const stored = [
      storedPartial('agent.events.enriched-0', 3, eventsOf(5, 20), true),
      storedPartial('agent.events.enriched-1', 4, eventsOf(6, 20), false),
    ];

    expect(combineStoredPartials(stored, OPTIONS).document.panacea.metrics.final).toBe(false);
    expect(combineStoredPartials(stored.slice(0, 1), OPTIONS).document.panacea.metrics.final).toBe(
      true,
    );
  });

  it('refuses partials of different windows', () => {
    const other = storedPartial('agent.events.enriched-1', 2, eventsOf(7, 5));
    const document = other.document as { event: { start: string } };
    document.event.start = new Date(T0_MS + WINDOW_MS).toISOString();

    const error = thrownPanaceaError(() =>
      combineStoredPartials([storedPartial('agent.events.enriched-0', 1, []), other], OPTIONS),
    );

    expect(error.code).toBe('METRICS_STATE_INVALID');
  });

  it('reads the window id back from a partial id whose workflow id holds a bar', () => {
    const windowId = windowDocumentId('workflow', 'team|wf', T0_MS);
    const partialId = partialWindowId(windowId, 'agent.events.enriched-2');

    expect(partialId).toBe(`${windowId}|agent.events.enriched-2`);
    expect(windowIdOfPartial(partialId)).toBe(windowId);
  });
});
