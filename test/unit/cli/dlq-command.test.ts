/**
 * `panacea dlq`: dead letters read back from their headers, grouped by stage and reason, the
 * filters, what each stage's re-drive means, the replay summary and exit code, the value preview
 * of `--show`, and every bad argument refused naming the option before anything connects.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { describe, expect, it } from 'vitest';

import { dlqCommand, readInspectArgs, readReplayArgs } from '../../../cli/commands/dlq.js';
import {
  DeadLetterGroups,
  formatGroups,
  formatInspectHeading,
  matchesFilter,
  MISSING,
  parsePosition,
  readDeadLetterEntry,
  type DeadLetterEntry,
} from '../../../cli/dead-letters/dead-letter-entry.js';
import {
  asRedriveFailure,
  isFenced,
  redriveWithin,
} from '../../../cli/dead-letters/redrive-failures.js';
import {
  collectEnrichedSources,
  countRefusal,
  emptySummary,
  exitCodeOf,
  formatSummary,
  redriveModeOf,
  redriveModeOfEntry,
  selectForRedrive,
} from '../../../cli/dead-letters/redrive-policy.js';
import { sourceRecordOf } from '../../../cli/dead-letters/redrivers.js';
import {
  bytePreview,
  decodeValue,
  describeKey,
  PREVIEW_BYTES,
} from '../../../cli/dead-letters/value-preview.js';
import { loadConfig } from '../../../core/config.js';
import { DEAD_LETTER_HEADERS } from '../../../core/dead-letter.js';
import { PanaceaError } from '../../../core/errors.js';
import { rejectedPanaceaError, thrownPanaceaError } from '../fixtures/panacea-error.js';

interface Letter {
  stage: string;
  code: string;
  rejectedAt: string;
  offset: number;
  sourceTopic?: string;
  /** Default: 100 past the dead letter's own offset. */
  sourceOffset?: number;
}

function entry({
  stage,
  code,
  rejectedAt,
  offset,
  sourceTopic,
  sourceOffset,
}: Letter): DeadLetterEntry {
  return readDeadLetterEntry({
    topic: 'agent.events.enriched.dlq',
    partition: 0,
    offset: String(offset),
    key: Buffer.from('agent-1'),
    value: Buffer.from('{"event":{"id":"e-1"}}'),
    headers: {
      traceparent: '00-abc-def-01',
      [DEAD_LETTER_HEADERS.reasonCode]: code,
      [DEAD_LETTER_HEADERS.reason]: `${code}: because ${offset}`,
      [DEAD_LETTER_HEADERS.stage]: stage,
      [DEAD_LETTER_HEADERS.sourceTopic]: sourceTopic ?? 'agent.events.enriched',
      [DEAD_LETTER_HEADERS.sourcePartition]: '2',
      [DEAD_LETTER_HEADERS.sourceOffset]: String(sourceOffset ?? 100 + offset),
      [DEAD_LETTER_HEADERS.rejectedAt]: rejectedAt,
    },
    timestampMs: Date.parse('2026-12-05T10:00:00Z'),
  });
}

describe('dead letters read back', () => {
  it('reads the headers into stage, reason and source, and keeps the record headers apart', () => {
    const read = entry({
      stage: 'sink-elasticsearch',
      code: 'DOCUMENT_REJECTED',
      rejectedAt: '2026-12-05T10:00:00.000Z',
      offset: 7,
    });

    expect(read).toMatchObject({
      dlq: { topic: 'agent.events.enriched.dlq', partition: 0, offset: '7' },
      stage: 'sink-elasticsearch',
      reasonCode: 'DOCUMENT_REJECTED',
      reason: 'DOCUMENT_REJECTED: because 7',
      source: { topic: 'agent.events.enriched', partition: 2, offset: '107' },
      rejectedAt: '2026-12-05T10:00:00.000Z',
    });
    expect(Object.keys(read.headers)).toHaveLength(7);
    expect(Object.keys(read.recordHeaders)).toEqual(['traceparent']);
  });

  it('puts a dead letter back at its source position for the stage to see it as it was', () => {
    const record = sourceRecordOf(
      entry({ stage: 'enrich', code: 'UNKNOWN_SCHEMA_ID', rejectedAt: '', offset: 3 }),
    );

    expect(record).toMatchObject({ topic: 'agent.events.enriched', partition: 2, offset: '103' });
    expect(record.key?.toString()).toBe('agent-1');
    expect(Object.keys(record.headers ?? {})).toEqual(['traceparent']);
  });

  it('marks what a dead letter written by something else lacks', () => {
    const read = readDeadLetterEntry({
      topic: 'x.dlq',
      partition: 0,
      offset: '0',
      key: null,
      value: null,
      headers: {},
      timestampMs: 0,
    });

    expect(read).toMatchObject({ stage: MISSING, reasonCode: MISSING, rejectedAt: '' });
    expect(read.source.partition).toBe(-1);
  });
});

