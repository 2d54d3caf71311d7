/**
 * Reads NDJSON input line by line with line numbers, from a file or standard input, without
 * holding the whole input in memory. Blank lines are skipped but still counted, so the numbers
 * match what an editor shows.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';

import { PanaceaError } from '../core/errors.js';

export interface NumberedLine {
  lineNumber: number;
  text: string;
}

/** Fails early, before any connection is made, when a named file cannot be read. */
export async function assertReadable(source: string): Promise<void> {
  if (source === '-') return;
  try {
    const handle = await open(source, 'r');
    const stats = await handle.stat();
    await handle.close();
    if (stats.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
  } catch (error) {
    throw unreadable(source, error);
  }
}

export async function* readNumberedLines(source: string): AsyncGenerator<NumberedLine> {
  const input = source === '-' ? process.stdin : createReadStream(source, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });

  let lineNumber = 0;
  try {
    for await (const line of lines) {
      lineNumber += 1;
      // A byte order mark at the start of a file is an encoding artefact, not content.
      const text = lineNumber === 1 ? line.replace(/^\uFEFF/, '') : line;
      if (text.trim() === '') continue;
      yield { lineNumber, text };
    }
  } catch (error) {
    throw unreadable(source, error);
  }
}

function unreadable(source: string, error: unknown): PanaceaError {
  const code = (error as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    ENOENT: 'no such file',
    EISDIR: 'is a directory',
    EACCES: 'permission denied',
  };
  const reason = (code === undefined ? undefined : reasons[code]) ?? String(error);
  return new PanaceaError(
    'FILE_UNREADABLE',
    `cannot read ${source}: ${reason}`,
    { file: source },
    error,
  );
}

/** JSON.parse with an error that says what is wrong with the line, for a person to fix it. */
export function parseJsonLine(line: NumberedLine): unknown {
  try {
    return JSON.parse(line.text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new PanaceaError('INVALID_JSON', `not valid JSON (${detail})`, { line: line.lineNumber });
  }
}
