/**
 * The redaction rules file (`PANACEA_REDACTION_RULES`): disables built-in rules, adds rules of its
 * own, and is refused with CONFIG_INVALID naming the field and the rule when it is wrong.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { PanaceaError } from '../../../../core/errors.js';
import { BUILT_IN_RULES, redactText } from '../../../../processors/enrich/redaction.js';
import {
  loadRedactionRules,
  parseRedactionRules,
} from '../../../../processors/enrich/redaction-rules-file.js';

function refusal(content: unknown): PanaceaError {
  try {
    parseRedactionRules(content, 'rules.json');
  } catch (error) {
    if (error instanceof PanaceaError) return error;
    throw error;
  }
  throw new Error('expected the rules to be refused');
}

describe('redaction rules file', () => {
  it('runs the built-in rules when no file is set', () => {
    expect(loadRedactionRules(undefined).map((rule) => rule.name)).toEqual(
      BUILT_IN_RULES.map((rule) => rule.name),
    );
  });

  it('disables built-in rules and adds its own after them, masking a secret group only', () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'panacea-rules-'));
    const file = path.join(directory, 'rules.json');
    writeFileSync(
      file,
      JSON.stringify({
        disable: ['email'],
        rules: [{ name: 'ticket', pattern: 'TCK-(?<secret>\\d{6})', flags: 'i' }],
      }),
    );

    const rules = loadRedactionRules(file);
    const counts = {};
    const text = redactText('tck-123456 from ann@corp.io', rules, counts);

    expect(rules.map((rule) => rule.name)).not.toContain('email');
    expect(rules.at(-1)?.name).toBe('ticket');
    expect(text).toBe('tck-[REDACTED:ticket] from ann@corp.io');
    expect(counts).toEqual({ ticket: 1 });
  });

  it.each([
    [[], undefined, 'must be a JSON object'],
    [{ rule: [] }, 'rule', 'is not a known field'],
    [{ disable: ['emails'] }, 'disable[0]', 'expected one of pem_private_key'],
    [{ rules: {} }, 'rules', 'must be an array'],
    [{ rules: [{ name: 'Bad Name', pattern: 'x' }] }, 'rules[0].name', 'expected lowercase'],
    [{ rules: [{ name: 'email', pattern: 'x' }] }, 'rules[0].name', 'disabling it first'],
    [
      {
        rules: [
          { name: 'a', pattern: 'x' },
          { name: 'a', pattern: 'y' },
        ],
      },
      'rules[1].name',
      'exists already',
    ],
    [{ rules: [{ name: 'broken', pattern: '(' }] }, 'rules[0].pattern', 'rule "broken"'],
    [{ rules: [{ name: 'empty', pattern: 'x*' }] }, 'rules[0].pattern', 'matches the empty string'],
    [
      { rules: [{ name: 'nested', pattern: '(a+)+b' }] },
      'rules[0].pattern',
      'has a repetition inside a repetition',
    ],
    [{ rules: [{ name: 'flags', pattern: 'x', flags: 'g' }] }, 'rules[0].flags', 'rule "flags"'],
    [
      { rules: [{ name: 'extra', pattern: 'x', replace: 'y' }] },
      'rules[0].replace',
      'not a known field',
    ],
  ])('refuses %j naming %s', (content, field, problem) => {
    const error = refusal(content);

    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.context.field).toBe(field);
    expect(error.message).toContain(problem);
    expect(error.message).toContain('PANACEA_REDACTION_RULES rules.json');
  });

  it('refuses a file that is not JSON or cannot be read', () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'panacea-rules-'));
    const file = path.join(directory, 'rules.json');
    writeFileSync(file, '{ not json');

    expect(() => loadRedactionRules(file)).toThrow(/is not JSON/);
    expect(() => loadRedactionRules(path.join(directory, 'missing.json'))).toThrow(/cannot read/);
  });
});
