/**
 * The suite's one summary: every benchmark prints one JSON line last, and this gathers them into
 * rows (stage, its rate, its baseline measured in the same run, the ratio), the end-to-end figures
 * (sustained rate, p50/p99 latency at a fraction of it) and peak resident memory, and formats them
 * as a markdown table. Pure functions: no I/O, so the suite and the unit tests share them.
 */

/** What one benchmark of the suite ended with. */
export interface BenchOutcome {
  name: string;
  exitCode: number;
  /** Its JSON line, when it printed one (a failed benchmark prints none). */
  result?: unknown;
  elapsedMs: number;
}

export interface SummaryRow {
  /** Which benchmark measured it, so a reader finds its own section in the README. */
  bench: string;
  stage: string;
  ratePerSecond: number;
  baseline?: { name: string; ratePerSecond: number };
  ratio?: number;
}

export interface EndToEndFigures {
  /**
   * Raw topics → searchable documents, draining a backlog: the pipeline's sustained rate. Its
   * clock includes the pipeline's start-up; `afterStartUpPerSecond` leaves that out.
   */
  sustainedRatePerSecond: number;
  afterStartUpPerSecond?: number;
  /** The steady publish rate while latency was sampled, and its p50/p99 (publish → searchable). */
  latencyRatePerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface MemoryFigure {
  what: string;
  peakRssMiB: number;
}

export interface SuiteSummary {
  date: string;
  machine?: { cpuCount: number; cpuModel: string; totalMemoryGiB: number; nodeVersion: string };
  /** Lowest and highest 1-minute load average seen at the start and end of the benchmarks. */
  loadAverage1m?: { min: number; max: number };
  rows: SummaryRow[];
  endToEnd?: EndToEndFigures;
  memory: MemoryFigure[];
  /** Benchmarks that exited non-zero or printed no result: their rows are missing. */
  failed: string[];
  elapsedSeconds: number;
}

/**
 * The benchmark's result: the last line of its output that parses as a JSON object and is not a
 * pino log line (those carry a numeric `level`, and stages stopping in the clean-up print some
 * after the result).
 */
export function lastJsonLine(output: string): unknown {
  const lines = output.split('\n').reverse();
  for (const line of lines) {
    const text = line.trim();
    if (!text.startsWith('{') || !text.endsWith('}')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text) as unknown;
    } catch {
      // A line that merely looks like JSON; the result line is an earlier one.
      continue;
    }
    if (isObject(parsed) && typeof parsed.level !== 'number') return parsed;
  }
  return undefined;
}

export function summarise(outcomes: BenchOutcome[], date: Date): SuiteSummary {
  const summary: SuiteSummary = {
    date: date.toISOString(),
    rows: [],
    memory: [],
    failed: [],
    elapsedSeconds: Math.round(
      outcomes.reduce((sum, outcome) => sum + outcome.elapsedMs, 0) / 1000,
    ),
  };
  const loads: number[] = [];

  for (const outcome of outcomes) {
    const result = outcome.result;
    if (outcome.exitCode !== 0 || !isObject(result)) {
      summary.failed.push(outcome.name);
      continue;
    }
    const machine = get(result, 'machine');
    if (isObject(machine)) {
      summary.machine ??= {
        cpuCount: num(machine, 'cpuCount') ?? 0,
        cpuModel: String(get(machine, 'cpuModel') ?? 'unknown'),
        totalMemoryGiB: num(machine, 'totalMemoryGiB') ?? 0,
        nodeVersion: String(get(machine, 'nodeVersion') ?? 'unknown'),
      };
      const load = get(machine, 'loadAverage1m');
      for (const value of [num(load, 'start'), num(load, 'end')]) {
        if (value !== undefined) loads.push(value);
      }
    }
    const reader = READERS[outcome.name];
    reader?.(result, summary);
  }

  if (loads.length > 0) {
    summary.loadAverage1m = { min: Math.min(...loads), max: Math.max(...loads) };
  }
  return summary;
}

type Reader = (result: Record<string, unknown>, summary: SuiteSummary) => void;

