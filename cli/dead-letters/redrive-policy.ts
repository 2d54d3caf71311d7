/**
 * What "back through the stage that rejected it" means for each stage, decided in one place:
 *
 * - `enrich`: enriched in-process exactly as the stage does, published to the enriched topic;
 *   the downstream stages read it as new input (they never saw it: it was never enriched).
 * - the Elasticsearch sinks: written through the stage definition's own `handleBatch`, with the
 *   record's source position, so document ids and external versions are the live ones, and a
 *   document already stored counts as written (409 on create).
 * - a webhook destination (`sink-webhooks.<name>`): a notification that destination did not take
 *   (it names the destination in a header) is delivered through that destination's stage, with
 *   its retries, signature and delivery ledger (a notification the ledger holds is not sent
 *   again); one no destination could take (not a notification, or routed to no configured name)
 *   goes through every configured destination's stage, as the live sink reads it.
 * - `metrics`, `alerts` and `sink-audit-archive` refuse, each for the reason below: re-driving
 *   would count a record twice or break the archive's chain.
 *
 * And which dead letters of a batch go, decided in one place too (`selectForRedrive`): the ones the
 * re-drive ledger holds are skipped unless `--again`; an `enrich` one whose event was re-driven ok
 * already is skipped even with `--again`, as publishing it again would count it twice downstream.
 */
import {
  matchesFilter,
  positionKey,
  stageMatches,
  type DeadLetterEntry,
  type DeadLetterFilter,
} from './dead-letter-entry.js';

export type RedriveMode =
  | { kind: 'enrich' }
  | { kind: 'sink'; stage: 'sink-elasticsearch' | 'sink-metrics' | 'sink-alerts' }
  /** `destination` undefined: every configured destination, as the live sink routes it. */
  | { kind: 'webhook'; destination: string | undefined }
  | { kind: 'refused'; why: string };

const WEBHOOK_STAGE_PREFIX = 'sink-webhooks.';

const REFUSALS: Record<string, string> = {
  metrics:
    'the metrics stage is stateful: the window this record fell in was closed and checkpointed ' +
    'without it, and republishing it to the enriched topic would feed it a second time to the ' +
    'alerts stage and every other reader of that topic, which already counted it',
  alerts:
    'the alerts stage is stateful: its rule state moved on without this record, and republishing ' +
    'it to its input topic would count it a second time in the metrics stage, which already ' +
    'counted it',
  'sink-audit-archive':
    'the audit archive is append-only and hash-chained in source offset order, its segments ' +
    'named by partition and offset range: the record cannot be put back at its offset, and ' +
    'republishing it to the raw audit topic would enrich and count it a second time; publish a ' +
    'corrected event with `panacea produce` instead',
};

/**
 * The header a webhook stage puts on a dead letter it did not deliver (sinks/webhooks), repeated
 * here so this pure module loads no sink.
 */
export const WEBHOOK_DESTINATION_HEADER = 'panacea.dlq.destination';

/** The mode of one dead letter: a webhook one without a destination goes to every destination. */
export function redriveModeOfEntry(entry: {
  stage: string;
  headers: Record<string, string>;
}): RedriveMode {
  const mode = redriveModeOf(entry.stage);
  if (mode.kind !== 'webhook' || entry.headers[WEBHOOK_DESTINATION_HEADER] !== undefined) {
    return mode;
  }
  return { kind: 'webhook', destination: undefined };
}

/** Whether this build has a stage of that name, or a stage family (`sink-webhooks`). */
export function isKnownStage(stage: string): boolean {
  const mode = redriveModeOf(stage);
  return mode.kind !== 'refused' || Object.hasOwn(REFUSALS, stage) || stage === 'sink-webhooks';
}

export function redriveModeOf(stage: string): RedriveMode {
  if (stage === 'enrich') return { kind: 'enrich' };
  if (stage === 'sink-elasticsearch' || stage === 'sink-metrics' || stage === 'sink-alerts') {
    return { kind: 'sink', stage };
  }
  if (stage.startsWith(WEBHOOK_STAGE_PREFIX) && stage.length > WEBHOOK_STAGE_PREFIX.length) {
    return { kind: 'webhook', destination: stage.slice(WEBHOOK_STAGE_PREFIX.length) };
  }
  const why = REFUSALS[stage];
  if (why !== undefined) return { kind: 'refused', why };
  return { kind: 'refused', why: `no stage of this build is named "${stage}"` };
}

/** Dead letters that were not re-driven, by stage, with the reason. */
export type Refusals = Map<string, { count: number; why: string }>;

/** What `dlq replay` did, for its summary and exit code. */
export interface RedriveSummary {
  matched: number;
  /** Re-driven and accepted this time (dry run: would be re-driven). */
  redriven: number;
  /** Re-driven and rejected again, by the new reason code. */
  failedAgain: Record<string, number>;
  /** Already in the re-drive ledger, so left alone. */
  skipped: number;
  /**
   * `enrich` dead letters whose event was re-driven ok already (by this dead letter or another of
   * the same source record): left alone even with `--again`, which would publish it twice.
   */
  skippedEnriched: number;
  refused: Refusals;
}

