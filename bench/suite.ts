/**
 * `npm run bench`: runs every benchmark, one after the other, each in a process of its own so
 * that one's memory and event loop do not colour the next one's figures.
 *
 * Usage: npm run bench -- [--only end-to-end|sdk-throughput|processors|sink|archive] [--events N]
 * [options]
 *
 * Options are handed to each benchmark that knows them (`--events` to all); `--only` runs one.
 * The exit code is the first non-zero exit code of a benchmark, or 0.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
    options: ['events', 'latency-rate', 'latency-seconds', 'latency-samples'],
  },
  { name: 'sdk-throughput', file: 'sdk-throughput.js', options: ['events', 'rounds'] },
  { name: 'processors', file: 'processors.js', options: ['events', 'rounds'] },
  {
    name: 'sink',
    file: 'sink.js',
    options: ['events', 'rounds', 'outage-seconds', 'input-rate'],
  },
  { name: 'archive', file: 'archive.js', options: ['events', 'rounds', 'segment-bytes', 'dir'] },
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

  let exitCode = 0;
  for (const benchmark of selected) {
    const args = [...options]
      .filter(([option]) => benchmark.options.includes(option))
      .flatMap(([option, value]) => [`--${option}`, value]);
    process.stdout.write(`\n== ${benchmark.name} ${args.join(' ')}\n`);
    const code = await run(benchmark, args);
    if (code !== 0 && exitCode === 0) exitCode = code;
  }
  return exitCode;
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

function run(benchmark: Benchmark, args: string[]): Promise<number> {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), benchmark.file);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { stdio: 'inherit' });
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? 1));
  });
}

process.exit(await main(process.argv.slice(2)));
