/**
 * A kafkajs partition assigner that gives every partition of every subscribed topic to one member
 * of the group (the first by member id), and nothing to the others: they wait as hot standbys and
 * take over when the owner leaves. The alerts stage needs it because its state is one whole (a
 * fingerprint's alert can be fed by any partition of either input topic), so its input cannot be
 * shared out the way the metrics stage shares its per-partition state.
 */
import { AssignerProtocol, type PartitionAssigner } from '../../core/kafka.js';

export const SINGLE_OWNER_ASSIGNER = 'PanaceaSingleOwner';

export const singleOwnerAssigner: PartitionAssigner = ({ cluster }) => ({
  name: SINGLE_OWNER_ASSIGNER,
  version: 0,
  async assign({ members, topics }) {
    const [owner, ...standbys] = members.map(({ memberId }) => memberId).sort();
    if (owner === undefined) return [];
    const assignment = Object.fromEntries(
      topics.map((topic) => [
        topic,
        cluster.findTopicPartitionMetadata(topic).map((metadata) => metadata.partitionId),
      ]),
    );
    return [
      { memberId: owner, memberAssignment: encode(assignment) },
      ...standbys.map((memberId) => ({ memberId, memberAssignment: encode({}) })),
    ];
  },
  protocol({ topics }) {
    return {
      name: SINGLE_OWNER_ASSIGNER,
      metadata: AssignerProtocol.MemberMetadata.encode({
        version: 0,
        topics,
        userData: Buffer.alloc(0),
      }),
    };
  },
});

function encode(assignment: Record<string, number[]>): Buffer {
  return AssignerProtocol.MemberAssignment.encode({
    version: 0,
    assignment,
    userData: Buffer.alloc(0),
  });
}
