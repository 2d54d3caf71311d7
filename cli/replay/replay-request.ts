/**
 * What `panacea replay` is asked to do, read from its arguments before anything connects: the
 * topics, the bounds, the filters, the target and whether it only counts.
 */
import { PanaceaError } from '../../core/errors.js';
import { EVENT_KINDS, type EventKind } from '../../core/naming.js';
import { parseRangeBound, type RangeBound } from '../../core/topic-range.js';
import { parseCommandArgs } from '../command-line.js';
import { requiredTime } from '../commands/audit-support.js';

/**
 * Where replayed records go: the deployment's own sinks, the same sinks under another
 * Elasticsearch namespace (to try a change side by side), or another topic, byte for byte.
 */
export type ReplayInto =
  | { kind: 'sinks' }
  | { kind: 'elasticsearch'; namespace: string }
  | { kind: 'topic'; topic: string };

export interface ReplayFilter {
  agentIds: string[];
  workflowIds: string[];
  kinds: EventKind[];
}

export interface ReplayRequest {
  /** Topic names as given; the deployment's prefix is added when a name lacks it. */
  topics: string[];
  from?: RangeBound;
  to?: RangeBound;
  filter: ReplayFilter;
  into: ReplayInto;
  dryRun: boolean;
  /** Read the audit archive (verified first) instead of a topic. */
  fromArchive: boolean;
  json: boolean;
}

/** Elasticsearch index names: lower case, no spaces or `\/*?"<>|,#:`, not starting with `-_+`. */
const NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9_]*$/;
const TOPIC_PATTERN = /^[a-zA-Z0-9._-]{1,249}$/;

/** Options that take one value: given twice, the first would be dropped without a word. */
const SINGLE_OPTIONS = ['--from', '--to', '--into'];

/** Elasticsearch names are at most 255 bytes; the longest Panacea adds to a namespace is 29. */
const MAX_NAMESPACE_LENGTH = 100;

