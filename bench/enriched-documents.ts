/**
 * The input the Elasticsearch benchmarks share: simulated-fleet events as the enrich stage turns
 * them into documents, and a fill of the enriched topic with them.
 */
import type { Kafka } from 'kafkajs';

import { createDurableProducer } from '../core/kafka.js';
import { toEnrichedDocument, type EnrichedDocument } from '../processors/enrich/ecs-document.js';
import { createSimulatedFleet } from '../producers/demo/simulated-fleet.js';
import type { AgentEvent } from '../schemas/event.js';

export const FLEET_AGENT_COUNT = 200;
export const FLEET_STEP_MS = 10_000;
const FILL_BATCH_SIZE = 1_000;

/** Simulated-fleet events as the enrich stage turns them into documents (no redaction rules). */
export function generateDocuments(count: number): EnrichedDocument[] {
  const nowMs = Date.now();
  const fleet = createSimulatedFleet(nowMs, { agentCount: FLEET_AGENT_COUNT });
  const events: AgentEvent[] = [];
  for (let clockMs = nowMs; events.length < count; clockMs += FLEET_STEP_MS) {
    events.push(...fleet.advanceTo(clockMs));
  }
  return events
    .slice(0, count)
    .map((event) => toEnrichedDocument(event, { ingestedAtMs: nowMs, createdAtMs: nowMs }));
}

export async function fillEnrichedTopic(
  kafka: Kafka,
  topic: string,
  documents: EnrichedDocument[],
) {
  const producer = createDurableProducer(kafka);
  await producer.connect();
  try {
    for (let start = 0; start < documents.length; start += FILL_BATCH_SIZE) {
      await producer.send({
        topic,
        acks: -1,
        messages: documents.slice(start, start + FILL_BATCH_SIZE).map((document) => ({
          key: document.gen_ai.agent.id,
          value: JSON.stringify(document),
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}
