/**
 * The topic a replay or a rehydration copies records into (`--into topic:NAME`): named like
 * `--topic`, under the deployment's prefix, and refused where a copy would be read as new input.
 */
import { PanaceaError } from '../../core/errors.js';
import type { Admin } from '../../core/kafka.js';
import type { Naming } from '../../core/naming.js';
import { topicDefinitions } from '../../infra/topics.js';
import type { ReplayInto } from './replay-request.js';

/** `agent.audit` means the deployment's `<prefix>agent.audit`; a name with the prefix is kept. */
export function withPrefix(topic: string, prefix: string): string {
  return prefix === '' || topic.startsWith(prefix) ? topic : prefix + topic;
}

/** The target with the deployment's prefix on a topic name, as the sources get it. */
export function intoWithPrefix(into: ReplayInto, prefix: string): ReplayInto {
  return into.kind === 'topic' ? { kind: 'topic', topic: withPrefix(into.topic, prefix) } : into;
}

/**
 * Refuses a target topic that is a source of this replay, one of Kafka's own (`__…`), or one of
 * this deployment's pipeline topics that holds records: the live stages would read the copies as
 * new input, and the metrics and the archive would count them twice. Such a topic may be
 * refilled only when it is empty (lost and created again). Says whether the target exists.
 */
export async function checkTargetTopic(
  admin: Admin,
  naming: Naming,
  target: string,
  sources: readonly string[],
): Promise<{ exists: boolean }> {
  const option = `--into topic:${target}`;
  if (sources.includes(target)) {
    throw new PanaceaError(
      'USAGE',
      `${option}: the replay reads that topic; writing into it would replay it again`,
    );
  }
  if (target.startsWith('__')) {
    throw new PanaceaError('USAGE', `${option}: topics starting with __ are Kafka's own`);
  }
  const exists = (await admin.listTopics()).includes(target);
  const pipelineTopics = new Set(topicDefinitions(naming).map((definition) => definition.topic));
  if (exists && pipelineTopics.has(target)) {
    const offsets = await admin.fetchTopicOffsets(target);
    const records = offsets.reduce(
      (sum, partition) => sum + (BigInt(partition.high) - BigInt(partition.low)),
      0n,
    );
    if (records > 0n) {
      throw new PanaceaError(
        'USAGE',
        `${option}: a topic of this pipeline holding ${records} records; its stages would read the copies as new input (and count them twice). Copy into a topic of its own, or refill this one only once it is empty`,
      );
    }
  }
  return { exists };
}
