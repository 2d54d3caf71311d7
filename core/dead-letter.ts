/**
 * Dead-letter records. A rejected record keeps its original key and value byte for byte, so it can
 * be replayed after a fix; why, where and by whom it was rejected travels in headers.
 */

import type { PanaceaError } from './errors.js';
import type { IHeaders, Message, TopicMessages } from './kafka.js';

export const DEAD_LETTER_HEADERS = {
  reasonCode: 'panacea.dlq.reason.code',
  reason: 'panacea.dlq.reason',
  stage: 'panacea.dlq.stage',
  sourceTopic: 'panacea.dlq.source.topic',
  sourcePartition: 'panacea.dlq.source.partition',
  sourceOffset: 'panacea.dlq.source.offset',
  rejectedAt: 'panacea.dlq.rejected.at',
} as const;

export interface SourcePosition {
  topic: string;
  partition: number;
  offset: string;
}

export interface DeadLetter {
  source: SourcePosition;
  key: Buffer | null;
  value: Buffer | null;
  headers?: IHeaders;
  error: PanaceaError;
}

export function toDeadLetterMessage(deadLetter: DeadLetter, stage: string, nowMs: number): Message {
  const { source, error } = deadLetter;
  return {
    key: deadLetter.key,
    value: deadLetter.value,
    headers: {
      ...deadLetter.headers,
      [DEAD_LETTER_HEADERS.reasonCode]: error.code,
      [DEAD_LETTER_HEADERS.reason]: error.reason,
      [DEAD_LETTER_HEADERS.stage]: stage,
      [DEAD_LETTER_HEADERS.sourceTopic]: source.topic,
      [DEAD_LETTER_HEADERS.sourcePartition]: String(source.partition),
      [DEAD_LETTER_HEADERS.sourceOffset]: source.offset,
      [DEAD_LETTER_HEADERS.rejectedAt]: new Date(nowMs).toISOString(),
    },
  };
}

/** Reads the dead-letter headers back, for inspection and tests. */
export function readDeadLetterHeaders(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.startsWith('panacea.dlq.') && value !== undefined) result[name] = String(value);
  }
  return result;
}

/**
 * Dead letters as messages grouped by their dead-letter topic (`deadLetterTopic` of each source
 * topic), for one durable send; `extraHeaders` go on every message.
 */
export function deadLetterTopicMessages(
  deadLetters: readonly DeadLetter[],
  stage: string,
  deadLetterTopic: (sourceTopic: string) => string,
  nowMs: number,
  extraHeaders: IHeaders = {},
): TopicMessages[] {
  const byTopic = new Map<string, TopicMessages>();
  for (const deadLetter of deadLetters) {
    const topic = deadLetterTopic(deadLetter.source.topic);
    const entry = byTopic.get(topic) ?? { topic, messages: [] };
    const message = toDeadLetterMessage(deadLetter, stage, nowMs);
    entry.messages.push({ ...message, headers: { ...message.headers, ...extraHeaders } });
    byTopic.set(topic, entry);
  }
  return [...byTopic.values()];
}
