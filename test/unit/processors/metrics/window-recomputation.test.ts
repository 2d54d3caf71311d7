import { describe, expect, it } from 'vitest';

import type { MetricsConfig } from '../../../../core/config.js';
import type { StageRecord } from '../../../../core/stage-runner.js';
import { toEnrichedDocument } from '../../../../processors/enrich/ecs-document.js';
import {
  toMetricsDocument,
  type WindowResult,
} from '../../../../processors/metrics/metrics-document.js';
import { WindowAggregator } from '../../../../processors/metrics/window-aggregator.js';
import {
  PartitionRecomputation,
  windowAggregatorOptions,
} from '../../../../processors/metrics/window-recomputation.js';
import type { AgentEvent } from '../../../../schemas/event.js';
import { SAMPLE_ENRICHMENT_CONTEXT } from '../../fixtures/sample-events.js';
import { T0_MS, activityAt, errorAt, heartbeatAt, seededRandom } from './support.js';

const MINUTE_MS = 60_000;
const SOURCE = 'agent.events.enriched-0';
const SETTINGS: Pick<MetricsConfig, 'windowSizeMs' | 'allowedLatenessMs' | 'maxFutureMs'> = {
  windowSizeMs: MINUTE_MS,
  allowedLatenessMs: 30_000,
  maxFutureMs: 300_000,
};
/** The live stage's quiet timer fires after a window and the lateness without input. */
const LIVE_QUIET_MS = SETTINGS.windowSizeMs + SETTINGS.allowedLatenessMs;

/** An event as the enriched topic holds it, at `offset`, appended at `appendedAtMs`. */
interface LoggedEvent {
  event: AgentEvent;
  appendedAtMs: number;
}

function recordsOf(log: readonly LoggedEvent[], fromOffset = 0): StageRecord[] {
  return log.map(({ event, appendedAtMs }, index) => ({
    topic: 'agent.events.enriched',
    partition: 0,
    offset: String(fromOffset + index),
    key: Buffer.from(event.agent.id),
    value: Buffer.from(JSON.stringify(toEnrichedDocument(event, SAMPLE_ENRICHMENT_CONTEXT))),
    headers: undefined,
    timestampMs: appendedAtMs,
  }));
}

/**
 * What the live stage wrote as final for each window: the whole log from offset 0 through one
 * aggregator, with its quiet timer closing every open window after `LIVE_QUIET_MS` of silence
 * (its processing time taken as the append time).
 */
function liveFinalDocuments(log: readonly LoggedEvent[]): Map<string, unknown> {
  const live = new WindowAggregator(windowAggregatorOptions(SETTINGS, SOURCE));
  const documents = new Map<string, unknown>();
  const take = (): void => {
    for (const result of live.takeClosedWindows()) {
      documents.set(result.documentId, toMetricsDocument(result));
    }
  };
  let lastAppendMs: number | undefined;
  for (const { event, appendedAtMs } of log) {
    if (lastAppendMs !== undefined && appendedAtMs - lastAppendMs >= LIVE_QUIET_MS) {
      const latestEndMs = live.latestOpenWindowEndMs();
      if (latestEndMs !== undefined) live.advanceWatermark(latestEndMs);
      take();
    }
    lastAppendMs = appendedAtMs;
    live.add(event, appendedAtMs);
    take();
  }
  return documents;
}

function recompute(log: readonly LoggedEvent[], from: number, to: number) {
  const recomputation = new PartitionRecomputation({ source: SOURCE, settings: SETTINGS });
  const records = recordsOf(log.slice(from, to), from);
  const written: WindowResult[] = [];
  // In batches, as a reader hands them over.
  for (let start = 0; start < records.length; start += 7) {
    recomputation.add(records.slice(start, start + 7));
    written.push(...recomputation.takeCompleteWindows());
  }
  written.push(...recomputation.finish());
  return { written, counts: recomputation.counts };
}