describe('dead-letter groups', () => {
  it('counts by stage and reason with first and last rejection, sources and re-driven ones', () => {
    const groups = new DeadLetterGroups();
    const letters: Array<[Letter, boolean]> = [
      [
        {
          stage: 'sink-elasticsearch',
          code: 'DOCUMENT_REJECTED',
          rejectedAt: '2026-12-05T10:00:02.000Z',
          offset: 0,
        },
        true,
      ],
      [
        {
          stage: 'sink-elasticsearch',
          code: 'DOCUMENT_REJECTED',
          rejectedAt: '2026-12-05T10:00:01.000Z',
          offset: 1,
        },
        false,
      ],
      [
        {
          stage: 'sink-elasticsearch',
          code: 'DOCUMENT_REJECTED',
          rejectedAt: '2026-12-05T10:00:03.000Z',
          offset: 2,
          sourceTopic: 'other',
        },
        false,
      ],
      [
        {
          stage: 'enrich',
          code: 'DECODE_FAILED',
          rejectedAt: '2026-12-05T09:00:00.000Z',
          offset: 3,
        },
        false,
      ],
      [
        {
          stage: 'sink-elasticsearch',
          code: 'CONTRACT_VIOLATION',
          rejectedAt: '2026-12-05T09:00:00.000Z',
          offset: 4,
        },
        false,
      ],
    ];
    for (const [letter, redriven] of letters) groups.add(entry(letter), redriven);

    const listed = groups.list();

    expect(groups.total).toBe(5);
    expect(listed.map((group) => [group.stage, group.reasonCode, group.count])).toEqual([
      ['enrich', 'DECODE_FAILED', 1],
      ['sink-elasticsearch', 'DOCUMENT_REJECTED', 3],
      ['sink-elasticsearch', 'CONTRACT_VIOLATION', 1],
    ]);
    expect(listed[1]).toMatchObject({
      redriven: 1,
      firstRejectedAt: '2026-12-05T10:00:01.000Z',
      lastRejectedAt: '2026-12-05T10:00:03.000Z',
      sourceTopics: ['agent.events.enriched', 'other'],
      deadLetterTopics: ['agent.events.enriched.dlq'],
      latest: { position: 'agent.events.enriched.dlq:0:2', reason: 'DOCUMENT_REJECTED: because 2' },
    });
  });

  it('lists source and dead-letter topics by name, whatever order they were read in', () => {
    const groups = new DeadLetterGroups();
    for (const [offset, sourceTopic] of [
      [0, 'zeta'],
      [1, 'alpha'],
      [2, 'mid'],
    ] as const) {
      groups.add(
        entry({ stage: 'enrich', code: 'DECODE_FAILED', rejectedAt: '', offset, sourceTopic }),
        false,
      );
    }

    const [group] = groups.list();

    expect(group?.sourceTopics).toEqual(['alpha', 'mid', 'zeta']);
    expect(formatGroups(groups.list())[1]).toContain(' alpha,mid,zeta');
  });

  it('says one dead letter and one topic in the singular', () => {
    expect(formatInspectHeading(1, ['a.dlq'])).toBe('1 dead letter in 1 topic: a.dlq');
    expect(formatInspectHeading(2, ['a.dlq', 'b.dlq'])).toBe(
      '2 dead letters in 2 topics: a.dlq, b.dlq',
    );
  });

  it('prints one line per group with its newest reason, or says there are none', () => {
    const groups = new DeadLetterGroups();
    groups.add(
      entry({
        stage: 'enrich',
        code: 'DECODE_FAILED',
        rejectedAt: '2026-12-05T09:00:00.000Z',
        offset: 3,
      }),
      false,
    );

    const lines = formatGroups(groups.list());

    expect(lines[0]).toMatch(/^STAGE\s+REASON\s+COUNT\s+RE-DRIVEN\s+FIRST REJECTED/);
    expect(lines[1]).toMatch(/^enrich\s+DECODE_FAILED\s+1\s+0\s+2026-12-05T09:00:00.000Z/);
    expect(lines[2]).toBe('  newest: agent.events.enriched.dlq:0:3  DECODE_FAILED: because 3');
    expect(formatGroups([])).toEqual(['no dead letters']);
  });

  it('filters by stage, stage family and reason code', () => {
    const webhook = entry({
      stage: 'sink-webhooks.pager',
      code: 'DELIVERY_FAILED',
      rejectedAt: '',
      offset: 0,
    });

    expect(matchesFilter(webhook, { stage: 'sink-webhooks' })).toBe(true);
    expect(matchesFilter(webhook, { stage: 'sink-webhooks.pager' })).toBe(true);
    expect(matchesFilter(webhook, { stage: 'sink-webhooks.pag' })).toBe(false);
    expect(matchesFilter(webhook, { stage: 'sink' })).toBe(false);
    expect(matchesFilter(webhook, { reasonCode: 'DELIVERY_FAILED' })).toBe(true);
    expect(matchesFilter(webhook, { stage: 'sink-webhooks', reasonCode: 'DELIVERY_REFUSED' })).toBe(
      false,
    );
  });
});