export function parseReplayRequest(args: string[]): ReplayRequest {
  for (const option of SINGLE_OPTIONS) {
    const count = args.filter((arg) => arg === option || arg.startsWith(`${option}=`)).length;
    if (count > 1) {
      throw new PanaceaError('USAGE', `${option}: given ${count} times; give it once`);
    }
  }
  const { values } = parseCommandArgs(args, {
    topic: { type: 'string', multiple: true },
    from: { type: 'string' },
    to: { type: 'string' },
    agent: { type: 'string', multiple: true },
    workflow: { type: 'string', multiple: true },
    kind: { type: 'string', multiple: true },
    into: { type: 'string' },
    'dry-run': { type: 'boolean' },
    'from-archive': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const fromArchive = values['from-archive'] === true;
  const topics = listOf('--topic', values.topic);
  if (fromArchive && topics.length > 0) {
    throw new PanaceaError(
      'USAGE',
      '--from-archive reads the audit archive: it takes no --topic (the archive holds the raw audit topic)',
    );
  }
  if (!fromArchive && topics.length === 0) {
    throw new PanaceaError(
      'USAGE',
      '--topic: name at least one topic to replay (for example --topic agent.events.enriched), or --from-archive',
    );
  }
  for (const topic of topics) {
    if (!isTopicName(topic)) {
      throw new PanaceaError('USAGE', `--topic: "${topic}" is not a valid topic name`);
    }
  }

  const from = values.from === undefined ? undefined : boundOf('--from', values.from);
  const to = values.to === undefined ? undefined : boundOf('--to', values.to);
  if (fromArchive && (from?.kind === 'offsets' || to?.kind === 'offsets')) {
    throw new PanaceaError(
      'USAGE',
      '--from/--to: the archive is read by time; give RFC 3339 times with --from-archive',
    );
  }
  if (from?.kind === 'time' && to?.kind === 'time' && to.epochMs <= from.epochMs) {
    throw new PanaceaError(
      'USAGE',
      `--to ${to.text} is not after --from ${from.text}: the range [from, to) would be empty`,
    );
  }
  if (from?.kind === 'offsets' && to?.kind === 'offsets') {
    const fromPartitions = [...from.offsets.keys()].sort((a, b) => a - b).join(',');
    const toPartitions = [...to.offsets.keys()].sort((a, b) => a - b).join(',');
    if (fromPartitions !== toPartitions) {
      throw new PanaceaError(
        'USAGE',
        `--from names partitions ${fromPartitions} and --to names ${toPartitions}: offset bounds name the partitions to read, so both must name the same ones`,
      );
    }
    for (const [partition, start] of from.offsets) {
      const end = to.offsets.get(partition);
      if (end !== undefined && end < start) {
        throw new PanaceaError(
          'USAGE',
          `--to: offset ${end} of partition ${partition} is before --from's ${start}`,
        );
      }
    }
  }

  return {
    topics: [...new Set(topics)],
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
    filter: filterOf(values.agent, values.workflow, values.kind),
    into: intoOf(values.into),
    dryRun: values['dry-run'] === true,
    fromArchive,
    json: values.json === true,
  };
}

function boundOf(option: string, text: string): RangeBound {
  return parseRangeBound(option, text, (name, value) => requiredTime(name, value));
}

function filterOf(
  agents: string[] | undefined,
  workflows: string[] | undefined,
  kinds: string[] | undefined,
): ReplayFilter {
  const kindList = listOf('--kind', kinds);
  for (const kind of kindList) {
    if (!(EVENT_KINDS as readonly string[]).includes(kind)) {
      throw new PanaceaError(
        'USAGE',
        `--kind: "${kind}" is not an event kind; expected one of ${EVENT_KINDS.join(', ')}`,
      );
    }
  }
  for (const [option, list] of [
    ['--agent', agents],
    ['--workflow', workflows],
  ] as const) {
    if ((list ?? []).some((value) => value.trim() === '')) {
      throw new PanaceaError('USAGE', `${option}: expected an id, got an empty value`);
    }
  }

  return {
    agentIds: agents ?? [],
    workflowIds: workflows ?? [],
    kinds: kindList as EventKind[],
  };
}

/** Repeated values and comma-separated lists alike; an empty item is refused, not ignored. */
function listOf(option: string, values: string[] | undefined): string[] {
  const items = (values ?? []).flatMap((value) => value.split(','));
  if (items.some((item) => item.trim() === '')) {
    throw new PanaceaError('USAGE', `${option}: expected a value, got an empty one`);
  }
  return items;
}

function isTopicName(name: string): boolean {
  return TOPIC_PATTERN.test(name) && name !== '.' && name !== '..';
}

/** Where records go, as the summaries say it. */
export function describeInto(into: ReplayInto): string {
  if (into.kind === 'sinks') return 'the sinks';
  if (into.kind === 'elasticsearch') return `the Elasticsearch namespace ${into.namespace}`;
  return `topic ${into.topic}`;
}

export function isFiltering(filter: ReplayFilter): boolean {
  return filter.agentIds.length + filter.workflowIds.length + filter.kinds.length > 0;
}

function intoOf(text: string | undefined): ReplayInto {
  if (text === undefined || text === 'sinks') return { kind: 'sinks' };
  const [target, ...rest] = text.split(':');
  const name = rest.join(':');
  if (target === 'elasticsearch' || target === 'es') {
    if (!NAMESPACE_PATTERN.test(name) || name.length > MAX_NAMESPACE_LENGTH) {
      throw new PanaceaError(
        'USAGE',
        `--into ${text}: expected elasticsearch:NAMESPACE, a namespace of at most ${MAX_NAMESPACE_LENGTH} lower-case letters, digits and _ (the data streams become logs-agent.<kind>-NAMESPACE)`,
      );
    }
    return { kind: 'elasticsearch', namespace: name };
  }
  if (target === 'topic') {
    if (!isTopicName(name)) {
      throw new PanaceaError('USAGE', `--into ${text}: "${name}" is not a valid topic name`);
    }
    return { kind: 'topic', topic: name };
  }
  throw new PanaceaError(
    'USAGE',
    `--into ${text}: expected sinks, elasticsearch:NAMESPACE or topic:NAME`,
  );
}
