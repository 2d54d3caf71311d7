/**
 * The alert destinations file (`PANACEA_ALERT_DESTINATIONS`, YAML or JSON): where the webhook sink
 * delivers alert notifications, how each request is signed, timed out and retried, and which hosts
 * a destination may reach. It is read and checked once at start; every problem names the file, the
 * destination and the field, so a bad file stops the pipeline before anything connects.
 *
 *   allowHosts: [hooks.example.com, "*.internal.example.com"]   # optional, for every destination
 *   destinations:
 *     - name: ops-webhook
 *       type: webhook                 # webhook | slack | alertmanager
 *       url: https://hooks.example.com/panacea
 *       secret: env:OPS_WEBHOOK_SECRET
 *       timeout: 5s
 *       retry: { initialDelay: 1s, maxDelay: 1m, maxAttempts: 10, maxTotalTime: 15m }
 */
import { readFileSync } from 'node:fs';

import { parse as parseYaml } from 'yaml';

import { parseDurationMs } from '../../core/durations.js';
import { messageOf, PanaceaError } from '../../core/errors.js';

export const DESTINATION_TYPES = ['webhook', 'slack', 'alertmanager'] as const;
export type DestinationType = (typeof DESTINATION_TYPES)[number];

export interface RetryPolicy {
  /** Wait before the second attempt, ms; each later wait doubles it, up to `maxDelayMs`. */
  initialDelayMs: number;
  /** Longest wait between two attempts, ms (before jitter, which only shortens it). */
  maxDelayMs: number;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** No attempt starts later than this after the first one, ms. */
  maxTotalMs: number;
}

export interface Destination {
  /** Unique in the file; part of the stage's consumer group, so letters, digits, `-` and `_`. */
  name: string;
  type: DestinationType;
  /** For `alertmanager`, the server's base URL; the sink posts to `<url>/api/v2/alerts`. */
  url: URL;
  /** The HMAC-SHA256 key that signs each request; required for `webhook`, optional otherwise. */
  secret: string | undefined;
  /** Longest wait for one request's answer, ms. */
  timeoutMs: number;
  retry: RetryPolicy;
  /** Requests to this destination in flight at once. */
  concurrency: number;
  /**
   * Hosts the URL may name, from the destination's `allowHosts` and the file's: the URL's host
   * must be in each list that is given. Undefined when neither is.
   */
  allowHosts: string[][] | undefined;
  /** `alertmanager`: the `generatorURL` of each alert, `{rule}` and `{fingerprint}` filled in. */
  generatorUrl: string | undefined;
  /**
   * `alertmanager`: how long a firing alert stays firing in Alertmanager without a newer
   * notification (its `endsAt`), ms. Longer than the rules' repeat interval.
   */
  firingTtlMs: number;
}

export interface DestinationsFile {
  file: string;
  destinations: Destination[];
}

export const DEFAULT_TIMEOUT_MS = 5_000;
export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
  maxAttempts: 10,
  maxTotalMs: 15 * 60_000,
};
/** Alertmanager's own default `repeat_interval`: a rule repeating as often keeps its alert up. */
export const DEFAULT_FIRING_TTL_MS = 4 * 3_600_000;

// One request must end well within the consumer group's 15 s session timeout: the stage can only
// heartbeat between requests.
const MAX_TIMEOUT_MS = 10_000;
const MAX_TOTAL_MS = 24 * 3_600_000;
const MAX_ATTEMPTS = 100;
const MAX_CONCURRENCY = 64;
const MIN_SECRET_CHARACTERS = 16;
const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const HOST_PATTERN = /^(\*\.)?[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/;
// With its unit: a bare `timeout: 5` read as milliseconds would time every request out.
const DURATION_FORM = 'a duration with its unit, such as 500ms, 5s or 2m,';

const DESTINATION_KEYS = new Set([
  'name',
  'type',
  'url',
  'secret',
  'timeout',
  'retry',
  'concurrency',
  'allowHosts',
  'generatorUrl',
  'firingTtl',
]);
const RETRY_KEYS = new Set(['initialDelay', 'maxDelay', 'maxAttempts', 'maxTotalTime']);

/** Reads and checks the file; throws CONFIG_INVALID or FILE_UNREADABLE naming what is wrong. */
export function loadDestinationsFile(
  file: string,
  environment: NodeJS.ProcessEnv = process.env,
): DestinationsFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
    throw new PanaceaError('FILE_UNREADABLE', `${file}: cannot read it (${code})`, { file }, error);
  }
  return parseDestinations(text, file, environment);
}

