/**
 * Reads NDJSON input line by line with line numbers, from a file or standard input, without
 * holding the whole input in memory. Blank lines are skipped but still counted, so the numbers
 * match what an editor shows.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

import { messageOf, PanaceaError } from '../core/errors.js';

/** Far above the largest event the contract accepts (256 KiB), so only runaway input hits it. */
export const MAX_LINE_BYTES = 1_048_576;
const TOO_LONG = `the line is longer than ${MAX_LINE_BYTES} bytes`;

export interface NumberedLine {
  lineNumber: number;
  text: string;
  /** Why the line cannot be read as text (not UTF-8, too long); `text` is then empty. */
  problem?: string;
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
  const input = source === '-' ? process.stdin : createReadStream(source);
  // Fatal decoding: a byte sequence that is not UTF-8 is reported on its line instead of being
  // turned into U+FFFD, which could make two different events look the same.
  const decoder = new TextDecoder('utf-8', { fatal: true });

  let lineNumber = 0;
  let pending: Buffer = Buffer.alloc(0);
  let overlong = false;
  try {
    for await (const chunk of input) {
      pending = Buffer.concat([pending, chunk as Buffer]);
      let newline = pending.indexOf(0x0a);
      while (newline !== -1) {
        lineNumber += 1;
        const line = overlong
          ? { lineNumber, text: '', problem: TOO_LONG }
          : toLine(pending.subarray(0, newline), lineNumber, decoder);
        overlong = false;
        if (line !== undefined) yield line;
        pending = pending.subarray(newline + 1);
        newline = pending.indexOf(0x0a);
      }
      // No event can be this long; dropping the bytes keeps memory flat on a runaway line.
      if (pending.length > MAX_LINE_BYTES) {
        overlong = true;
        pending = Buffer.alloc(0);
      }
    }
  } catch (error) {
    throw unreadable(source, error);
  }
  if (overlong) yield { lineNumber: lineNumber + 1, text: '', problem: TOO_LONG };
  else if (pending.length > 0) {
    const line = toLine(pending, lineNumber + 1, decoder);
    if (line !== undefined) yield line;
  }
}

/** A line's text, or undefined for a blank one (still counted, so numbers match an editor). */
function toLine(bytes: Buffer, lineNumber: number, decoder: TextDecoder): NumberedLine | undefined {
  const withoutReturn = bytes.at(-1) === 0x0d ? bytes.subarray(0, -1) : bytes;
  let text: string;
  try {
    text = decoder.decode(withoutReturn);
  } catch {
    return { lineNumber, text: '', problem: 'the line is not valid UTF-8' };
  }
  // A byte order mark at the start of a file is an encoding artefact, not content.
  if (lineNumber === 1) text = text.replace(/^\uFEFF/, '');
  return text.trim() === '' ? undefined : { lineNumber, text };
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
  if (line.problem !== undefined) {
    throw new PanaceaError('INVALID_JSON', line.problem, { line: line.lineNumber });
  }
  try {
    return JSON.parse(line.text);
  } catch (error) {
    const detail = messageOf(error);
    throw new PanaceaError('INVALID_JSON', `not valid JSON (${detail})`, { line: line.lineNumber });
  }
}
