/**
 * Event ids for events that arrive without one. The id is a name-based UUID (RFC 9562 version 5)
 * of the event's content, so publishing the same line twice yields the same id and Elasticsearch
 * keeps one document: the id is the dedupe key end to end.
 */
import { createHash } from 'node:crypto';

// A fixed namespace UUID for Panacea event ids; changing it would change every derived id.
const EVENT_ID_NAMESPACE = Buffer.from('6f1c2a9e4b7d4e0a9c3f5b8d2e1a7c40', 'hex');

export function deriveEventId(content: unknown): string {
  const digest = createHash('sha1')
    .update(EVENT_ID_NAMESPACE)
    .update(canonicalJson(content))
    .digest();
  const bytes = digest.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** JSON with object keys sorted at every depth, so equal content always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, entry]) => entry !== undefined)
    .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
  return `{${entries.map(([key, entry]) => `${JSON.stringify(key)}:${canonicalJson(entry)}`).join(',')}}`;
}
