/**
 * What retention asks of one data stream now: whether to roll its write index over and which
 * backing indices hold only expired data. Pure, so the decisions are tested without a server;
 * retention.ts reads the indices and acts on the plan.
 *
 * The unit of deletion is a backing index, as with Elasticsearch's own data stream lifecycle: an
 * index goes when its newest document is older than the retention, so expired documents that
 * share an index with current ones stay until the newest of them expires. Rolling over regularly
 * keeps that overhang small.
 */

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

export interface BackingIndexState {
  name: string;
  /** When the index was created: for all but the first, the moment the one before rolled over. */
  createdAtMs: number;
  docCount: number;
  /** The newest `@timestamp` in the index; undefined when it holds no document. */
  newestTimestampMs: number | undefined;
}

export interface DataStreamState {
  name: string;
  /** Oldest first; the last one is the write index, as Elasticsearch lists them. */
  backingIndices: BackingIndexState[];
}

export interface RetentionPolicy {
  retentionMs: number;
  /** The write index rolls over once it is this old (and holds something). */
  rolloverAfterMs: number;
}

export interface PlannedDeletion {
  index: string;
  /** Newest document, or for an empty index the time it stopped being written. */
  expiredAtMs: number;
}

export interface RetentionPlan {
  dataStream: string;
  rollover: undefined | 'max age' | 'only expired data';
  /** Never the write index, unless the planned rollover makes it a plain backing index first. */
  deletions: PlannedDeletion[];
}

/**
 * A tenth of the retention, from a minute to 30 days: data outlives its retention by at most about
 * a tenth (plus the enforcement interval), and a stream keeps about ten backing indices.
 */
export function rolloverAfterMsFor(retentionMs: number): number {
  return Math.min(30 * DAY_MS, Math.max(MINUTE_MS, Math.floor(retentionMs / 10)));
}

export function planRetention(
  stream: DataStreamState,
  policy: RetentionPolicy,
  nowMs: number,
): RetentionPlan {
  const cutoffMs = nowMs - policy.retentionMs;
  const indices = stream.backingIndices;
  const writeIndex = indices.at(-1);

  const rollover = writeIndex === undefined ? undefined : rolloverReason(writeIndex, policy, nowMs);
  // After a rollover the write index is a backing index like the others and may go at once.
  const candidates = rollover === undefined ? indices.slice(0, -1) : indices;

  const deletions: PlannedDeletion[] = [];
  candidates.forEach((index, position) => {
    const next = indices[position + 1];
    const stoppedAtMs = next?.createdAtMs ?? nowMs;
    const expiredAtMs = index.newestTimestampMs ?? stoppedAtMs;
    if (expiredAtMs < cutoffMs) deletions.push({ index: index.name, expiredAtMs });
  });
  return { dataStream: stream.name, rollover, deletions };
}

function rolloverReason(
  writeIndex: BackingIndexState,
  policy: RetentionPolicy,
  nowMs: number,
): RetentionPlan['rollover'] {
  // An empty write index never rolls over: that would only make more empty indices.
  if (writeIndex.docCount === 0 || writeIndex.newestTimestampMs === undefined) return undefined;
  if (writeIndex.newestTimestampMs < nowMs - policy.retentionMs) return 'only expired data';
  if (nowMs - writeIndex.createdAtMs >= policy.rolloverAfterMs) return 'max age';
  return undefined;
}