/** Checks the text of a destinations file (YAML, of which JSON is a subset). */
export function parseDestinations(
  text: string,
  file: string,
  environment: NodeJS.ProcessEnv = process.env,
): DestinationsFile {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw invalid(file, `not valid YAML or JSON (${messageOf(error)})`, 'file');
  }
  if (!isObject(document)) throw invalid(file, 'expected an object with `destinations`', 'file');
  const unknownKey = Object.keys(document).find(
    (key) => key !== 'destinations' && key !== 'allowHosts',
  );
  if (unknownKey !== undefined) {
    throw invalid(
      file,
      `${unknownKey}: unknown key (expected destinations, allowHosts)`,
      unknownKey,
    );
  }

  const globalHosts =
    document.allowHosts === undefined
      ? undefined
      : readHosts(document.allowHosts, (message) =>
          invalid(file, `allowHosts: ${message}`, 'allowHosts'),
        );
  const entries = document.destinations;
  if (!Array.isArray(entries) || entries.length === 0) {
    throw invalid(file, 'destinations: expected a non-empty list', 'destinations');
  }

  const destinations = entries.map((entry, index) =>
    readDestination(entry, index, { file, environment, globalHosts }),
  );
  const seen = new Set<string>();
  for (const [index, destination] of destinations.entries()) {
    if (seen.has(destination.name)) {
      throw invalid(
        file,
        `destinations[${index}]: name "${destination.name}" is used twice`,
        `destinations[${index}].name`,
      );
    }
    seen.add(destination.name);
  }
  return { file, destinations };
}

interface ReadContext {
  file: string;
  environment: NodeJS.ProcessEnv;
  globalHosts: string[] | undefined;
}

function readDestination(entry: unknown, index: number, context: ReadContext): Destination {
  const position = `destinations[${index}]`;
  if (!isObject(entry)) throw invalid(context.file, `${position}: expected an object`, position);
  const label = typeof entry.name === 'string' ? `destination "${entry.name}"` : position;
  const fail = (field: string, message: string): PanaceaError =>
    invalid(context.file, `${label}: ${field}: ${message}`, `${position}.${field}`, {
      destination: entry.name,
    });

  for (const key of Object.keys(entry)) {
    if (!DESTINATION_KEYS.has(key)) {
      throw fail(key, `unknown key (expected ${[...DESTINATION_KEYS].join(', ')})`);
    }
  }
  const name = entry.name;
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw fail('name', `expected lowercase letters, digits, - and _ (1-63), got ${show(name)}`);
  }
  const type = entry.type;
  if (typeof type !== 'string' || !(DESTINATION_TYPES as readonly string[]).includes(type)) {
    throw fail('type', `expected one of ${DESTINATION_TYPES.join(', ')}, got ${show(type)}`);
  }

  const ownHosts =
    entry.allowHosts === undefined
      ? undefined
      : readHosts(entry.allowHosts, (message) => fail('allowHosts', message));
  const hostLists = [context.globalHosts, ownHosts].filter((list) => list !== undefined);
  const allowHosts = hostLists.length === 0 ? undefined : hostLists;
  const url = readUrl(entry.url, allowHosts, (message) => fail('url', message));

  const secret = readSecret(entry.secret, context.environment, (message) =>
    fail('secret', message),
  );
  if (secret === undefined && type === 'webhook') {
    throw fail('secret', 'required for a webhook destination (every request is signed)');
  }

  const timeoutMs = readDuration(entry.timeout, DEFAULT_TIMEOUT_MS, 1, MAX_TIMEOUT_MS, (message) =>
    fail('timeout', message),
  );
  const retry = readRetry(entry.retry, (field, message) =>
    fail(field === '' ? 'retry' : `retry.${field}`, message),
  );
  const concurrency = readWholeNumber(
    entry.concurrency,
    DEFAULT_CONCURRENCY,
    1,
    MAX_CONCURRENCY,
    (message) => fail('concurrency', message),
  );
  const generatorUrl = readGeneratorUrl(entry.generatorUrl, type, (message) =>
    fail('generatorUrl', message),
  );
  if (entry.firingTtl !== undefined && type !== 'alertmanager') {
    throw fail('firingTtl', 'only for an alertmanager destination');
  }
  const firingTtlMs = readDuration(
    entry.firingTtl,
    DEFAULT_FIRING_TTL_MS,
    60_000,
    30 * 24 * 3_600_000,
    (message) => fail('firingTtl', message),
  );

  return {
    name,
    type: type as DestinationType,
    url,
    secret,
    timeoutMs,
    retry,
    concurrency,
    allowHosts,
    generatorUrl,
    firingTtlMs,
  };
}