/** How each benchmark's JSON line maps onto the summary; a missing figure leaves its row out. */
const READERS: Record<string, Reader> = {
  'end-to-end': (result, summary) => {
    const pipeline = num(get(result, 'pipeline'), 'eventsPerSecond');
    const latency = get(result, 'latency');
    addRow(summary, 'end-to-end', 'produce: openPublisher, batches of 500', [
      num(get(result, 'produce'), 'eventsPerSecond'),
    ]);
    addRow(
      summary,
      'end-to-end',
      'pipeline: raw topics → searchable in Elasticsearch',
      [pipeline],
      ['bulk helper straight to Elasticsearch', num(get(result, 'baseline'), 'eventsPerSecond')],
    );
    const latencyRate = num(latency, 'achievedRatePerSecond');
    const p50Ms = num(latency, 'p50Ms');
    const p99Ms = num(latency, 'p99Ms');
    if (
      pipeline !== undefined &&
      latencyRate !== undefined &&
      p50Ms !== undefined &&
      p99Ms !== undefined
    ) {
      summary.endToEnd = {
        sustainedRatePerSecond: pipeline,
        latencyRatePerSecond: latencyRate,
        p50Ms,
        p99Ms,
      };
      const events = num(get(result, 'pipeline'), 'events');
      const elapsedMs = num(get(result, 'pipeline'), 'elapsedMs');
      const startUpMs = num(get(result, 'pipeline'), 'startUpMs');
      if (
        events !== undefined &&
        elapsedMs !== undefined &&
        startUpMs !== undefined &&
        elapsedMs > startUpMs
      ) {
        summary.endToEnd.afterStartUpPerSecond = Math.round(
          (events * 1000) / (elapsedMs - startUpMs),
        );
      }
    }
    addMemory(summary, 'end-to-end bench process (publisher + pipeline + baseline)', result);
  },
  'sdk-throughput': (result, summary) => {
    addRow(
      summary,
      'sdk-throughput',
      'agent SDK: createAgentPublisher',
      [num(get(result, 'sdk'), 'medianEventsPerSecond')],
      [
        'bare kafkajs producer, pre-encoded',
        num(get(result, 'bareProducer'), 'medianEventsPerSecond'),
      ],
    );
    addMemory(summary, 'sdk-throughput bench process', result);
  },
  processors: (result, summary) => {
    const sides = get(result, 'sides');
    const baseline = num(get(sides, 'baseline'), 'medianEventsPerSecond');
    const passthrough = 'bare kafkajs consume → produce';
    for (const [side, stage] of [
      ['pipeline', 'processors: enrich + metrics together'],
      ['enrich', 'processors: enrich alone'],
      ['metrics', 'processors: metrics alone'],
    ] as const) {
      addRow(
        summary,
        'processors',
        stage,
        [num(get(sides, side), 'medianEventsPerSecond')],
        [passthrough, baseline],
      );
    }
    addMemory(summary, 'processors bench process', result);
  },
  replay: (result, summary) => {
    const figures = get(result, 'median');
    const bare = num(figures, 'bareConsumerPerSecond');
    for (const [field, stage] of [
      ['replayDryRunPerSecond', 'replay --dry-run: read and count a range'],
      ['replayIntoElasticsearchPerSecond', 'replay into a side Elasticsearch namespace'],
    ] as const) {
      addRow(
        summary,
        'replay',
        stage,
        [num(figures, field)],
        ['bare kafkajs consumer, same range', bare],
      );
    }
    addMemory(summary, 'replay bench process (replay in process)', result);
  },
  sink: (result, summary) => {
    const throughput = get(result, 'throughput');
    addRow(
      summary,
      'sink',
      'Elasticsearch sink stage',
      [num(get(throughput, 'sink'), 'median')],
      ['client.helpers.bulk from memory', num(get(throughput, 'helper'), 'median')],
    );
    const pipelineRss = num(get(get(result, 'outage'), 'rssMiB'), 'max');
    if (pipelineRss !== undefined) {
      summary.memory.unshift({
        what: '`panacea run` (whole pipeline), outage and catch-up',
        peakRssMiB: pipelineRss,
      });
    }
  },
  'kafka-clients': (result, summary) => {
    const clients = get(result, 'clients');
    const tools = get(result, 'brokerTools');
    const rate = (client: string, hotPath: string): number | undefined =>
      num(get(get(get(clients, client), 'paths'), hotPath), 'medianRecordsPerSecond');
    const toolRate = (hotPath: string): number | undefined =>
      num(get(get(tools, 'paths'), hotPath), 'medianRecordsPerSecond');
    const version = (client: string): string => String(get(get(clients, client), 'version') ?? '');

    const kafkajs = `kafkajs ${version('kafkajs')}`.trim();
    const platformatic = `@platformatic/kafka ${version('platformatic')}`.trim();
    const javaTools = `Kafka's ${hotPathTool('produce')}`;
    addRow(
      summary,
      'kafka-clients',
      `${kafkajs}: produce`,
      [rate('kafkajs', 'produce')],
      [javaTools, toolRate('produce')],
    );
    addRow(
      summary,
      'kafka-clients',
      `${kafkajs}: consume`,
      [rate('kafkajs', 'consume')],
      [`Kafka's ${hotPathTool('consume')}`, toolRate('consume')],
    );
    addRow(summary, 'kafka-clients', `${kafkajs}: consume → produce`, [
      rate('kafkajs', 'passthrough'),
    ]);
    for (const hotPath of ['produce', 'consume', 'passthrough']) {
      addRow(
        summary,
        'kafka-clients',
        `${platformatic}: ${hotPath === 'passthrough' ? 'consume → produce' : hotPath}`,
        [rate('platformatic', hotPath)],
        [`${kafkajs}, same path`, rate('kafkajs', hotPath)],
      );
    }
    addMemory(summary, 'kafka-clients bench process', result);
  },
};

