/**
 * Agent ids chosen by partition: tests that need a workflow spread over every partition of the
 * enriched topic pick its agents here.
 */
import { Partitioners, type PartitionMetadata } from 'kafkajs';

import { EVENT_TOPIC_PARTITIONS } from '../../infra/topics.js';

/**
 * One agent id per partition of the enriched topic, picked with the producer's own partitioner
 * (murmur2 of the key, the agent id), so a workflow of these agents spans every partition.
 */
export function agentsOnDistinctPartitions(
  label: string,
): { agentId: string; partition: number }[] {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata: PartitionMetadata[] = Array.from(
    { length: EVENT_TOPIC_PARTITIONS },
    (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    }),
  );
  const byPartition = new Map<number, string>();
  for (let candidate = 0; byPartition.size < EVENT_TOPIC_PARTITIONS; candidate += 1) {
    const agentId = `${label}-${candidate}`;
    const partition = partitioner({
      topic: 'any',
      partitionMetadata,
      message: { key: agentId, value: null },
    });
    if (!byPartition.has(partition)) byPartition.set(partition, agentId);
  }
  return [...byPartition]
    .sort(([a], [b]) => a - b)
    .map(([partition, agentId]) => ({ agentId, partition }));
}
