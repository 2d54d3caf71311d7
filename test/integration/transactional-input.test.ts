/**
 * Records written by a transactional producer end with a commit or abort marker that consumers
 * never see, and aborted records are never seen either; the pipeline must still count such a
 * partition as consumed, or `run --until-idle` never ends.
 */
import { describe, expect, it } from 'vitest';

import { validateEvent } from '../../schemas/contract.js';
import type { AgentEvent } from '../../schemas/event.js';
import { isolate, kafkaFor, openCodecFor, runPanacea, searchAll } from './harness.js';

describe('transactional producers', () => {
  it('stores their committed events and still reaches idle past the markers and aborted records', async () => {
    const isolation = isolate('txn');
    // The first run creates the topics; the transactional producer may not create them itself.
    expect((await runPanacea(['run', '--until-idle'], isolation.env)).exitCode).toBe(0);
    const result = validateEvent({
      kind: 'heartbeat',
      eventId: 'txn-1',
      timestamp: '2026-11-30T12:00:00Z',
      agent: { id: 'agent-txn' },
      heartbeat: { status: 'active' },
    }) as { ok: true; event: AgentEvent };

    const producer = kafkaFor(isolation).producer({
      transactionalId: `panacea-test-${isolation.namespace}`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    const { codec, registry } = await openCodecFor(isolation);
    await registry.close();
    await producer.connect();
    const transaction = await producer.transaction();
    await transaction.send({
      topic: `${isolation.topicPrefix}agent.heartbeat`,
      messages: [{ key: 'agent-txn', value: codec.encode(result.event) }],
    });
    await transaction.commit();

    const run = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(run.exitCode).toBe(0);
    expect((await searchAll(isolation)).map((hit) => hit._id)).toEqual(['txn-1']);

    // Then an aborted one after what the stages consumed, as a transactional writer killed
    // mid-batch leaves it: the next fetch holds only aborted records and their marker, which
    // kafkajs never hands to a stage, and the stage must still commit past them.
    const aborted = await producer.transaction();
    await aborted.send({
      topic: `${isolation.topicPrefix}agent.heartbeat`,
      messages: [{ key: 'agent-txn', value: codec.encode({ ...result.event, eventId: 'txn-2' }) }],
    });
    await aborted.abort();
    await producer.disconnect();

    const again = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('enrich: 0 records');
    expect((await searchAll(isolation)).map((hit) => hit._id)).toEqual(['txn-1']);
  });
});
