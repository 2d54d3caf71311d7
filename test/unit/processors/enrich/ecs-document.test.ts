import { describe, expect, it } from 'vitest';

import { ECS_VERSION, toEnrichedDocument } from '../../../../processors/enrich/ecs-document.js';
import type { AgentEvent } from '../../../../schemas/event.js';
import {
  FULL_ENVELOPE,
  FULL_INPUTS,
  MINIMAL_INPUTS,
  SAMPLE_AGENT,
  SAMPLE_ENRICHMENT_CONTEXT as CONTEXT,
  SAMPLE_TIMESTAMP_MS,
  validEvent,
} from '../../fixtures/sample-events.js';

const MINIMAL_ENVELOPE = {
  eventId: 'evt-0002',
  timestamp: SAMPLE_TIMESTAMP_MS,
  agent: SAMPLE_AGENT,
};

function activity(body: Record<string, unknown>, envelope: object = FULL_ENVELOPE): AgentEvent {
  return validEvent({ ...envelope, kind: 'activity', activity: { action: 'tool.call', ...body } });
}

function audit(body: Record<string, unknown>): AgentEvent {
  return validEvent({
    ...FULL_ENVELOPE,
    kind: 'audit',
    audit: { ...MINIMAL_INPUTS.audit.audit, ...body },
  });
}

const FULL_ERROR = validEvent(FULL_INPUTS.error);
const FULL_HEARTBEAT = validEvent(FULL_INPUTS.heartbeat);