/**
 * An http(s) URL with a host and no credentials (they would travel into logs and dead letters;
 * a secret belongs in `secret`), whose host the allowlists accept.
 */
export function readUrl(
  value: unknown,
  allowHosts: string[][] | undefined,
  fail: (message: string) => PanaceaError,
): URL {
  if (typeof value !== 'string' || value.trim() === '')
    throw fail(`expected a URL, got ${show(value)}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw fail(`expected an http:// or https:// URL, got ${show(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw fail(`expected an http:// or https:// URL, got scheme "${url.protocol}"`);
  }
  // The URL parser reads http:///x, http:x and http:\\x as host "x": the host must be written.
  if (url.hostname === '' || !/^https?:\/\/[^/\\?#]/i.test(value.trim())) {
    throw fail(`expected a host in ${show(value)}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw fail('must not carry a user or password; put the key in `secret`');
  }
  if (FETCH_BLOCKED_PORTS.has(Number(url.port))) {
    throw fail(
      `port ${url.port} is one that fetch refuses to connect to (the Fetch standard's bad ports)`,
    );
  }
  for (const hosts of allowHosts ?? []) {
    if (!hostAllowed(url.hostname, hosts)) {
      throw fail(`host "${url.hostname}" is not in allowHosts (${hosts.join(', ')})`);
    }
  }
  return url;
}

/**
 * The Fetch standard's "bad ports": Node's fetch refuses them at every attempt, so a destination
 * on one would only ever fail.
 */
const FETCH_BLOCKED_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102,
  103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465,
  512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993,
  995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668,
  6669, 6679, 6697, 10080,
]);

/** Whether `hostname` is one of `hosts`, where `*.example.com` stands for any subdomain of it. */
export function hostAllowed(hostname: string, hosts: readonly string[]): boolean {
  const host = hostname.toLowerCase();
  return hosts.some((allowed) =>
    allowed.startsWith('*.') ? host.endsWith(allowed.slice(1)) : host === allowed,
  );
}

function readHosts(value: unknown, fail: (message: string) => PanaceaError): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw fail(`expected a non-empty list of host names, got ${show(value)}`);
  }
  return value.map((host) => {
    const text = typeof host === 'string' ? host.trim().toLowerCase() : undefined;
    if (text === undefined || !HOST_PATTERN.test(text)) {
      throw fail(
        `expected host names such as hooks.example.com or *.example.com, got ${show(host)}`,
      );
    }
    return text;
  });
}

