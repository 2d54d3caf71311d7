/**
 * `panacea run [--until-idle]`: runs the pipeline until SIGINT or SIGTERM (then stops fetching,
 * flushes, commits and exits), or with `--until-idle` until every input partition is consumed.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import type { PanaceaConfig } from '../../core/config.js';
import { startHttpEndpoints, type HttpEndpoints } from '../../core/http-endpoints.js';
import { componentLogger } from '../../core/logger.js';
import { pipelineMetrics } from '../../core/metrics-registry.js';
import type { StageStats } from '../../core/stage-runner.js';
import { EXIT_FAILURE, EXIT_OK, parseCommandArgs, say, untilStopSignal } from '../command-line.js';
import { startPipeline, type RunningPipeline } from '../pipeline.js';
import { PipelineObserver } from '../pipeline-observer.js';

const logger = componentLogger('run');

const STOP_AFTER_FAILURE_TIMEOUT_MS = 10_000;

export async function runCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const { values } = parseCommandArgs(args, { 'until-idle': { type: 'boolean', default: false } });
  // Listened for before starting: a signal while the stages start stops them once they have,
  // instead of killing the process halfway through its start.
  const stopSignal = untilStopSignal();
  // Up before the pipeline: `/healthz` answers during a slow start and `/readyz` says why not yet.
  const observability = await serveObservability(config);
  try {
    const pipeline = await startPipeline(config);
    observability.attach(pipeline);
    return await runUntilStopped(pipeline, values['until-idle'], stopSignal);
  } finally {
    await observability.close();
  }
}

export interface ServedObservability {
  /** Starts following the pipeline's stages, for the metrics and readiness. */
  attach(pipeline: RunningPipeline): void;
  close(): Promise<void>;
}

/**
 * `/metrics`, `/healthz` and `/readyz` on `PANACEA_HTTP_HOST:PANACEA_HTTP_PORT` (none when the
 * port is `off`), for a process that runs the pipeline: `panacea run` and the demo.
 */
export async function serveObservability(config: PanaceaConfig): Promise<ServedObservability> {
  const observer = new PipelineObserver(
    pipelineMetrics({ maxTrackedAgents: config.observability.maxTrackedAgents }),
    config.observability,
  );
  const { httpPort, httpHost } = config.observability;
  let endpoints: HttpEndpoints | undefined;
  try {
    endpoints =
      httpPort === undefined
        ? undefined
        : await startHttpEndpoints({
            host: httpHost,
            port: httpPort,
            scrape: () => pipelineMetrics().scrape(),
            readiness: () => observer.readiness(),
            logger: componentLogger('http'),
          });
  } catch (error) {
    observer.close();
    throw error;
  }
  return {
    attach: (pipeline) => observer.attach(pipeline),
    async close() {
      await endpoints?.close();
      observer.close();
    },
  };
}

async function runUntilStopped(
  pipeline: RunningPipeline,
  untilIdle: boolean,
  stopSignal: Promise<string>,
): Promise<number> {
  const until = untilIdle ? pipeline.waitUntilIdle().then(() => 'idle') : stopSignal;

  try {
    const reason = await Promise.race([until, stopSignal, pipeline.failed]);
    logger.info({ reason }, 'stopping the pipeline');
    await pipeline.stop();
    for (const stage of pipeline.stages) say(describeStats(stage.name, stage.stats()));
    return EXIT_OK;
  } catch (error) {
    logger.error({ err: error }, 'a stage failed; stopping the pipeline');
    // A crashed consumer may never finish disconnecting; what was committed stays committed, so
    // giving up on a clean stop after a while loses nothing.
    const gaveUp = sleep(STOP_AFTER_FAILURE_TIMEOUT_MS);
    await Promise.race([pipeline.stop().catch(() => undefined), gaveUp]);
    return EXIT_FAILURE;
  }
}

/**
 * One summary line per stage, e.g. `enrich: 24 records, 5 dead-lettered (DECODE_FAILED 2, …),
 * 4 redacted (bearer 1, email 3), 1 normalised (invalid_utf8 1)`; a tally group is shown only when
 * it counted something. A stage with a writer adds what it did, e.g. `; writer: 20 indexed,
 * 2 duplicates, 3 retried, 1 refused, 0 in flight, paused 31.2 s`.
 */
export function describeStats(stage: string, stats: StageStats): string {
  const records = `${stats.records} ${stats.records === 1 ? 'record' : 'records'}`;
  const parts = [`${stats.deadLettered} dead-lettered${detail(stats.deadLetteredByCode)}`];
  for (const [group, counts] of Object.entries(stats.tallies)) {
    const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
    if (total > 0) parts.push(`${total} ${group}${detail(counts)}`);
  }
  const line = `${stage}: ${records}, ${parts.join(', ')}`;
  if (stats.writer === undefined) return line;

  const { indexed, duplicates, retried, refused, documentsInFlight, pausedMs } = stats.writer;
  return (
    `${line}; writer: ${indexed} indexed, ${duplicates} duplicates, ${retried} retried, ` +
    `${refused} refused, ${documentsInFlight} in flight, paused ${(pausedMs / 1000).toFixed(1)} s`
  );
}

function detail(counts: Record<string, number>): string {
  const listed = Object.entries(counts)
    .sort(([left], [right]) => left.localeCompare(right))
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
  return listed === '' ? '' : ` (${listed})`;
}