describe('ecs document', () => {
  describe('fields every kind shares', () => {
    const documents = [
      activity({ status: 'succeeded', durationMs: 5 }),
      FULL_ERROR,
      audit({ outcome: 'success' }),
      FULL_HEARTBEAT,
    ].map((agentEvent) => toEnrichedDocument(agentEvent, CONTEXT));

    it('sets @timestamp to the event time as ISO UTC with milliseconds', () => {
      for (const document of documents) {
        expect(document['@timestamp']).toBe('2026-01-15T09:30:00.007Z');
      }
    });

    it('uses the eventId as event.id', () => {
      for (const document of documents) expect(document.event.id).toBe('evt-0001');
    });

    it('takes event.created and event.ingested from the enrichment context', () => {
      for (const document of documents) {
        expect(document.event.created).toBe('2026-01-15T09:30:01.500Z');
        expect(document.event.ingested).toBe('2026-01-15T09:30:02.125Z');
      }
    });

    it('names the dataset after the kind under module panacea', () => {
      expect(documents.map((document) => document.event.dataset)).toEqual([
        'agent.activity',
        'agent.error',
        'agent.audit',
        'agent.heartbeat',
      ]);
      for (const document of documents) expect(document.event.module).toBe('panacea');
    });

    it('records the ECS version', () => {
      expect(ECS_VERSION).toBe('9.0.0');
      for (const document of documents) expect(document.ecs).toEqual({ version: '9.0.0' });
    });

    it('carries the full agent identity under gen_ai.agent, not ECS agent', () => {
      for (const document of documents) {
        expect(document.gen_ai.agent).toEqual({
          id: 'agent-7',
          name: 'researcher',
          type: 'langgraph',
          version: '1.4.2',
        });
        expect(document).not.toHaveProperty('agent');
      }
    });

    it('maps traceId and spanId to trace.id and span.id', () => {
      for (const document of documents) {
        expect(document.trace).toEqual({ id: '4bf92f3577b34da6a3ce929d0e0e4736' });
        expect(document.span).toEqual({ id: '00f067aa0ba902b7' });
      }
    });

    it('keeps the kind, workflow and task under panacea', () => {
      expect(documents.map((document) => document.panacea.kind)).toEqual([
        'activity',
        'error',
        'audit',
        'heartbeat',
      ]);
      for (const document of documents) {
        expect(document.panacea.workflow).toEqual({ id: 'wf-12' });
        expect(document.panacea.task).toEqual({ id: 'task-3' });
      }
    });

    it('leaves trace, span, workflow and task out when the event has none', () => {
      const document = toEnrichedDocument(
        activity({ status: 'succeeded' }, MINIMAL_ENVELOPE),
        CONTEXT,
      );

      expect(document.gen_ai.agent).toEqual({ id: 'agent-7' });
      expect(document).not.toHaveProperty('trace');
      expect(document).not.toHaveProperty('span');
      expect(document.panacea).not.toHaveProperty('workflow');
      expect(document.panacea).not.toHaveProperty('task');
    });

    it('does not share the agent object with the event', () => {
      const agentEvent = activity({ status: 'succeeded' });

      const document = toEnrichedDocument(agentEvent, CONTEXT);
      document.gen_ai.agent.name = 'changed';

      expect(agentEvent.agent.name).toBe('researcher');
    });
  });

  describe('activity', () => {
    it('maps a succeeded activity to a process end with outcome success', () => {
      const document = toEnrichedDocument(
        activity({ status: 'succeeded', durationMs: 1250, attributes: { tool: 'search', n: 3 } }),
        CONTEXT,
      );

      expect(document.event).toMatchObject({
        kind: 'event',
        category: ['process'],
        type: ['end'],
        action: 'tool.call',
        outcome: 'success',
        duration: 1_250_000_000,
      });
      expect(document.message).toBe('tool.call succeeded in 1250 ms');
      expect(document.panacea.activity).toEqual({
        action: 'tool.call',
        status: 'succeeded',
        duration_ms: 1250,
        attributes: { tool: 'search', n: 3 },
      });
    });

    it('maps a failed activity to outcome failure', () => {
      const document = toEnrichedDocument(activity({ status: 'failed', durationMs: 3 }), CONTEXT);

      expect(document.event.type).toEqual(['end']);
      expect(document.event.outcome).toBe('failure');
      expect(document.message).toBe('tool.call failed in 3 ms');
    });

    it('maps a started activity to a process start with outcome unknown and no duration', () => {
      const document = toEnrichedDocument(activity({ status: 'started' }), CONTEXT);

      expect(document.event.type).toEqual(['start']);
      expect(document.event.outcome).toBe('unknown');
      expect(document.event).not.toHaveProperty('duration');
      expect(document.panacea.activity).toEqual({ action: 'tool.call', status: 'started' });
      expect(document.message).toBe('tool.call started');
    });

    it('converts durationMs to nanoseconds rounded to a whole number', () => {
      const cases: Array<[number, number]> = [
        [0, 0],
        [1, 1_000_000],
        [0.1, 100_000],
        [12.3456789, 12_345_679],
        [0.0000004, 0],
        [0.0000005, 1],
      ];

      for (const [durationMs, durationNs] of cases) {
        const document = toEnrichedDocument(activity({ status: 'succeeded', durationMs }), CONTEXT);
        expect(document.event.duration, `${durationMs} ms`).toBe(durationNs);
        expect(Number.isInteger(document.event.duration)).toBe(true);
      }
    });

    it('keeps the exact durationMs under panacea.activity.duration_ms', () => {
      const document = toEnrichedDocument(
        activity({ status: 'succeeded', durationMs: 12.3456789 }),
        CONTEXT,
      );

      expect(document.panacea.activity).toMatchObject({ duration_ms: 12.3456789 });
    });
  });

  describe('error', () => {
    it('maps an error to ECS error fields, log.level and outcome failure', () => {
      const document = toEnrichedDocument(FULL_ERROR, CONTEXT);

      expect(document.event).toMatchObject({
        kind: 'event',
        category: ['process'],
        type: ['error'],
        action: 'TimeoutError',
        outcome: 'failure',
      });
      expect(document.event).not.toHaveProperty('duration');
      expect(document.error).toEqual({
        type: 'TimeoutError',
        message: 'model call timed out',
        stack_trace: 'TimeoutError: model call timed out\n    at call (agent.ts:10:5)',
      });
      expect(document.log).toEqual({ level: 'critical' });
      expect(document.message).toBe('model call timed out');
      expect(document.panacea.error).toEqual({ severity: 'critical', retryable: true });
    });

    it('leaves stack_trace and retryable out when the error has none', () => {
      const document = toEnrichedDocument(
        validEvent({
          ...MINIMAL_ENVELOPE,
          kind: 'error',
          error: { type: 'RateLimit', message: '429 from model', severity: 'warning' },
        }),
        CONTEXT,
      );

      expect(document.error).toEqual({ type: 'RateLimit', message: '429 from model' });
      expect(document.log).toEqual({ level: 'warning' });
      expect(document.panacea.error).toEqual({ severity: 'warning' });
    });
  });

  describe('audit', () => {
    it.each([
      ['success', ['allowed'], 'success'],
      ['denied', ['denied'], 'failure'],
      ['failure', ['info'], 'failure'],
    ])('maps outcome %s to event.type %j and event.outcome %s', (outcome, type, ecsOutcome) => {
      const document = toEnrichedDocument(audit({ outcome }), CONTEXT);

      expect(document.event).toMatchObject({
        kind: 'event',
        category: ['iam'],
        type,
        action: 'secrets.read',
        outcome: ecsOutcome,
      });
      expect(document.panacea.audit).toMatchObject({ outcome });
    });

    it('maps sourceIp to source.ip and reason to event.reason', () => {
      const document = toEnrichedDocument(
        audit({ outcome: 'denied', reason: 'policy forbids secret access', sourceIp: '192.0.2.4' }),
        CONTEXT,
      );

      expect(document.source).toEqual({ ip: '192.0.2.4' });
      expect(document.event.reason).toBe('policy forbids secret access');
      expect(document.message).toBe(
        'user u-1 secrets.read secret s-9: denied (policy forbids secret access)',
      );
    });

    it('keeps actor, resource and outcome under panacea.audit', () => {
      const document = toEnrichedDocument(audit({ outcome: 'success' }), CONTEXT);

      expect(document.panacea.audit).toEqual({
        actor: { type: 'user', id: 'u-1' },
        resource: { type: 'secret', id: 's-9' },
        outcome: 'success',
      });
    });

    it('leaves source and event.reason out when the audit has none', () => {
      const document = toEnrichedDocument(audit({ outcome: 'success' }), CONTEXT);

      expect(document).not.toHaveProperty('source');
      expect(document.event).not.toHaveProperty('reason');
      expect(document.message).toBe('user u-1 secrets.read secret s-9: success');
    });
  });

  describe('heartbeat', () => {
    it('maps a heartbeat to a host state with its figures under panacea.heartbeat', () => {
      const document = toEnrichedDocument(FULL_HEARTBEAT, CONTEXT);

      expect(document.event).toMatchObject({
        kind: 'state',
        category: ['host'],
        type: ['info'],
        action: 'heartbeat',
      });
      expect(document.event).not.toHaveProperty('outcome');
      expect(document.message).toBe('heartbeat busy');
      expect(document.panacea.heartbeat).toEqual({
        status: 'busy',
        cpu_percent: 37.5,
        memory_mb: 512.25,
        queue_depth: 4,
      });
    });

    it('keeps only the status when the heartbeat has no figures', () => {
      const document = toEnrichedDocument(
        validEvent({ ...MINIMAL_ENVELOPE, kind: 'heartbeat', heartbeat: { status: 'idle' } }),
        CONTEXT,
      );

      expect(document.panacea.heartbeat).toEqual({ status: 'idle' });
    });
  });
});
