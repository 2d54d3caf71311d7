/**
 * `panacea run [--until-idle]`: runs the pipeline until SIGINT or SIGTERM (then stops fetching,
 * flushes, commits and exits), or with `--until-idle` until every input partition is consumed.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import type { PanaceaConfig } from '../../core/config.js';
import { componentLogger } from '../../core/logger.js';
import type { StageStats } from '../../core/stage-runner.js';
import { EXIT_FAILURE, EXIT_OK, parseCommandArgs, say, untilStopSignal } from '../command-line.js';
import { startPipeline } from '../pipeline.js';

const logger = componentLogger('run');

const STOP_AFTER_FAILURE_TIMEOUT_MS = 10_000;

export async function runCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const { values } = parseCommandArgs(args, { 'until-idle': { type: 'boolean', default: false } });
  const pipeline = await startPipeline(config);

  const stopSignal = untilStopSignal();
  const until = values['until-idle'] ? pipeline.waitUntilIdle().then(() => 'idle') : stopSignal;

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

/** One summary line per stage, e.g. `enrich: 24 records, 5 dead-lettered (DECODE_FAILED 2, …)`. */
function describeStats(stage: string, stats: StageStats): string {
  const codes = Object.entries(stats.deadLetteredByCode)
    .sort(([left], [right]) => left.localeCompare(right))
    .map(([code, count]) => `${code} ${count}`)
    .join(', ');
  const records = `${stats.records} ${stats.records === 1 ? 'record' : 'records'}`;
  return `${stage}: ${records}, ${stats.deadLettered} dead-lettered${codes === '' ? '' : ` (${codes})`}`;
}
