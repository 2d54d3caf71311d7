/**
 * How far consumer groups have come: a group has caught up when, on every partition of its input
 * topics, its committed offset has reached the partition's end. Stages commit only after their
 * output is durable, so caught up also means flushed.
 */
import type { Admin } from './kafka.js';

export interface GroupInput {
  groupId: string;
  topics: string[];
  /**
   * For a stage that holds commits back until a unit of work is sealed (the audit archive), the
   * next offset it has read per `topic:partition`: it has caught up once that reaches the end,
   * and its stop seals and commits what it holds.
   */
  consumedPositions?: () => Map<string, bigint>;
}

export interface PartitionLag {
  groupId: string;
  topic: string;
  partition: number;
  lag: bigint;
}

export async function measureLag(admin: Admin, group: GroupInput): Promise<PartitionLag[]> {
  const committed = await admin.fetchOffsets({ groupId: group.groupId, topics: group.topics });
  const consumed = group.consumedPositions?.() ?? new Map<string, bigint>();
  const lags: PartitionLag[] = [];

  for (const topic of group.topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    const committedByPartition = new Map(
      (committed.find((entry) => entry.topic === topic)?.partitions ?? []).map((entry) => [
        entry.partition,
        BigInt(entry.offset),
      ]),
    );
    for (const end of ends) {
      const high = BigInt(end.high);
      // No commit yet (-1) means the group starts from the log start, which retention may move.
      const committedPosition = committedByPartition.get(end.partition) ?? -1n;
      const consumedPosition = consumed.get(`${topic}:${end.partition}`) ?? -1n;
      const position = consumedPosition > committedPosition ? consumedPosition : committedPosition;
      const start = position < 0n ? BigInt(end.low) : position;
      lags.push({
        groupId: group.groupId,
        topic,
        partition: end.partition,
        lag: high > start ? high - start : 0n,
      });
    }
  }
  return lags;
}

/**
 * Total lag of the groups, measured in the order given. Pass upstream stages first: a stage that
 * is caught up has already published its output, so a downstream stage measured after it sees
 * that output in its own lag.
 */
export async function totalLag(admin: Admin, groups: GroupInput[]): Promise<bigint> {
  let total = 0n;
  for (const group of groups) {
    for (const partition of await measureLag(admin, group)) total += partition.lag;
  }
  return total;
}
