/**
 * `panacea import --format openhands FILE [--tz ZONE] [--agent-id ID]`: turns an existing agent
 * session into contract events and publishes them like `produce` does.
 */
import { readFile } from 'node:fs/promises';

import type { PanaceaConfig } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import { createNaming } from '../../core/naming.js';
import { importOpenHandsSession } from '../../producers/importers/openhands.js';
import type { AgentEvent } from '../../schemas/event.js';
import { EXIT_OK, parseCommandArgs, say } from '../command-line.js';
import { openPublisher } from '../publishing.js';

const FORMATS = ['openhands'] as const;

export async function importCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    { format: { type: 'string' }, tz: { type: 'string' }, 'agent-id': { type: 'string' } },
    true,
  );
  const file = positionals[0];
  if (values.format === undefined || !(FORMATS as readonly string[]).includes(values.format)) {
    throw new PanaceaError(
      'USAGE',
      `--format: expected one of ${FORMATS.join(', ')}, got ${values.format === undefined ? 'nothing' : `"${values.format}"`}`,
    );
  }
  if (file === undefined || positionals.length > 1)
    throw new PanaceaError('USAGE', 'expected exactly one FILE to import');

  const events = await readSession(file, values.tz, values['agent-id']);
  const publisher = await openPublisher(config, createNaming(config));
  try {
    await publisher.publish(events);
  } finally {
    await publisher.close();
  }

  const counts = countByKind(events);
  say(
    `published ${events.length} (${Object.entries(counts)
      .map(([kind, count]) => `${kind} ${count}`)
      .join(', ')}), rejected 0`,
  );
  return EXIT_OK;
}

/** Reads and converts the whole session first, so a bad file publishes nothing. */
export async function readSession(
  file: string,
  timeZone?: string,
  agentId?: string,
): Promise<AgentEvent[]> {
  let content: string;
  try {
    content = await readFile(file, 'utf8');
  } catch (error) {
    throw new PanaceaError(
      'FILE_UNREADABLE',
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      { file },
      error,
    );
  }
  return importOpenHandsSession(content, {
    sourceName: file,
    ...(timeZone === undefined ? {} : { timeZone }),
    ...(agentId === undefined ? {} : { agentId }),
  }).events;
}

function countByKind(events: AgentEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of events) counts[event.kind] = (counts[event.kind] ?? 0) + 1;
  return counts;
}
