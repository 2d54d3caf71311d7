/**
 * `panacea alerts`: what `silence add` makes of its flags, each bad flag refused naming it and
 * why, and `check-rules` telling a valid file from an invalid one by exit code.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, it, vi } from 'vitest';

import { alertsCommand, readNewSilence } from '../../../cli/commands/alerts.js';
import { loadConfig } from '../../../core/config.js';
import { createSilence, silences } from '../../../processors/alerts/silences.js';
import { rejectedPanaceaError, thrownPanaceaError } from '../fixtures/panacea-error.js';

const NOW_MS = Date.parse('2026-12-01T10:00:00.000Z');

describe('panacea alerts silence add', () => {
  it('makes a silence from matchers and a duration', () => {
    const input = readNewSilence(
      [
        '--match',
        'agent=a-1',
        '--match',
        'severity=critical',
        '--for',
        '2h',
        '--comment',
        'upgrade',
        '--author',
        'kim',
      ],
      NOW_MS,
    );
    expect(input).toEqual({
      matchers: { agent: 'a-1', severity: 'critical' },
      startsAtMs: NOW_MS,
      endsAtMs: NOW_MS + 7_200_000,
      comment: 'upgrade',
      author: 'kim',
    });
    const silence = createSilence(input, NOW_MS);
    expect(silence.endsAt).toBe('2026-12-01T12:00:00.000Z');
    expect(silences(silence, { agent: 'a-1', severity: 'critical', team: 'x' }, NOW_MS)).toBe(true);
    expect(silences(silence, { agent: 'a-1', severity: 'warning' }, NOW_MS)).toBe(false);
    expect(silences(silence, { agent: 'a-1', severity: 'critical' }, NOW_MS + 7_200_000)).toBe(
      false,
    );
  });

  it('takes an end time and a later start', () => {
    const input = readNewSilence(
      ['--match', 'agent=a', '--starts', '2026-12-01T11:00:00Z', '--until', '2026-12-01T12:00:00Z'],
      NOW_MS,
    );
    expect(input).toMatchObject({
      startsAtMs: Date.parse('2026-12-01T11:00:00Z'),
      endsAtMs: Date.parse('2026-12-01T12:00:00Z'),
    });
    expect(silences(createSilence(input, NOW_MS), { agent: 'a' }, NOW_MS)).toBe(false);
  });

  it.each([
    ['no matcher', ['--for', '1h'], '--match: expected at least one LABEL=VALUE'],
    ['a matcher without =', ['--match', 'agent', '--for', '1h'], '--match: expected LABEL=VALUE'],
    ['a bad label name', ['--match', 'a-b=c', '--for', '1h'], 'got "a-b=c"'],
    [
      'a __proto__ matcher (silently dropped, so the silence matched more)',
      ['--match', '__proto__=x', '--match', 'agent=a', '--for', '1h'],
      'got "__proto__=x"',
    ],
    [
      'a label twice',
      ['--match', 'a=1', '--match', 'a=2', '--for', '1h'],
      '--match: "a" is given twice',
    ],
    ['neither --for nor --until', ['--match', 'a=1'], '--for or --until: expected exactly one'],
    [
      'both --for and --until',
      ['--match', 'a=1', '--for', '1h', '--until', '2026-12-02T00:00:00Z'],
      'exactly one',
    ],
    [
      'a bad duration',
      ['--match', 'a=1', '--for', 'two hours'],
      '--for: expected a duration such as 30m or 2h, got "two hours"',
    ],
    ['a bad time', ['--match', 'a=1', '--until', 'tomorrow'], '--until: expected an RFC 3339 time'],
    [
      'a duration that ends past year 9999 (not a RangeError)',
      ['--match', 'a=1', '--for', '999999999d'],
      '--for: expected a duration that ends by 9999-12-31, got "999999999d"',
    ],
    [
      'a day that does not exist (not rolled over into March)',
      ['--match', 'a=1', '--until', '2027-02-30T00:00:00Z'],
      '--until: expected an RFC 3339 time such as 2026-12-05T10:00:00Z, got "2027-02-30T00:00:00Z"',
    ],
    [
      'a time without an offset (not read as local time)',
      ['--match', 'a=1', '--until', '2027-01-01T00:00:00'],
      'it has no offset',
    ],
    [
      'an hour 24',
      ['--match', 'a=1', '--starts', '2027-01-01T24:00:00Z', '--for', '1h'],
      '--starts: expected an RFC 3339 time',
    ],
    [
      'an end in the past',
      ['--match', 'a=1', '--until', '2026-11-30T00:00:00Z'],
      '--until: expected a time after the start and after now',
    ],
    ['an unknown flag', ['--match', 'a=1', '--for', '1h', '--loud'], "Unknown option '--loud'"],
  ])('refuses %s, naming the flag', (_, args, expected) => {
    const error = thrownPanaceaError(() => readNewSilence(args, NOW_MS));
    expect(error.code).toBe('USAGE');
    expect(error.message).toContain(expected);
  });
});

describe('panacea alerts check-rules', () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'panacea-check-rules-'));
  const config = loadConfig({});

  it('exits 0 for a valid file and 1 naming the rule and field for an invalid one', async () => {
    const good = path.join(directory, 'good.yaml');
    writeFileSync(good, 'rules:\n  - { name: s, kind: absence, severity: info, after: 1m }\n');
    const bad = path.join(directory, 'bad.yaml');
    writeFileSync(bad, 'rules:\n  - { name: s, kind: absence, severity: info, after: soon }\n');
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await alertsCommand(['check-rules', good], config)).toBe(0);
      expect(stdout.mock.calls.join('')).toContain('good.yaml: 1 rule valid');
      expect(await alertsCommand(['check-rules', bad], config)).toBe(1);
      expect(stderr.mock.calls.join('')).toContain(
        'ALERT_RULES_INVALID: ' + bad + ': rule "s": field "after": expected a duration',
      );
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  });

  it('refuses to run without a file or PANACEA_ALERT_RULES', async () => {
    const error = await rejectedPanaceaError(alertsCommand(['check-rules'], config));
    expect(error.message).toContain('expected a FILE, or PANACEA_ALERT_RULES set');
    const unknown = await rejectedPanaceaError(alertsCommand(['mute'], config));
    expect(unknown.message).toBe('alerts: expected silence or check-rules, got "mute"');
  });
});
