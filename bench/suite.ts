/**
 * `npm run bench`: runs every benchmark, one after the other, each in a process of its own so
 * that one's memory and event loop do not colour the next one's figures, then prints ONE summary
 * table gathered from each benchmark's JSON line (see summary.ts) and writes it, with every
 * benchmark's full result, to bench/results/latest.md and bench/results/latest.json.
 *
 * Usage: npm run bench -- [--only end-to-end|sdk-throughput|processors|sink|kafka-clients|archive|replay]
 *                         [--events N] [options]
 *
 * Options are handed to each benchmark that knows them (`--events` to all); `--only` runs one
 * (its summary goes to the results files too). The exit code is the first non-zero exit code of
 * a benchmark, or 0.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { packageRoot } from '../core/package-root.js';
import { formatMarkdown, lastJsonLine, summarise, type BenchOutcome } from './summary.js';

interface Benchmark {
  name: string;
  /** The compiled file beside this one. */
  file: string;
  /** The value options it takes, without the leading dashes. */
  options: string[];
}

const BENCHMARKS: Benchmark[] = [
  {
    name: 'end-to-end',
    file: 'end-to-end.js',
    options: ['events', 'latency-rate', 'latency-percent', 'latency-seconds', 'latency-samples'],
  },
  { name: 'sdk-throughput', file: 'sdk-throughput.js', options: ['events', 'rounds'] },
  { name: 'processors', file: 'processors.js', options: ['events', 'rounds'] },
  {
    name: 'sink',
    file: 'sink.js',
    options: ['events', 'rounds', 'outage-seconds', 'input-rate'],
  },
  { name: 'kafka-clients', file: 'kafka-clients.js', options: ['events', 'rounds'] },
  { name: 'archive', file: 'archive.js', options: ['events', 'rounds', 'segment-bytes', 'dir'] },
  { name: 'replay', file: 'replay.js', options: ['events', 'rounds'] },
];

async function main(argv: string[]): Promise<number> {
  const { only, options } = parseArguments(argv);
  const selected = BENCHMARKS.filter((benchmark) => only === undefined || benchmark.name === only);
  if (selected.length === 0) {
    throw new Error(
      `--only: expected one of ${BENCHMARKS.map((item) => item.name).join(', ')}, got "${only}"`,
    );
  }
  const unknown = [...options.keys()].filter(
    (option) => !selected.some((benchmark) => benchmark.options.includes(option)),
  );
  if (unknown.length > 0) {
    throw new Error(`no selected benchmark takes --${unknown.join(', --')}`);
  }

  const date = new Date();
  const outcomes: Array<BenchOutcome & { args: string[] }> = [];
  for (const benchmark of selected) {
    const args = [...options]
      .filter(([option]) => benchmark.options.includes(option))
      .flatMap(([option, value]) => [`--${option}`, value]);
    process.stdout.write(`\n== ${benchmark.name} ${args.join(' ')}\n`);
    const startMs = performance.now();
    const { exitCode, output } = await run(benchmark, args);
    outcomes.push({
      name: benchmark.name,
      args,
      exitCode,
      result: lastJsonLine(output),
      elapsedMs: Math.round(performance.now() - startMs),
    });
  }

  const summary = summarise(outcomes, date);
  const markdown = formatMarkdown(summary);
  process.stdout.write(`\n== summary\n\n${markdown}`);
  writeResults({ summary, benchmarks: outcomes }, markdown);
  return outcomes.find((outcome) => outcome.exitCode !== 0)?.exitCode ?? 0;
}

/** The results files the README quotes; each run replaces the last one's. */
function writeResults(json: unknown, markdown: string): void {
  const directory = path.join(packageRoot(), 'bench', 'results');
  mkdirSync(directory, { recursive: true });
  writeFileSync(path.join(directory, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(path.join(directory, 'latest.md'), markdown);
  process.stdout.write(`\nwritten: ${path.relative(process.cwd(), directory)}/latest.{md,json}\n`);
}

function parseArguments(argv: string[]): { only?: string; options: Map<string, string> } {
  const options = new Map<string, string>();
  let only: string | undefined;
  for (let index = 0; index < argv.length; index += 2) {
    const flag = argv[index] ?? '';
    const value = argv[index + 1];
    if (!flag.startsWith('--') || value === undefined) {
      throw new Error(`expected --option value pairs, got "${argv.slice(index).join(' ')}"`);
    }
    if (flag === '--only') only = value;
    else options.set(flag.slice(2), value);
  }
  return { only, options };
}

/** Runs one benchmark; its output goes to our stdout as it comes and is kept for its JSON line. */
function run(benchmark: Benchmark, args: string[]): Promise<{ exitCode: number; output: string }> {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), benchmark.file);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      output += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ exitCode: code ?? 1, output }));
  });
}

process.exit(await main(process.argv.slice(2)));
