import { describe, expect, it } from 'vitest';

import {
  formatMarkdown,
  formatRate,
  lastJsonLine,
  summarise,
  table,
  type BenchOutcome,
} from '../../../bench/summary.js';

const MACHINE = (start: number, end: number) => ({
  cpuCount: 2,
  cpuModel: 'AMD EPYC',
  totalMemoryGiB: 23.5,
  loadAverage1m: { start, end },
  nodeVersion: 'v20.20.2',
});

const END_TO_END = {
  machine: MACHINE(2.5, 3.5),
  produce: { eventsPerSecond: 20_000 },
  pipeline: { events: 20_000, elapsedMs: 5_000, startUpMs: 1_000, eventsPerSecond: 4_000 },
  baseline: { eventsPerSecond: 8_000 },
  latency: { achievedRatePerSecond: 2_000, p50Ms: 750, p99Ms: 1_400 },
  peakRssMiB: 296.4,
};

const SINK = {
  machine: MACHINE(6, 10.5),
  throughput: { sink: { median: 1_800 }, helper: { median: 2_000 } },
  outage: { rssMiB: { min: 24, max: 370.2, final: 303 } },
};

const KAFKA_CLIENTS = {
  machine: MACHINE(4, 5),
  clients: {
    kafkajs: {
      available: true,
      version: '2.2.4',
      paths: {
        produce: { medianRecordsPerSecond: 40_000 },
        consume: { medianRecordsPerSecond: 80_000 },
        passthrough: { medianRecordsPerSecond: 20_000 },
      },
    },
    platformatic: {
      available: true,
      version: '1.35.0',
      paths: {
        produce: { medianRecordsPerSecond: 60_000 },
        consume: { medianRecordsPerSecond: 40_000 },
        passthrough: { medianRecordsPerSecond: 30_000 },
      },
    },
    confluent: { available: false, reason: 'does not load' },
  },
  brokerTools: {
    available: true,
    paths: {
      produce: { medianRecordsPerSecond: 80_000 },
      consume: { medianRecordsPerSecond: 160_000 },
    },
  },
  peakRssMiB: 340,
};

function outcome(name: string, result: unknown, exitCode = 0): BenchOutcome {
  return { name, exitCode, result, elapsedMs: 60_000 };
}

