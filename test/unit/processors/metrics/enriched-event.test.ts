import { describe, expect, it } from 'vitest';

import { EVENT_KINDS } from '../../../../core/naming.js';
import { toEnrichedDocument } from '../../../../processors/enrich/ecs-document.js';
import { readEnrichedEvent } from '../../../../processors/metrics/enriched-event.js';
import { WindowFigures } from '../../../../processors/metrics/window-figures.js';
import type { AgentEvent } from '../../../../schemas/event.js';
import { FULL_INPUTS, SAMPLE_ENRICHMENT_CONTEXT } from '../../fixtures/sample-events.js';
import { thrownPanaceaError } from '../../fixtures/panacea-error.js';

function enriched(event: AgentEvent): Buffer {
  return Buffer.from(JSON.stringify(toEnrichedDocument(event, SAMPLE_ENRICHMENT_CONTEXT)));
}

function figuresOf(event: AgentEvent): unknown {
  const figures = new WindowFigures({ relativeAccuracy: 0.01, maxErrorTypes: 50 });
  figures.add(event);
  return figures.toJSON();
}

describe('reading an enriched record back into an event', () => {
  it.each(EVENT_KINDS)('keeps what the metrics count of a %s event', (kind) => {
    const event = FULL_INPUTS[kind];

    const read = readEnrichedEvent(enriched(event));

    expect(read).toMatchObject({
      kind,
      eventId: event.eventId,
      timestamp: event.timestamp,
      agent: { id: event.agent.id },
      workflowId: event.workflowId,
      taskId: event.taskId,
    });
    expect(figuresOf(read)).toEqual(figuresOf(event));
  });

  it('refuses a record that is not JSON as DECODE_FAILED', () => {
    expect(thrownPanaceaError(() => readEnrichedEvent(Buffer.from('{'))).code).toBe(
      'DECODE_FAILED',
    );
  });

  it('names the missing field of a document it cannot count', () => {
    const document = toEnrichedDocument(FULL_INPUTS.heartbeat, SAMPLE_ENRICHMENT_CONTEXT);
    const broken = { ...document, panacea: { ...document.panacea, heartbeat: undefined } };

    const error = thrownPanaceaError(() => readEnrichedEvent(Buffer.from(JSON.stringify(broken))));

    expect(error.code).toBe('CONTRACT_VIOLATION');
    expect(error.context.field).toBe('panacea.heartbeat');
  });
});