describe('what re-driving means per stage', () => {
  it('re-drives enrich, the Elasticsearch sinks and webhook destinations', () => {
    expect(redriveModeOf('enrich')).toEqual({ kind: 'enrich' });
    expect(redriveModeOf('sink-elasticsearch')).toEqual({
      kind: 'sink',
      stage: 'sink-elasticsearch',
    });
    expect(redriveModeOf('sink-metrics')).toEqual({ kind: 'sink', stage: 'sink-metrics' });
    expect(redriveModeOf('sink-alerts')).toEqual({ kind: 'sink', stage: 'sink-alerts' });
    expect(redriveModeOf('sink-webhooks.pager')).toEqual({ kind: 'webhook', destination: 'pager' });
  });

  it('sends a webhook dead letter that names no destination to every destination', () => {
    const stage = 'sink-webhooks.pager';

    expect(redriveModeOfEntry({ stage, headers: { 'panacea.dlq.destination': 'pager' } })).toEqual({
      kind: 'webhook',
      destination: 'pager',
    });
    expect(redriveModeOfEntry({ stage, headers: {} })).toEqual({
      kind: 'webhook',
      destination: undefined,
    });
    expect(redriveModeOfEntry({ stage: 'enrich', headers: {} })).toEqual({ kind: 'enrich' });
  });

  it('refuses the stateful stages, the audit archive and unknown stages, saying why', () => {
    for (const [stage, why] of [
      ['metrics', /stateful.*a second time/],
      ['alerts', /stateful.*a second time/],
      ['sink-audit-archive', /hash-chained/],
      ['sink-webhooks.', /no stage of this build is named "sink-webhooks\."/],
      [MISSING, /no stage of this build/],
    ] as const) {
      const mode = redriveModeOf(stage);
      expect(mode.kind).toBe('refused');
      expect(mode.kind === 'refused' ? mode.why : '').toMatch(why);
    }
  });
});

