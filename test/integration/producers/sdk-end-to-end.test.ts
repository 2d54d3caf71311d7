/**
 * The SDK as an agent uses it, through the whole pipeline: a `Date` keeps its millisecond to
 * `@timestamp` in Elasticsearch, and `task()` leaves a started and a finished activity with the
 * measured duration, plus an error event with the thrown error's type, message and stack.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { createAgentPublisher } from '../../../producers/sdk/index.js';
import type { AgentPublisher } from '../../../producers/sdk/types.js';
import { field, isolate, runPanacea, searchAll } from '../harness.js';
import { quietLogger } from './sdk-support.js';

class QuotaExceeded extends Error {}

const publishers: AgentPublisher[] = [];
afterAll(async () => {
  await Promise.all(publishers.map((publisher) => publisher.close()));
});

describe('sdk end to end', () => {
  it('stores what an agent publishes, to the millisecond, with task outcomes and errors', async () => {
    const isolation = isolate('sdk-e2e');
    const publisher = createAgentPublisher({
      brokers: isolation.kafkaBrokers,
      agent: { id: 'e2e-agent', name: 'Planner', version: '1.2.3' },
      topicPrefix: isolation.topicPrefix,
      logger: quietLogger,
    });
    publishers.push(publisher);

    const at = new Date('2026-12-04T18:30:05.123Z');
    await publisher.heartbeat(
      { status: 'busy', cpuPercent: 12.5 },
      { eventId: 'hb-1', timestamp: at },
    );
    const answer = await publisher.task('plan.route', async () => 42, { 'route.kind': 'fast' });
    await expect(
      publisher.task('call.model', async () => {
        throw new QuotaExceeded('quota of 100 calls used up');
      }),
    ).rejects.toThrow('quota of 100 calls used up');
    const report = await publisher.flush();

    expect(answer).toBe(42);
    expect(report.complete).toBe(true);
    const run = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(run.exitCode).toBe(0);

    const heartbeat = (await searchAll(isolation, 'heartbeat'))[0];
    expect(heartbeat?._id).toBe('hb-1');
    expect(field(heartbeat!, '@timestamp')).toBe('2026-12-04T18:30:05.123Z');
    expect(field(heartbeat!, 'gen_ai.agent.name')).toBe('Planner');

    const activities = await searchAll(isolation, 'activity');
    const outcomes = activities
      .map(
        (hit) =>
          `${String(field(hit, 'event.action'))} ${String(field(hit, 'panacea.activity.status'))}`,
      )
      .sort();
    expect(outcomes).toEqual([
      'call.model failed',
      'call.model started',
      'plan.route started',
      'plan.route succeeded',
    ]);
    const succeeded = activities.find(
      (hit) => field(hit, 'panacea.activity.status') === 'succeeded',
    );
    expect(field(succeeded!, 'panacea.activity.duration_ms')).toEqual(expect.any(Number));
    expect(field(succeeded!, 'panacea.activity.attributes')).toEqual({ 'route.kind': 'fast' });

    const [error] = await searchAll(isolation, 'error');
    expect(field(error!, 'error.type')).toBe('QuotaExceeded');
    expect(field(error!, 'error.message')).toBe('quota of 100 calls used up');
    expect(field(error!, 'error.stack_trace')).toContain('sdk-end-to-end.test');
  });
});
