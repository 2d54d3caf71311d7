/**
 * `npm start` runs its script through `sh -c`. npm passes SIGTERM (a supervisor, `timeout`, an
 * IDE's stop button) to that shell only; unless the shell hands its process over to the demo
 * with `exec`, the shell dies and the demo keeps running without a parent, never told to stop.
 * The script is run here with stand-ins for `npm` and `node` on PATH: the stand-in for node
 * reports its process id, which must be the shell's own.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

const packageJson = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { scripts: Record<string, string> };

const stubs = mkdtempSync(join(tmpdir(), 'panacea-start-script-'));
afterAll(() => rmSync(stubs, { recursive: true, force: true }));

function stub(name: string, body: string): void {
  const path = join(stubs, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

describe('npm start', () => {
  it('runs the demo in the shell process itself, so SIGTERM to the script reaches the demo', async () => {
    stub('npm', 'exit 0');
    stub('node', 'echo "$$"');
    const script = packageJson.scripts.start;
    expect(script).toContain('bin/panacea.js demo');
    const shell = spawn('sh', ['-c', script ?? ''], {
      env: { ...process.env, PATH: `${stubs}:${process.env.PATH ?? ''}` },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    shell.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exitCode = await new Promise<number | null>((resolve) => shell.on('close', resolve));
    expect(exitCode).toBe(0);
    expect(output.trim()).toBe(String(shell.pid));
  });
});
