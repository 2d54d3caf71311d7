/**
 * `panacea import --format openhands FILE [--tz ZONE] [--agent-id ID]` and
 * `panacea import --format swe-agent FILE --start RFC3339 [--agent-id ID] [--partial]`: turns an
 * existing agent session into contract events and publishes them like `produce` does.
 *
 * The whole file is read and converted before anything is published, so a bad file publishes
 * nothing (exit 2). With `--partial` (swe-agent), the valid steps before the first bad one are
 * published instead, each part left out is named on stderr with its reason, and the exit code is 1
 * ("some input was rejected, the rest was handled"), as `produce` does for rejected lines.
 */
import { readFile } from 'node:fs/promises';

import type { PanaceaConfig } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import { createNaming } from '../../core/naming.js';
import { positionAt } from '../../core/json-syntax.js';
import { importOpenHandsSession } from '../../producers/importers/openhands.js';
import { importSweAgentTrajectory, type SkippedPart } from '../../producers/importers/swe-agent.js';
import type { AgentEvent } from '../../schemas/event.js';
import { normaliseTimestamp } from '../../schemas/timestamp.js';
import { EXIT_OK, EXIT_PARTIAL, parseCommandArgs, say } from '../command-line.js';
import { openPublisher } from '../publishing.js';

const FORMATS = ['openhands', 'swe-agent'] as const;
type Format = (typeof FORMATS)[number];

/**
 * Options only one format reads. Given to the other they are refused, not ignored: an OpenHands
 * session has its own times, so a `--start` would silently change nothing.
 */
const FORMAT_OF_OPTION: Record<'tz' | 'start' | 'partial', Format> = {
  tz: 'openhands',
  start: 'swe-agent',
  partial: 'swe-agent',
};
const START_EXAMPLE = '2025-01-20T20:30:00Z';

/** What a file yields: the events to publish and, for a partial import, what was left out. */
export interface ImportedFile {
  events: AgentEvent[];
  skipped: SkippedPart[];
  /** Steps that became events, when the format has steps. */
  importedStepCount?: number;
}

interface ImportOptions {
  tz?: string;
  'agent-id'?: string;
  start?: string;
  partial?: boolean;
}

export async function importCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      format: { type: 'string' },
      tz: { type: 'string' },
      'agent-id': { type: 'string' },
      start: { type: 'string' },
      partial: { type: 'boolean' },
    },
    true,
  );
  const format = readFormat(values.format);
  const file = positionals[0];
  if (file === undefined || positionals.length > 1)
    throw new PanaceaError('USAGE', 'expected exactly one FILE to import');
  checkOptionsFitFormat(format, values);

  const imported: ImportedFile =
    format === 'openhands'
      ? { events: await readSession(file, values.tz, values['agent-id']), skipped: [] }
      : await readSweAgentRun(file, values);

  const publisher = await openPublisher(config, createNaming(config));
  try {
    await publisher.publish(imported.events);
  } finally {
    await publisher.close();
  }

  for (const part of imported.skipped) process.stderr.write(`${describeSkippedPart(part)}\n`);
  say(summarise(imported));
  return imported.skipped.length === 0 ? EXIT_OK : EXIT_PARTIAL;
}

/** Reads and converts the whole session first, so a bad file publishes nothing. */
export async function readSession(
  file: string,
  timeZone?: string,
  agentId?: string,
): Promise<AgentEvent[]> {
  const content = await readText(file);
  return importOpenHandsSession(content, {
    sourceName: file,
    ...(timeZone === undefined ? {} : { timeZone }),
    ...(agentId === undefined ? {} : { agentId }),
  }).events;
}

/** Reads and converts the whole trajectory first; only `--partial` lets a bad file through. */
export async function readSweAgentRun(file: string, options: ImportOptions): Promise<ImportedFile> {
  const start = parseStart(options.start);
  const partial = options.partial === true;

  const content = decodeUtf8(await readBytes(file), file, partial);
  try {
    const imported = importSweAgentTrajectory(content, {
      sourceName: file,
      start,
      partial,
      ...(options['agent-id'] === undefined ? {} : { agentId: options['agent-id'] }),
    });
    return imported;
  } catch (error: unknown) {
    throw withPartialHint(error, partial);
  }
}

/** A line for stderr naming one part a partial import left out, and why. */
export function describeSkippedPart(part: SkippedPart): string {
  const steps =
    part.stepCount === undefined || part.stepCount === 0
      ? ''
      : ` (${part.stepCount} step${part.stepCount === 1 ? '' : 's'})`;
  return `skipped ${part.part}${steps}: ${part.reason}`;
}

