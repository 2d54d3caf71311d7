/**
 * What `panacea agents register` reads before it writes anything: an entry from the command line
 * or a file of entries, checked with problems that name the entry and the field.
 */
import { describe, expect, it } from 'vitest';

import { parseAgentFile, readRegistration } from '../../../cli/commands/agents.js';

describe('agents register input', () => {
  it('reads an entry from the command line', () => {
    const profiles = readRegistration([
      'agent-1',
      '--name',
      'Ann',
      '--team',
      'search',
      '--owner',
      'ann',
      '--env',
      'production',
      '--label',
      'tier=gold',
      '--label',
      'note=a=b',
    ]);

    expect(profiles).toEqual([
      {
        id: 'agent-1',
        name: 'Ann',
        team: 'search',
        owner: 'ann',
        environment: 'production',
        labels: { tier: 'gold', note: 'a=b' },
      },
    ]);
  });

  it.each([
    [['agent-1'], 'agent agent-1: name is required'],
    [['agent-1', '--name', 'A', '--label', 'tier'], '--label: expected KEY=VALUE, got "tier"'],
    [['agent-1', '--name', 'A', '--label', 'a=1', '--label', 'a=2'], '"a" is given twice'],
    [['--name', 'A'], 'expected one agent id'],
    [['a', 'b', '--name', 'A'], 'expected one agent id'],
    [['--file', 'x.json', '--name', 'A'], '--file takes no other argument'],
  ])('refuses %j', (args, message) => {
    expect(() => readRegistration(args)).toThrow(message);
  });

  it('reads a JSON array and one JSON object per line', () => {
    const entries = [
      { id: 'a', name: 'A' },
      { id: 'b', name: 'B', labels: { tier: 'gold' } },
    ];

    expect(parseAgentFile(JSON.stringify(entries), 'agents.json')).toEqual(entries);
    expect(
      parseAgentFile(`${entries.map((e) => JSON.stringify(e)).join('\n')}\n\n`, 'a.ndjson'),
    ).toEqual(entries);
  });

  it.each([
    ['[{"id":"a","name":"A"},{"id":"b"}]', 'agents.json: entry 2: name is required'],
    ['{"id":"a","name":"A"}\n{"id":"b","name":"B","team":""}', 'agents.json: line 2: team must be'],
    ['{"id":"a","name":"A"}\n{oops', 'agents.json: line 2: not valid JSON'],
    ['{"id":"a","name":"A"}\n{"id":"a","name":"B"}', 'line 2: id "a" is registered twice'],
    ['\n\n', 'agents.json: holds no entries'],
  ])('refuses the file %j naming the entry', (text, message) => {
    expect(() => parseAgentFile(text, 'agents.json')).toThrow(message);
  });
});
