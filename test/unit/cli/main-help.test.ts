/**
 * `panacea <command> --help` prints the usage and exits 0, like `panacea --help`, instead of
 * refusing `--help` as an unknown option (exit 2) after loading the configuration; `--config`
 * after the command is refused with where it goes instead of as an unknown option.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

import { main, usageOf } from '../../../cli/main.js';

afterEach(() => {
  vi.restoreAllMocks();
});

function captured(): { stdout: () => string; stderr: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  return { stdout: () => out.join(''), stderr: () => err.join('') };
}

describe('panacea <command> --help', () => {
  for (const argv of [
    ['run', '--help'],
    ['produce', '-h'],
    ['audit', 'export', '--help'],
    ['alerts', 'silence', 'add', '--help'],
  ]) {
    it(`${argv.join(' ')} prints the usage on stdout and exits 0`, async () => {
      const output = captured();
      const exitCode = await main(argv);
      expect(exitCode).toBe(0);
      expect(output.stdout()).toContain('usage:');
      expect(output.stdout()).toContain('panacea run [--until-idle]');
      expect(output.stderr()).toBe('');
    });
  }

  it('an unknown command is still refused (exit 2), whatever follows it', async () => {
    const output = captured();
    expect(await main(['bogus', '--help'])).toBe(2);
    expect(output.stderr()).toContain('unknown command "bogus"');
  });

  it('--config after the command says where it goes (exit 2), before the command would parse it', async () => {
    const output = captured();
    expect(await main(['config', 'check', '--config', 'panacea.yaml'])).toBe(2);
    expect(output.stderr()).toBe(
      'panacea config: USAGE: --config goes before the command: panacea --config FILE config …\n',
    );
    expect(await main(['run', '--config=panacea.yaml'])).toBe(2);
  });
});

describe('usage after a usage error', () => {
  it("prints only the failing command's lines, with their explanations, and where the rest is", () => {
    const usage = usageOf('alerts');
    expect(usage).toContain('panacea alerts silence add --match K=V');
    expect(usage).toContain('validate an alert rules file');
    expect(usage).not.toContain('panacea run');
    expect(usage).not.toContain('panacea audit');
    expect(usage.trimEnd().endsWith('(all commands: panacea --help)')).toBe(true);
  });

  it('finds a command whose line carries the configuration option', () => {
    expect(usageOf('config')).toContain('config check|print|schema');
  });

  it('says so on stderr for a bad option of a command', async () => {
    const output = captured();
    expect(await main(['audit', 'hold', 'remove'])).toBe(2);
    expect(output.stderr()).toContain('panacea audit hold add');
    expect(output.stderr()).not.toContain('panacea produce --file');
  });
});
