/**
 * Replay benchmark on the running stack (`panacea stack up`): how fast `panacea replay` reads a
 * range of history, against reading the same range with a bare kafkajs consumer, as a ratio.
 *
 * The enriched topic of a run of its own is filled with N documents (simulated-fleet events as
 * the enrich stage makes them). Each round then times, on the same range:
 * - a bare kafkajs consumer: a new group from the beginning, counting messages until it has N;
 * - `panacea replay --dry-run`: the command itself, in this process (range resolution, its own
 *   consumer group, counting) — the replay's reading cost;
 * - `panacea replay --into elasticsearch:NAMESPACE`: the same range written to a side namespace
 *   through the Elasticsearch sink's code, fresh data streams each round.
 * Both sides start with a consumer group join, which is part of what a person waits for.
 *
 * Usage: npm run bench -- --only replay [--events 50000] [--rounds 3]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import type { Kafka } from 'kafkajs';

import { replayCommand } from '../cli/commands/replay.js';
import { createElasticsearchClient } from '../cli/pipeline.js';
import { loadConfig, type PanaceaConfig } from '../core/config.js';
import { createNaming } from '../core/naming.js';
import { ensureTopics } from '../infra/topics.js';
import { fillEnrichedTopic, generateDocuments } from './enriched-documents.js';
import {
  BenchFailure,
  formatNumber,
  loadAverage1m,
  machineFacts,
  median,
  parseInteger,
  round,
  runKafkaBenchmark,
  say,
} from './report-support.js';

interface BenchOptions {
  eventCount: number;
  rounds: number;
}

interface RoundFigures {
  bareConsumerPerSecond: number;
  replayDryRunPerSecond: number;
  replayIntoElasticsearchPerSecond: number;
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const loadAtStart = loadAverage1m();
  const runId = randomBytes(4).toString('hex');
  const runPrefix = `bench.replay.${runId}.`;
  const config = { ...loadConfig(), topicPrefix: runPrefix, namespace: `bench_replay_${runId}` };
  const elasticsearch = createElasticsearchClient(config);
  try {
    return await runKafkaBenchmark({
      config,
      clientId: 'panacea-bench-replay',
      runPrefix,
      measure: async (kafka, admin) => {
        const naming = createNaming(config);
        await ensureTopics(admin, naming);
        await fillEnrichedTopic(
          kafka,
          naming.enrichedTopic(),
          generateDocuments(options.eventCount),
        );
        const rounds: RoundFigures[] = [];
        for (let index = 0; index < options.rounds; index += 1) {
          rounds.push(await measureRound(kafka, config, options.eventCount, index, runId));
          const figures = rounds.at(-1)!;
          say(
            `round ${index + 1}: bare consumer ${formatNumber(figures.bareConsumerPerSecond)}/s, replay --dry-run ${formatNumber(figures.replayDryRunPerSecond)}/s, replay into Elasticsearch ${formatNumber(figures.replayIntoElasticsearchPerSecond)}/s`,
          );
        }
        const medianOf = (pick: (figures: RoundFigures) => number): number =>
          round(median(rounds.map(pick)));
        const bare = medianOf((figures) => figures.bareConsumerPerSecond);
        const dryRun = medianOf((figures) => figures.replayDryRunPerSecond);
        const intoElasticsearch = medianOf((figures) => figures.replayIntoElasticsearchPerSecond);
        return {
          benchmark: 'replay',
          date: new Date().toISOString(),
          events: options.eventCount,
          median: {
            bareConsumerPerSecond: bare,
            replayDryRunPerSecond: dryRun,
            replayIntoElasticsearchPerSecond: intoElasticsearch,
            dryRunRatio: round(dryRun / bare, 2),
            intoElasticsearchRatio: round(intoElasticsearch / bare, 2),
          },
          rounds,
          peakRssMiB: round(process.resourceUsage().maxRSS / 1024, 1),
          machine: machineFacts(loadAtStart),
        };
      },
      printReport: (result) => {
        const figures = result.median;
        say(
          `replay bench: ${formatNumber(result.events)} enriched records, ${result.rounds.length} rounds (medians)`,
        );
        say(
          `bare kafkajs consumer              ${formatNumber(figures.bareConsumerPerSecond)} records/s`,
        );
        say(
          `replay --dry-run                   ${formatNumber(figures.replayDryRunPerSecond)} records/s  ratio ${figures.dryRunRatio}`,
        );
        say(
          `replay into Elasticsearch (side)   ${formatNumber(figures.replayIntoElasticsearchPerSecond)} records/s  ratio ${figures.intoElasticsearchRatio}`,
        );
      },
    });
  } finally {
    await elasticsearch.indices
      .delete({
        index: `*-bench_replay_${runId}*`,
        ignore_unavailable: true,
        allow_no_indices: true,
      })
      .catch(() => undefined);
    await elasticsearch.close();
  }
}

async function measureRound(
  kafka: Kafka,
  config: PanaceaConfig,
  eventCount: number,
  roundIndex: number,
  runId: string,
): Promise<RoundFigures> {
  const topic = createNaming(config).enrichedTopic();
  const bareConsumerPerSecond = await timeBareConsumer(
    kafka,
    topic,
    eventCount,
    config,
    roundIndex,
  );
  const replayDryRunPerSecond = await timeReplay(config, eventCount, [
    '--topic',
    topic,
    '--dry-run',
  ]);
  const replayIntoElasticsearchPerSecond = await timeReplay(config, eventCount, [
    '--topic',
    topic,
    '--into',
    `elasticsearch:bench_replay_${runId}_side${roundIndex}`,
  ]);
  return { bareConsumerPerSecond, replayDryRunPerSecond, replayIntoElasticsearchPerSecond };
}

async function timeBareConsumer(
  kafka: Kafka,
  topic: string,
  eventCount: number,
  config: PanaceaConfig,
  roundIndex: number,
): Promise<number> {
  const consumer = kafka.consumer({
    groupId: `${config.topicPrefix}bare-${roundIndex}`,
    maxBytesPerPartition: 4 * 1_048_576,
  });
  const startedMs = performance.now();
  await consumer.connect();
  let seen = 0;
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
      void consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: 2,
        eachBatch: async ({ batch }) => {
          seen += batch.messages.length;
          if (seen >= eventCount) resolve();
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return round((seen * 1000) / (performance.now() - startedMs));
}

/** Runs the command in this process; its summary lines go to stdout with the bench's own. */
async function timeReplay(
  config: PanaceaConfig,
  eventCount: number,
  args: string[],
): Promise<number> {
  const startedMs = performance.now();
  const exitCode = await replayCommand(args, config);
  const elapsedMs = performance.now() - startedMs;
  if (exitCode !== 0) throw new BenchFailure(`panacea replay ${args.join(' ')} exited ${exitCode}`);
  return round((eventCount * 1000) / elapsedMs);
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: { events: { type: 'string' }, rounds: { type: 'string' } },
    strict: true,
  });
  return {
    eventCount: parseInteger('--events', values.events, 50_000, 1_000, 2_000_000),
    rounds: parseInteger('--rounds', values.rounds, 3, 1, 10),
  };
}

process.exit(await main(process.argv.slice(2)));