/** The secret as given, or read from the environment for `env:NAME`; never shown in errors. */
function readSecret(
  value: unknown,
  environment: NodeJS.ProcessEnv,
  fail: (message: string) => PanaceaError,
): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw fail('expected a string or env:VARIABLE');
  let secret = value;
  if (value.startsWith('env:')) {
    const variable = value.slice('env:'.length);
    if (variable.trim() === '') throw fail('expected env:VARIABLE with the variable named');
    const fromEnvironment = environment[variable];
    if (fromEnvironment === undefined || fromEnvironment === '') {
      throw fail(`the environment variable ${variable} is not set`);
    }
    secret = fromEnvironment;
  }
  if (secret.trim() === '') throw fail('is blank');
  if (secret.length < MIN_SECRET_CHARACTERS) {
    throw fail(`expected at least ${MIN_SECRET_CHARACTERS} characters, got ${secret.length}`);
  }
  return secret;
}

function readRetry(
  value: unknown,
  fail: (field: string, message: string) => PanaceaError,
): RetryPolicy {
  if (value === undefined) return { ...DEFAULT_RETRY_POLICY };
  if (!isObject(value)) throw fail('', 'expected an object');
  for (const key of Object.keys(value)) {
    if (!RETRY_KEYS.has(key)) {
      throw fail(key, `unknown key (expected ${[...RETRY_KEYS].join(', ')})`);
    }
  }

  const initialDelayMs = readDuration(
    value.initialDelay,
    DEFAULT_RETRY_POLICY.initialDelayMs,
    1,
    3_600_000,
    (message) => fail('initialDelay', message),
  );
  const maxDelayMs = readDuration(
    value.maxDelay,
    Math.max(DEFAULT_RETRY_POLICY.maxDelayMs, initialDelayMs),
    1,
    3_600_000,
    (message) => fail('maxDelay', message),
  );
  if (maxDelayMs < initialDelayMs) {
    throw fail(
      'maxDelay',
      `expected at least initialDelay (${initialDelayMs} ms), got ${maxDelayMs} ms`,
    );
  }
  const maxAttempts = readWholeNumber(
    value.maxAttempts,
    DEFAULT_RETRY_POLICY.maxAttempts,
    1,
    MAX_ATTEMPTS,
    (message) => fail('maxAttempts', message),
  );
  const maxTotalMs = readDuration(
    value.maxTotalTime,
    DEFAULT_RETRY_POLICY.maxTotalMs,
    0,
    MAX_TOTAL_MS,
    (message) => fail('maxTotalTime', message),
  );
  return { initialDelayMs, maxDelayMs, maxAttempts, maxTotalMs };
}

function readGeneratorUrl(
  value: unknown,
  type: string,
  fail: (message: string) => PanaceaError,
): string | undefined {
  if (value === undefined) return undefined;
  if (type !== 'alertmanager') throw fail('only for an alertmanager destination');
  if (typeof value !== 'string') throw fail(`expected a URL template, got ${show(value)}`);
  try {
    new URL(value.replaceAll('{rule}', 'rule').replaceAll('{fingerprint}', 'f'));
  } catch {
    throw fail(`expected a URL (with {rule} and {fingerprint} if wanted), got ${show(value)}`);
  }
  return value;
}

function readDuration(
  value: unknown,
  fallback: number,
  min: number,
  max: number,
  fail: (message: string) => PanaceaError,
): number {
  if (value === undefined) return fallback;
  const durationMs = typeof value === 'string' ? parseDurationMs(value) : undefined;
  if (durationMs === undefined || durationMs < min || durationMs > max) {
    throw fail(`expected ${DURATION_FORM} from ${min} to ${max} ms, got ${show(value)}`);
  }
  return durationMs;
}

function readWholeNumber(
  value: unknown,
  fallback: number,
  min: number,
  max: number,
  fail: (message: string) => PanaceaError,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw fail(`expected a whole number from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

function invalid(
  file: string,
  message: string,
  field: string,
  context: Record<string, unknown> = {},
): PanaceaError {
  return new PanaceaError('CONFIG_INVALID', `${file}: ${message}`, { field, file, ...context });
}
