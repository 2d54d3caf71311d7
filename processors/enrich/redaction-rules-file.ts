/**
 * The redaction rules a deployment runs with: the built-in ones, less those a rules file disables,
 * plus those it adds. The file is JSON, named by `PANACEA_REDACTION_RULES`:
 *
 *   { "disable": ["email"],
 *     "rules": [{ "name": "ticket_id", "pattern": "TCK-(?<secret>\\d{6})", "flags": "i",
 *                 "description": "ticket numbers" }] }
 *
 * Added rules run after the built-in ones. Every problem is refused at start with CONFIG_INVALID
 * naming the file, the field (`rules[1].pattern`) and, where there is one, the rule.
 */
import { readFileSync } from 'node:fs';

import isSafeRegex from 'safe-regex2';

import { messageOf, PanaceaError } from '../../core/errors.js';
import { BUILT_IN_RULES, type RedactionRule } from './redaction.js';

const RULE_NAME = /^[a-z][a-z0-9_]{0,39}$/;
const ALLOWED_FLAGS = /^[imsu]*$/;
const FILE_KEYS = ['disable', 'rules'];
const RULE_KEYS = ['name', 'pattern', 'flags', 'description'];

/** Reads and checks the rules file, or returns the built-in rules when there is none. */
export function loadRedactionRules(file: string | undefined): RedactionRule[] {
  if (file === undefined) return [...BUILT_IN_RULES];

  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PanaceaError(
      'CONFIG_INVALID',
      `PANACEA_REDACTION_RULES: cannot read ${file}: ${messageOf(error)}`,
      { file },
      error,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalid(file, '', `is not JSON: ${messageOf(error)}`);
  }
  return parseRedactionRules(parsed, file);
}

/** Checks the parsed content of a rules file (see above); `source` names it in errors. */
export function parseRedactionRules(content: unknown, source: string): RedactionRule[] {
  if (!isPlainObject(content)) throw invalid(source, '', 'must be a JSON object');
  rejectUnknownKeys(content, FILE_KEYS, source, '');

  const disabled = readDisabled(content.disable, source);
  const kept = BUILT_IN_RULES.filter((rule) => !disabled.has(rule.name));

  const added = content.rules === undefined ? [] : content.rules;
  if (!Array.isArray(added)) throw invalid(source, 'rules', 'must be an array of rules');
  const names = new Set(kept.map((rule) => rule.name));
  const rules = added.map((entry, index) => readRule(entry, `rules[${index}]`, source, names));
  return [...kept, ...rules];
}

function readDisabled(value: unknown, source: string): Set<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value)) throw invalid(source, 'disable', 'must be an array of rule names');

  const builtInNames = BUILT_IN_RULES.map((rule) => rule.name);
  value.forEach((name, index) => {
    if (typeof name !== 'string' || !builtInNames.includes(name)) {
      throw invalid(
        source,
        `disable[${index}]`,
        `expected one of ${builtInNames.join(', ')}, got ${JSON.stringify(name)}`,
      );
    }
  });
  return new Set(value as string[]);
}

function readRule(
  entry: unknown,
  field: string,
  source: string,
  names: Set<string>,
): RedactionRule {
  if (!isPlainObject(entry)) throw invalid(source, field, 'must be an object');
  rejectUnknownKeys(entry, RULE_KEYS, source, field);

  const { name, pattern, flags = '', description } = entry;
  if (typeof name !== 'string' || !RULE_NAME.test(name)) {
    throw invalid(
      source,
      `${field}.name`,
      `expected lowercase letters, digits and _ (1-40, starting with a letter), got ${JSON.stringify(name)}`,
    );
  }
  if (names.has(name)) {
    throw invalid(
      source,
      `${field}.name`,
      `rule "${name}" exists already; a built-in rule is replaced by disabling it first`,
    );
  }
  if (typeof flags !== 'string' || !ALLOWED_FLAGS.test(flags)) {
    throw invalid(
      source,
      `${field}.flags`,
      `rule "${name}": expected some of "imsu", got ${JSON.stringify(flags)}`,
    );
  }
  if (description !== undefined && typeof description !== 'string') {
    throw invalid(source, `${field}.description`, `rule "${name}": must be a string`);
  }
  if (typeof pattern !== 'string' || pattern === '') {
    throw invalid(source, `${field}.pattern`, `rule "${name}": must be a non-empty string`);
  }
  let compiled: RegExp;
  try {
    compiled = new RegExp(pattern, `${flags}dg`);
  } catch (error) {
    throw invalid(source, `${field}.pattern`, `rule "${name}": ${messageOf(error)}`);
  }
  // A repetition inside a repetition, `(a+)+`, can backtrack for an exponential time on a long
  // message: one such event would stall the enrichment. safe-regex2 finds that shape.
  if (!isSafeRegex(compiled)) {
    throw invalid(
      source,
      `${field}.pattern`,
      `rule "${name}": has a repetition inside a repetition (such as (a+)+), which can take exponential time`,
    );
  }
  // A pattern that matches nothing at all would put a mask between every two characters.
  if (new RegExp(pattern, flags).test('')) {
    throw invalid(source, `${field}.pattern`, `rule "${name}": matches the empty string`);
  }

  names.add(name);
  return { name, description: description ?? pattern, pattern: compiled };
}

function rejectUnknownKeys(
  value: Record<string, unknown>,
  allowed: readonly string[],
  source: string,
  field: string,
): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw invalid(
        source,
        field === '' ? key : `${field}.${key}`,
        `is not a known field (allowed: ${allowed.join(', ')})`,
      );
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function invalid(source: string, field: string, problem: string): PanaceaError {
  const where = field === '' ? '' : `${field} `;
  return new PanaceaError(
    'CONFIG_INVALID',
    `PANACEA_REDACTION_RULES ${source}: ${where}${problem}`,
    { field: field === '' ? undefined : field, file: source },
  );
}
