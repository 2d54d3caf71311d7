/**
 * The configuration file: YAML or JSON, nested by the keys of core/settings.ts, e.g.
 *
 *     kafka: { brokers: [kafka-1:9092, kafka-2:9092], sasl: { mechanism: scram-sha-512 } }
 *     namespace: prod
 *
 * It is read once, checked key by key against the settings table (an unknown key is an error
 * with the nearest known one suggested, a value of the wrong form names the key, the value and
 * what was expected), and turned into the environment variables the settings name. An environment
 * variable that is set wins over the file, so a deployment can keep one file and override a value.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { parse as parseYaml, YAMLParseError } from 'yaml';

import { parseDurationMs } from './durations.js';
import { PanaceaError } from './errors.js';
import { SETTINGS, settingByKey, settingByVariable, type Setting } from './settings.js';

/** Where each variable's value came from: the file (with its key) or the environment. */
export type SettingOrigin = { from: 'file'; file: string; key: string } | { from: 'environment' };

interface ConfigFileValues {
  file: string;
  /** Variable → the value as environment text. */
  variables: Map<string, string>;
}

/** The file named by `--config` or `PANACEA_CONFIG`, read and checked. */
export function readConfigFile(file: string): ConfigFileValues {
  const absolute = path.resolve(file);
  let textContent: string;
  try {
    textContent = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new PanaceaError(
      'CONFIG_INVALID',
      `cannot read the configuration file ${absolute}: ${(error as Error).message}`,
      { field: 'PANACEA_CONFIG' },
    );
  }
  // A byte order mark (some Windows editors write one) is not part of the JSON or YAML.
  const document = parseDocument(absolute, textContent.replace(/^\uFEFF/, ''));
  const variables = new Map<string, string>();
  for (const [key, value] of flatten(document)) {
    const setting = settingByKey(key);
    if (setting === undefined && SETTINGS.some((known) => known.key.startsWith(`${key}.`))) {
      throw new PanaceaError(
        'CONFIG_INVALID',
        `${absolute}: ${key}: expected a mapping of its settings (${key}.…), got ${JSON.stringify(value)}`,
        { field: key, file: absolute },
      );
    }
    if (setting === undefined) throw unknownKey(absolute, key);
    variables.set(setting.variable, environmentText(absolute, setting, value));
  }
  return { file: absolute, variables };
}

const APPLIED = new WeakMap<NodeJS.ProcessEnv, Map<string, SettingOrigin>>();

/**
 * Fills `environment` in place with the values of the file `PANACEA_CONFIG` names, under every
 * variable it does not set itself, once per environment object; returns where each setting's
 * value came from. The `panacea` command calls it on `process.env` before anything else reads it
 * (the logger reads `LOG_LEVEL` when it loads); `loadConfig` calls it for any other environment.
 */
export function applyConfigFile(environment: NodeJS.ProcessEnv): Map<string, SettingOrigin> {
  const applied = APPLIED.get(environment);
  if (applied !== undefined) return applied;

  const origins = new Map<string, SettingOrigin>();
  for (const setting of SETTINGS) {
    if (environment[setting.variable] !== undefined) {
      origins.set(setting.variable, { from: 'environment' });
    }
  }
  const file = environment.PANACEA_CONFIG?.trim();
  if (file !== undefined && file !== '') {
    const values = readConfigFile(file);
    for (const [variable, value] of values.variables) {
      if (environment[variable] !== undefined) continue;
      environment[variable] = value;
      const key = settingByVariable(variable)?.key ?? variable;
      origins.set(variable, { from: 'file', file: values.file, key });
    }
  }
  APPLIED.set(environment, origins);
  return origins;
}

/**
 * `--config FILE` (or `--config=FILE`) before the command name sets `PANACEA_CONFIG`; returns
 * the arguments without it.
 */
export function takeConfigOption(argv: string[], environment: NodeJS.ProcessEnv): string[] {
  const [first, second, ...rest] = argv;
  if (first === '--config') {
    if (second === undefined || second.startsWith('-')) {
      throw new PanaceaError('USAGE', '--config: expected a file path', { field: '--config' });
    }
    environment.PANACEA_CONFIG = second;
    return rest;
  }
  if (first?.startsWith('--config=')) {
    const file = first.slice('--config='.length);
    // `--config=` (an unset shell variable) would otherwise mean "no file" without a word.
    if (file.trim() === '') {
      throw new PanaceaError('USAGE', '--config: expected a file path', { field: '--config' });
    }
    environment.PANACEA_CONFIG = file;
    return argv.slice(1);
  }
  return argv;
}

/**
 * A configuration error about a variable, restated for a value that came from the file: the file
 * and the key instead of the variable, so the person edits the right place.
 */
