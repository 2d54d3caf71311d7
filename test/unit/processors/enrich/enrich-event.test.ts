/**
 * One raw event to its document: redaction before anything else, the normalisation rule and the
 * UTF-8 repair marked as tags, the agent registry's facts placed, and every change counted.
 */
import { describe, expect, it } from 'vitest';

import type { AgentProfile } from '../../../../processors/enrich/agent-registry/agent-profile.js';
import {
  addTally,
  createTally,
  enrichEvent,
  type EnrichmentRules,
} from '../../../../processors/enrich/enrich-event.js';
import { BUILT_IN_RULES } from '../../../../processors/enrich/redaction.js';
import type { AgentEvent } from '../../../../schemas/event.js';
import {
  FULL_INPUTS,
  SAMPLE_ENRICHMENT_CONTEXT as CONTEXT,
  validEvent,
} from '../../fixtures/sample-events.js';

const PROFILE: AgentProfile = {
  id: 'agent-7',
  name: 'Research assistant',
  team: 'search',
  owner: 'ann',
  environment: 'production',
  labels: { tier: 'gold', region: 'eu-west-1' },
};

const RULES: EnrichmentRules = {
  redactionRules: BUILT_IN_RULES,
  agentProfile: (agentId) => (agentId === PROFILE.id ? PROFILE : undefined),
};

const SECRET = 'Bearer abcdef0123456789abcdef';

function errorEvent(agent: object, extra: Record<string, unknown> = {}): AgentEvent {
  return validEvent({
    ...FULL_INPUTS.error,
    agent,
    error: {
      ...FULL_INPUTS.error.error,
      message: `upstream refused ${SECRET} for ann@example.com`,
      stack: `Error: refused\n    header Authorization: ${SECRET}`,
      attributes: { 'http.status': 401, 'http.status.text': 'Unauthorized', ...extra },
    },
  });
}

describe('enriching an event', () => {
  it('masks secrets in message, stack and attributes and lists the rules on the document', () => {
    const tally = createTally();

    const document = enrichEvent(
      { event: errorEvent({ id: 'agent-9' }), repairedUtf8: false },
      CONTEXT,
      RULES,
      tally,
    );

    const text = JSON.stringify(document);
    expect(text).not.toContain('abcdef0123456789abcdef');
    expect(text).not.toContain('ann@example.com');
    expect(document.message).toBe(
      'upstream refused Bearer [REDACTED:bearer] for [REDACTED:email]@example.com',
    );
    expect(document.error?.stack_trace).toContain('Authorization: Bearer [REDACTED:bearer]');
    expect(document.panacea.redactions).toEqual(['bearer', 'email']);
    expect(tally.redacted).toEqual({ bearer: 2, email: 1 });
  });

  it('moves colliding attribute keys, tags and counts the event', () => {
    const tally = createTally();

    const document = enrichEvent(
      { event: errorEvent({ id: 'agent-9' }), repairedUtf8: false },
      CONTEXT,
      RULES,
      tally,
    );

    expect((document.panacea.error as { attributes: object }).attributes).toEqual({
      'http.status._value': 401,
      'http.status.text': 'Unauthorized',
    });
    expect(document.tags).toEqual(['panacea.key_collision']);
    expect(tally.normalised).toEqual({ key_collision: 1 });
  });

  it('tags and counts an event whose text was repaired from invalid UTF-8', () => {
    const tally = createTally();
    const event = validEvent({ ...FULL_INPUTS.heartbeat, agent: { id: 'agent-\uFFFD' } });

    const document = enrichEvent({ event, repairedUtf8: true }, CONTEXT, RULES, tally);

    expect(document.tags).toEqual(['panacea.invalid_utf8']);
    expect(document.gen_ai.agent.id).toBe('agent-\uFFFD');
    expect(tally.normalised).toEqual({ invalid_utf8: 1 });
  });

  it('adds a registered agent’s facts; its own name wins over the display name', () => {
    const named = enrichEvent(
      { event: errorEvent({ id: 'agent-7', name: 'rsrch' }), repairedUtf8: false },
      CONTEXT,
      RULES,
      createTally(),
    );
    const unnamed = enrichEvent(
      { event: errorEvent({ id: 'agent-7' }), repairedUtf8: false },
      CONTEXT,
      RULES,
      createTally(),
    );

    expect(named.gen_ai.agent.name).toBe('rsrch');
    expect(unnamed.gen_ai.agent.name).toBe('Research assistant');
    expect(unnamed.panacea.agent).toEqual({
      registered: true,
      display_name: 'Research assistant',
      team: 'search',
      owner: 'ann',
      environment: 'production',
    });
    expect(unnamed.labels).toEqual({ tier: 'gold', region: 'eu-west-1' });
  });

  it('passes an unregistered agent’s event with what it carries', () => {
    const document = enrichEvent(
      { event: errorEvent({ id: 'agent-9', name: 'own name' }), repairedUtf8: false },
      CONTEXT,
      RULES,
      createTally(),
    );

    expect(document.gen_ai.agent).toEqual({ id: 'agent-9', name: 'own name' });
    expect(document.panacea.agent).toBeUndefined();
    expect(document.labels).toBeUndefined();
  });

  it('adds tallies together', () => {
    const total = createTally();
    addTally(total, { redacted: { email: 1 }, normalised: { invalid_utf8: 1 } });
    addTally(total, { redacted: { email: 2, jwt: 1 }, normalised: {} });

    expect(total).toEqual({ redacted: { email: 3, jwt: 1 }, normalised: { invalid_utf8: 1 } });
  });
});
