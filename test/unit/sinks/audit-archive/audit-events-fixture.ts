/**
 * Archives of real audit events for the retention, hold and export tests: each event encoded with
 * a codec on an in-memory registry, as the stage stores it, and each segment sealed with its
 * summary, in partition 0 of the fixture topic.
 */
import { openSchemaCodec, type SchemaCodec } from '../../../../schemas/codec.js';
import type { AuditEvent } from '../../../../schemas/event.js';
import { createMemoryRegistry } from '../../../../schemas/registry/memory-registry.js';
import type { ArchivedRecord } from '../../../../sinks/audit-archive/archived-record.js';
import type { SigningKey } from '../../../../sinks/audit-archive/chain-head.js';
import { PartitionArchive } from '../../../../sinks/audit-archive/partition-archive.js';
import type { SegmentStore } from '../../../../sinks/audit-archive/segment-store.js';
import { factsOf } from '../../../../sinks/audit-archive/segment-summary.js';
import { logger, TOPIC } from './archive-fixture.js';

export const DAY_MS = 86_400_000;

export function auditCodec(): Promise<SchemaCodec> {
  return openSchemaCodec(createMemoryRegistry());
}

export interface EventSpec {
  timeMs: number;
  actor?: string;
  resource?: string;
  outcome?: AuditEvent['audit']['outcome'];
  reason?: string;
}

let counter = 0;

export function auditEvent(spec: EventSpec): AuditEvent {
  counter += 1;
  return {
    kind: 'audit',
    eventId: `audit-${counter}`,
    timestamp: spec.timeMs,
    agent: { id: 'agent-7', name: 'researcher' },
    audit: {
      actor: { type: 'user', id: spec.actor ?? 'u-1' },
      action: 'secrets.read',
      resource: { type: 'secret', id: spec.resource ?? 's-1' },
      outcome: spec.outcome ?? 'success',
      ...(spec.reason === undefined ? {} : { reason: spec.reason }),
    },
  };
}

/** Seals one segment per list of events, offsets following on from 0; returns the events. */
export async function writeEventSegments(
  root: string,
  key: SigningKey,
  codec: SchemaCodec,
  segments: AuditEvent[][],
  store?: SegmentStore,
): Promise<AuditEvent[][]> {
  const archive = await PartitionArchive.open(root, TOPIC, 0, key, logger, store);
  let offset = Number(archive.nextOffset ?? 0n);
  for (const events of segments) {
    const firstOffset = offset;
    const records: ArchivedRecord[] = events.map((event) => ({
      topic: TOPIC,
      partition: 0,
      offset: offset++,
      // The Kafka time: when the record reached the broker, here a second after the event.
      timestampMs: event.timestamp + 1000,
      key: Buffer.from(event.agent.id),
      value: codec.encode(event),
      headers: [],
      eventId: event.eventId,
    }));
    await archive.append(
      records,
      BigInt(firstOffset),
      BigInt(offset - 1),
      0,
      events.map((event) => factsOf(event)),
    );
    await archive.seal();
  }
  return segments;
}
