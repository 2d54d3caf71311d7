/**
 * Reads what retention and `panacea es status` need about data streams and plain indices: backing
 * indices in order, creation dates, document counts, sizes and the oldest and newest `@timestamp`.
 * Uses only APIs the minimal Elasticsearch has (`_resolve/index`, `_settings`, `_stats`, a search
 * aggregation): its `GET _data_stream` is missing.
 */
import type { Client } from '@elastic/elasticsearch';

import type { BackingIndexState, DataStreamState } from './retention-policy.js';

export interface IndexState extends BackingIndexState {
  sizeBytes: number;
  oldestTimestampMs: number | undefined;
}

export interface StreamState extends DataStreamState {
  backingIndices: IndexState[];
}

/** The data streams among `names` that exist, each with its backing indices, oldest first. */
export async function readDataStreams(client: Client, names: string[]): Promise<StreamState[]> {
  if (names.length === 0) return [];
  const resolved = await client.indices.resolveIndex({
    name: names.join(','),
    expand_wildcards: 'all',
    ignore_unavailable: true,
    allow_no_indices: true,
  });
  const streams = resolved.data_streams.filter((stream) => names.includes(stream.name));
  const indexNames = streams.flatMap((stream) => [stream.backing_indices].flat());
  const details = await readIndexDetails(client, indexNames);

  return streams.map((stream) => ({
    name: stream.name,
    backingIndices: [stream.backing_indices].flat().map((index) => details(index)),
  }));
}

/** The plain indices among `names` that exist. */
export async function readPlainIndices(client: Client, names: string[]): Promise<IndexState[]> {
  if (names.length === 0) return [];
  const resolved = await client.indices.resolveIndex({
    name: names.join(','),
    ignore_unavailable: true,
    allow_no_indices: true,
  });
  const existing = resolved.indices.map((index) => index.name).filter((n) => names.includes(n));
  const details = await readIndexDetails(client, existing);
  return existing.map((index) => details(index));
}

/** Makes what was written so far visible to the reads that decide deletions. */
export async function refresh(client: Client, targets: string[]): Promise<void> {
  if (targets.length === 0) return;
  await client.indices.refresh({
    index: targets.join(','),
    ignore_unavailable: true,
    allow_no_indices: true,
  });
}

async function readIndexDetails(
  client: Client,
  indexNames: string[],
): Promise<(index: string) => IndexState> {
  if (indexNames.length === 0) return (index) => emptyState(index);
  const target = indexNames.join(',');

  const settings = await client.indices.getSettings({
    index: target,
    name: 'index.creation_date',
    ignore_unavailable: true,
    flat_settings: true,
  });
  const stats = await client.indices.stats({
    index: target,
    metric: ['docs', 'store'],
  });
  const search = await client.search({
    index: target,
    ignore_unavailable: true,
    allow_no_indices: true,
    size: 0,
    aggs: {
      by_index: {
        terms: { field: '_index', size: indexNames.length },
        aggs: {
          oldest: { min: { field: '@timestamp' } },
          newest: { max: { field: '@timestamp' } },
        },
      },
    },
  });
  const buckets =
    (search.aggregations?.by_index as { buckets?: TimestampBucket[] } | undefined)?.buckets ?? [];
  const timestamps = new Map(buckets.map((bucket) => [bucket.key, bucket]));

  return (index) => {
    const createdText = (settings[index]?.settings as Record<string, unknown> | undefined)?.[
      'index.creation_date'
    ];
    const primaries = stats.indices?.[index]?.primaries;
    const bucket = timestamps.get(index);
    return {
      name: index,
      createdAtMs: Number(createdText ?? 0),
      docCount: primaries?.docs?.count ?? 0,
      sizeBytes: primaries?.store?.size_in_bytes ?? 0,
      oldestTimestampMs: bucket?.oldest.value ?? undefined,
      newestTimestampMs: bucket?.newest.value ?? undefined,
    };
  };
}

interface TimestampBucket {
  key: string;
  oldest: { value: number | null };
  newest: { value: number | null };
}

function emptyState(index: string): IndexState {
  return {
    name: index,
    createdAtMs: 0,
    docCount: 0,
    sizeBytes: 0,
    oldestTimestampMs: undefined,
    newestTimestampMs: undefined,
  };
}