export function restateForOrigin(
  error: PanaceaError,
  origins: Map<string, SettingOrigin>,
): PanaceaError {
  const variable = error.context.field;
  if (typeof variable !== 'string') return error;
  const origin = origins.get(variable);
  if (origin?.from !== 'file' || !error.message.startsWith(`${variable}:`)) return error;
  const rest = error.message.slice(variable.length + 1);
  return new PanaceaError(
    'CONFIG_INVALID',
    `${origin.file}: ${origin.key} (or ${variable}):${rest}`,
    { field: origin.key, file: origin.file },
    error,
  );
}

function parseDocument(file: string, content: string): Record<string, unknown> {
  let document: unknown;
  try {
    // JSON through the YAML parser too (JSON is YAML): it refuses a key given twice, which
    // JSON.parse lets the last one win silently, and it says where an error is by line.
    if (file.endsWith('.json')) JSON.parse(content);
    document = parseYaml(content);
  } catch (error) {
    const where =
      error instanceof YAMLParseError && error.linePos !== undefined
        ? ` at line ${error.linePos[0].line}, column ${error.linePos[0].col}`
        : '';
    const message = (error as Error).message.split('\n')[0] ?? '';
    // The parser's own advice (parseAllDocuments) is for its callers, not for the file's author.
    const reason = message.includes('multiple documents')
      ? 'it holds several documents (---); expected one'
      : message;
    throw new PanaceaError(
      'CONFIG_INVALID',
      `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}${where}: ${reason}`,
      { field: 'PANACEA_CONFIG' },
    );
  }
  if (document === null || document === undefined) return {};
  if (typeof document !== 'object' || Array.isArray(document)) {
    throw new PanaceaError('CONFIG_INVALID', `${file}: expected a mapping of settings at the top`, {
      field: 'PANACEA_CONFIG',
    });
  }
  return document as Record<string, unknown>;
}

/** Leaf values by dotted key; a mapping is walked into, anything else is a value. */
function* flatten(node: Record<string, unknown>, prefix = ''): Generator<[string, unknown]> {
  for (const [name, value] of Object.entries(node)) {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    const isMapping = typeof value === 'object' && value !== null && !Array.isArray(value);
    if (isMapping && settingByKey(key) === undefined) {
      yield* flatten(value as Record<string, unknown>, key);
    } else {
      yield [key, value];
    }
  }
}

/** A file value in the form its environment variable takes, checked against the setting's form. */
function environmentText(file: string, setting: Setting, value: unknown): string {
  const wrong = (expected: string): PanaceaError =>
    new PanaceaError(
      'CONFIG_INVALID',
      `${file}: ${setting.key}: expected ${expected}, got ${JSON.stringify(value)}`,
      { field: setting.key, file },
    );
  const form = setting.form;
  switch (form.type) {
    case 'list':
      if (typeof value === 'string' && value.trim() !== '') return value;
      if (
        Array.isArray(value) &&
        value.length > 0 &&
        value.every((item) => typeof item === 'string' && item.trim() !== '' && !item.includes(','))
      ) {
        return value.join(',');
      }
      throw wrong('a list of strings, or one comma-separated string');
    case 'boolean':
      if (typeof value === 'boolean') return String(value);
      throw wrong('true or false');
    case 'integer':
      if (typeof value === 'number' && Number.isInteger(value)) {
        if (value >= form.minimum && value <= form.maximum) return String(value);
      }
      throw wrong(`a whole number from ${form.minimum} to ${form.maximum}`);
    case 'duration':
    case 'durationOrOff':
      if (typeof value === 'string' && parseDurationMs(value) !== undefined) return value;
      if (form.type === 'durationOrOff' && value === 'off') return value;
      throw wrong(
        `a duration such as 15m, 12h or 30d${form.type === 'durationOrOff' ? ', or off' : ''}`,
      );
    case 'portOrOff':
      if (value === 'off') return value;
      if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65_535) {
        return String(value);
      }
      throw wrong('a port from 1 to 65535, or off');
    case 'string':
      if (typeof value !== 'string') throw wrong('a string');
      if (form.enum !== undefined && !form.enum.includes(value)) {
        throw wrong(`one of ${form.enum.join(', ')}`);
      }
      // A relative path in the file means beside the file, wherever the command runs from.
      if (form.path === true && value.trim() !== '') {
        return path.resolve(path.dirname(file), value);
      }
      // A pattern is left to core/config.ts, whose message says it in words.
      return value;
  }
}

function unknownKey(file: string, key: string): PanaceaError {
  const nearest = SETTINGS.map((setting) => ({
    key: setting.key,
    distance: editDistance(key.toLowerCase(), setting.key.toLowerCase()),
  })).sort((a, b) => a.distance - b.distance)[0];
  const hint =
    nearest !== undefined && nearest.distance <= Math.max(2, Math.floor(key.length / 4))
      ? `; did you mean ${nearest.key}?`
      : '; see panacea config schema for every key';
  return new PanaceaError('CONFIG_INVALID', `${file}: ${key}: unknown setting${hint}`, {
    field: key,
    file,
  });
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
