/**
 * Reads NDJSON input line by line with line numbers, from a file or standard input, without
 * holding the whole input in memory. Blank lines are skipped but still counted, so the numbers
 * match what an editor shows.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

import { PanaceaError } from '../core/errors.js';

export interface NumberedLine {
  lineNumber: number;
  text: string;
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
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : String(error);
    throw new PanaceaError('USAGE', `cannot read ${source}: ${reason}`, { file: source }, error);
  }
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
