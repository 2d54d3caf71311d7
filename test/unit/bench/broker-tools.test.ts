import { describe, expect, it } from 'vitest';

import { parseConsumerPerformance, parseProducerPerformance } from '../../../bench/broker-tools.js';

describe('Kafka performance tools output', () => {
  it("reads ProducerPerformance's last summary line, not its progress lines", () => {
    const output = [
      '61231 records sent, 12246.2 records/sec (3.50 MB/sec), 900.1 ms avg latency, 1200.0 ms max latency.',
      '200000 records sent, 50968.4 records/sec (14.58 MB/sec), 982.94 ms avg latency, 1464.00 ms max latency, 1162 ms 50th, 1404 ms 95th, 1439 ms 99th, 1461 ms 99.9th.',
    ].join('\n');

    expect(parseProducerPerformance(output)).toEqual({
      records: 200_000,
      recordsPerSecond: 50_968.4,
    });
  });

  it("reads ConsumerPerformance's columns by name", () => {
    const output = [
      'WARNING: some JVM notice',
      'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec',
      '2026-12-04 23:13:35:795, 2026-12-04 23:13:37:081, 57.2205, 44.4949, 200000, 155520.9953, 455, 831, 68.8574, 240673.8869',
    ].join('\n');

    expect(parseConsumerPerformance(output)).toEqual({
      records: 200_000,
      recordsPerSecond: 155_520.9953,
      recordsPerSecondAfterJoin: 240_673.8869,
    });
  });

  it('fails with the end of the output when a tool printed no result', () => {
    expect(() => parseProducerPerformance('Exception in thread "main" TimeoutException')).toThrow(
      /no summary line.*TimeoutException/,
    );
    expect(() => parseConsumerPerformance('WARN: topic not found')).toThrow(/no result lines/);
  });
});