describe('bench suite summary', () => {
  it('finds the result line of a benchmark, not the pino log lines printed after it', () => {
    const output = [
      '{"level":30,"msg":"fetching"}',
      'round 1: 5/s',
      '{"date":"2026-12-04","rate":5}',
      'cleanup: deleted 3 Kafka topics',
      '{"level":30,"msg":"stage stopped"}',
      '{not json}',
    ].join('\n');

    expect(lastJsonLine(output)).toEqual({ date: '2026-12-04', rate: 5 });
    expect(lastJsonLine('FAILED: records missing\n')).toBeUndefined();
  });

  it('gives each stage its baseline from the same benchmark and the ratio of the two', () => {
    const summary = summarise(
      [outcome('end-to-end', END_TO_END), outcome('sink', SINK)],
      new Date(0),
    );

    expect(summary.rows).toContainEqual({
      bench: 'end-to-end',
      stage: 'pipeline: raw topics → searchable in Elasticsearch',
      ratePerSecond: 4_000,
      baseline: { name: 'bulk helper straight to Elasticsearch', ratePerSecond: 8_000 },
      ratio: 0.5,
    });
    expect(summary.rows).toContainEqual(
      expect.objectContaining({ stage: 'Elasticsearch sink stage', ratio: 0.9 }),
    );
    // The produce figure has no baseline in its own benchmark: no ratio is made up for it.
    const produce = summary.rows.find((row) => row.stage.startsWith('produce'));
    expect(produce).toEqual({
      bench: 'end-to-end',
      stage: 'produce: openPublisher, batches of 500',
      ratePerSecond: 20_000,
    });
  });

  it('takes end to end, the pipeline memory first, and the load range of every benchmark', () => {
    const summary = summarise(
      [
        outcome('end-to-end', END_TO_END),
        outcome('sink', SINK),
        outcome('kafka-clients', KAFKA_CLIENTS),
      ],
      new Date(0),
    );

    expect(summary.endToEnd).toEqual({
      sustainedRatePerSecond: 4_000,
      afterStartUpPerSecond: 5_000,
      latencyRatePerSecond: 2_000,
      p50Ms: 750,
      p99Ms: 1_400,
    });
    expect(summary.memory[0]).toEqual({
      what: '`panacea run` (whole pipeline), outage and catch-up',
      peakRssMiB: 370.2,
    });
    expect(summary.loadAverage1m).toEqual({ min: 2.5, max: 10.5 });
    expect(summary.elapsedSeconds).toBe(180);
  });

  it('compares the clients with kafkajs and kafkajs with the Kafka tools, skipping a client that did not load', () => {
    const summary = summarise([outcome('kafka-clients', KAFKA_CLIENTS)], new Date(0));

    const ratios = Object.fromEntries(summary.rows.map((row) => [row.stage, row.ratio]));
    expect(ratios).toEqual({
      'kafkajs 2.2.4: produce': 0.5,
      'kafkajs 2.2.4: consume': 0.5,
      'kafkajs 2.2.4: consume → produce': undefined,
      '@platformatic/kafka 1.35.0: produce': 1.5,
      '@platformatic/kafka 1.35.0: consume': 0.5,
      '@platformatic/kafka 1.35.0: consume → produce': 1.5,
    });
    expect(summary.rows.some((row) => row.stage.includes('confluent'))).toBe(false);
  });

  it('lists a failed benchmark instead of its rows', () => {
    const summary = summarise(
      [
        outcome('sink', SINK, 1),
        outcome('processors', undefined),
        outcome('end-to-end', END_TO_END),
      ],
      new Date(0),
    );

    expect(summary.failed).toEqual(['sink', 'processors']);
    expect(summary.rows.every((row) => row.bench === 'end-to-end')).toBe(true);
    expect(formatMarkdown(summary)).toContain('**Failed, no figures:** sink, processors.');
  });

  it('formats the summary as one markdown table with the machine, load and end-to-end figures', () => {
    const markdown = formatMarkdown(
      summarise(
        [outcome('end-to-end', END_TO_END), outcome('sink', SINK)],
        new Date('2026-12-04T23:30:00Z'),
      ),
    );

    expect(markdown).toContain('Panacea benchmark suite, 2026-12-04 23:30 UTC');
    expect(markdown).toContain('Machine: 2 cores AMD EPYC, 23.5 GiB, Node 20.20.2.\n');
    expect(markdown).toContain('Load: 1-minute load average 2.5–10.5 during the run');
    expect(markdown).toMatch(
      /\| pipeline: raw topics → searchable in Elasticsearch +\| +4 000 \| bulk helper straight to Elasticsearch +\| +8 000 \| +0\.50 \|/,
    );
    expect(markdown).toMatch(/\| produce: openPublisher, batches of 500 +\| +20 000 \| — /);
    expect(markdown).toContain(
      'latency publish → searchable at 2 000 events/s (50 % of it), p50 / p99',
    );
    expect(markdown).toContain('750 / 1 400 ms');
    expect(markdown).toContain(
      'peak resident memory: `panacea run` (whole pipeline), outage and catch-up',
    );
  });

  it('pads markdown columns to the widest cell and right-aligns numbers', () => {
    expect(
      table(
        ['name', 'n'],
        [
          ['a', '1'],
          ['bbbbb', '22 000'],
        ],
        [false, true],
      ),
    ).toEqual([
      '| name  |      n |',
      '| ----- | -----: |',
      '| a     |      1 |',
      '| bbbbb | 22 000 |',
    ]);
  });

  it.each([
    [0, '0'],
    [999.6, '1 000'],
    [22_147, '22 147'],
    [1_234_567, '1 234 567'],
  ])('writes %d as %s', (value, text) => {
    expect(formatRate(value)).toBe(text);
  });
});