/** A log like a live one: agents on one partition, appended as they happen, some late. */
function liveLikeLog(seed: number, length: number, quietShare = 0.02): LoggedEvent[] {
  const random = seededRandom(seed);
  const log: LoggedEvent[] = [];
  let appendedAtMs = T0_MS;
  for (let index = 0; index < length; index += 1) {
    // Mostly a few seconds apart, now and then a quiet spell around the live timer's threshold.
    const quiet = random() < quietShare;
    const beforeMs = appendedAtMs;
    appendedAtMs += quiet ? 40_000 + Math.floor(random() * 100_000) : Math.floor(random() * 6_000);
    const agent = Math.floor(random() * 3);
    const delayMs = random() < 0.1 ? Math.floor(random() * 120_000) : Math.floor(random() * 5_000);
    // After a quiet spell, often an event held back by its agent from before the spell.
    const heldBack = quiet && random() < 0.7;
    const timestamp = heldBack
      ? beforeMs + 500
      : random() < 0.01
        ? appendedAtMs + 400_000
        : appendedAtMs - delayMs;
    const parts = {
      agentId: `agent-${agent}`,
      ...(agent === 2 ? {} : { workflowId: 'wf-shared' }),
    };
    const event =
      index % 3 === 0
        ? errorAt(timestamp, {}, parts)
        : index % 3 === 1
          ? heartbeatAt(timestamp, { cpuPercent: index % 100 }, parts)
          : activityAt(timestamp, { status: 'succeeded', durationMs: 10 + index }, parts);
    log.push({ event, appendedAtMs });
  }
  return log;
}

