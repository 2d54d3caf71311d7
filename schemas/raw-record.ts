/**
 * Reads a raw topic's record back into a contract event: Avro decode with the writer's schema id,
 * then the same contract checks every producer's input meets, then a check that the event's kind
 * belongs on the topic it came from. Any failure is a PanaceaError fit for a dead-letter reason.
 * Text that was not valid UTF-8 is not a failure: it arrives repaired (U+FFFD), and
 * `readRawRecord` says so for the enrichment to tag and count.
 */
import { PanaceaError } from '../core/errors.js';
import type { EventKind } from '../core/naming.js';
import type { SchemaCodec } from './codec.js';
import { describeProblems, validateEvent } from './contract.js';
import type { AgentEvent } from './event.js';

export interface RawEvent {
  event: AgentEvent;
  /** A text field was not valid UTF-8 on the wire and holds U+FFFD where its bad bytes were. */
  repairedUtf8: boolean;
}

export async function readRawEvent(
  codec: SchemaCodec,
  value: Buffer | null,
  expectedKind: EventKind | undefined,
): Promise<AgentEvent> {
  return (await readRawRecord(codec, value, expectedKind)).event;
}

export async function readRawRecord(
  codec: SchemaCodec,
  value: Buffer | null,
  expectedKind: EventKind | undefined,
): Promise<RawEvent> {
  const decoded = await codec.decode(value);

  const result = validateEvent(decoded.event);
  if (!result.ok) {
    throw new PanaceaError('CONTRACT_VIOLATION', describeProblems(result.problems), {
      field: result.problems[0]?.field,
    });
  }
  if (expectedKind !== undefined && result.event.kind !== expectedKind) {
    throw new PanaceaError(
      'KIND_TOPIC_MISMATCH',
      `a "${result.event.kind}" event (schema id ${decoded.schemaId}) arrived on the topic for "${expectedKind}" events`,
    );
  }
  return { event: result.event, repairedUtf8: decoded.repairedUtf8 };
}
