import { describe, expect, it } from 'vitest';

import { assessReadiness, type ReadinessInputs } from '../../../core/health.js';

function inputs(overrides: Partial<ReadinessInputs> = {}): ReadinessInputs {
  return {
    starting: false,
    kafka: { ok: true },
    elasticsearch: { ok: true },
    maxPauseMs: 10_000,
    stages: [
      { stage: 'enrich', groupState: 'joined', partitions: 3, currentPauseMs: undefined },
      { stage: 'sink-elasticsearch', groupState: 'joined', partitions: 3, currentPauseMs: 0 },
    ],
    ...overrides,
  };
}

describe('readiness', () => {
  it('is ready when connected, every stage joined and no writer paused too long', () => {
    const readiness = assessReadiness(inputs());
    expect(readiness.ready).toBe(true);
    expect(readiness.reasons).toEqual([]);
    expect(readiness.checks.stages['sink-elasticsearch']).toEqual({
      group: 'joined',
      partitions: 3,
      pauseMs: 0,
    });
  });

  it('gives a reason for each failed check', () => {
    const readiness = assessReadiness(
      inputs({
        elasticsearch: { ok: false, reason: 'Elasticsearch does not answer: ECONNREFUSED' },
        stages: [
          { stage: 'enrich', groupState: 'rebalancing', partitions: 0, currentPauseMs: undefined },
          { stage: 'metrics', groupState: undefined, partitions: 0, currentPauseMs: undefined },
          {
            stage: 'sink-elasticsearch',
            groupState: 'joined',
            partitions: 3,
            currentPauseMs: 12_400,
          },
        ],
      }),
    );
    expect(readiness.ready).toBe(false);
    expect(readiness.reasons).toEqual([
      'Elasticsearch does not answer: ECONNREFUSED',
      'stage enrich: consumer is not a member of its group (rebalancing)',
      'stage metrics: consumer is not a member of its group (not joined yet)',
      'stage sink-elasticsearch: paused by Elasticsearch for 12 s, over the 10 s limit (PANACEA_READY_MAX_PAUSE_MS)',
    ]);
  });

  it('is not ready while the pipeline starts', () => {
    expect(assessReadiness(inputs({ starting: true, stages: [] })).reasons).toEqual([
      'the pipeline is starting',
    ]);
  });

  it('tolerates a pause up to the limit', () => {
    const stages = [
      { stage: 's', groupState: 'joined' as const, partitions: 1, currentPauseMs: 10_000 },
    ];
    expect(assessReadiness(inputs({ stages })).ready).toBe(true);
  });
});
