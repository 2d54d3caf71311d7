import { describe, expect, it } from 'vitest';

import { PanaceaError } from '../../../core/errors.js';
import { createNaming } from '../../../core/naming.js';
import { createProgressReport, formatDuration } from '../../../cli/progress-report.js';
import { enrichedFacts, matchesFilter, isEventTopic } from '../../../cli/replay/replay-filter.js';
import { parseReplayRequest } from '../../../cli/replay/replay-request.js';

function usageError(args: string[]): string {
  try {
    parseReplayRequest(args);
  } catch (error) {
    expect(error).toBeInstanceOf(PanaceaError);
    expect((error as PanaceaError).code).toBe('USAGE');
    return (error as PanaceaError).message;
  }
  throw new Error(`accepted ${args.join(' ')}`);
}

describe('replay request', () => {
  it('reads topics, time and offset bounds, filters and the target', () => {
    const request = parseReplayRequest([
      '--topic',
      'agent.activity,agent.errors',
      '--from',
      '2026-12-05T10:00:00.250Z',
      '--to',
      '0:10,1:20',
      '--agent',
      'a1',
      '--kind',
      'activity',
      '--into',
      'elasticsearch:side_copy',
    ]);
    expect(request.topics).toEqual(['agent.activity', 'agent.errors']);
    expect(request.from).toMatchObject({
      kind: 'time',
      epochMs: Date.UTC(2026, 11, 5, 10, 0, 0, 250),
    });
    expect(request.to?.kind === 'offsets' && [...request.to.offsets]).toEqual([
      [0, 10n],
      [1, 20n],
    ]);
    expect(request.filter).toEqual({ agentIds: ['a1'], workflowIds: [], kinds: ['activity'] });
    expect(request.into).toEqual({ kind: 'elasticsearch', namespace: 'side_copy' });
    expect(parseReplayRequest(['--topic', 'x', '--into', 'topic:copy.1']).into).toEqual({
      kind: 'topic',
      topic: 'copy.1',
    });
    expect(parseReplayRequest(['--topic', 'x']).into).toEqual({ kind: 'sinks' });
  });

  it('names the option and the reason for each bad argument', () => {
    expect(usageError([])).toContain('--topic: name at least one topic');
    expect(usageError(['--topic', 'a b'])).toContain('"a b" is not a valid topic name');
    expect(usageError(['--topic', 'x', '--from', 'yesterday'])).toContain(
      '--from: expected an RFC 3339 time',
    );
    expect(usageError(['--topic', 'x', '--from', '2026-02-30T00:00:00Z'])).toContain('--from');
    expect(usageError(['--topic', 'x', '--from', '0:5,0:6'])).toContain(
      'partition 0 is given twice',
    );
    expect(
      usageError([
        '--topic',
        'x',
        '--from',
        '2026-12-05T10:00:00Z',
        '--to',
        '2026-12-05T10:00:00Z',
      ]),
    ).toContain('is not after --from');
    expect(usageError(['--topic', 'x', '--from', '0:9', '--to', '0:3'])).toContain(
      "offset 3 of partition 0 is before --from's 9",
    );
    expect(usageError(['--topic', 'x', '--kind', 'audits'])).toContain(
      '--kind: "audits" is not an event kind',
    );
    expect(usageError(['--topic', 'x', '--agent', ' '])).toContain('--agent: expected an id');
    expect(usageError(['--topic', 'x', '--into', 'elasticsearch:Bad-Name'])).toContain(
      'expected elasticsearch:NAMESPACE',
    );
    expect(usageError(['--topic', 'x', '--into', 's3:bucket'])).toContain(
      'expected sinks, elasticsearch:NAMESPACE or topic:NAME',
    );
    expect(usageError(['--from-archive', '--topic', 'x'])).toContain('takes no --topic');
    expect(usageError(['--from-archive', '--from', '0:1'])).toContain(
      'the archive is read by time',
    );
    expect(usageError(['--topic', 'x', '--frm', '1'])).toContain("'--frm'");
    expect(usageError(['--topic', 'x', '--kind='])).toContain('--kind: expected a value');
    expect(usageError(['--topic', 'x,'])).toContain('--topic: expected a value');
    expect(usageError(['--topic', '.'])).toContain('"." is not a valid topic name');
    expect(usageError(['--topic', 'x', '--from', '0:5', '--from=0:9'])).toContain(
      '--from: given 2 times',
    );
    expect(usageError(['--topic', 'x', '--into', 'sinks', '--into', 'topic:y'])).toContain(
      '--into: given 2 times',
    );
    expect(usageError(['--topic', 'x', '--from', '0:10', '--to', '1:15'])).toContain(
      '--from names partitions 0 and --to names 1',
    );
    expect(usageError(['--topic', 'x', '--from', '0:-5'])).toContain(
      '--from: expected offsets as PARTITION:OFFSET',
    );
    expect(usageError(['--topic', 'x', '--from', '99999999999:0'])).toContain(
      '99999999999 is not a partition number',
    );
    expect(usageError(['--topic', 'x', '--into', `elasticsearch:${'n'.repeat(101)}`])).toContain(
      'at most 100',
    );
  });
});