/** The result line: what was published by kind, and what was left out. */
export function summarise(imported: ImportedFile): string {
  const counts = countByKind(imported.events);
  const byKind = Object.entries(counts)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(', ');
  const published = `published ${imported.events.length} (${byKind})`;
  if (imported.skipped.length === 0) return `${published}, rejected 0`;

  const stepCount = imported.importedStepCount;
  const fromSteps =
    stepCount === undefined ? '' : ` from ${stepCount} step${stepCount === 1 ? '' : 's'}`;
  const parts = imported.skipped.map((part) => part.part).join('; ');
  return `${published}${fromSteps}, skipped: ${parts} (reasons on stderr)`;
}

function readFormat(value: string | undefined): Format {
  const format = FORMATS.find((candidate) => candidate === value);
  if (format !== undefined) return format;

  throw new PanaceaError(
    'USAGE',
    `--format: expected one of ${FORMATS.join(', ')}, got ` +
      (value === undefined ? 'nothing' : `"${value}"`),
  );
}

function checkOptionsFitFormat(format: Format, values: ImportOptions): void {
  for (const [option, owner] of Object.entries(FORMAT_OF_OPTION)) {
    if (owner === format || values[option as keyof typeof FORMAT_OF_OPTION] === undefined) continue;
    throw new PanaceaError(
      'USAGE',
      `--${option} applies to --format ${owner} only, not to --format ${format}`,
    );
  }
}

function parseStart(value: string | undefined): Date {
  if (value === undefined) {
    throw new PanaceaError(
      'USAGE',
      '--start is required with --format swe-agent: a .traj file records no wall-clock time, ' +
        `so give the instant the run started as RFC 3339, e.g. --start ${START_EXAMPLE}`,
    );
  }

  const result = normaliseTimestamp(value);
  if (!result.ok) {
    throw new PanaceaError(
      'USAGE',
      `--start: ${result.reason}; expected e.g. ${START_EXAMPLE} or 2025-01-20T21:30:00+01:00`,
    );
  }
  return new Date(result.epochMs);
}

/** Tells the user, when it is so, that `--partial` would import the steps before the problem. */
function withPartialHint(error: unknown, partial: boolean): unknown {
  if (!(error instanceof PanaceaError) || partial || error.context.partialRecovers !== true) {
    return error;
  }
  return new PanaceaError(
    error.code,
    `${error.message}; nothing was published (--partial publishes the valid steps before it)`,
    error.context,
    error,
  );
}

async function readText(file: string): Promise<string> {
  return (await readBytes(file)).toString('utf8');
}

async function readBytes(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new PanaceaError(
      'FILE_UNREADABLE',
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      { file },
      error,
    );
  }
}

/**
 * The file as text, refusing bytes that are not UTF-8 with the line and column where they start:
 * SWE-agent writes ASCII JSON, so such bytes mean a damaged file, and decoding them as U+FFFD would
 * import the damage as if it were data.
 */
function decodeUtf8(bytes: Buffer, file: string, partial: boolean): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // The longest prefix that decodes (an unfinished sequence at its end is allowed) ends where
    // the first bad sequence starts.
    const decodes = (length: number): boolean => {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, length), {
          stream: true,
        });
        return true;
      } catch {
        return false;
      }
    };
    // When the whole file decodes as a stream, only its last character is unfinished: a cut file.
    const cutInCharacter = decodes(bytes.length);
    let good = cutInCharacter ? bytes.length : 0;
    let bad = bytes.length;
    while (bad - good > 1) {
      const middle = Math.floor((good + bad) / 2);
      if (decodes(middle)) good = middle;
      else bad = middle;
    }
    const before = new TextDecoder('utf-8').decode(bytes.subarray(0, good), { stream: true });
    // A partial import of a cut file drops the unfinished character; the JSON reader then reports
    // the cut and keeps the complete steps.
    if (cutInCharacter && partial) return before;
    const { line, column } = positionAt(before, before.length);
    const what = cutInCharacter
      ? 'the file ends in the middle of a character; it looks cut short'
      : 'a byte sequence that is not UTF-8 starts there';
    throw new PanaceaError(
      'IMPORT_INVALID',
      `${file}: is not UTF-8 text at line ${line} column ${column}: ${what}`,
      { source: file, line, column },
    );
  }
}

function countByKind(events: AgentEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of events) counts[event.kind] = (counts[event.kind] ?? 0) + 1;
  return counts;
}
