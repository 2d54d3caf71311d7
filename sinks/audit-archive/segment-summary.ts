/**
 * What a segment holds, in a few fields of its manifest entry: how many events, the range of their
 * event times, and which actor and resource ids appear in them. Retention and legal holds decide
 * from this alone, without reading (or decoding, which needs the schema registry) the segment.
 *
 * The id lists are bounded: past `MAX_SUMMARY_IDS` distinct ids a list is recorded as `null`,
 * which means "any id may be in it", so a hold on an actor or a resource keeps such a segment. A
 * segment written before summaries existed has none at all and is treated the same way. Both
 * errors go in the direction of keeping data, never of deleting held data.
 */
import type { AuditEvent } from '../../schemas/event.js';

/** Distinct actor or resource ids a summary lists before it gives up and records `null`. */
export const MAX_SUMMARY_IDS = 256;

export interface SegmentSummary {
  /** Events archived in the segment (records that were dead-lettered are not events here). */
  events: number;
  /** The oldest and newest event time (the event's own `timestamp`), RFC 3339; null if none. */
  oldestEventTime: string | null;
  newestEventTime: string | null;
  /** Distinct `audit.actor.id` values, sorted; null when there were more than MAX_SUMMARY_IDS. */
  actors: string[] | null;
  /** Distinct `audit.resource.id` values, sorted; null when there were more than MAX_SUMMARY_IDS. */
  resources: string[] | null;
}

/** The facts of one archived event that its segment's summary keeps. */
export interface EventFacts {
  eventTimeMs: number;
  actorId: string;
  resourceId: string;
}

export function factsOf(event: AuditEvent): EventFacts {
  return {
    eventTimeMs: event.timestamp,
    actorId: event.audit.actor.id,
    resourceId: event.audit.resource.id,
  };
}

/** Gathers a summary as a segment's events arrive; `summary()` reads it at the seal. */
export class SummaryBuilder {
  #events = 0;
  #oldestMs: number | undefined;
  #newestMs: number | undefined;
  #actors: Set<string> | null = new Set();
  #resources: Set<string> | null = new Set();

  add(facts: EventFacts): void {
    this.#events += 1;
    this.#oldestMs = Math.min(this.#oldestMs ?? facts.eventTimeMs, facts.eventTimeMs);
    this.#newestMs = Math.max(this.#newestMs ?? facts.eventTimeMs, facts.eventTimeMs);
    this.#actors = withBounded(this.#actors, facts.actorId);
    this.#resources = withBounded(this.#resources, facts.resourceId);
  }

  summary(): SegmentSummary {
    return {
      events: this.#events,
      oldestEventTime: isoOrNull(this.#oldestMs),
      newestEventTime: isoOrNull(this.#newestMs),
      actors: this.#actors === null ? null : [...this.#actors].sort(),
      resources: this.#resources === null ? null : [...this.#resources].sort(),
    };
  }
}

function withBounded(ids: Set<string> | null, id: string): Set<string> | null {
  if (ids === null) return null;
  ids.add(id);
  return ids.size > MAX_SUMMARY_IDS ? null : ids;
}

function isoOrNull(timeMs: number | undefined): string | null {
  return timeMs === undefined ? null : new Date(timeMs).toISOString();
}

/** A summary read from a manifest line, checked field by field; undefined when malformed. */
export function parseSummary(value: unknown): SegmentSummary | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const summary = value as Record<string, unknown>;
  const timeOrNull = (field: unknown): boolean =>
    field === null || (typeof field === 'string' && !Number.isNaN(Date.parse(field)));
  const idsOrNull = (field: unknown): boolean =>
    field === null || (Array.isArray(field) && field.every((id) => typeof id === 'string'));
  const wellFormed =
    Number.isInteger(summary.events) &&
    timeOrNull(summary.oldestEventTime) &&
    timeOrNull(summary.newestEventTime) &&
    idsOrNull(summary.actors) &&
    idsOrNull(summary.resources);
  return wellFormed ? (value as SegmentSummary) : undefined;
}
