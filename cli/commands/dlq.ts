/**
 * `panacea dlq inspect|replay`: the dead letters of this deployment, listed and re-driven.
 *
 *   panacea dlq inspect [--topic T]... [--stage S] [--reason CODE] [--json]
 *       every dead-letter topic (or the ones given) from start to its current end, grouped by
 *       stage and reason code: counts, first and last rejection, source topics, re-driven so far
 *   panacea dlq inspect --show TOPIC:PARTITION:OFFSET [--json]
 *       one dead letter: its headers, its key and its value decoded
 *   panacea dlq replay --reason CODE [--stage S] [--topic T]... [--dry-run] [--again]
 *       the matching dead letters back through the stage that rejected them (redrive-policy.ts);
 *       each re-driven one is recorded in the re-drive ledger and skipped by the next replay
 *       unless --again; exit 0 all re-driven, 1 some failed again or were refused, 2 usage or
 *       connection
 *
 * Dead-letter topics are read under throwaway consumer groups (core/topic-range.ts), so no
 * stage's offsets move. A replay's output for one batch of dead letters (enriched documents, new
 * dead letters, ledger entries) is written in one Kafka transaction: a replay that stops half-way
 * leaves each dead letter either re-driven and recorded, or untouched.
 */
import type { PanaceaConfig } from '../../core/config.js';
import { toDeadLetterMessage } from '../../core/dead-letter.js';
import { PanaceaError } from '../../core/errors.js';
import {
  type Admin,
  connectKafkaAdmin,
  createKafka,
  type Kafka,
  type Message,
  type Producer,
  sendDurably,
  type TopicMessages,
} from '../../core/kafka.js';
import { componentLogger } from '../../core/logger.js';
import { createNaming, type Naming } from '../../core/naming.js';
import type { StageRecord } from '../../core/stage-runner.js';
import { fencingProducer } from '../../core/transactional-commit.js';
import { ensureTopics } from '../../infra/topics.js';
import { openSchemaCodec, type SchemaCodec } from '../../schemas/codec.js';
import { openSchemaRegistry } from '../../schemas/registry/open-registry.js';
import type { SchemaRegistry } from '../../schemas/registry/schema-registry.js';
import { EXIT_OK, parseCommandArgs, say } from '../command-line.js';
import { withPrefix } from '../replay/target-topic.js';
import {
  DeadLetterGroups,
  formatGroups,
  matchesFilter,
  parsePosition,
  parseReasonCode,
  positionKey,
  REDRIVEN_FROM_HEADER,
  type DeadLetterEntry,
  type DeadLetterFilter,
} from '../dead-letters/dead-letter-entry.js';
import {
  deadLetterTopics,
  ledgerMessage,
  readDeadLetters,
  readOneDeadLetter,
  readRedriveLedger,
  type ReadingClients,
} from '../dead-letters/dead-letter-topics.js';
import {
  countRefusal,
  emptySummary,
  exitCodeOf,
  formatSummary,
  redriveModeOf,
  redriveModeOfEntry,
  type RedriveMode,
  type RedriveSummary,
} from '../dead-letters/redrive-policy.js';
import { type Redriver, Redrivers, sourceRecordOf } from '../dead-letters/redrivers.js';
import {
  decodeValue,
  describeKey,
  formatDecodedValue,
  type DecodedValue,
} from '../dead-letters/value-preview.js';

const logger = componentLogger('dlq');

export async function dlqCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'inspect': {
      // Topics are named as in `panacea replay`: without the deployment's prefix, or with it.
      const inspectArgs = readInspectArgs(rest);
      const show = inspectArgs.show;
      return inspect(
        {
          ...inspectArgs,
          topics: inspectArgs.topics.map((topic) => withPrefix(topic, config.topicPrefix)),
          ...(show === undefined
            ? {}
            : { show: { ...show, topic: withPrefix(show.topic, config.topicPrefix) } }),
        },
        config,
      );
    }
    case 'replay': {
      const replayArgs = readReplayArgs(rest);
      return replay(
        {
          ...replayArgs,
          topics: replayArgs.topics.map((topic) => withPrefix(topic, config.topicPrefix)),
        },
        config,
      );
    }
    default:
      throw new PanaceaError(
        'USAGE',
        `dlq: expected inspect or replay, got ${action === undefined ? 'nothing' : `"${action}"`}`,
      );
  }
}

export interface InspectArgs {
  topics: string[];
  filter: DeadLetterFilter;
  json: boolean;
  show?: { topic: string; partition: number; offset: bigint };
}

