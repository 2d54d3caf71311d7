/**
 * `panacea agents register|list|remove`: keeps the agent registry (display name, team, owner,
 * environment and labels of each agent id) that the enrichment adds to every event of the agent.
 *
 *   panacea agents register ID --name NAME [--team T] [--owner O] [--env E] [--label k=v]...
 *   panacea agents register --file FILE      a JSON array of entries, or one JSON entry per line
 *   panacea agents list                      one JSON entry per line (what --file reads)
 *   panacea agents remove ID...              writes a tombstone for each registered id
 *
 * Entries are all checked before anything is written: one bad entry writes none and names the
 * entry and the field. Registering an id again replaces its whole entry.
 */
import { readFileSync } from 'node:fs';

import type { PanaceaConfig } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import { createKafka } from '../../core/kafka.js';
import { componentLogger } from '../../core/logger.js';
import { createNaming } from '../../core/naming.js';
import {
  validateAgentProfile,
  type AgentProfile,
} from '../../processors/enrich/agent-registry/agent-profile.js';
import {
  openAgentRegistry,
  type AgentRegistry,
} from '../../processors/enrich/agent-registry/kafka-agent-registry.js';
import { EXIT_OK, EXIT_PARTIAL, parseCommandArgs, say } from '../command-line.js';

export async function agentsCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'register': {
      const profiles = readRegistration(rest);
      return withAgentRegistry(config, async (registry) => {
        await registry.register(profiles);
        say(`registered ${profiles.length} ${profiles.length === 1 ? 'agent' : 'agents'}`);
        return EXIT_OK;
      });
    }
    case 'list':
      parseCommandArgs(rest, {});
      return withAgentRegistry(config, async (registry) => {
        for (const profile of registry.list()) say(JSON.stringify(profile));
        return EXIT_OK;
      });
    case 'remove':
      return withAgentRegistry(config, (registry) => removeAgents(registry, rest));
    default:
      throw new PanaceaError(
        'USAGE',
        `agents: expected register, list or remove, got ${action === undefined ? 'nothing' : `"${action}"`}`,
      );
  }
}

/** The entries `register` was given, checked; throws AGENT_INVALID or USAGE. */
export function readRegistration(args: string[]): AgentProfile[] {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      file: { type: 'string', short: 'f' },
      name: { type: 'string' },
      team: { type: 'string' },
      owner: { type: 'string' },
      env: { type: 'string' },
      label: { type: 'string', multiple: true },
    },
    true,
  );

  if (values.file !== undefined) {
    const extra = positionals.length > 0 || Object.keys(values).some((key) => key !== 'file');
    if (extra) throw new PanaceaError('USAGE', 'agents register: --file takes no other argument');
    return parseAgentFile(readText(values.file), values.file);
  }
  if (positionals.length !== 1) {
    throw new PanaceaError(
      'USAGE',
      `agents register: expected one agent id (or --file FILE), got ${positionals.length}`,
    );
  }
  const input: Record<string, unknown> = { id: positionals[0], name: values.name };
  if (values.team !== undefined) input.team = values.team;
  if (values.owner !== undefined) input.owner = values.owner;
  if (values.env !== undefined) input.environment = values.env;
  if (values.label !== undefined) input.labels = parseLabels(values.label);
  return [validateAgentProfile(input, `agent ${positionals[0]}`)];
}

/** `--label k=v` options as a map; a label given twice is refused rather than silently replaced. */
function parseLabels(options: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const option of options) {
    const equals = option.indexOf('=');
    if (equals <= 0) {
      throw new PanaceaError('AGENT_INVALID', `--label: expected KEY=VALUE, got "${option}"`, {
        field: 'labels',
      });
    }
    const key = option.slice(0, equals);
    if (Object.hasOwn(labels, key)) {
      throw new PanaceaError('AGENT_INVALID', `--label: "${key}" is given twice`, {
        field: `labels.${key}`,
      });
    }
    labels[key] = option.slice(equals + 1);
  }
  return labels;
}

/**
 * Entries from a file: a JSON array, or one JSON object per line (blank lines skipped). Each
 * problem names the entry (`line 3` or `entry 2`) and the field.
 */
export function parseAgentFile(text: string, file: string): AgentProfile[] {
  const content = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const entries: Array<{ where: string; input: unknown }> = [];
  if (content.trimStart().startsWith('[')) {
    const parsed = parseJson(content, `${file}`);
    if (!Array.isArray(parsed)) throw invalidJson(`${file}: expected a JSON array of entries`);
    parsed.forEach((input, index) => entries.push({ where: `${file}: entry ${index + 1}`, input }));
  } else {
    content.split('\n').forEach((line, index) => {
      if (line.trim() === '') return;
      const where = `${file}: line ${index + 1}`;
      entries.push({ where, input: parseJson(line, where) });
    });
  }
  if (entries.length === 0) {
    throw new PanaceaError('AGENT_INVALID', `${file}: holds no entries`, { file });
  }

  const profiles = entries.map(({ where, input }) => validateAgentProfile(input, where));
  const seen = new Set<string>();
  for (const [index, profile] of profiles.entries()) {
    if (seen.has(profile.id)) {
      throw new PanaceaError(
        'AGENT_INVALID',
        `${entries[index]?.where}: id "${profile.id}" is registered twice in the file`,
        { field: 'id' },
      );
    }
    seen.add(profile.id);
  }
  return profiles;
}

async function removeAgents(registry: AgentRegistry, args: string[]): Promise<number> {
  const { positionals } = parseCommandArgs(args, {}, true);
  if (positionals.length === 0) {
    throw new PanaceaError('USAGE', 'agents remove: expected one or more agent ids');
  }

  const known = positionals.filter((agentId) => registry.profile(agentId) !== undefined);
  for (const agentId of positionals.filter((id) => !known.includes(id))) {
    process.stderr.write(`agent ${agentId}: not registered; nothing removed\n`);
  }
  await registry.remove(known);
  say(`removed ${known.length} ${known.length === 1 ? 'agent' : 'agents'}`);
  return known.length === positionals.length ? EXIT_OK : EXIT_PARTIAL;
}

/** Opens the agent registry of `config`'s deployment for `run`, and closes it after. */
export async function withAgentRegistry(
  config: PanaceaConfig,
  run: (registry: AgentRegistry) => Promise<number>,
): Promise<number> {
  const naming = createNaming(config);
  const registry = await openAgentRegistry({
    kafka: createKafka(config, 'panacea-agents'),
    brokers: config.kafkaBrokers,
    topic: naming.agentRegistryTopic(),
    groupPrefix: config.topicPrefix,
    logger: componentLogger('agent-registry'),
  });
  try {
    return await run(registry);
  } finally {
    await registry.close();
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
    throw new PanaceaError('FILE_UNREADABLE', `${file}: cannot read it (${code})`, { file }, error);
  }
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidJson(`${where}: not valid JSON (${(error as Error).message})`);
  }
}

function invalidJson(message: string): PanaceaError {
  return new PanaceaError('INVALID_JSON', message);
}
