import { describe, expect, it } from 'vitest';

import {
  DEAD_LETTER_HEADERS,
  readDeadLetterHeaders,
  toDeadLetterMessage,
  type DeadLetter,
} from '../../../core/dead-letter.js';
import { PanaceaError } from '../../../core/errors.js';

const NOW_MS = Date.UTC(2026, 0, 15, 9, 30, 0, 42);
// Bytes that are not valid UTF-8, so any decode and re-encode on the way would change them.
const VALUE = Buffer.from([0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0xfe, 0x80]);
const KEY = Buffer.from('agent-7');

function deadLetter(overrides: Partial<DeadLetter> = {}): DeadLetter {
  return {
    source: { topic: 'team-a.agent.activity', partition: 3, offset: '9007199254740993' },
    key: KEY,
    value: VALUE,
    error: new PanaceaError('CONTRACT_VIOLATION', 'agent.id must not be empty', {
      field: 'agent.id',
    }),
    ...overrides,
  };
}

describe('dead letter', () => {
  describe('message', () => {
    it('keeps the original key and value byte for byte', () => {
      const message = toDeadLetterMessage(deadLetter(), 'enrich', NOW_MS);

      expect(Buffer.isBuffer(message.value)).toBe(true);
      expect(Buffer.compare(message.value as Buffer, VALUE)).toBe(0);
      expect(Buffer.compare(message.key as Buffer, KEY)).toBe(0);
    });

    it('keeps a null key and a null value as null', () => {
      const message = toDeadLetterMessage(deadLetter({ key: null, value: null }), 'enrich', NOW_MS);

      expect(message.key).toBeNull();
      expect(message.value).toBeNull();
    });

    it('says why, where and by whom in headers', () => {
      const message = toDeadLetterMessage(deadLetter(), 'enrich', NOW_MS);

      expect(message.headers).toEqual({
        'panacea.dlq.reason.code': 'CONTRACT_VIOLATION',
        'panacea.dlq.reason': 'CONTRACT_VIOLATION: agent.id must not be empty',
        'panacea.dlq.stage': 'enrich',
        'panacea.dlq.source.topic': 'team-a.agent.activity',
        'panacea.dlq.source.partition': '3',
        'panacea.dlq.source.offset': '9007199254740993',
        'panacea.dlq.rejected.at': '2026-01-15T09:30:00.042Z',
      });
    });

    it('keeps the original headers next to its own', () => {
      const traceparent = Buffer.from('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');

      const message = toDeadLetterMessage(
        deadLetter({ headers: { traceparent, 'content-type': 'avro/binary' } }),
        'enrich',
        NOW_MS,
      );

      expect(message.headers?.traceparent).toBe(traceparent);
      expect(message.headers?.['content-type']).toBe('avro/binary');
      expect(message.headers?.[DEAD_LETTER_HEADERS.stage]).toBe('enrich');
    });

    it('replaces the headers of an earlier rejection with the newest', () => {
      const earlier = toDeadLetterMessage(deadLetter(), 'enrich', NOW_MS - 60_000);
      const error = new PanaceaError('DOCUMENT_REJECTED', 'mapper_parsing_exception');

      const message = toDeadLetterMessage(
        deadLetter({ headers: earlier.headers, error }),
        'elasticsearch-sink',
        NOW_MS,
      );

      expect(readDeadLetterHeaders(message.headers)).toMatchObject({
        'panacea.dlq.reason.code': 'DOCUMENT_REJECTED',
        'panacea.dlq.reason': 'DOCUMENT_REJECTED: mapper_parsing_exception',
        'panacea.dlq.stage': 'elasticsearch-sink',
        'panacea.dlq.rejected.at': '2026-01-15T09:30:00.042Z',
      });
    });
  });

  describe('header reading', () => {
    it('reads back every header the message was given', () => {
      const message = toDeadLetterMessage(deadLetter(), 'audit-archive', NOW_MS);

      expect(readDeadLetterHeaders(message.headers)).toEqual(message.headers);
    });

    it('decodes header values that arrive as buffers, as a consumer receives them', () => {
      const headers = {
        [DEAD_LETTER_HEADERS.reasonCode]: Buffer.from('DECODE_FAILED'),
        [DEAD_LETTER_HEADERS.sourceOffset]: Buffer.from('17'),
        [DEAD_LETTER_HEADERS.reason]: Buffer.from('DECODE_FAILED: première ligne'),
      };

      expect(readDeadLetterHeaders(headers)).toEqual({
        'panacea.dlq.reason.code': 'DECODE_FAILED',
        'panacea.dlq.source.offset': '17',
        'panacea.dlq.reason': 'DECODE_FAILED: première ligne',
      });
    });

    it('ignores headers that are not dead-letter headers and headers without value', () => {
      const headers = {
        traceparent: 'trace',
        'panacea.other': 'x',
        [DEAD_LETTER_HEADERS.stage]: undefined,
        [DEAD_LETTER_HEADERS.sourceTopic]: 'agent.errors',
      };

      expect(readDeadLetterHeaders(headers)).toEqual({
        'panacea.dlq.source.topic': 'agent.errors',
      });
    });

    it('reads no headers as an empty set', () => {
      expect(readDeadLetterHeaders(undefined)).toEqual({});
    });
  });
});