export function emptySummary(): RedriveSummary {
  return {
    matched: 0,
    redriven: 0,
    failedAgain: {},
    skipped: 0,
    skippedEnriched: 0,
    refused: new Map(),
  };
}

export function countRefusal(summary: RedriveSummary, stage: string, why: string): void {
  const refusal = summary.refused.get(stage) ?? { count: 0, why };
  refusal.count += 1;
  summary.refused.set(stage, refusal);
}

export function formatSummary(summary: RedriveSummary, dryRun: boolean): string[] {
  const failedAgain = Object.entries(summary.failedAgain).sort(([a], [b]) => a.localeCompare(b));
  const failedTotal = failedAgain.reduce((total, [, count]) => total + count, 0);
  const lines = [
    `matched: ${summary.matched}`,
    dryRun ? `would be re-driven: ${summary.redriven}` : `re-driven ok: ${summary.redriven}`,
  ];
  if (!dryRun) {
    const byReason = failedAgain.map(([code, count]) => `${code} ${count}`).join(', ');
    lines.push(`failed again: ${failedTotal}${failedTotal > 0 ? ` (${byReason})` : ''}`);
  }
  lines.push(`skipped as already re-driven: ${summary.skipped}`);
  if (summary.skippedEnriched > 0) {
    lines.push(
      `skipped as enriched already (re-driven ok before; --again does not publish an event twice): ${summary.skippedEnriched}`,
    );
  }
  for (const [stage, refusal] of summary.refused) {
    lines.push(`not re-driven (${stage}): ${refusal.count}: ${refusal.why}`);
  }
  return lines;
}

/** 0 when everything matched was re-driven (or skipped), 1 when some failed again or was refused. */
export function exitCodeOf(summary: RedriveSummary): 0 | 1 {
  const failed = Object.values(summary.failedAgain).some((count) => count > 0);
  return failed || summary.refused.size > 0 ? 1 : 0;
}

/** What a replay selects by: the filter, `--again`, the ledger, and the events enriched already. */
export interface RedriveSelection {
  filter: DeadLetterFilter;
  again: boolean;
  ledger: ReadonlyMap<string, 'redriven' | 'failed-again'>;
  /** Source positions (`topic:partition:offset`) of events an `enrich` re-drive published. */
  enrichedSources: ReadonlySet<string>;
}

/** A batch's dead letters of one stage and mode, to re-drive together. */
export interface ChosenForStage {
  /** The stage that dead-lettered them. */
  stage: string;
  mode: Exclude<RedriveMode, { kind: 'refused' }>;
  entries: DeadLetterEntry[];
}

/**
 * The batch's dead letters to re-drive, by stage and mode; the rest is counted as matched,
 * skipped or refused.
 */
export function selectForRedrive(
  entries: readonly DeadLetterEntry[],
  selection: RedriveSelection,
  summary: RedriveSummary,
): Map<string, ChosenForStage> {
  const selected = new Map<string, ChosenForStage>();
  for (const entry of entries) {
    if (!matchesFilter(entry, selection.filter)) continue;
    summary.matched += 1;
    if (!selection.again && selection.ledger.has(positionKey(entry.dlq))) {
      summary.skipped += 1;
      continue;
    }
    if (entry.stage === 'enrich' && selection.enrichedSources.has(positionKey(entry.source))) {
      summary.skippedEnriched += 1;
      continue;
    }
    const mode = redriveModeOfEntry(entry);
    if (mode.kind === 'refused') {
      countRefusal(summary, entry.stage, mode.why);
      continue;
    }
    const key = `${entry.stage}\u0000${JSON.stringify(mode)}`;
    const chosen = selected.get(key) ?? { stage: entry.stage, mode, entries: [] };
    chosen.entries.push(entry);
    selected.set(key, chosen);
  }
  return selected;
}

/** Whether a replay with this stage filter may meet `enrich` dead letters. */
export function mayMeetEnrich(filter: DeadLetterFilter): boolean {
  return filter.stage === undefined || stageMatches('enrich', filter.stage);
}

/**
 * Adds the source positions of the `enrich` dead letters the ledger holds as re-driven ok: their
 * event was published, whatever reason code they or their siblings carry.
 */
export function collectEnrichedSources(
  entries: readonly DeadLetterEntry[],
  ledger: ReadonlyMap<string, 'redriven' | 'failed-again'>,
  enrichedSources: Set<string>,
): void {
  for (const entry of entries) {
    if (entry.stage === 'enrich' && ledger.get(positionKey(entry.dlq)) === 'redriven') {
      enrichedSources.add(positionKey(entry.source));
    }
  }
}
