/**
 * The one place where the SDK learns how an event becomes a record value. Everything else in the
 * SDK calls `encoder.encode(event)` and never imports a codec, so moving to another codec (a
 * schema registry's, say) changes DEFAULT_ENCODER below and nothing else.
 */
import { encodeEvent } from '../../schemas/codec.js';
import type { AgentEvent } from '../../schemas/event.js';

export interface EventEncoder {
  /** The record value of one valid event; throws a PanaceaError (ENCODE_FAILED) if it cannot. */
  encode(event: AgentEvent): Buffer;
}

/** Avro in the Confluent wire format, with the fixed schema ids of schemas/catalog.ts. */
export const DEFAULT_ENCODER: EventEncoder = { encode: encodeEvent };