describe('what a replay selects', () => {
  // Three dead letters of one raw event: rejected (offset 0), re-driven and rejected again
  // (offset 1), re-driven ok (offset 2); and one of another event that failed again (offset 3).
  const enrichLetters = [
    entry({
      stage: 'enrich',
      code: 'UNKNOWN_SCHEMA_ID',
      rejectedAt: '',
      offset: 0,
      sourceOffset: 7,
    }),
    entry({ stage: 'enrich', code: 'DECODE_FAILED', rejectedAt: '', offset: 1, sourceOffset: 7 }),
    entry({
      stage: 'enrich',
      code: 'UNKNOWN_SCHEMA_ID',
      rejectedAt: '',
      offset: 2,
      sourceOffset: 7,
    }),
    entry({
      stage: 'enrich',
      code: 'UNKNOWN_SCHEMA_ID',
      rejectedAt: '',
      offset: 3,
      sourceOffset: 8,
    }),
  ];
  const ledger = new Map<string, 'redriven' | 'failed-again'>([
    ['agent.events.enriched.dlq:0:0', 'failed-again'],
    ['agent.events.enriched.dlq:0:1', 'failed-again'],
    ['agent.events.enriched.dlq:0:2', 'redriven'],
    ['agent.events.enriched.dlq:0:3', 'failed-again'],
  ]);

  it('skips what the ledger holds unless --again', () => {
    const summary = emptySummary();

    const selected = selectForRedrive(
      enrichLetters,
      {
        filter: { reasonCode: 'UNKNOWN_SCHEMA_ID' },
        again: false,
        ledger,
        enrichedSources: new Set(),
      },
      summary,
    );

    expect(selected.size).toBe(0);
    expect(summary).toMatchObject({ matched: 3, skipped: 3, skippedEnriched: 0 });
  });

  it('under --again, skips every enrich dead letter of an event re-driven ok and retries the rest', () => {
    const enrichedSources = new Set<string>();
    collectEnrichedSources(enrichLetters, ledger, enrichedSources);
    const summary = emptySummary();

    const selected = selectForRedrive(
      enrichLetters,
      { filter: { reasonCode: 'UNKNOWN_SCHEMA_ID' }, again: true, ledger, enrichedSources },
      summary,
    );

    expect(enrichedSources).toEqual(new Set(['agent.events.enriched:2:7']));
    expect(
      [...selected.values()].flatMap((chosen) => chosen.entries.map((e) => e.dlq.offset)),
    ).toEqual(['3']);
    expect(summary).toMatchObject({ matched: 3, skipped: 0, skippedEnriched: 2 });
    expect(formatSummary(summary, false)).toContain(
      'skipped as enriched already (re-driven ok before; --again does not publish an event twice): 2',
    );
  });

  it('under --again, re-drives sink dead letters re-driven ok before: the sinks store nothing twice', () => {
    const letter = entry({
      stage: 'sink-elasticsearch',
      code: 'DOCUMENT_REJECTED',
      rejectedAt: '',
      offset: 0,
    });
    const summary = emptySummary();

    const selected = selectForRedrive(
      [letter],
      {
        filter: { reasonCode: 'DOCUMENT_REJECTED' },
        again: true,
        ledger: new Map([['agent.events.enriched.dlq:0:0', 'redriven']]),
        enrichedSources: new Set(['agent.events.enriched:2:100']),
      },
      summary,
    );

    expect(selected.size).toBe(1);
    expect(summary.skippedEnriched).toBe(0);
  });
});

