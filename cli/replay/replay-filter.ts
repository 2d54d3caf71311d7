/**
 * The `--agent`, `--workflow` and `--kind` filters of a replay, applied to the two kinds of
 * topic that hold events: the raw topics (Avro, decoded with the schema codec) and the enriched
 * topic (ECS JSON documents). Other topics hold metrics or alerts, which these filters do not
 * describe; asking to filter them is refused before anything is read.
 */
import { PanaceaError } from '../../core/errors.js';
import { kindOfRawTopic, type EventKind, type Naming } from '../../core/naming.js';
import type { StageRecord } from '../../core/stage-runner.js';
import type { SchemaCodec } from '../../schemas/codec.js';
import { readRawRecord } from '../../schemas/raw-record.js';
import type { ReplayFilter } from './replay-request.js';

/** What a filter needs to know of one event. */
export interface EventFacts {
  agentId: string;
  workflowId: string | undefined;
  kind: EventKind;
}

export function matchesFilter(filter: ReplayFilter, facts: EventFacts): boolean {
  if (filter.agentIds.length > 0 && !filter.agentIds.includes(facts.agentId)) return false;
  if (filter.workflowIds.length > 0) {
    if (facts.workflowId === undefined || !filter.workflowIds.includes(facts.workflowId)) {
      return false;
    }
  }
  if (filter.kinds.length > 0 && !filter.kinds.includes(facts.kind)) return false;
  return true;
}

/** Reads the facts of an enriched document: `gen_ai.agent.id`, `panacea.workflow.id`, `panacea.kind`. */
export function enrichedFacts(value: Buffer | null): EventFacts | undefined {
  try {
    const document = JSON.parse(value?.toString('utf8') ?? '') as {
      gen_ai?: { agent?: { id?: unknown } };
      panacea?: { kind?: unknown; workflow?: { id?: unknown } };
    };
    const agentId = document.gen_ai?.agent?.id;
    const kind = document.panacea?.kind;
    const workflowId = document.panacea?.workflow?.id;
    if (typeof agentId !== 'string' || typeof kind !== 'string') return undefined;
    return {
      agentId,
      kind: kind as EventKind,
      workflowId: typeof workflowId === 'string' ? workflowId : undefined,
    };
  } catch {
    return undefined;
  }
}

export type FilterVerdict = 'keep' | 'skip' | 'unreadable';

/**
 * Decides for each record of an event topic. A record whose event cannot be read cannot match a
 * filter; it is reported as unreadable and not replayed (with no filter, nothing is decoded and
 * such a record goes to the target, which dead-letters it as the live stage would).
 */
export function createEventFilter(
  filter: ReplayFilter,
  naming: Naming,
  codec: SchemaCodec | undefined,
): (record: StageRecord) => Promise<FilterVerdict> {
  return async (record) => {
    const facts = await factsOf(record, naming, codec);
    if (facts === undefined) return 'unreadable';
    return matchesFilter(filter, facts) ? 'keep' : 'skip';
  };
}

async function factsOf(
  record: StageRecord,
  naming: Naming,
  codec: SchemaCodec | undefined,
): Promise<EventFacts | undefined> {
  if (record.topic === naming.enrichedTopic()) return enrichedFacts(record.value);
  const kind = kindOfRawTopic(naming, record.topic);
  if (kind === undefined || codec === undefined) return undefined;
  try {
    const { event } = await readRawRecord(codec, record.value, kind);
    return { agentId: event.agent.id, workflowId: event.workflowId, kind: event.kind };
  } catch (error) {
    if (error instanceof PanaceaError && !error.retriable) return undefined;
    throw error;
  }
}

/** Whether the filters can apply to this topic: the raw topics and the enriched topic. */
export function isEventTopic(naming: Naming, topic: string): boolean {
  return topic === naming.enrichedTopic() || kindOfRawTopic(naming, topic) !== undefined;
}