describe('replay filter', () => {
  const facts = { agentId: 'a1', workflowId: 'w1', kind: 'activity' as const };

  it('keeps an event only when every filter given matches', () => {
    const none = { agentIds: [], workflowIds: [], kinds: [] };
    expect(matchesFilter(none, facts)).toBe(true);
    expect(matchesFilter({ ...none, agentIds: ['a2', 'a1'] }, facts)).toBe(true);
    expect(matchesFilter({ ...none, agentIds: ['a2'] }, facts)).toBe(false);
    expect(matchesFilter({ ...none, workflowIds: ['w1'], kinds: ['error'] }, facts)).toBe(false);
    expect(
      matchesFilter({ ...none, workflowIds: ['w1'] }, { ...facts, workflowId: undefined }),
    ).toBe(false);
  });

  it('reads the facts of an enriched document, and nothing from one that is not', () => {
    const document = {
      gen_ai: { agent: { id: 'a1' } },
      panacea: { kind: 'error', workflow: { id: 'w9' } },
    };
    expect(enrichedFacts(Buffer.from(JSON.stringify(document)))).toEqual({
      agentId: 'a1',
      kind: 'error',
      workflowId: 'w9',
    });
    expect(enrichedFacts(Buffer.from('{"gen_ai":{}}'))).toBeUndefined();
    expect(enrichedFacts(Buffer.from('not json'))).toBeUndefined();
    expect(enrichedFacts(null)).toBeUndefined();
  });

  it('applies to the raw and enriched topics only', () => {
    const naming = createNaming({ topicPrefix: 'p.', namespace: 'n' });
    expect(isEventTopic(naming, 'p.agent.audit')).toBe(true);
    expect(isEventTopic(naming, 'p.agent.events.enriched')).toBe(true);
    expect(isEventTopic(naming, 'p.agent.metrics')).toBe(false);
    expect(isEventTopic(naming, 'agent.audit')).toBe(false);
  });
});

describe('progress report', () => {
  it('redraws a bar with rate and time left on a terminal', () => {
    let nowMs = 0;
    const written: string[] = [];
    const progress = createProgressReport(
      { isTTY: true, write: (text: string) => written.push(text) > 0 },
      { label: 'replay', unit: 'records', now: () => nowMs },
    );
    nowMs = 2_000;
    progress.update(500, 2_000);
    progress.end();
    expect(written[0]).toContain('replay [########......................]  25% 500/2000 records');
    expect(written[0]).toContain('250/s, 6s left');
    expect(written.at(-1)).toBe('\n');
  });

  it('writes a plain line now and then elsewhere, and a last one', () => {
    let nowMs = 0;
    const written: string[] = [];
    const progress = createProgressReport(
      { isTTY: false, write: (text: string) => written.push(text) > 0 },
      { label: 'replay', unit: 'records', now: () => nowMs, lineIntervalMs: 1_000 },
    );
    nowMs = 500;
    progress.update(10, 100);
    nowMs = 1_500;
    progress.update(20, 100);
    nowMs = 1_600;
    progress.update(100, 100);
    progress.end();
    expect(written).toEqual([
      'replay:  20% 20/100 records, 13/s, 6s left\n',
      'replay: 100% 100/100 records, 63/s, - left\n',
    ]);
  });

  it('formats durations', () => {
    expect(formatDuration(4.2)).toBe('5s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(7_620)).toBe('2h07m');
  });
});
