/**
 * Silences: a record read from the topic is checked field by field, a silence covers labels only
 * within its range and only when every matcher is on the alert; and the single-owner assigner
 * gives the alerts stage's whole input to one member.
 */
import { AssignerProtocol } from 'kafkajs';
import { describe, expect, it } from 'vitest';

import {
  isActive,
  silences,
  validateSilence,
  type Silence,
} from '../../../../processors/alerts/silences.js';
import { singleOwnerAssigner } from '../../../../processors/alerts/single-owner-assigner.js';
import { thrownPanaceaError } from '../../fixtures/panacea-error.js';

const silence: Silence = {
  id: 's-1',
  matchers: { agent: 'a-1', alertname: 'agent-silent' },
  startsAt: '2026-12-01T10:00:00.000Z',
  endsAt: '2026-12-01T12:00:00.000Z',
  comment: 'upgrade',
  author: 'kim',
  createdAt: '2026-12-01T09:59:00.000Z',
  updatedAt: '2026-12-01T09:59:00.000Z',
};
const AT = Date.parse('2026-12-01T11:00:00.000Z');

describe('silences', () => {
  it('covers labels holding every matcher, within its range only', () => {
    const labels = { agent: 'a-1', alertname: 'agent-silent', severity: 'warning' };
    expect(silences(silence, labels, AT)).toBe(true);
    expect(silences(silence, { ...labels, agent: 'a-2' }, AT)).toBe(false);
    expect(silences(silence, { agent: 'a-1' }, AT)).toBe(false);
    expect(silences(silence, labels, Date.parse(silence.startsAt) - 1)).toBe(false);
    expect(silences(silence, labels, Date.parse(silence.endsAt))).toBe(false);
    expect(isActive(silence, AT)).toBe(true);
  });

  it.each([
    ['no id', { ...silence, id: '' }, 'silence x: id: expected a non-empty text'],
    ['a bad time', { ...silence, endsAt: 'later' }, 'silence x: endsAt: expected an RFC 3339 time'],
    [
      'an end before the start',
      { ...silence, endsAt: '2026-12-01T09:00:00Z' },
      'endsAt: expected a time after startsAt',
    ],
    ['no matchers', { ...silence, matchers: {} }, 'matchers: expected at least one label matcher'],
    ['a matcher that is not text', { ...silence, matchers: { agent: 3 } }, 'matchers.agent'],
    ['not an object', 'silence', 'silence x: expected an object'],
  ])('refuses a record with %s', (_, record, expected) => {
    const error = thrownPanaceaError(() => validateSilence(record, 'silence x'));
    expect(error.code).toBe('SILENCE_INVALID');
    expect(error.message).toContain(expected);
  });

  it('keeps a valid record as it is', () => {
    expect(validateSilence(JSON.parse(JSON.stringify(silence)), 'silence x')).toEqual(silence);
  });
});

describe('single-owner assigner', () => {
  it('gives every partition of every topic to the first member and nothing to the others', async () => {
    const partitions: Record<string, number> = { events: 3, metrics: 2 };
    const cluster = {
      findTopicPartitionMetadata: (topic: string) =>
        [...Array(partitions[topic])].map((_, partitionId) => ({ partitionId })),
    };
    const assigner = singleOwnerAssigner({ cluster } as never);
    const members = ['member-b', 'member-a', 'member-c'].map((memberId) => ({
      memberId,
      memberMetadata: Buffer.alloc(0),
    }));

    const assignments = await assigner.assign({ members, topics: ['events', 'metrics'] });
    const decoded = Object.fromEntries(
      assignments.map(({ memberId, memberAssignment }) => [
        memberId,
        AssignerProtocol.MemberAssignment.decode(memberAssignment)?.assignment,
      ]),
    );
    expect(decoded).toEqual({
      'member-a': { events: [0, 1, 2], metrics: [0, 1] },
      'member-b': {},
      'member-c': {},
    });
  });
});
