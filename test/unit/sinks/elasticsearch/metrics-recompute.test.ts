import { Client } from '@elastic/elasticsearch';
import { describe, expect, it } from 'vitest';

import { DEFAULT_METRICS_CONFIG } from '../../../../core/config.js';
import type { Admin } from '../../../../core/kafka.js';
import { createNaming } from '../../../../core/naming.js';
import { createMetricsRecomputation } from '../../../../sinks/elasticsearch/metrics-recompute.js';
import { rejectedPanaceaError, thrownPanaceaError } from '../../fixtures/panacea-error.js';

const naming = createNaming({ topicPrefix: '', namespace: 'default' });

/** Never contacted: these cases are refused before anything is written or read. */
function options() {
  return {
    client: new Client({ node: 'http://127.0.0.1:9' }),
    admin: {} as Admin,
    naming,
    settings: DEFAULT_METRICS_CONFIG,
  };
}

describe('metrics recomputation', () => {
  it('refuses a flush size that is not a positive integer, naming the option', () => {
    const error = thrownPanaceaError(() =>
      createMetricsRecomputation({ ...options(), flushWindows: 0 }),
    );

    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('flushWindows');
  });

  it('refuses records of a topic other than the enriched one, naming it', async () => {
    const recomputation = createMetricsRecomputation(options());
    const record = {
      topic: naming.rawTopic('activity'),
      partition: 0,
      offset: '5',
      key: null,
      value: null,
      headers: undefined,
      timestampMs: 0,
    };

    const error = await rejectedPanaceaError(recomputation.add([record]));

    expect(error.code).toBe('USAGE');
    expect(error.message).toContain(naming.rawTopic('activity'));
  });

  it('refuses records once finished', async () => {
    const recomputation = createMetricsRecomputation(options());
    await recomputation.finish();

    const error = await rejectedPanaceaError(recomputation.add([]));

    expect(error.code).toBe('USAGE');
  });
});
