/**
 * `panacea alerts silence|check-rules`: silences for the alerts stage, and a check of a rules file.
 *
 *   panacea alerts silence add --match k=v [--match k=v]... (--for 2h | --until RFC3339)
 *                              [--starts RFC3339] [--comment TEXT] [--author NAME]
 *   panacea alerts silence list [--all]      active and future silences, one JSON per line
 *   panacea alerts silence expire ID...      ends silences now
 *   panacea alerts check-rules [FILE]        FILE or PANACEA_ALERT_RULES; exit 1 when invalid
 *
 * Silences are written to the compacted silences topic, which the alerts stage reads as a table.
 */
import os from 'node:os';

import type { PanaceaConfig } from '../../core/config.js';
import { parseDurationMs } from '../../core/durations.js';
import { PanaceaError } from '../../core/errors.js';
import { createKafka } from '../../core/kafka.js';
import { componentLogger } from '../../core/logger.js';
import { createNaming } from '../../core/naming.js';
import { loadAlertRules } from '../../processors/alerts/rules-file.js';
import {
  createSilence,
  isActive,
  openSilenceStore,
  type SilenceStore,
} from '../../processors/alerts/silences.js';
import { formatTimestamp, MAX_EPOCH_MS, normaliseTimestamp } from '../../schemas/timestamp.js';
import { EXIT_OK, EXIT_PARTIAL, parseCommandArgs, say } from '../command-line.js';

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export async function alertsCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'silence':
      return silenceCommand(rest, config);
    case 'check-rules':
      return checkRules(rest, config);
    default:
      throw new PanaceaError(
        'USAGE',
        `alerts: expected silence or check-rules, got ${action === undefined ? 'nothing' : `"${action}"`}`,
      );
  }
}

async function silenceCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'add': {
      const nowMs = Date.now();
      const silence = createSilence(readNewSilence(rest, nowMs), nowMs);
      return withSilences(config, async (store) => {
        await store.put(silence);
        say(JSON.stringify(silence));
        return EXIT_OK;
      });
    }
    case 'list': {
      const { values } = parseCommandArgs(rest, { all: { type: 'boolean', default: false } });
      return withSilences(config, async (store) => {
        const nowMs = Date.now();
        for (const silence of store.list()) {
          const ended = Date.parse(silence.endsAt) <= nowMs;
          if (values.all || !ended) {
            say(JSON.stringify({ ...silence, active: isActive(silence, nowMs) }));
          }
        }
        return EXIT_OK;
      });
    }
    case 'expire': {
      const { positionals } = parseCommandArgs(rest, {}, true);
      if (positionals.length === 0) {
        throw new PanaceaError('USAGE', 'alerts silence expire: expected one or more silence ids');
      }
      return withSilences(config, (store) => expireSilences(store, positionals));
    }
    default:
      throw new PanaceaError(
        'USAGE',
        `alerts silence: expected add, list or expire, got ${action === undefined ? 'nothing' : `"${action}"`}`,
      );
  }
}

