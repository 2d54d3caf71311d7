/**
 * Publishes contract events: each is Avro-encoded with its schema id and sent to the raw topic of
 * its kind, keyed by agent id so one agent's events keep their order. A publish resolves once
 * every in-sync replica has the records.
 */
import type { Message, Producer } from 'kafkajs';

import { sendDurably } from '../core/kafka.js';
import type { Naming } from '../core/naming.js';
import { encodeEvent } from '../schemas/codec.js';
import type { AgentEvent } from '../schemas/event.js';

export interface EventPublisher {
  publish(events: readonly AgentEvent[]): Promise<void>;
}

export function createEventPublisher(producer: Producer, naming: Naming): EventPublisher {
  return {
    async publish(events) {
      if (events.length === 0) return;

      const messagesByTopic = new Map<string, Message[]>();
      for (const event of events) {
        const topic = naming.rawTopic(event.kind);
        const messages = messagesByTopic.get(topic) ?? [];
        messages.push({
          key: event.agent.id,
          value: encodeEvent(event),
          timestamp: String(Date.now()),
        });
        messagesByTopic.set(topic, messages);
      }

      await sendDurably(
        producer,
        [...messagesByTopic].map(([topic, messages]) => ({ topic, messages })),
      );
    },
  };
}