/** The arguments of `dlq inspect`, checked before anything connects. */
export function readInspectArgs(args: string[]): InspectArgs {
  const { values } = parseCommandArgs(args, {
    topic: { type: 'string', multiple: true },
    stage: { type: 'string' },
    reason: { type: 'string' },
    show: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  const filter = readFilter(values.stage, values.reason);
  if (values.show !== undefined) {
    if (values.topic !== undefined || values.stage !== undefined || values.reason !== undefined) {
      throw new PanaceaError(
        'USAGE',
        'dlq inspect --show: names one dead letter; --topic, --stage and --reason do not go with it',
      );
    }
    return { topics: [], filter, json: values.json, show: parsePosition('--show', values.show) };
  }
  return { topics: values.topic ?? [], filter, json: values.json };
}

export interface ReplayArgs {
  topics: string[];
  filter: DeadLetterFilter & { reasonCode: string };
  dryRun: boolean;
  /** Re-drive dead letters the ledger holds as re-driven already. */
  again: boolean;
}

/** The arguments of `dlq replay`, checked before anything connects. */
export function readReplayArgs(args: string[]): ReplayArgs {
  const { values } = parseCommandArgs(args, {
    topic: { type: 'string', multiple: true },
    stage: { type: 'string' },
    reason: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    again: { type: 'boolean', default: false },
  });
  if (values.reason === undefined) {
    throw new PanaceaError(
      'USAGE',
      'dlq replay --reason: required; re-drive one reason at a time, once its cause is fixed (`panacea dlq inspect` lists them)',
    );
  }
  const filter = readFilter(values.stage, values.reason);
  if (values.stage !== undefined) {
    const mode = redriveModeOf(values.stage);
    // `sink-webhooks` alone names every destination's stage: each decides for itself.
    if (mode.kind === 'refused' && values.stage !== 'sink-webhooks') {
      throw new PanaceaError(
        'USAGE',
        `dlq replay --stage ${values.stage}: not re-driven: ${mode.why}`,
      );
    }
  }
  return {
    topics: values.topic ?? [],
    filter: { ...filter, reasonCode: values.reason },
    dryRun: values['dry-run'],
    again: values.again,
  };
}

function readFilter(stage: string | undefined, reason: string | undefined): DeadLetterFilter {
  if (stage === '') throw new PanaceaError('USAGE', '--stage: expected a stage name, got ""');
  return {
    ...(stage === undefined ? {} : { stage }),
    ...(reason === undefined ? {} : { reasonCode: parseReasonCode('--reason', reason) }),
  };
}

interface Session extends ReadingClients {
  naming: Naming;
  signal: AbortSignal;
  codec(): Promise<SchemaCodec>;
}

/**
 * Connects, runs `work`, and closes everything. A replay first makes sure the deployment's topics
 * exist (the re-drive ledger among them); an inspection changes nothing.
 */
async function withSession<T>(
  config: PanaceaConfig,
  work: (session: Session) => Promise<T>,
  { createTopics = false } = {},
): Promise<T> {
  const naming = createNaming(config);
  const kafka: Kafka = createKafka(config, 'panacea-dlq');
  const admin: Admin = await connectKafkaAdmin(kafka, config.kafkaBrokers);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let registry: SchemaRegistry | undefined;
  let codec: Promise<SchemaCodec> | undefined;
  try {
    if (createTopics) await ensureTopics(admin, naming);
    return await work({
      kafka,
      admin,
      naming,
      groupPrefix: config.topicPrefix,
      signal: stop.signal,
      codec: () =>
        (codec ??= (async () => {
          registry = await openSchemaRegistry(config, kafka);
          return openSchemaCodec(registry);
        })()),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.allSettled([admin.disconnect(), registry?.close()]);
  }
}

async function inspect(args: InspectArgs, config: PanaceaConfig): Promise<number> {
  return withSession(config, async (session) => {
    if (args.show !== undefined) return showOne(session, args.show, args.json);

    const topics = await deadLetterTopics(session.admin, session.naming, args.topics);
    const redriven = await readRedriveLedger(session, session.naming);
    const groups = new DeadLetterGroups();
    await readDeadLetters(session, topics, async (entries) => {
      for (const entry of entries) {
        if (matchesFilter(entry, args.filter)) {
          groups.add(entry, redriven.has(positionKey(entry.dlq)));
        }
      }
    });

    if (args.json) {
      say(JSON.stringify({ topics, total: groups.total, groups: groups.list() }, null, 2));
      return EXIT_OK;
    }
    say(`${groups.total} dead letters in ${topics.length} topics: ${topics.join(', ')}`);
    for (const line of formatGroups(groups.list())) say(line);
    return EXIT_OK;
  });
}

async function showOne(
  session: Session,
  position: { topic: string; partition: number; offset: bigint },
  json: boolean,
): Promise<number> {
  const entry = await readOneDeadLetter(session, '--show', position);
  const decoded = await decodeValue(entry.value, async (value) =>
    (await session.codec()).decode(value).then((record) => record.event),
  );
  const redriven = await readRedriveLedger(session, session.naming);
  const isRedriven = redriven.has(positionKey(entry.dlq));

  if (json) {
    say(JSON.stringify(showDocument(entry, decoded, isRedriven), null, 2));
    return EXIT_OK;
  }
  say(`dead letter ${positionKey(entry.dlq)}${isRedriven ? ' (re-driven)' : ''}`);
  say(`stage: ${entry.stage}`);
  say(`reason code: ${entry.reasonCode}`);
  say(`reason: ${entry.reason}`);
  say(`source: ${positionKey(entry.source)}`);
  say(`rejected at: ${entry.rejectedAt}`);
  for (const [name, value] of Object.entries(entry.headers).sort(([a], [b]) =>
    a.localeCompare(b),
  )) {
    say(`header ${name}: ${value}`);
  }
  say(`key: ${describeKey(entry.key)}`);
  for (const line of formatDecodedValue(decoded)) say(line);
  return EXIT_OK;
}

function showDocument(
  entry: DeadLetterEntry,
  decoded: DecodedValue,
  redriven: boolean,
): Record<string, unknown> {
  let value: Record<string, unknown> = decoded;
  if (decoded.format === 'avro' || decoded.format === 'json') {
    const { json, ...described } = decoded;
    value = { ...described, decoded: JSON.parse(json) as unknown };
  }
  return {
    position: positionKey(entry.dlq),
    stage: entry.stage,
    reasonCode: entry.reasonCode,
    reason: entry.reason,
    source: entry.source,
    rejectedAt: entry.rejectedAt,
    headers: entry.headers,
    key: describeKey(entry.key),
    value,
    redriven,
  };
}

/** Re-driven dead letters' output, written in one transaction per batch. */
interface RedriveWrites {
  topicMessages: TopicMessages[];
}

async function replay(args: ReplayArgs, config: PanaceaConfig): Promise<number> {
  const summary = await withSession(
    config,
    async (session) => {
      const topics = await deadLetterTopics(session.admin, session.naming, args.topics);
      const redriven = await readRedriveLedger(session, session.naming);
      const result = emptySummary();
      if (args.dryRun) {
        await readDeadLetters(session, topics, async (entries) => {
          const selected = selectForRedrive(entries, args, redriven, result);
          for (const chosen of selected.values()) result.redriven += chosen.entries.length;
        });
        return result;
      }

      const redrivers = new Redrivers({ ...session, config });
      // One transactional id per deployment: a second replay running at the same time fences the
      // first, whose open transaction is aborted rather than committed twice.
      const producer = await fencingProducer(
        session.kafka,
        `${config.topicPrefix}panacea.dlq-replay`,
      );
      try {
        await readDeadLetters(session, topics, async (entries, heartbeat) => {
          const selected = selectForRedrive(entries, args, redriven, result);
          if (selected.size === 0) return;
          const writes: RedriveWrites = { topicMessages: [] };
          for (const chosen of selected.values()) {
            await redriveStage(chosen, { session, redrivers, heartbeat, result, writes });
          }
          await commitWrites(producer, writes);
        });
      } finally {
        await Promise.allSettled([redrivers.close(), producer.disconnect()]);
      }
      return result;
    },
    { createTopics: true },
  );

  const scope = [
    `reason ${args.filter.reasonCode}`,
    ...(args.filter.stage === undefined ? [] : [`stage ${args.filter.stage}`]),
  ].join(', ');
  say(`${args.dryRun ? 'dry run: ' : ''}dead letters with ${scope}`);
  for (const line of formatSummary(summary, args.dryRun)) say(line);
  return exitCodeOf(summary);
}

interface ChosenForStage {
  /** The stage that dead-lettered them. */
  stage: string;
  mode: Exclude<RedriveMode, { kind: 'refused' }>;
  entries: DeadLetterEntry[];
}

/**
 * The batch's dead letters to re-drive, by stage and mode; the rest is counted as matched,
 * skipped or refused.
 */
function selectForRedrive(
  entries: readonly DeadLetterEntry[],
  args: ReplayArgs,
  redriven: ReadonlySet<string>,
  summary: RedriveSummary,
): Map<string, ChosenForStage> {
  const selected = new Map<string, ChosenForStage>();
  for (const entry of entries) {
    if (!matchesFilter(entry, args.filter)) continue;
    summary.matched += 1;
    if (!args.again && redriven.has(positionKey(entry.dlq))) {
      summary.skipped += 1;
      continue;
    }
    const mode = redriveModeOfEntry(entry);
    if (mode.kind === 'refused') {
      countRefusal(summary, entry.stage, mode.why);
      continue;
    }
    const key = `${entry.stage}\u0000${JSON.stringify(mode)}`;
    const chosen = selected.get(key) ?? { stage: entry.stage, mode, entries: [] };
    chosen.entries.push(entry);
    selected.set(key, chosen);
  }
  return selected;
}

interface RedriveContext {
  session: Session;
  redrivers: Redrivers;
  heartbeat: () => Promise<void>;
  result: RedriveSummary;
  writes: RedriveWrites;
}

/**
 * One stage's dead letters of a batch through the stage. Dead letters of one source record (a
 * record rejected, re-driven and rejected again, replayed with --again) go through once; the
 * outcome is each one's.
 */
async function redriveStage(
  chosen: ChosenForStage,
  { session, redrivers, heartbeat, result, writes }: RedriveContext,
): Promise<void> {
  const { stage } = chosen;
  const bySource = new Map<string, DeadLetterEntry[]>();
  const records: StageRecord[] = [];
  for (const entry of chosen.entries) {
    const key = positionKey(entry.source);
    const same = bySource.get(key);
    if (same === undefined) {
      bySource.set(key, [entry]);
      records.push(sourceRecordOf(entry));
    } else {
      same.push(entry);
    }
  }

  let redriver: Redriver;
  try {
    redriver = await redrivers.for(chosen.mode);
  } catch (error) {
    // A destination no longer configured: nothing can take these; the rest goes on.
    if (!(error instanceof PanaceaError) || error.code !== 'CONFIG_INVALID') throw error;
    for (let count = 0; count < chosen.entries.length; count += 1) {
      countRefusal(result, stage, error.message);
    }
    return;
  }
  const outcome = await redriver.redrive(records, {
    signal: session.signal,
    heartbeat,
  });
  writes.topicMessages.push(...outcome.messages.filter((topic) => topic.messages.length > 0));

  const nowMs = Date.now();
  const failedAgain = new Map<string, string>();
  for (const { deadLetter, stage: refusedBy } of outcome.failed) {
    const sourceKey = positionKey(deadLetter.source);
    const origins = bySource.get(sourceKey) ?? [];
    const first = origins[0];
    if (first === undefined) continue;
    failedAgain.set(sourceKey, deadLetter.error.code);
    const message: Message = toDeadLetterMessage(deadLetter, refusedBy, nowMs);
    message.headers = { ...message.headers, [REDRIVEN_FROM_HEADER]: positionKey(first.dlq) };
    writes.topicMessages.push({
      topic: session.naming.deadLetterTopic(deadLetter.source.topic),
      messages: [message],
    });
    logger.warn(
      {
        stage: refusedBy,
        code: deadLetter.error.code,
        ...deadLetter.source,
        redrivenFrom: positionKey(first.dlq),
      },
      'dead letter failed again',
    );
  }

  const ledger: Message[] = [];
  const redrivenAt = new Date(nowMs).toISOString();
  for (const [sourceKey, origins] of bySource) {
    const newCode = failedAgain.get(sourceKey);
    for (const entry of origins) {
      if (newCode === undefined) result.redriven += 1;
      else result.failedAgain[newCode] = (result.failedAgain[newCode] ?? 0) + 1;
      ledger.push(
        ledgerMessage(entry, {
          stage,
          reasonCode: entry.reasonCode,
          outcome: newCode === undefined ? 'redriven' : 'failed-again',
          ...(newCode === undefined ? {} : { newReasonCode: newCode }),
          redrivenAt,
        }),
      );
    }
  }
  writes.topicMessages.push({ topic: session.naming.deadLetterRedrivenTopic(), messages: ledger });
}

async function commitWrites(producer: Producer, writes: RedriveWrites): Promise<void> {
  const transaction = await producer.transaction();
  try {
    await sendDurably(transaction, writes.topicMessages);
    await transaction.commit();
  } catch (error) {
    await transaction.abort().catch(() => undefined);
    throw error;
  }
}
