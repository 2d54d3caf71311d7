/**
 * Publishes contract events: each is Avro-encoded with its schema id and sent to the raw topic of
 * its kind, keyed by agent id so one agent's events keep their order. A publish resolves once
 * every in-sync replica has the records.
 */

import { type Message, type Producer, sendDurably } from '../core/kafka.js';
import type { Naming } from '../core/naming.js';
import type { SchemaCodec } from '../schemas/codec.js';
import type { AgentEvent } from '../schemas/event.js';

/** An event as it goes to Kafka: its raw topic and the record. */
export interface EncodedEvent {
  topic: string;
  message: Message;
}

export interface EventPublisher {
  /** Encodes one event; throws `ENCODE_FAILED` for an event Avro cannot write. */
  encode(event: AgentEvent): EncodedEvent;
  publish(events: readonly AgentEvent[]): Promise<void>;
  /** Publishes events encoded beforehand, so a caller that checks them encodes each only once. */
  publishEncoded(events: readonly EncodedEvent[]): Promise<void>;
}

export function createEventPublisher(
  producer: Producer,
  naming: Naming,
  codec: SchemaCodec,
): EventPublisher {
  const encode = (event: AgentEvent): EncodedEvent => ({
    topic: naming.rawTopic(event.kind),
    message: { key: event.agent.id, value: codec.encode(event), timestamp: String(Date.now()) },
  });

  const publishEncoded = async (events: readonly EncodedEvent[]): Promise<void> => {
    if (events.length === 0) return;

    const messagesByTopic = new Map<string, Message[]>();
    for (const { topic, message } of events) {
      const messages = messagesByTopic.get(topic) ?? [];
      messages.push(message);
      messagesByTopic.set(topic, messages);
    }
    await sendDurably(
      producer,
      [...messagesByTopic].map(([topic, messages]) => ({ topic, messages })),
    );
  };

  return {
    encode,
    publish: (events) => publishEncoded(events.map(encode)),
    publishEncoded,
  };
}