/** The silence `add` was given, checked; throws USAGE naming the flag. */
export function readNewSilence(args: string[], nowMs: number): Parameters<typeof createSilence>[0] {
  const { values } = parseCommandArgs(args, {
    match: { type: 'string', multiple: true },
    for: { type: 'string' },
    until: { type: 'string' },
    starts: { type: 'string' },
    comment: { type: 'string' },
    author: { type: 'string' },
  });

  const matchers: Record<string, string> = {};
  for (const option of values.match ?? []) {
    const equals = option.indexOf('=');
    const name = option.slice(0, equals);
    // __proto__ passes the pattern but, assigned to a plain object, is dropped without a word:
    // the silence then matched more alerts than asked. No alert label is named so.
    if (equals <= 0 || !LABEL_NAME.test(name) || name === '__proto__') {
      throw usage(
        `silence add --match: expected LABEL=VALUE with a label of letters, digits and _, got "${option}"`,
      );
    }
    if (Object.hasOwn(matchers, name)) throw usage(`silence add --match: "${name}" is given twice`);
    matchers[name] = option.slice(equals + 1);
  }
  if (Object.keys(matchers).length === 0) {
    throw usage(
      'silence add --match: expected at least one LABEL=VALUE (a silence of everything is refused)',
    );
  }

  const startsAtMs = values.starts === undefined ? nowMs : time(values.starts, '--starts');
  if ((values.for === undefined) === (values.until === undefined)) {
    throw usage('silence add --for or --until: expected exactly one of them');
  }
  let endsAtMs: number;
  if (values.for !== undefined) {
    const durationMs = parseDurationMs(values.for);
    if (durationMs === undefined || durationMs <= 0) {
      throw usage(`silence add --for: expected a duration such as 30m or 2h, got "${values.for}"`);
    }
    endsAtMs = startsAtMs + durationMs;
    // 999999999d passes the form but ends past the last instant a date can hold.
    if (endsAtMs > MAX_EPOCH_MS) {
      throw usage(
        `silence add --for: expected a duration that ends by 9999-12-31, got "${values.for}"`,
      );
    }
  } else {
    endsAtMs = time(values.until ?? '', '--until');
  }
  if (endsAtMs <= startsAtMs || endsAtMs <= nowMs) {
    throw usage(
      `silence add --until: expected a time after the start and after now, got ${formatTimestamp(endsAtMs)}`,
    );
  }

  return {
    matchers,
    startsAtMs,
    endsAtMs,
    comment: values.comment ?? '',
    author: values.author ?? os.userInfo().username,
  };
}

async function expireSilences(store: SilenceStore, ids: string[]): Promise<number> {
  const nowMs = Date.now();
  let expired = 0;
  for (const id of ids) {
    const silence = store.get(id);
    if (silence === undefined) {
      process.stderr.write(`silence ${id}: not found; nothing expired\n`);
      continue;
    }
    if (Date.parse(silence.endsAt) <= nowMs) {
      process.stderr.write(`silence ${id}: already ended at ${silence.endsAt}\n`);
      continue;
    }
    const now = formatTimestamp(nowMs);
    // A silence that has not started yet ends before it begins: its range becomes empty.
    const startsAt = Date.parse(silence.startsAt) > nowMs ? now : silence.startsAt;
    await store.put({ ...silence, startsAt, endsAt: now, updatedAt: now });
    expired += 1;
  }
  say(`expired ${expired} ${expired === 1 ? 'silence' : 'silences'}`);
  return expired === ids.length ? EXIT_OK : EXIT_PARTIAL;
}

function checkRules(args: string[], config: PanaceaConfig): Promise<number> {
  const { positionals } = parseCommandArgs(args, {}, true);
  if (positionals.length > 1) throw usage('check-rules: expected at most one FILE');
  const file = positionals[0] ?? config.alertRulesFile;
  if (file === undefined) {
    throw usage('check-rules: expected a FILE, or PANACEA_ALERT_RULES set');
  }
  try {
    const { rules } = loadAlertRules(file);
    say(`${file}: ${rules.length} ${rules.length === 1 ? 'rule' : 'rules'} valid`);
    for (const rule of rules) say(`  ${rule.name}: ${rule.kind}, ${rule.severity}`);
    return Promise.resolve(EXIT_OK);
  } catch (error) {
    if (!(error instanceof PanaceaError) || error.code !== 'ALERT_RULES_INVALID') throw error;
    process.stderr.write(`${error.reason}\n`);
    return Promise.resolve(EXIT_PARTIAL);
  }
}

async function withSilences(
  config: PanaceaConfig,
  run: (store: SilenceStore) => Promise<number>,
): Promise<number> {
  const store = await openSilenceStore({
    kafka: createKafka(config, 'panacea-alerts'),
    brokers: config.kafkaBrokers,
    topic: createNaming(config).silencesTopic(),
    groupPrefix: config.topicPrefix,
    logger: componentLogger('silences'),
  });
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

function time(text: string, flag: string): number {
  // The contract's parser: Date.parse alone reads a time without an offset as local time and
  // rolls a day that does not exist (2027-02-30) over into the next month.
  const atTime = normaliseTimestamp(text);
  if (!atTime.ok) {
    throw usage(
      `${flag}: expected an RFC 3339 time such as 2026-12-05T10:00:00Z, got "${text}": ${atTime.reason}`,
    );
  }
  return atTime.epochMs;
}

function usage(message: string): PanaceaError {
  return new PanaceaError('USAGE', `alerts ${message}`);
}
