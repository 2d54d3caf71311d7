/**
 * Panacea's own retention, for what Elasticsearch does not expire by itself: the data streams on a
 * server without the data stream lifecycle (the minimal one this machine runs), and the metrics
 * indices everywhere (plain indices, which the lifecycle does not cover).
 *
 * Data streams: roll over as retention-policy.ts decides, then delete the backing indices whose
 * newest document has expired; the write index is never deleted (the server refuses it anyway).
 * Metrics indices: delete the documents older than the retention by search and bulk delete, since
 * `_delete_by_query` belongs to the reindex module that the minimal server lacks.
 */
import type { Client } from '@elastic/elasticsearch';

import { formatDuration } from '../../core/durations.js';
import { PanaceaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { readDataStreams, refresh } from './index-state.js';
import { elasticsearchFailure } from './request-errors.js';
import { planRetention, rolloverAfterMsFor, type RetentionPlan } from './retention-policy.js';

export interface RetentionTarget {
  name: string;
  retentionMs: number;
}

export interface RetentionTargets {
  /** Only the streams Panacea enforces: none where the lifecycle does it. */
  dataStreams: RetentionTarget[];
  metricsIndices: RetentionTarget[];
  /** Where the report of the last run is kept, for `panacea es status`. */
  recordIndex: string;
}

export interface EnforcementReport {
  ranAt: string;
  dryRun: boolean;
  rolledOver: Array<{ dataStream: string; reason: string; newIndex?: string }>;
  deletedIndices: Array<{ dataStream: string; index: string; newestTimestamp: string }>;
  deletedDocuments: Array<{ index: string; count: number }>;
}

const METRICS_DELETE_PAGE = 1000;
// A bound on one run's work per metrics index; the rest waits for the next run.
const METRICS_DELETE_MAX_PAGES = 100;
const LAST_RUN_ID = 'last-run';

export async function enforceRetention(
  client: Client,
  targets: RetentionTargets,
  options: { dryRun: boolean; logger: Logger; nowMs?: number },
): Promise<EnforcementReport> {
  const nowMs = options.nowMs ?? Date.now();
  const report: EnforcementReport = {
    ranAt: new Date(nowMs).toISOString(),
    dryRun: options.dryRun,
    rolledOver: [],
    deletedIndices: [],
    deletedDocuments: [],
  };

  try {
    for (const target of targets.dataStreams) {
      await enforceOnDataStream(client, target, nowMs, options, report);
    }
    for (const target of targets.metricsIndices) {
      const count = await deleteExpiredDocuments(client, target, nowMs, options);
      if (count > 0) report.deletedDocuments.push({ index: target.name, count });
    }
  } catch (error) {
    throw elasticsearchFailure(error, 'retention could not be enforced');
  }

  if (!options.dryRun) {
    await client.index({
      index: targets.recordIndex,
      id: LAST_RUN_ID,
      document: report,
      refresh: true,
    });
  }
  return report;
}

/** The report of the last enforcement that was not a dry run, or undefined if none ran. */
export async function readLastEnforcement(
  client: Client,
  recordIndex: string,
): Promise<EnforcementReport | undefined> {
  const response = await client.get<EnforcementReport>(
    { index: recordIndex, id: LAST_RUN_ID },
    { ignore: [404] },
  );
  return response.found ? response._source : undefined;
}

async function enforceOnDataStream(
  client: Client,
  target: RetentionTarget,
  nowMs: number,
  options: { dryRun: boolean; logger: Logger },
  report: EnforcementReport,
): Promise<void> {
  const policy = {
    retentionMs: target.retentionMs,
    rolloverAfterMs: rolloverAfterMsFor(target.retentionMs),
  };
  let plan = await readPlan(client, target.name, policy, nowMs);
  if (plan === undefined) return;

  if (plan.rollover !== undefined) {
    if (options.dryRun) {
      report.rolledOver.push({ dataStream: target.name, reason: plan.rollover });
    } else {
      const result = await client.indices.rollover({ alias: target.name });
      report.rolledOver.push({
        dataStream: target.name,
        reason: plan.rollover,
        newIndex: result.new_index,
      });
      options.logger.info(
        { dataStream: target.name, reason: plan.rollover, newIndex: result.new_index },
        'rolled a data stream over for retention',
      );
      // Read again: a write may have reached the old write index between the plan and the
      // rollover, and an index holding current data must not be deleted.
      plan = await readPlan(client, target.name, policy, nowMs);
      if (plan === undefined) return;
    }
  }

  for (const deletion of plan.deletions) {
    const newestTimestamp = new Date(deletion.expiredAtMs).toISOString();
    if (!options.dryRun) {
      // Another instance's enforcer may have deleted it a moment before: gone is what we want.
      await client.indices.delete({ index: deletion.index }, { ignore: [404] });
      options.logger.info(
        {
          dataStream: target.name,
          index: deletion.index,
          newestTimestamp,
          retention: formatDuration(target.retentionMs),
        },
        'deleted an expired backing index',
      );
    }
    report.deletedIndices.push({ dataStream: target.name, index: deletion.index, newestTimestamp });
  }
}

async function readPlan(
  client: Client,
  dataStream: string,
  policy: { retentionMs: number; rolloverAfterMs: number },
  nowMs: number,
): Promise<RetentionPlan | undefined> {
  await refresh(client, [dataStream]);
  const [state] = await readDataStreams(client, [dataStream]);
  return state === undefined ? undefined : planRetention(state, policy, nowMs);
}

async function deleteExpiredDocuments(
  client: Client,
  target: RetentionTarget,
  nowMs: number,
  options: { dryRun: boolean; logger: Logger },
): Promise<number> {
  const expired = {
    range: { '@timestamp': { lt: new Date(nowMs - target.retentionMs).toISOString() } },
  };
  if (options.dryRun) {
    const response = await client.count({
      index: target.name,
      query: expired,
      ignore_unavailable: true,
      allow_no_indices: true,
    });
    return response.count;
  }

  let deleted = 0;
  for (let page = 0; page < METRICS_DELETE_MAX_PAGES; page += 1) {
    await refresh(client, [target.name]);
    const response = await client.search({
      index: target.name,
      ignore_unavailable: true,
      allow_no_indices: true,
      size: METRICS_DELETE_PAGE,
      _source: false,
      query: expired,
    });
    const hits = response.hits.hits;
    if (hits.length === 0) break;
    const result = await client.bulk({
      operations: hits.map((hit) => ({ delete: { _index: hit._index, _id: hit._id } })),
    });
    if (result.errors) {
      throw new PanaceaError(
        'ELASTICSEARCH_UNAVAILABLE',
        'expired metrics documents were not all deleted',
        {
          index: target.name,
        },
      );
    }
    deleted += hits.length;
  }
  if (deleted > 0) {
    options.logger.info(
      { index: target.name, documents: deleted, retention: formatDuration(target.retentionMs) },
      'deleted expired metrics documents',
    );
  }
  return deleted;
}

/** Runs enforcement every `intervalMs` until stopped; a failed run is logged and retried later. */
export function startRetentionSchedule(
  client: Client,
  targets: RetentionTargets,
  intervalMs: number,
  logger: Logger,
): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  let stopped = false;
  const run = (): void => {
    // A run slower than the interval is not overlapped by the next one.
    if (stopped || running !== undefined) return;
    running = enforceRetention(client, targets, { dryRun: false, logger })
      .catch((error: unknown) => {
        // The next run tries again; nothing was deleted that should not have been.
        logger.warn({ err: error, nextRunInMs: intervalMs }, 'retention enforcement failed');
      })
      .finally(() => (running = undefined));
  };
  const timer = setInterval(run, intervalMs);
  // The first run right away, so a restart does not leave expired data for a whole interval.
  run();
  logger.info(
    {
      intervalMs,
      dataStreams: targets.dataStreams.map((target) => target.name),
      metricsIndices: targets.metricsIndices.map((target) => target.name),
    },
    'retention enforcement started',
  );
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
