/**
 * The line `panacea run` ends with for each stage: records, dead letters by code, and the stage's
 * own tallies (redactions, normalisations) by name when it counted any.
 */
import { describe, expect, it } from 'vitest';

import { describeStats } from '../../../cli/commands/run.js';

describe('run summary line', () => {
  it('adds the redactions and normalisations a stage counted, by name, and leaves out empty ones', () => {
    const line = describeStats('enrich', {
      batches: 2,
      records: 25,
      deadLettered: 1,
      deadLetteredByCode: { DECODE_FAILED: 1 },
      tallies: { redacted: { email: 3, bearer: 1 }, normalised: { invalid_utf8: 0 } },
    });

    expect(line).toBe(
      'enrich: 25 records, 1 dead-lettered (DECODE_FAILED 1), 4 redacted (bearer 1, email 3)',
    );
  });

  it("adds what a sink stage's writer did: indexed, duplicates, retried, refused, in flight, paused", () => {
    const line = describeStats('sink-elasticsearch', {
      batches: 3,
      records: 24,
      deadLettered: 1,
      deadLetteredByCode: { DOCUMENT_REJECTED: 1 },
      tallies: {},
      writer: {
        indexed: 20,
        duplicates: 3,
        retried: 7,
        refused: 1,
        requestsInFlight: 1,
        documentsInFlight: 12,
        pausedMs: 31_240,
      },
    });

    expect(line).toBe(
      'sink-elasticsearch: 24 records, 1 dead-lettered (DOCUMENT_REJECTED 1); writer: 20 indexed, ' +
        '3 duplicates, 7 retried, 1 refused, 12 in flight, paused 31.2 s',
    );
  });
});
