/**
 * The agent registry in its compacted Kafka topic (`<prefix>panacea.agents`): the enrichment and
 * `panacea agents` open it, read it to its end before using it, and keep tailing it while they
 * run, so an entry registered or removed in another process applies to later events.
 */
import { randomUUID } from 'node:crypto';

import {
  CompactedTopicReader,
  DEFAULT_CATCH_UP_TIMEOUT_MS,
  type CompactedTableOptions,
} from '../../../core/compacted-topic.js';
import { messageOf, PanaceaError } from '../../../core/errors.js';
import { createDurableProducer, type Producer } from '../../../core/kafka.js';
import type { AgentProfile } from './agent-profile.js';
import { agentRecord, AgentTable } from './agent-table.js';

export type AgentRegistryOptions = CompactedTableOptions;

export interface AgentRegistry {
  /** The entry of an agent as last read; does not wait for the topic (see `catchUp`). */
  profile(agentId: string): AgentProfile | undefined;
  list(): AgentProfile[];
  /** Waits until every entry written before the call is applied. */
  catchUp(): Promise<void>;
  /** Writes entries and waits until they are applied here. */
  register(profiles: readonly AgentProfile[]): Promise<void>;
  /** Writes tombstones for the ids and waits until they are applied here. */
  remove(agentIds: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export async function openAgentRegistry(options: AgentRegistryOptions): Promise<AgentRegistry> {
  const table = new AgentTable();
  const reader = new CompactedTopicReader({
    kafka: options.kafka,
    brokers: options.brokers,
    topic: options.topic,
    groupId: `${options.groupPrefix}panacea.agent-registry.${randomUUID()}`,
    logger: options.logger,
    catchUpTimeoutMs: options.catchUpTimeoutMs ?? DEFAULT_CATCH_UP_TIMEOUT_MS,
    unavailableCode: 'AGENT_REGISTRY_UNAVAILABLE',
    label: 'the agent registry',
    apply: ({ key, value, offset }) => {
      const result = table.applyRecord(key, value);
      if (result.applied === 'skipped') {
        options.logger.warn({ offset, problem: result.problem }, 'agent registry record skipped');
      }
    },
  });
  let producer: Producer | undefined;

  try {
    await reader.start();
  } catch (error) {
    await reader.close();
    throw toUnavailable(error, options.topic);
  }

  const send = async (messages: Array<{ key: string; value: string | null }>): Promise<void> => {
    if (messages.length === 0) return;
    try {
      if (producer === undefined) {
        producer = createDurableProducer(options.kafka);
        await producer.connect();
      }
      await producer.send({ topic: options.topic, acks: -1, messages });
    } catch (error) {
      throw toUnavailable(error, options.topic);
    }
    await reader.catchUp();
  };

  return {
    profile: (agentId) => table.get(agentId),
    list: () => table.list(),
    catchUp: () => reader.catchUp(),
    register: (profiles) => send(profiles.map(agentRecord)),
    remove: (agentIds) => send(agentIds.map((agentId) => ({ key: agentId, value: null }))),
    async close() {
      await Promise.allSettled([reader.close(), producer?.disconnect()]);
    },
  };
}

function toUnavailable(error: unknown, topic: string): PanaceaError {
  if (error instanceof PanaceaError) return error;
  return new PanaceaError(
    'AGENT_REGISTRY_UNAVAILABLE',
    `cannot use the agent registry in topic ${topic}: ${messageOf(error)}`,
    { topic },
    error,
  );
}