describe('how a replay ends short', () => {
  const sinkMode = { kind: 'sink', stage: 'sink-elasticsearch' } as const;
  /** A writer that retries until its signal aborts, then says it stopped, as the sinks' do. */
  const retryingForEver = (signal: AbortSignal): Promise<never> =>
    new Promise((_, reject) =>
      signal.addEventListener('abort', () =>
        reject(new PanaceaError('STAGE_STOPPED', 'stopping while writing to Elasticsearch')),
      ),
    );

  it('gives a batch up after its time with ELASTICSEARCH_UNAVAILABLE naming the batch and the server', async () => {
    const error = await rejectedPanaceaError(
      redriveWithin(
        {
          mode: sinkMode,
          batch: 'a batch of 2 dead letters of sink-elasticsearch from x.dlq partition 0',
          target: 'http://127.0.0.1:9200',
          signal: new AbortController().signal,
          timeoutMs: 20,
        },
        retryingForEver,
      ),
    );

    expect(error.code).toBe('ELASTICSEARCH_UNAVAILABLE');
    expect(error.message).toMatch(
      /^a batch of 2 dead letters of sink-elasticsearch from x\.dlq partition 0 could not be re-driven in 0\.02 s: Elasticsearch kept refusing or did not answer at http:\/\/127\.0\.0\.1:9200/,
    );
  });

  it('still gives the batch up when the garbage collector runs while it waits', async () => {
    setFlagsFromString('--expose-gc');
    const collectGarbage = runInNewContext('gc') as () => void;
    const collecting = setInterval(collectGarbage, 10);
    try {
      const error = await rejectedPanaceaError(
        redriveWithin(
          {
            mode: sinkMode,
            batch: 'a batch',
            signal: new AbortController().signal,
            timeoutMs: 200,
          },
          retryingForEver,
        ),
      );

      expect(error.code).toBe('ELASTICSEARCH_UNAVAILABLE');
    } finally {
      clearInterval(collecting);
    }
  });

  it('lets a stop by signal through as it is, not as a time-out', async () => {
    const stop = new AbortController();
    const pending = redriveWithin(
      { mode: sinkMode, batch: 'a batch', signal: stop.signal, timeoutMs: 60_000 },
      retryingForEver,
    );
    stop.abort();

    expect((await rejectedPanaceaError(pending)).code).toBe('STAGE_STOPPED');
  });

  it('says a replay fenced by another one took over, by error type or by kafkajs message', () => {
    const byType = Object.assign(new Error('The producer was fenced'), {
      name: 'KafkaJSNonRetriableError',
      cause: { type: 'PRODUCER_FENCED' },
    });
    const byMessage = Object.assign(
      new Error('Producer attempted an operation with an old epoch'),
      { name: 'KafkaJSProtocolError', type: 'INVALID_PRODUCER_EPOCH' },
    );

    for (const error of [byType, byMessage]) {
      expect(isFenced(error)).toBe(true);
      const failure = asRedriveFailure(error);
      expect(failure).toBeInstanceOf(PanaceaError);
      expect((failure as PanaceaError).message).toMatch(
        /^another dlq replay took over \(fenced\); /,
      );
    }
    expect(isFenced(new Error('Connection timeout'))).toBe(false);
    expect(
      (
        asRedriveFailure(
          Object.assign(new Error('x'), { name: 'KafkaJSConnectionError' }),
        ) as PanaceaError
      ).code,
    ).toBe('KAFKA_UNAVAILABLE');
  });
});

describe('replay summary', () => {
  it('exits 0 when everything matched was re-driven or skipped', () => {
    const summary = { ...emptySummary(), matched: 3, redriven: 2, skipped: 1 };

    expect(formatSummary(summary, false)).toEqual([
      'matched: 3',
      're-driven ok: 2',
      'failed again: 0',
      'skipped as already re-driven: 1',
    ]);
    expect(exitCodeOf(summary)).toBe(0);
  });

  it('exits 1 and names the new reasons when some failed again', () => {
    const summary = {
      ...emptySummary(),
      matched: 3,
      redriven: 1,
      failedAgain: { DOCUMENT_REJECTED: 1, CONTRACT_VIOLATION: 1 },
    };

    expect(formatSummary(summary, false)).toContain(
      'failed again: 2 (CONTRACT_VIOLATION 1, DOCUMENT_REJECTED 1)',
    );
    expect(exitCodeOf(summary)).toBe(1);
  });

  it('exits 1 and says why when a stage refused', () => {
    const summary = { ...emptySummary(), matched: 2 };
    countRefusal(summary, 'metrics', 'stateful');
    countRefusal(summary, 'metrics', 'stateful');

    expect(formatSummary(summary, false)).toContain('not re-driven (metrics): 2: stateful');
    expect(exitCodeOf(summary)).toBe(1);
  });

  it('counts what a dry run would re-drive', () => {
    const summary = { ...emptySummary(), matched: 4, redriven: 4 };

    expect(formatSummary(summary, true)).toEqual([
      'matched: 4',
      'would be re-driven: 4',
      'skipped as already re-driven: 0',
    ]);
  });
});

