/**
 * The agent registry table: records applied in order set and remove entries; records that are not
 * valid entries change nothing and say why; entries are checked naming the field.
 */
import { describe, expect, it } from 'vitest';

import { PanaceaError } from '../../../../../core/errors.js';
import { validateAgentProfile } from '../../../../../processors/enrich/agent-registry/agent-profile.js';
import {
  agentRecord,
  AgentTable,
} from '../../../../../processors/enrich/agent-registry/agent-table.js';

const ANN = { id: 'agent-1', name: 'Ann', team: 'search', labels: { tier: 'gold' } };

/** Applies a record keyed `key` holding `value` as JSON, or a tombstone for null. */
function applyRecord(table: AgentTable, value: object | null, key = 'agent-1') {
  return table.applyRecord(
    Buffer.from(key),
    value === null ? null : Buffer.from(JSON.stringify(value)),
  );
}

describe('agent table', () => {
  it('sets an entry, replaces it whole on a later record, and removes it on a tombstone', () => {
    const table = new AgentTable();

    expect(applyRecord(table, ANN)).toEqual({ applied: 'set', agentId: 'agent-1' });
    applyRecord(table, { id: 'agent-1', name: 'Ann 2' });
    expect(table.get('agent-1')).toEqual({ id: 'agent-1', name: 'Ann 2' });

    expect(applyRecord(table, null)).toEqual({ applied: 'removed', agentId: 'agent-1' });
    expect(table.get('agent-1')).toBeUndefined();
  });

  it('lists entries by id', () => {
    const table = new AgentTable();
    applyRecord(table, { id: 'b', name: 'B' }, 'b');
    applyRecord(table, { id: 'a', name: 'A' }, 'a');

    expect(table.list().map((profile) => profile.id)).toEqual(['a', 'b']);
  });

  it('skips a record that is not JSON, not an entry, keyless or keyed by another id', () => {
    const table = new AgentTable();
    applyRecord(table, ANN);

    const results = [
      table.applyRecord(Buffer.from('agent-1'), Buffer.from('{not json')),
      applyRecord(table, { id: 'agent-1' }),
      table.applyRecord(null, Buffer.from(JSON.stringify(ANN))),
      applyRecord(table, { id: 'agent-2', name: 'Bob' }),
    ];

    expect(results.map((result) => result.applied)).toEqual([
      'skipped',
      'skipped',
      'skipped',
      'skipped',
    ]);
    expect(results[1]).toEqual({ applied: 'skipped', problem: 'agent agent-1: name is required' });
    expect(results[3]).toMatchObject({ problem: expect.stringContaining('is not its id') });
    expect(table.get('agent-1')).toEqual(ANN);
  });

  it('writes a record that reads back as the same entry', () => {
    const table = new AgentTable();
    const { key, value } = agentRecord(ANN);

    table.applyRecord(Buffer.from(key), Buffer.from(value));

    expect(table.get('agent-1')).toEqual(ANN);
  });
});

describe('agent entry checks', () => {
  it.each([
    [{ name: 'x' }, 'id', 'id is required'],
    [{ id: 'a', name: '  ' }, 'name', 'name must be 1-256 characters'],
    [{ id: 'a', name: 'x', team: 3 }, 'team', 'team must be text, got number'],
    [{ id: 'a', name: 'x', env: 'prod' }, 'env', 'env is not a known field'],
    [{ id: 'a', name: 'x', labels: ['a'] }, 'labels', 'labels must be an object'],
    [{ id: 'a', name: 'x', labels: { 'a.b': 'c' } }, 'labels.a.b', 'labels.a.b key must be'],
    [{ id: 'a', name: 'x', labels: { a: 1 } }, 'labels.a', 'labels.a must be text'],
    [{ id: 'a', name: 'line\nbreak' }, 'name', 'name must not contain control characters'],
  ])('refuses %j naming the field %s', (input, field, problem) => {
    let error: unknown;
    try {
      validateAgentProfile(input, 'line 1');
    } catch (caught) {
      error = caught;
    }

    expect(error).toBeInstanceOf(PanaceaError);
    expect((error as PanaceaError).code).toBe('AGENT_INVALID');
    expect((error as PanaceaError).context.field).toBe(field);
    expect((error as PanaceaError).message).toContain(`line 1: ${problem}`);
  });
});
