/**
 * `panacea audit hold add | list | remove`: legal holds on the audit archive. A change is signed
 * and chained onto the archive's hold log (sinks/audit-archive/hold-log.ts) under the archive
 * lock, with who made it (--by) and why (--reason), so a reviewer sees every hold placed or lifted.
 */
import { mkdir } from 'node:fs/promises';

import type { PanaceaConfig } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import { componentLogger } from '../../core/logger.js';
import { withArchiveLock } from '../../sinks/audit-archive/archive-lock.js';
import { openSegmentStore } from '../../sinks/audit-archive/open-segment-store.js';
import {
  HOLD_HEAD_FILE,
  HOLD_LOG_FILE,
  readHoldLog,
  recordHoldChange,
  type ActiveHold,
  type HoldChange,
  type HoldCriteria,
} from '../../sinks/audit-archive/hold-log.js';
import { EXIT_OK, parseCommandArgs, say } from '../command-line.js';
import {
  archiveRootOf,
  parseTime,
  resolvePublicKey,
  signingKeyForChanges,
} from './audit-support.js';

export async function auditHoldCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const [action, ...rest] = args;
  if (action === 'list') return listHolds(rest, config);
  if (action !== 'add' && action !== 'remove') {
    throw new PanaceaError(
      'USAGE',
      `audit hold: expected add, list or remove, got ${action === undefined ? 'nothing' : `"${action}"`}`,
    );
  }

  const { values, positionals } = parseCommandArgs(
    rest,
    {
      from: { type: 'string' },
      to: { type: 'string' },
      actor: { type: 'string' },
      resource: { type: 'string' },
      reason: { type: 'string' },
      by: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    action === 'remove',
  );
  const reason = requiredText('--reason', values.reason);
  const by = requiredText('--by', values.by);
  const criteria = action === 'add' ? criteriaOf(values) : undefined;
  const holdId = positionals[0];
  if (action === 'remove' && (positionals.length !== 1 || holdId === undefined)) {
    throw new PanaceaError('USAGE', 'audit hold remove: expected one HOLD_ID, such as hold-1');
  }
  if (
    action === 'remove' &&
    [values.from, values.to, values.actor, values.resource].some(Boolean)
  ) {
    throw new PanaceaError('USAGE', 'audit hold remove: a hold is lifted by its id only');
  }

  const root = archiveRootOf(config);
  await mkdir(root, { recursive: true });
  const key = await signingKeyForChanges(config, root, componentLogger('audit-hold'));
  const opened = await openSegmentStore(config.archive, root);
  let change: HoldChange;
  try {
    change = await withArchiveLock(root, `hold ${action}`, async () => {
      const recorded = await recordHoldChange(
        root,
        key,
        criteria !== undefined
          ? { action: 'add', criteria, reason, by }
          : { action: 'remove', holdId: holdId as string, reason, by },
      );
      // The bucket's copy of the archive carries the hold log too.
      await opened.store.mirror(HOLD_LOG_FILE, root);
      await opened.store.mirror(HOLD_HEAD_FILE, root);
      return recorded;
    });
  } finally {
    opened.close();
  }

  say(values.json ? JSON.stringify(change) : describeChange(change));
  return EXIT_OK;
}

async function listHolds(args: string[], config: PanaceaConfig): Promise<number> {
  const { values } = parseCommandArgs(args, {
    'public-key': { type: 'string' },
    history: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  const root = archiveRootOf(config);
  const key = resolvePublicKey(values['public-key'], config, root);
  const log = readHoldLog(root, key.publicKey);

  if (values.json) {
    say(JSON.stringify(values.history ? log : { active: log.active }));
    return EXIT_OK;
  }
  say(`active holds: ${log.active.length} (${log.changes.length} changes in the hold log)`);
  for (const hold of log.active) say(describeHold(hold));
  if (values.history) for (const change of log.changes) say(describeChange(change));
  return EXIT_OK;
}

function criteriaOf(values: {
  from?: string | undefined;
  to?: string | undefined;
  actor?: string | undefined;
  resource?: string | undefined;
}): HoldCriteria {
  // Stored in one form (UTC, milliseconds), whatever offset the command line used.
  const fromMs = parseTime('--from', values.from);
  const toMs = parseTime('--to', values.to);
  return {
    ...(fromMs === undefined ? {} : { from: new Date(fromMs).toISOString() }),
    ...(toMs === undefined ? {} : { to: new Date(toMs).toISOString() }),
    ...(values.actor === undefined ? {} : { actor: requiredId('--actor', values.actor) }),
    ...(values.resource === undefined
      ? {}
      : { resource: requiredId('--resource', values.resource) }),
  };
}

/** An id as given (ids are matched exactly), but never empty: no event has an empty id. */
function requiredId(option: string, value: string): string {
  if (value.trim() === '') {
    throw new PanaceaError('USAGE', `${option}: expected an id, got an empty text`);
  }
  return value;
}

function requiredText(option: string, value: string | undefined): string {
  if (value === undefined || value.trim() === '') {
    throw new PanaceaError('USAGE', `${option}: expected a non-empty text, got nothing`);
  }
  return value.trim();
}

function describeCriteria(criteria: HoldCriteria): string {
  const parts: string[] = [];
  if (criteria.from !== undefined || criteria.to !== undefined) {
    parts.push(`events ${criteria.from ?? 'any time'} to ${criteria.to ?? 'any time'}`);
  }
  if (criteria.actor !== undefined) parts.push(`actor ${criteria.actor}`);
  if (criteria.resource !== undefined) parts.push(`resource ${criteria.resource}`);
  return parts.join(', ');
}

function describeHold(hold: ActiveHold): string {
  return `${hold.holdId}: ${describeCriteria(hold.criteria)}; placed ${hold.placedAt} by ${hold.placedBy}: ${hold.reason}`;
}

function describeChange(change: HoldChange): string {
  const what =
    change.action === 'add'
      ? `placed ${change.holdId} (${describeCriteria(change.criteria ?? {})})`
      : `lifted ${change.holdId}`;
  return `#${change.sequence} ${change.at} ${change.by} ${what}: ${change.reason}`;
}
