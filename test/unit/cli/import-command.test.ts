/**
 * Pins how `panacea import` checks its options before connecting anywhere, how it reads a
 * SWE-agent file (bytes that are not UTF-8, the hint towards --partial) and what it prints for a
 * partial import.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  describeSkippedPart,
  importCommand,
  readSweAgentRun,
  summarise,
} from '../../../cli/commands/import.js';
import { loadConfig } from '../../../core/config.js';
import { PanaceaError } from '../../../core/errors.js';
import {
  OPENHANDS_SESSION_FILE,
  requireDataset,
  SWE_AGENT_MARSHMALLOW_FILE,
} from '../../../producers/importers/shipped-datasets.js';

// A port nothing listens on: should a check below ever let the command through, it fails to
// connect instead of publishing anywhere.
const UNREACHABLE_CONFIG = loadConfig({
  KAFKA_BROKERS: '127.0.0.1:1',
  PANACEA_TOPIC_PREFIX: 'unit-test.never.',
});
const MARSHMALLOW_PATH = requireDataset(SWE_AGENT_MARSHMALLOW_FILE);
const START = '2025-01-20T20:30:00Z';

async function rejection(promise: Promise<unknown>): Promise<PanaceaError> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (reason: unknown) => reason,
  );
  if (error instanceof PanaceaError) return error;
  throw error;
}

const temporaryDirectories: string[] = [];
afterAll(() => {
  for (const directory of temporaryDirectories) rmSync(directory, { recursive: true, force: true });
});

function writeTemporary(name: string, content: string | Buffer): string {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'panacea-import-'));
  temporaryDirectories.push(directory);
  const file = path.join(directory, name);
  writeFileSync(file, content);
  return file;
}

describe('import command options', () => {
  it('requires --start for swe-agent, saying why and giving an example', async () => {
    const error = await rejection(
      importCommand(['--format', 'swe-agent', MARSHMALLOW_PATH], UNREACHABLE_CONFIG),
    );

    expect(error.code).toBe('USAGE');
    expect(error.message).toBe(
      '--start is required with --format swe-agent: a .traj file records no wall-clock time, ' +
        'so give the instant the run started as RFC 3339, e.g. --start 2025-01-20T20:30:00Z',
    );
  });

  it('refuses a --start that is not RFC 3339 with an offset', async () => {
    const noOffset = await rejection(
      importCommand(
        ['--format', 'swe-agent', MARSHMALLOW_PATH, '--start', '2025-01-20T20:30:00'],
        UNREACHABLE_CONFIG,
      ),
    );
    const notADate = await rejection(
      importCommand(
        ['--format', 'swe-agent', MARSHMALLOW_PATH, '--start', 'yesterday'],
        UNREACHABLE_CONFIG,
      ),
    );

    expect(noOffset.code).toBe('USAGE');
    expect(noOffset.message).toMatch(
      /^--start: "2025-01-20T20:30:00" is not an RFC 3339 date-time with an offset \(it has no/,
    );
    expect(notADate.message).toMatch(/^--start: "yesterday" is not an RFC 3339 date-time/);
  });

  it('refuses options that the chosen format does not read, instead of ignoring them', async () => {
    const openhands = requireDataset(OPENHANDS_SESSION_FILE);
    const cases: Array<[string[], string]> = [
      [
        ['--format', 'openhands', openhands, '--start', START],
        '--start applies to --format swe-agent only, not to --format openhands',
      ],
      [
        ['--format', 'openhands', openhands, '--partial'],
        '--partial applies to --format swe-agent only, not to --format openhands',
      ],
      [
        ['--format', 'swe-agent', MARSHMALLOW_PATH, '--start', START, '--tz', 'UTC'],
        '--tz applies to --format openhands only, not to --format swe-agent',
      ],
      [
        ['--format', 'langchain', MARSHMALLOW_PATH],
        '--format: expected one of openhands, swe-agent, got "langchain"',
      ],
    ];

    for (const [args, message] of cases) {
      const error = await rejection(importCommand(args, UNREACHABLE_CONFIG));
      expect(error.code).toBe('USAGE');
      expect(error.message).toBe(message);
    }
  });
});

describe('import command reading a swe-agent file', () => {
  it('tells that --partial would import the steps before a bad one', async () => {
    const document = { trajectory: [{ action: 'ls', observation: '' }, { action: 3 }] };
    const file = writeTemporary('bad-step.traj', JSON.stringify(document));

    const error = await rejection(readSweAgentRun(file, { start: START }));

    expect(error.code).toBe('IMPORT_INVALID');
    expect(error.message).toBe(
      `${file}: trajectory[1].action: expected the command the step ran as a string, got ` +
        'number 3 (the step starts at line 1 column 49); nothing was published (--partial ' +
        'publishes the valid steps before it)',
    );
  });

  it('gives no such hint when nothing precedes the problem', async () => {
    const file = writeTemporary('not-an-object.traj', '[]');

    const error = await rejection(readSweAgentRun(file, { start: START }));

    expect(error.message).not.toContain('--partial');
  });

  it('refuses bytes that are not UTF-8, naming line and column', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{\n  "trajectory": [{"action": "ls '),
      Buffer.from([0xff]),
      Buffer.from('", "observation": ""}]\n}'),
    ]);
    const file = writeTemporary('latin1.traj', bytes);

    const error = await rejection(readSweAgentRun(file, { start: START }));

    expect(error.message).toBe(
      `${file}: is not UTF-8 text at line 2 column 33: a byte sequence that is not UTF-8 ` +
        'starts there',
    );
  });

  it('with --partial, drops a character cut in half and keeps the complete steps', async () => {
    const text = '{"trajectory": [{"action": "ls", "observation": ""}, {"action": "echo é';
    const bytes = Buffer.from(text);
    const file = writeTemporary('cut.traj', bytes.subarray(0, bytes.length - 1));

    const strict = await rejection(readSweAgentRun(file, { start: START }));
    const partial = await readSweAgentRun(file, { start: START, partial: true });

    expect(strict.message).toBe(
      `${file}: is not UTF-8 text at line 1 column 71: the file ends in the middle of a ` +
        'character; it looks cut short',
    );
    expect(partial.importedStepCount).toBe(1);
    expect(partial.skipped[0]?.reason).toMatch(
      /is not valid JSON at line 1 column 71: unexpected end/,
    );
  });
});

describe('import command report', () => {
  it('names each skipped part with its step count and reason', () => {
    expect(
      describeSkippedPart({ part: 'trajectory[3..10]', stepCount: 8, reason: 'x.traj: bad' }),
    ).toBe('skipped trajectory[3..10] (8 steps): x.traj: bad');
    expect(describeSkippedPart({ part: 'info', reason: 'x.traj: info: bad' })).toBe(
      'skipped info: x.traj: info: bad',
    );
  });

  it('sums up what was published and what was left out', async () => {
    const whole = await readSweAgentRun(MARSHMALLOW_PATH, { start: START });
    const cut = writeTemporary(
      'cut.traj',
      JSON.stringify({ trajectory: [{ action: 'ls', observation: '' }] }).slice(0, -2),
    );
    const partial = await readSweAgentRun(cut, { start: START, partial: true });

    expect(summarise(whole)).toBe('published 14 (activity 13, error 1), rejected 0');
    expect(summarise(partial)).toBe(
      "published 2 (activity 2) from 1 step, skipped: trajectory[1] onwards, info (the run's " +
        'outcome) (reasons on stderr)',
    );
  });
});