describe('dead-letter values shown', () => {
  const framed = Buffer.from([0, 0, 0, 0, 7, 2, 4]);

  it('decodes a framed value through the codec and shows it as JSON', async () => {
    const decoded = await decodeValue(framed, async () => ({ eventId: 'e-1' }));

    expect(decoded).toEqual({ format: 'avro', schemaId: 7, json: '{\n  "eventId": "e-1"\n}' });
  });

  it('shows a framed value the codec cannot read as bytes with the codec reason', async () => {
    const decoded = await decodeValue(framed, async () => {
      throw new Error('schema id 7 is not registered');
    });

    expect(decoded).toMatchObject({
      format: 'bytes',
      note: 'framed for schema id 7, but the codec cannot read it: schema id 7 is not registered',
    });
  });

  it('pretty-prints JSON, keeps text as text and previews other bytes', async () => {
    const neverCalled = async (): Promise<unknown> => {
      throw new Error('not Avro');
    };

    expect(await decodeValue(Buffer.from('{"a":[1]}'), neverCalled)).toEqual({
      format: 'json',
      json: '{\n  "a": [\n    1\n  ]\n}',
    });
    expect(await decodeValue(Buffer.from('plain words'), neverCalled)).toEqual({
      format: 'text',
      text: 'plain words',
    });
    expect(await decodeValue(Buffer.from([0xff, 0x01, 0x41]), neverCalled)).toEqual({
      format: 'bytes',
      preview: '3 bytes: ff 01 41\n  as text: ..A',
    });
    expect(await decodeValue(null, neverCalled)).toEqual({ format: 'null' });
  });

  it('cuts a long preview and says so', () => {
    const preview = bytePreview(Buffer.alloc(PREVIEW_BYTES + 10, 0x41));

    expect(preview).toMatch(
      new RegExp(`^${PREVIEW_BYTES + 10} bytes \\(first ${PREVIEW_BYTES} shown\\)`),
    );
    expect(describeKey(Buffer.from('agent-1'))).toBe('agent-1');
    expect(describeKey(null)).toBe('(none)');
  });
});

