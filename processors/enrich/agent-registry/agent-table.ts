/**
 * The agent registry as the enrichment reads it: a table of agent id → profile rebuilt from the
 * registry topic's records in order. A record with a value sets its key's entry, a tombstone (no
 * value) removes it. A record that is not a valid entry, or whose key is not its id, changes
 * nothing and is reported back, so a bad write by hand cannot break the stage or an agent's entry.
 */
import { messageOf } from '../../../core/errors.js';
import { validateAgentProfile, type AgentProfile } from './agent-profile.js';

export type AppliedRecord =
  { applied: 'set' | 'removed'; agentId: string } | { applied: 'skipped'; problem: string };

export class AgentTable {
  readonly #profiles = new Map<string, AgentProfile>();

  applyRecord(key: Buffer | null, value: Buffer | null): AppliedRecord {
    if (key === null || key.length === 0) {
      return { applied: 'skipped', problem: 'the record has no key (agent id)' };
    }
    const agentId = key.toString('utf8');
    if (value === null) {
      this.#profiles.delete(agentId);
      return { applied: 'removed', agentId };
    }

    let profile: AgentProfile;
    try {
      profile = validateAgentProfile(JSON.parse(value.toString('utf8')), `agent ${agentId}`);
    } catch (error) {
      return { applied: 'skipped', problem: messageOf(error) };
    }
    if (profile.id !== agentId) {
      return {
        applied: 'skipped',
        problem: `the record's key "${agentId}" is not its id "${profile.id}"`,
      };
    }
    this.#profiles.set(agentId, profile);
    return { applied: 'set', agentId };
  }

  get(agentId: string): AgentProfile | undefined {
    return this.#profiles.get(agentId);
  }

  /** Every entry, by agent id. */
  list(): AgentProfile[] {
    return [...this.#profiles.values()].sort((left, right) => left.id.localeCompare(right.id));
  }
}

/** The registry record of a profile: key = agent id, value = the profile as JSON. */
export function agentRecord(profile: AgentProfile): { key: string; value: string } {
  return { key: profile.id, value: JSON.stringify(profile) };
}
