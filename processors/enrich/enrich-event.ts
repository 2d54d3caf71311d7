/**
 * One raw event to its enriched document, in the order that keeps secrets out: redact the event's
 * text, normalise its attribute keys, build the ECS document, add what the agent registry knows,
 * then mark on the document what was changed. Every change is counted in the tally the stage sums.
 */
import type { AgentProfile } from './agent-registry/agent-profile.js';
import { normaliseAttributeKeys } from './attribute-keys.js';
import {
  toEnrichedDocument,
  type EnrichedDocument,
  type EnrichmentContext,
} from './ecs-document.js';
import { redactEvent, type RedactionCounts, type RedactionRule } from './redaction.js';
import type { AgentEvent, AttributeValue } from '../../schemas/event.js';
import type { RawEvent } from '../../schemas/raw-record.js';

/** Tags on a document the enrichment changed, and the names they are counted under. */
export const NORMALISATION_TAGS = {
  invalid_utf8: 'panacea.invalid_utf8',
  key_collision: 'panacea.key_collision',
} as const;

export type NormalisationName = keyof typeof NORMALISATION_TAGS;

/** What the enrichment changed, summed over events: redactions by rule, normalisations by name. */
export interface EnrichmentTally {
  redacted: RedactionCounts;
  normalised: Partial<Record<NormalisationName, number>>;
}

export interface EnrichmentRules {
  redactionRules: readonly RedactionRule[];
  /** The agent registry's entry of an agent id, or undefined for an unregistered agent. */
  agentProfile(agentId: string): AgentProfile | undefined;
}

export function createTally(): EnrichmentTally {
  return { redacted: {}, normalised: {} };
}

/** Adds the counts of `from` to `into`. */
export function addTally(into: EnrichmentTally, from: EnrichmentTally): void {
  for (const [rule, count] of Object.entries(from.redacted)) {
    into.redacted[rule] = (into.redacted[rule] ?? 0) + count;
  }
  for (const [name, count] of Object.entries(from.normalised) as [NormalisationName, number][]) {
    into.normalised[name] = (into.normalised[name] ?? 0) + count;
  }
}

export function enrichEvent(
  raw: RawEvent,
  context: EnrichmentContext,
  rules: EnrichmentRules,
  tally: EnrichmentTally,
): EnrichedDocument {
  const redactions: RedactionCounts = {};
  const redacted = redactEvent(raw.event, rules.redactionRules, redactions);

  const { event, movedKeys } = normaliseAttributes(redacted);

  const document = toEnrichedDocument(event, context);
  const profile = rules.agentProfile(raw.event.agent.id);
  if (profile !== undefined) addAgentProfile(document, profile);

  const normalised: NormalisationName[] = [];
  if (raw.repairedUtf8) normalised.push('invalid_utf8');
  if (movedKeys > 0) normalised.push('key_collision');
  if (normalised.length > 0) document.tags = normalised.map((name) => NORMALISATION_TAGS[name]);
  for (const name of normalised) tally.normalised[name] = (tally.normalised[name] ?? 0) + 1;

  const ruleNames = Object.keys(redactions).sort();
  if (ruleNames.length > 0) document.panacea.redactions = ruleNames;
  for (const [rule, count] of Object.entries(redactions)) {
    tally.redacted[rule] = (tally.redacted[rule] ?? 0) + count;
  }
  return document;
}

function normaliseAttributes(event: AgentEvent): { event: AgentEvent; movedKeys: number } {
  const attributes = attributesOf(event);
  if (attributes === undefined) return { event, movedKeys: 0 };

  const normalised = normaliseAttributeKeys(attributes);
  if (normalised.movedKeys === 0) return { event, movedKeys: 0 };
  if (event.kind === 'activity') {
    const activity = { ...event.activity, attributes: normalised.attributes };
    return { event: { ...event, activity }, movedKeys: normalised.movedKeys };
  }
  if (event.kind === 'error') {
    const error = { ...event.error, attributes: normalised.attributes };
    return { event: { ...event, error }, movedKeys: normalised.movedKeys };
  }
  return { event, movedKeys: 0 };
}

function attributesOf(event: AgentEvent): Record<string, AttributeValue> | undefined {
  if (event.kind === 'activity') return event.activity.attributes;
  if (event.kind === 'error') return event.error.attributes;
  return undefined;
}

/**
 * The registry's facts about the agent. The event's own `gen_ai.agent.name` wins (it is what the
 * agent called itself then); the registry's display name fills it when the event has none and is
 * always under `panacea.agent.display_name`. Team, owner and environment are Panacea's own fields;
 * labels go to ECS `labels`.
 */
function addAgentProfile(document: EnrichedDocument, profile: AgentProfile): void {
  document.gen_ai.agent.name ??= profile.name;
  document.panacea.agent = {
    registered: true,
    display_name: profile.name,
    ...(profile.team === undefined ? {} : { team: profile.team }),
    ...(profile.owner === undefined ? {} : { owner: profile.owner }),
    ...(profile.environment === undefined ? {} : { environment: profile.environment }),
  };
  if (profile.labels !== undefined && Object.keys(profile.labels).length > 0) {
    document.labels = { ...profile.labels };
  }
}