describe('panacea dlq arguments', () => {
  it('reads inspect filters and --show', () => {
    expect(
      readInspectArgs([
        '--topic',
        'a.dlq',
        '--topic',
        'b.dlq',
        '--stage',
        'enrich',
        '--reason',
        'DECODE_FAILED',
      ]),
    ).toEqual({
      topics: ['a.dlq', 'b.dlq'],
      filter: { stage: 'enrich', reasonCode: 'DECODE_FAILED' },
      json: false,
    });
    expect(
      readInspectArgs(['--show', 'test.x:agent.events.enriched.dlq:0:12', '--json']),
    ).toMatchObject({
      json: true,
      show: { topic: 'test.x:agent.events.enriched.dlq', partition: 0, offset: 12n },
    });
    expect(parsePosition('--show', 'a.dlq:1:0')).toEqual({
      topic: 'a.dlq',
      partition: 1,
      offset: 0n,
    });
  });

  it('reads replay options', () => {
    expect(
      readReplayArgs([
        '--reason',
        'DOCUMENT_REJECTED',
        '--stage',
        'sink-elasticsearch',
        '--dry-run',
      ]),
    ).toEqual({
      topics: [],
      filter: { stage: 'sink-elasticsearch', reasonCode: 'DOCUMENT_REJECTED' },
      dryRun: true,
      again: false,
    });
    expect(
      readReplayArgs(['--reason', 'DELIVERY_FAILED', '--stage', 'sink-webhooks', '--again']),
    ).toMatchObject({
      again: true,
    });
  });

  for (const [args, message] of [
    [['inspect', '--show', 'a.dlq:0'], /--show: expected TOPIC:PARTITION:OFFSET .*got "a\.dlq:0"/],
    [['inspect', '--show', 'a.dlq:x:1'], /--show: expected TOPIC:PARTITION:OFFSET/],
    [
      ['inspect', '--show', 'a.dlq:0:1', '--stage', 'enrich'],
      /--show: names one dead letter; --topic, --stage and --reason do not go with it/,
    ],
    [
      ['inspect', '--reason', 'NOT_A_CODE'],
      /--reason: "NOT_A_CODE" is not a reason code; expected one of USAGE, /,
    ],
    [['inspect', '--stage', ''], /--stage: expected a stage name/],
    [['inspect', '--bogus'], /Unknown option '--bogus'/],
    [['replay'], /dlq replay --reason: required/],
    [['replay', '--reason', 'decode_failed'], /--reason: "decode_failed" is not a reason code/],
    [
      ['replay', '--reason', 'DECODE_FAILED', '--stage', 'metrics'],
      /--stage metrics: not re-driven: the metrics stage is stateful/,
    ],
    [
      ['replay', '--reason', 'DECODE_FAILED', '--stage', 'sink-audit-archive'],
      /--stage sink-audit-archive: not re-driven: the audit archive/,
    ],
    [
      ['replay', '--reason', 'DECODE_FAILED', '--reason', 'DOCUMENT_REJECTED'],
      /^--reason: given 2 times; give it once$/,
    ],
    [
      ['replay', '--reason', 'DECODE_FAILED', '--stage', 'enrich', '--stage=sink-elasticsearch'],
      /^--stage: given 2 times; give it once$/,
    ],
    [['inspect', '--show', 'a.dlq:0:1', '--show', 'a.dlq:0:2'], /^--show: given 2 times/],
    [['inspect', '--reason=DECODE_FAILED', '--reason', 'DECODE_FAILED'], /^--reason: given 2/],
    [
      ['inspect', '--stage', 'nosuch'],
      /^dlq inspect --stage nosuch: no stage of this build is named "nosuch"$/,
    ],
    [
      ['inspect', '--show', 'agent.events.enriched:0:0'],
      /^--show agent\.events\.enriched: not a dead-letter topic \(their names end in \.dlq: agent\.activity\.dlq, /,
    ],
    [
      ['inspect', '--show', 'a.dlq:0:99999999999999999999999'],
      /offset 99999999999999999999999 is out of range; Kafka's offsets go up to 9223372036854775807/,
    ],
    [['inspect', '--show', 'a.dlq:2147483648:0'], /partition 2147483648 is out of range/],
    [['purge'], /dlq: expected inspect or replay, got "purge"/],
    [[], /dlq: expected inspect or replay, got nothing/],
  ] as const) {
    it(`refuses dlq ${args.join(' ') || '(nothing)'} naming the option`, async () => {
      // Checked before anything connects: no broker is at this address.
      const config = loadConfig({ KAFKA_BROKERS: '127.0.0.1:1' });

      const error = await rejectedPanaceaError(dlqCommand([...args], config));

      expect(error.code).toBe('USAGE');
      expect(error.message).toMatch(message);
    });
  }

  it('accepts the stages and stage families of this build for inspect', () => {
    for (const stage of [
      'enrich',
      'metrics',
      'sink-audit-archive',
      'sink-webhooks',
      'sink-webhooks.pager',
    ]) {
      expect(readInspectArgs(['--stage', stage]).filter.stage).toBe(stage);
    }
  });

  it('refuses a position whose parts are not numbers', () => {
    expect(thrownPanaceaError(() => parsePosition('--show', 'a.dlq:0:-1')).message).toContain(
      'got "a.dlq:0:-1"',
    );
  });
});
