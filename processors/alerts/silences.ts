/**
 * Alert silences: a set of label matchers and a time range. An alert whose labels include every
 * matcher (exact equality) while the silence is in its range is silenced: its notifications are
 * published with the silence's id in `silencedBy`, stored, and not delivered.
 *
 * They live in the compacted topic `<prefix>panacea.silences`, one JSON record per silence keyed
 * by its id, so they survive restarts and every process reads the same table: `panacea alerts
 * silence` writes them, the alerts stage tails them. Expiring a silence rewrites it with `endsAt`
 * set to the moment of expiry rather than deleting it, so its history stays readable (and in
 * Elasticsearch, through the alerts sink).
 */
import { randomUUID } from 'node:crypto';

import {
  CompactedTopicReader,
  DEFAULT_CATCH_UP_TIMEOUT_MS,
  type CompactedTableOptions,
} from '../../core/compacted-topic.js';
import { messageOf, PanaceaError } from '../../core/errors.js';
import { createDurableProducer, type Producer } from '../../core/kafka.js';
import { formatTimestamp } from '../../schemas/timestamp.js';

export interface Silence {
  id: string;
  /** Label name → value; every one must be on the alert. */
  matchers: Record<string, string>;
  startsAt: string;
  endsAt: string;
  comment: string;
  author: string;
  createdAt: string;
  updatedAt: string;
}

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Whether the silence covers these labels at `nowMs`. */
export function silences(silence: Silence, labels: Record<string, string>, nowMs: number): boolean {
  if (Date.parse(silence.startsAt) > nowMs || Date.parse(silence.endsAt) <= nowMs) return false;
  return Object.entries(silence.matchers).every(([name, value]) => labels[name] === value);
}

export function isActive(silence: Silence, nowMs: number): boolean {
  return Date.parse(silence.startsAt) <= nowMs && nowMs < Date.parse(silence.endsAt);
}

export interface NewSilence {
  matchers: Record<string, string>;
  startsAtMs: number;
  endsAtMs: number;
  comment: string;
  author: string;
}

/** A new silence with a fresh id, checked. */
export function createSilence(input: NewSilence, nowMs: number): Silence {
  const silence: Silence = {
    id: randomUUID(),
    matchers: input.matchers,
    startsAt: formatTimestamp(input.startsAtMs),
    endsAt: formatTimestamp(input.endsAtMs),
    comment: input.comment,
    author: input.author,
    createdAt: formatTimestamp(nowMs),
    updatedAt: formatTimestamp(nowMs),
  };
  return validateSilence(silence, 'the silence');
}

/** Checks a silence read from the topic or built by the command; `where` names it in errors. */
export function validateSilence(value: unknown, where: string): Silence {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(where, '', 'an object');
  }
  const silence = value as Partial<Silence>;
  for (const field of ['id', 'startsAt', 'endsAt', 'createdAt', 'updatedAt'] as const) {
    if (typeof silence[field] !== 'string' || silence[field] === '') {
      throw invalid(where, field, 'a non-empty text');
    }
  }
  for (const field of ['startsAt', 'endsAt', 'createdAt', 'updatedAt'] as const) {
    if (!Number.isFinite(Date.parse(silence[field] as string))) {
      throw invalid(where, field, 'an RFC 3339 time');
    }
  }
  if (Date.parse(silence.endsAt as string) < Date.parse(silence.startsAt as string)) {
    throw invalid(where, 'endsAt', 'a time after startsAt');
  }
  const matchers = silence.matchers;
  if (typeof matchers !== 'object' || matchers === null || Object.keys(matchers).length === 0) {
    throw invalid(where, 'matchers', 'at least one label matcher');
  }
  for (const [name, text] of Object.entries(matchers)) {
    if (!LABEL_NAME.test(name) || typeof text !== 'string') {
      throw invalid(where, `matchers.${name}`, 'a label name and a text value');
    }
  }
  return {
    id: silence.id as string,
    matchers: { ...matchers },
    startsAt: silence.startsAt as string,
    endsAt: silence.endsAt as string,
    comment: typeof silence.comment === 'string' ? silence.comment : '',
    author: typeof silence.author === 'string' ? silence.author : '',
    createdAt: silence.createdAt as string,
    updatedAt: silence.updatedAt as string,
  };
}

export interface SilenceStore {
  /** The ids of the silences covering these labels at `nowMs`, sorted. */
  matching(labels: Record<string, string>, nowMs: number): string[];
  get(id: string): Silence | undefined;
  list(): Silence[];
  /** Writes the silence and waits until this reader has applied it. */
  put(silence: Silence): Promise<void>;
  /** Waits until every silence written before the call is applied. */
  catchUp(): Promise<void>;
  close(): Promise<void>;
}

export type SilenceStoreOptions = CompactedTableOptions;

export async function openSilenceStore(options: SilenceStoreOptions): Promise<SilenceStore> {
  const table = new Map<string, Silence>();
  const reader = new CompactedTopicReader({
    kafka: options.kafka,
    brokers: options.brokers,
    topic: options.topic,
    groupId: `${options.groupPrefix}panacea.silences.${randomUUID()}`,
    logger: options.logger,
    catchUpTimeoutMs: options.catchUpTimeoutMs ?? DEFAULT_CATCH_UP_TIMEOUT_MS,
    unavailableCode: 'KAFKA_UNAVAILABLE',
    label: 'the silences',
    apply: ({ key, value, offset }) => {
      const id = key?.toString('utf8');
      if (id === undefined) return;
      if (value === null) {
        table.delete(id);
        return;
      }
      try {
        table.set(id, validateSilence(JSON.parse(value.toString('utf8')), `silence ${id}`));
      } catch (error) {
        options.logger.warn({ offset, problem: messageOf(error) }, 'silence record skipped');
      }
    },
  });
  let producer: Producer | undefined;

  try {
    await reader.start();
  } catch (error) {
    await reader.close();
    throw error;
  }

  return {
    matching: (labels, nowMs) =>
      [...table.values()]
        .filter((silence) => silences(silence, labels, nowMs))
        .map((silence) => silence.id)
        .sort(),
    get: (id) => table.get(id),
    list: () => [...table.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
    async put(silence) {
      try {
        if (producer === undefined) {
          producer = createDurableProducer(options.kafka);
          await producer.connect();
        }
        await producer.send({
          topic: options.topic,
          acks: -1,
          messages: [{ key: silence.id, value: JSON.stringify(silence) }],
        });
      } catch (error) {
        throw new PanaceaError(
          'KAFKA_UNAVAILABLE',
          `cannot write the silence ${silence.id}: ${messageOf(error)}`,
          { topic: options.topic },
          error,
        );
      }
      await reader.catchUp();
    },
    catchUp: () => reader.catchUp(),
    async close() {
      await Promise.allSettled([producer?.disconnect(), reader.close()]);
    },
  };
}

function invalid(where: string, field: string, expected: string): PanaceaError {
  const at = field === '' ? where : `${where}: ${field}`;
  return new PanaceaError('SILENCE_INVALID', `${at}: expected ${expected}`, { field });
}