function hotPathTool(hotPath: 'produce' | 'consume'): string {
  return hotPath === 'produce' ? 'ProducerPerformance' : 'ConsumerPerformance';
}

/** Adds a row when its rate is known; the baseline and ratio only when the baseline is known. */
function addRow(
  summary: SuiteSummary,
  bench: string,
  stage: string,
  [ratePerSecond]: [number | undefined],
  baseline?: [string, number | undefined],
): void {
  if (ratePerSecond === undefined) return;
  const row: SummaryRow = { bench, stage, ratePerSecond };
  const [name, baselineRate] = baseline ?? [];
  if (name !== undefined && baselineRate !== undefined && baselineRate > 0) {
    row.baseline = { name, ratePerSecond: baselineRate };
    row.ratio = Math.round((ratePerSecond / baselineRate) * 100) / 100;
  }
  summary.rows.push(row);
}

function addMemory(summary: SuiteSummary, what: string, result: Record<string, unknown>): void {
  const peakRssMiB = num(result, 'peakRssMiB');
  if (peakRssMiB !== undefined) summary.memory.push({ what, peakRssMiB });
}

/** The summary as markdown: a heading line of facts, the stage table, end to end, memory. */
export function formatMarkdown(summary: SuiteSummary): string {
  const lines: string[] = [];
  const { machine, loadAverage1m } = summary;
  lines.push(`Panacea benchmark suite, ${summary.date.slice(0, 16).replace('T', ' ')} UTC`);
  lines.push('');
  if (machine !== undefined) {
    lines.push(
      `Machine: ${machine.cpuCount} cores ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ` +
        `Node ${machine.nodeVersion.replace(/^v/, '')}.`,
    );
  }
  if (loadAverage1m !== undefined) {
    lines.push(
      `Load: 1-minute load average ${loadAverage1m.min}–${loadAverage1m.max} during the run ` +
        '(other work shares the machine: treat the figures as rough).',
    );
  }
  lines.push(`Suite time: ${formatDuration(summary.elapsedSeconds)}.`);
  if (summary.failed.length > 0) {
    lines.push(`**Failed, no figures:** ${summary.failed.join(', ')}.`);
  }
  lines.push('');

  lines.push(
    ...table(
      ['stage', 'rate (/s)', 'baseline, same run', 'baseline (/s)', 'ratio'],
      summary.rows.map((row) => [
        row.stage,
        formatRate(row.ratePerSecond),
        row.baseline?.name ?? '—',
        row.baseline === undefined ? '—' : formatRate(row.baseline.ratePerSecond),
        row.ratio === undefined ? '—' : row.ratio.toFixed(2),
      ]),
      [false, true, false, true, true],
    ),
  );
  lines.push('');

  const endToEnd = summary.endToEnd;
  const figures: string[][] = [];
  if (endToEnd !== undefined) {
    figures.push([
      'end to end, sustained rate (raw topics → searchable, with the pipeline start-up)',
      `${formatRate(endToEnd.sustainedRatePerSecond)} events/s`,
    ]);
    if (endToEnd.afterStartUpPerSecond !== undefined) {
      figures.push([
        'end to end, sustained rate after the pipeline start-up',
        `${formatRate(endToEnd.afterStartUpPerSecond)} events/s`,
      ]);
    }
    figures.push([
      `latency publish → searchable at ${formatRate(endToEnd.latencyRatePerSecond)} events/s ` +
        `(${Math.round((endToEnd.latencyRatePerSecond / endToEnd.sustainedRatePerSecond) * 100)} % of it), p50 / p99`,
      `${formatRate(endToEnd.p50Ms)} / ${formatRate(endToEnd.p99Ms)} ms`,
    ]);
  }
  for (const { what, peakRssMiB } of summary.memory) {
    figures.push([`peak resident memory: ${what}`, `${Math.round(peakRssMiB)} MiB`]);
  }
  if (figures.length > 0) lines.push(...table(['figure', 'value'], figures, [false, true]));
  return `${lines.join('\n')}\n`;
}

/** A markdown table with columns padded to their widest cell (numbers right-aligned). */
export function table(header: string[], rows: string[][], rightAligned: boolean[]): string[] {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, 3, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    `| ${cells
      .map((cell, column) =>
        rightAligned[column] === true
          ? cell.padStart(widths[column] ?? 0)
          : cell.padEnd(widths[column] ?? 0),
      )
      .join(' | ')} |`;
  const rule = `| ${widths
    .map((width, column) =>
      rightAligned[column] === true ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width),
    )
    .join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)];
}

/** Whole numbers with a thin space between thousands, as the README's tables write them. */
export function formatRate(value: number): string {
  return Math.round(value)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
}

function formatDuration(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  return minutes === 0 ? `${seconds} s` : `${minutes} min ${seconds % 60} s`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function get(value: unknown, key: string): unknown {
  return isObject(value) ? value[key] : undefined;
}

function num(value: unknown, key: string): number | undefined {
  const field = get(value, key);
  return typeof field === 'number' && Number.isFinite(field) ? field : undefined;
}
