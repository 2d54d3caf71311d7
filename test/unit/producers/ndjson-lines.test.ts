import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  MAX_LINE_BYTES,
  parseJsonLine,
  readNumberedLines,
  type NumberedLine,
} from '../../../producers/ndjson-lines.js';
import { thrownPanaceaError } from '../fixtures/panacea-error.js';

const directory = mkdtempSync(path.join(os.tmpdir(), 'panacea-ndjson-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

async function linesOf(content: Buffer | string): Promise<NumberedLine[]> {
  const file = path.join(directory, `input-${Math.random().toString(16).slice(2)}.ndjson`);
  writeFileSync(file, content);
  const lines: NumberedLine[] = [];
  for await (const line of readNumberedLines(file)) lines.push(line);
  return lines;
}

describe('ndjson line reader', () => {
  it('numbers lines as an editor does, skipping blank ones, with CRLF and a byte order mark', async () => {
    const lines = await linesOf('\uFEFF{"a":1}\r\n\r\n   \r\n{"b":2}\r\n{"c":3}');

    expect(lines).toEqual([
      { lineNumber: 1, text: '{"a":1}' },
      { lineNumber: 4, text: '{"b":2}' },
      { lineNumber: 5, text: '{"c":3}' },
    ]);
  });

  it('reports a line whose bytes are not UTF-8 instead of replacing them', async () => {
    const content = Buffer.concat([
      Buffer.from('{"a":"ok"}\n{"a":"'),
      Buffer.from([0xff]),
      Buffer.from('"}\n'),
    ]);

    const lines = await linesOf(content);

    expect(lines[0]).toEqual({ lineNumber: 1, text: '{"a":"ok"}' });
    const error = thrownPanaceaError(() => parseJsonLine(lines[1] as NumberedLine));
    expect(error.code).toBe('INVALID_JSON');
    expect(error.context.line).toBe(2);
    expect(error.message).toBe('the line is not valid UTF-8');
  });

  it('drops a runaway line without holding it, and goes on with the next', async () => {
    const lines = await linesOf(`${'x'.repeat(MAX_LINE_BYTES * 2)}\n{"after":true}\n`);

    expect(lines.map((line) => line.lineNumber)).toEqual([1, 2]);
    expect(thrownPanaceaError(() => parseJsonLine(lines[0] as NumberedLine)).message).toContain(
      `longer than ${MAX_LINE_BYTES} bytes`,
    );
    expect(parseJsonLine(lines[1] as NumberedLine)).toEqual({ after: true });
  });

  it('names the file and the reason when it cannot be read', async () => {
    const reading = (async () => {
      for await (const line of readNumberedLines(path.join(directory, 'missing.ndjson'))) {
        return line;
      }
    })();

    await expect(reading).rejects.toMatchObject({
      code: 'FILE_UNREADABLE',
      message: expect.stringContaining('missing.ndjson: no such file'),
    });
  });
});
