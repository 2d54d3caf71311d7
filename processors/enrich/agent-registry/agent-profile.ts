/**
 * An agent registry entry: what operators tell the pipeline about an agent that its events do not
 * carry (display name, team, owner, environment, labels). Entries are checked here, once, both
 * when `panacea agents register` writes them and when the enrichment reads them back, with a
 * problem that names the field.
 */
import { PanaceaError } from '../../../core/errors.js';
import { CONTRACT_LIMITS } from '../../../schemas/contract.js';

export interface AgentProfile {
  /** The agent id its events carry (`agent.id`), and the registry record's key. */
  id: string;
  /** Display name. */
  name: string;
  team?: string;
  owner?: string;
  /** Where the agent runs, e.g. `production`. */
  environment?: string;
  /** Free keyword labels, stored as ECS `labels.<key>`. */
  labels?: Record<string, string>;
}

export const AGENT_PROFILE_LIMITS = {
  idChars: CONTRACT_LIMITS.idChars,
  textChars: 256,
  labelCount: 32,
  labelValueChars: 256,
} as const;

const PROFILE_KEYS = ['id', 'name', 'team', 'owner', 'environment', 'labels'];
const OPTIONAL_TEXT_FIELDS = ['team', 'owner', 'environment'] as const;
// A dot would make `labels.a.b` an object path in Elasticsearch, and `a` beside `a.b` collide.
const LABEL_KEY = /^[A-Za-z0-9_-]{1,64}$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what it refuses
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** Checks an entry from a file, a command line or the registry topic; throws AGENT_INVALID. */
export function validateAgentProfile(input: unknown, where = 'agent'): AgentProfile {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw invalid(where, undefined, 'must be an object');
  }
  const entry = input as Record<string, unknown>;
  for (const key of Object.keys(entry)) {
    if (!PROFILE_KEYS.includes(key)) {
      throw invalid(where, key, `is not a known field (allowed: ${PROFILE_KEYS.join(', ')})`);
    }
  }

  const id = readText(entry.id, where, 'id', AGENT_PROFILE_LIMITS.idChars);
  const name = readText(entry.name, where, 'name', AGENT_PROFILE_LIMITS.textChars);
  const profile: AgentProfile = { id, name };
  for (const field of OPTIONAL_TEXT_FIELDS) {
    if (entry[field] !== undefined) {
      profile[field] = readText(entry[field], where, field, AGENT_PROFILE_LIMITS.textChars);
    }
  }
  if (entry.labels !== undefined) profile.labels = readLabels(entry.labels, where);
  return profile;
}

function readLabels(value: unknown, where: string): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(where, 'labels', 'must be an object of text values');
  }
  const entries = Object.entries(value);
  if (entries.length > AGENT_PROFILE_LIMITS.labelCount) {
    throw invalid(
      where,
      'labels',
      `must have at most ${AGENT_PROFILE_LIMITS.labelCount} keys, got ${entries.length}`,
    );
  }
  const labels: Record<string, string> = {};
  for (const [key, text] of entries) {
    if (!LABEL_KEY.test(key)) {
      throw invalid(where, `labels.${key}`, 'key must be 1-64 letters, digits, "_" or "-"');
    }
    labels[key] = readText(text, where, `labels.${key}`, AGENT_PROFILE_LIMITS.labelValueChars);
  }
  return labels;
}

function readText(value: unknown, where: string, field: string, maxChars: number): string {
  if (typeof value !== 'string') {
    throw invalid(
      where,
      field,
      value === undefined ? 'is required' : `must be text, got ${typeof value}`,
    );
  }
  if (value.trim() === '' || value.length > maxChars) {
    throw invalid(where, field, `must be 1-${maxChars} characters, not blank`);
  }
  if (CONTROL_CHARACTER.test(value))
    throw invalid(where, field, 'must not contain control characters');
  return value;
}

function invalid(where: string, field: string | undefined, problem: string): PanaceaError {
  return new PanaceaError(
    'AGENT_INVALID',
    `${where}: ${field === undefined ? '' : `${field} `}${problem}`,
    { field },
  );
}