describe('recomputing the windows of one partition from a range of its records', () => {
  it('writes only windows whose figures equal what the live stage wrote, for any range', () => {
    const log = liveLikeLog(7, 1_500);
    const live = liveFinalDocuments(log);
    const random = seededRandom(11);
    let writtenInAll = 0;

    for (let trial = 0; trial < 40; trial += 1) {
      const from = trial < 5 ? 0 : Math.floor(random() * log.length);
      const to = from + 1 + Math.floor(random() * (log.length - from));

      const { written } = recompute(log, from, to);

      for (const result of written) {
        expect(live.has(result.documentId), `${from}-${to} ${result.documentId}`).toBe(true);
        expect(toMetricsDocument(result), `${from}-${to} ${result.documentId}`).toEqual(
          live.get(result.documentId),
        );
      }
      writtenInAll += written.length;
    }
    // The property must not hold by writing nothing.
    expect(writtenInAll).toBeGreaterThan(200);
  });

  it('restores every window the live stage closed when the range starts at offset 0', () => {
    // With no quiet spell, nothing is left out for a timer the log does not show.
    const log = liveLikeLog(3, 600, 0);
    const live = liveFinalDocuments(log);

    const { written, counts } = recompute(log, 0, log.length);

    expect(
      new Map(written.map((result) => [result.documentId, toMetricsDocument(result)])),
    ).toEqual(live);
    expect(counts.skipped).toMatchObject({ leadingEdge: 0, quietGap: 0 });
    expect(counts.skipped.trailingEdge).toBeGreaterThan(0);
  });

  it('skips the windows records before the range may reach: up to its first append time plus maxFutureMs', () => {
    const log: LoggedEvent[] = [];
    for (let minute = 0; minute < 20; minute += 1) {
      const atMs = T0_MS + minute * MINUTE_MS + 10_000;
      log.push({ event: heartbeatAt(atMs), appendedAtMs: atMs + 100 });
    }
    const firstAppendMs = (log[3] as LoggedEvent).appendedAtMs;

    const { written, counts } = recompute(log, 3, log.length);

    const starts = written.map((result) => result.windowStartMs);
    // Events of minutes 3 to 19; minutes 3 to 8 may hold earlier records (start ≤ first + 5 min).
    expect(Math.min(...starts)).toBe(T0_MS + 9 * MINUTE_MS);
    expect(starts.every((startMs) => startMs > firstAppendMs + SETTINGS.maxFutureMs)).toBe(true);
    expect(counts.skipped.leadingEdge).toBe(6);
  });

  it('has no leading edge when the range starts at offset 0', () => {
    const log = [0, 1, 2, 3].map((minute) => {
      const atMs = T0_MS + minute * MINUTE_MS;
      return { event: heartbeatAt(atMs), appendedAtMs: atMs };
    });

    const { written, counts } = recompute(log, 0, log.length);

    // The last event, at minute 3, moves the watermark to 2:30: minutes 0 and 1 are closed.
    expect(written.map((result) => result.windowStartMs)).toEqual([T0_MS, T0_MS + MINUTE_MS]);
    expect(counts.skipped).toEqual({ leadingEdge: 0, trailingEdge: 2, quietGap: 0 });
  });

  it('leaves the windows still open at the end of the range to the records after it', () => {
    const log = [0, 1, 2].map((second) => ({
      event: heartbeatAt(T0_MS + second * 1_000, {}, { workflowId: 'wf' }),
      appendedAtMs: T0_MS + second * 1_000,
    }));

    const { written, counts } = recompute(log, 0, log.length);

    expect(written).toEqual([]);
    // The agent window and the workflow's partial, both still open.
    expect(counts.skipped.trailingEdge).toBe(2);
  });

  it('skips a window that counts an event after a quiet gap the live timer may have closed it in', () => {
    const quietMs = LIVE_QUIET_MS / 2;
    const log: LoggedEvent[] = [
      { event: heartbeatAt(T0_MS + 1_000), appendedAtMs: T0_MS + 1_000 },
      // Quiet for half the timer's threshold, then one more event for the first window.
      { event: heartbeatAt(T0_MS + 2_000), appendedAtMs: T0_MS + 1_000 + quietMs },
      { event: heartbeatAt(T0_MS + 5 * MINUTE_MS), appendedAtMs: T0_MS + 5 * MINUTE_MS },
    ];

    const { written, counts } = recompute(log, 0, log.length);

    expect(written).toEqual([]);
    expect(counts.skipped.quietGap).toBe(1);
  });

  it('keeps a window that counts nothing after a quiet gap', () => {
    const log: LoggedEvent[] = [
      { event: heartbeatAt(T0_MS + 1_000), appendedAtMs: T0_MS + 1_000 },
      { event: heartbeatAt(T0_MS + 5 * MINUTE_MS), appendedAtMs: T0_MS + 5 * MINUTE_MS },
    ];

    const { written, counts } = recompute(log, 0, log.length);

    expect(written.map((result) => result.documentId)).toEqual([
      `agent:agent-1:${new Date(T0_MS).toISOString()}`,
    ]);
    expect(counts.skipped.quietGap).toBe(0);
  });

  it('counts a record read twice once, and an unreadable record as unreadable', () => {
    const log = [0, 1, 2].map((minute) => ({
      event: heartbeatAt(T0_MS + minute * MINUTE_MS),
      appendedAtMs: T0_MS + minute * MINUTE_MS,
    }));
    const records = recordsOf(log);
    const recomputation = new PartitionRecomputation({ source: SOURCE, settings: SETTINGS });

    recomputation.add(records.slice(0, 2));
    recomputation.add(records);
    recomputation.add([{ ...(records[2] as StageRecord), offset: '3', value: Buffer.from('{') }]);
    const written = [...recomputation.takeCompleteWindows(), ...recomputation.finish()];

    expect(recomputation.counts).toMatchObject({ counted: 3, repeated: 2, unreadable: 1 });
    // Minute 0 closed (watermark at 1:30), minute 1 open, minute 2 open.
    expect(written.map((result) => result.figures.toJSON().eventCount)).toEqual([1]);
    expect(recomputation.counts.skipped.trailingEdge).toBe(2);
    expect(recomputation.nextOffset).toBe(4n);
  });

  it('gives the aggregator the options the live stage runs with', () => {
    expect(
      windowAggregatorOptions(
        { ...SETTINGS, staleAfterMs: 1, stuckAfterMs: 2 } as MetricsConfig,
        SOURCE,
      ),
    ).toEqual({
      source: SOURCE,
      windowSizeMs: SETTINGS.windowSizeMs,
      allowedLatenessMs: SETTINGS.allowedLatenessMs,
      maxFutureMs: SETTINGS.maxFutureMs,
    });
  });
});
