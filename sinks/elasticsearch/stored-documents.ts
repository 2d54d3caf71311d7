/**
 * Which enriched documents their data stream already holds, in any backing index. The sink's
 * create-by-id finds a duplicate in the write index only; a replay or a re-drive of events older
 * than the stream's last rollover would store them again without this look-up. A document indexed
 * within the last refresh interval is not searchable yet, but it is still in the write index,
 * where create-by-id finds it.
 */
import type { Client } from '@elastic/elasticsearch';

import { EVENT_KINDS, type EventKind, type Naming } from '../../core/naming.js';
import type { StageRecord } from '../../core/stage-runner.js';

/** Ids per search: well under Elasticsearch's 10 000-hit window. */
const IDS_PER_SEARCH = 5_000;

/** The records whose document is already stored; records that name no kind or id are not. */
export async function storedDocuments(
  client: Client,
  naming: Naming,
  records: readonly StageRecord[],
): Promise<Set<StageRecord>> {
  // Every record per id: the same event published twice is two records of one document.
  const byStream = new Map<string, Map<string, StageRecord[]>>();
  for (const record of records) {
    const target = documentTarget(record);
    // Left to the sink, which dead-letters a document without a kind or an id.
    if (target === undefined) continue;
    const stream = naming.dataStream(target.kind);
    const ids = byStream.get(stream) ?? new Map<string, StageRecord[]>();
    ids.set(target.id, [...(ids.get(target.id) ?? []), record]);
    byStream.set(stream, ids);
  }

  const stored = new Set<StageRecord>();
  for (const [stream, ids] of byStream) {
    const allIds = [...ids.keys()];
    for (let start = 0; start < allIds.length; start += IDS_PER_SEARCH) {
      const values = allIds.slice(start, start + IDS_PER_SEARCH);
      const response = await client.search({
        index: stream,
        size: values.length,
        _source: false,
        query: { ids: { values } },
        ignore_unavailable: true,
        allow_no_indices: true,
      });
      for (const hit of response.hits.hits) {
        for (const record of hit._id === undefined ? [] : (ids.get(hit._id) ?? [])) {
          stored.add(record);
        }
      }
    }
  }
  return stored;
}

function documentTarget(record: StageRecord): { kind: EventKind; id: string } | undefined {
  try {
    const document = JSON.parse(record.value?.toString('utf8') ?? '') as {
      event?: { id?: unknown };
      panacea?: { kind?: unknown };
    };
    const kind = document.panacea?.kind;
    const id = document.event?.id;
    if (typeof id !== 'string' || id === '') return undefined;
    if (typeof kind !== 'string' || !(EVENT_KINDS as readonly string[]).includes(kind)) {
      return undefined;
    }
    return { kind: kind as EventKind, id };
  } catch {
    return undefined;
  }
}
