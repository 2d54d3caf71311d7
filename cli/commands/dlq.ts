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
 *       unless --again (an `enrich` one whose event went through is skipped even then); exit 0
 *       all re-driven, 1 some failed again or were refused, 2 usage or connection, or a batch
 *       that could not be re-driven in 120 s, 130 stopped by SIGINT or SIGTERM
 *
 * Dead-letter topics are read under throwaway consumer groups (core/topic-range.ts), so no
 * stage's offsets move. A replay's output for one batch of dead letters (enriched documents, new
 * dead letters, ledger entries) is written in one Kafka transaction: a replay that stops half-way
 * leaves each dead letter either re-driven and recorded, or untouched. Neither an inspection nor a
 * dry run creates anything; a real replay creates the ledger topic when it is missing.
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
import { printableUrl } from '../../core/elasticsearch-access.js';
import { openSchemaCodec, type SchemaCodec } from '../../schemas/codec.js';
import { openSchemaRegistry } from '../../schemas/registry/open-registry.js';
import type { SchemaRegistry } from '../../schemas/registry/schema-registry.js';
import { EXIT_OK, parseCommandArgs, say } from '../command-line.js';
import { withPrefix } from '../replay/target-topic.js';
import {
  DeadLetterGroups,
  formatGroups,
  formatInspectHeading,
  matchesFilter,
  parsePosition,
  parseReasonCode,
  positionKey,
  REDRIVEN_FROM_HEADER,
  type DeadLetterEntry,
  type DeadLetterFilter,
} from '../dead-letters/dead-letter-entry.js';
import {
  checkDeadLetterTopicName,
  deadLetterTopics,
  ensureRedriveLedgerTopic,
  ledgerMessage,
  readDeadLetters,
  readOneDeadLetter,
  readRedriveLedger,
  type ReadingClients,
} from '../dead-letters/dead-letter-topics.js';
import { asRedriveFailure, redriveWithin } from '../dead-letters/redrive-failures.js';
import {
  collectEnrichedSources,
  countRefusal,
  emptySummary,
  exitCodeOf,
  formatSummary,
  isKnownStage,
  mayMeetEnrich,
  redriveModeOf,
  selectForRedrive,
  type ChosenForStage,
  type RedriveSelection,
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

/** Stopped by SIGINT or SIGTERM before the replay was done, as a shell reports a SIGINT. */
const EXIT_INTERRUPTED = 130;

/** Options that take one value: given twice, the first would be dropped without a word. */
const SINGLE_OPTIONS = ['--reason', '--stage', '--show'];

export async function dlqCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'inspect': {
      // Topics are named as in `panacea replay`: without the deployment's prefix, or with it.
      const inspectArgs = readInspectArgs(rest);
      const show = inspectArgs.show;
      if (show !== undefined) {
        checkDeadLetterTopicName(
          '--show',
          withPrefix(show.topic, config.topicPrefix),
          createNaming(config),
        );
      }
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
  refuseRepeatedOptions(args);
  const { values } = parseCommandArgs(args, {
    topic: { type: 'string', multiple: true },
    stage: { type: 'string' },
    reason: { type: 'string' },
    show: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  const filter = readFilter(values.stage, values.reason);
  if (values.stage !== undefined && !isKnownStage(values.stage)) {
    throw new PanaceaError(
      'USAGE',
      `dlq inspect --stage ${values.stage}: no stage of this build is named "${values.stage}"`,
    );
  }
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
  refuseRepeatedOptions(args);
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

function refuseRepeatedOptions(args: readonly string[]): void {
  for (const option of SINGLE_OPTIONS) {
    const count = args.filter((arg) => arg === option || arg.startsWith(`${option}=`)).length;
    if (count > 1) {
      throw new PanaceaError('USAGE', `${option}: given ${count} times; give it once`);
    }
  }
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

/** Connects, runs `work`, and closes everything. Creates nothing. */
async function withSession<T>(
  config: PanaceaConfig,
  work: (session: Session) => Promise<T>,
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

/** Said instead of a table or a summary when the deployment has no dead-letter topic yet. */
function noDeadLetterTopics(config: PanaceaConfig): string {
  const prefix = config.topicPrefix === '' ? '(none)' : config.topicPrefix;
  return `no dead-letter topics under prefix ${prefix}: nothing has been dead-lettered`;
}

async function inspect(args: InspectArgs, config: PanaceaConfig): Promise<number> {
  return withSession(config, async (session) => {
    if (args.show !== undefined) return showOne(session, args.show, args.json);

    const topics = await deadLetterTopics(session.admin, session.naming, args.topics);
    if (topics.length === 0) {
      say(
        args.json
          ? JSON.stringify({ topics, total: 0, groups: [] }, null, 2)
          : noDeadLetterTopics(config),
      );
      return EXIT_OK;
    }
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
    say(formatInspectHeading(groups.total, topics));
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

/** How a replay ended short of its end, for the summary's first line and the exit code. */
type Ending = { kind: 'done' } | { kind: 'no-topics' } | { kind: 'interrupted' };

async function replay(args: ReplayArgs, config: PanaceaConfig): Promise<number> {
  const summary = emptySummary();
  // Set once dead letters are being read: a failure before that (a bad --topic) is only a usage
  // error, with no summary to print.
  const progress = { started: false };
  let ending: Ending;
  try {
    ending = await withSession(config, (session) =>
      redriveAll(session, args, config, summary, progress),
    );
  } catch (error) {
    const failure = asRedriveFailure(error);
    if (!progress.started) throw failure;
    // What was committed stays committed; the batch in hand goes with the next replay.
    const code = failure instanceof PanaceaError ? failure.code : 'an unexpected error';
    reportReplay(args, summary, `stopped by ${code}; what was done so far:`);
    throw failure;
  }

  if (ending.kind === 'no-topics') {
    say(noDeadLetterTopics(config));
    return EXIT_OK;
  }
  if (ending.kind === 'interrupted') {
    reportReplay(args, summary, 'interrupted: stopped by a signal; what was done so far:');
    return EXIT_INTERRUPTED;
  }
  reportReplay(args, summary);
  return exitCodeOf(summary);
}

function reportReplay(args: ReplayArgs, summary: RedriveSummary, outcome?: string): void {
  if (outcome !== undefined) say(outcome);
  const scope = [
    `reason ${args.filter.reasonCode}`,
    ...(args.filter.stage === undefined ? [] : [`stage ${args.filter.stage}`]),
  ].join(', ');
  say(`${args.dryRun ? 'dry run: ' : ''}dead letters with ${scope}`);
  for (const line of formatSummary(summary, args.dryRun)) say(line);
}

/**
 * Steps: find the dead-letter topics (none: say so, create nothing); read the ledger; under
 * `--again`, find the events an `enrich` re-drive published already; then read the dead letters
 * batch by batch, re-drive the chosen ones and commit each batch's output in one transaction.
 */
async function redriveAll(
  session: Session,
  args: ReplayArgs,
  config: PanaceaConfig,
  summary: RedriveSummary,
  progress: { started: boolean },
): Promise<Ending> {
  const topics = await deadLetterTopics(session.admin, session.naming, args.topics);
  if (topics.length === 0) return { kind: 'no-topics' };

  progress.started = true;
  try {
    const ledger = await readRedriveLedger(session, session.naming);
    const enrichedSources = new Set<string>();
    if (args.again && mayMeetEnrich(args.filter) && [...ledger.values()].includes('redriven')) {
      await readDeadLetters(session, topics, async (entries) =>
        collectEnrichedSources(entries, ledger, enrichedSources),
      );
    }
    const selection: RedriveSelection = {
      filter: args.filter,
      again: args.again,
      ledger,
      enrichedSources,
    };

    if (args.dryRun) {
      await readDeadLetters(session, topics, async (entries) => {
        const selected = selectForRedrive(entries, selection, summary);
        for (const chosen of selected.values()) summary.redriven += chosen.entries.length;
      });
      return { kind: 'done' };
    }
    await redriveTopics(session, topics, config, selection, enrichedSources, summary);
    return { kind: 'done' };
  } catch (error) {
    // The reading ends with STAGE_STOPPED at a signal; the writers too.
    if (session.signal.aborted) return { kind: 'interrupted' };
    throw error;
  }
}

async function redriveTopics(
  session: Session,
  topics: readonly string[],
  config: PanaceaConfig,
  selection: RedriveSelection,
  enrichedSources: Set<string>,
  summary: RedriveSummary,
): Promise<void> {
  await ensureRedriveLedgerTopic(session.admin, session.naming);
  const redrivers = new Redrivers({ ...session, config });
  // One transactional id per deployment: a second replay running at the same time fences the
  // first, whose open transaction is aborted rather than committed twice.
  const producer = await fencingProducer(session.kafka, `${config.topicPrefix}panacea.dlq-replay`);
  try {
    await readDeadLetters(session, topics, async (entries, heartbeat) => {
      const selected = selectForRedrive(entries, selection, summary);
      if (selected.size === 0) return;
      const writes: RedriveWrites = { topicMessages: [] };
      // Counted once the batch's transaction commits: a batch given up on is not re-driven.
      const batchSummary = emptySummary();
      const batchEnriched: string[] = [];
      for (const chosen of selected.values()) {
        await redriveStage(chosen, {
          session,
          config,
          redrivers,
          heartbeat,
          result: batchSummary,
          writes,
          enriched: batchEnriched,
        });
      }
      await commitWrites(producer, writes);
      addCounts(summary, batchSummary);
      for (const source of batchEnriched) enrichedSources.add(source);
    });
  } finally {
    await Promise.allSettled([redrivers.close(), producer.disconnect()]);
  }
}

/** A committed batch's outcomes added to the replay's (matched and skipped are counted already). */
function addCounts(summary: RedriveSummary, batch: RedriveSummary): void {
  summary.redriven += batch.redriven;
  for (const [code, count] of Object.entries(batch.failedAgain)) {
    summary.failedAgain[code] = (summary.failedAgain[code] ?? 0) + count;
  }
  for (const [stage, refusal] of batch.refused) {
    for (let counted = 0; counted < refusal.count; counted += 1) {
      countRefusal(summary, stage, refusal.why);
    }
  }
}

interface RedriveContext {
  session: Session;
  config: PanaceaConfig;
  redrivers: Redrivers;
  heartbeat: () => Promise<void>;
  result: RedriveSummary;
  writes: RedriveWrites;
  /** Source positions of the events an `enrich` re-drive of this batch published. */
  enriched: string[];
}

/** `3 dead letters of sink-elasticsearch from T partition 0 (offsets 4 to 9)`. */
function describeBatch(chosen: ChosenForStage): string {
  const first = chosen.entries[0];
  const last = chosen.entries.at(-1);
  const count = `${chosen.entries.length} dead ${chosen.entries.length === 1 ? 'letter' : 'letters'}`;
  if (first === undefined || last === undefined) return `${count} of ${chosen.stage}`;
  const offsets =
    first.dlq.offset === last.dlq.offset
      ? `offset ${first.dlq.offset}`
      : `offsets ${first.dlq.offset} to ${last.dlq.offset}`;
  return `a batch of ${count} of ${chosen.stage} from ${first.dlq.topic} partition ${first.dlq.partition} (${offsets})`;
}

/**
 * One stage's dead letters of a batch through the stage. Dead letters of one source record (a
 * record rejected, re-driven and rejected again, replayed with --again) go through once; the
 * outcome is each one's.
 */
async function redriveStage(
  chosen: ChosenForStage,
  { session, config, redrivers, heartbeat, result, writes, enriched }: RedriveContext,
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
  // The sinks' writers retry for as long as their signal lets them; a replay, which a person
  // waits for, gives a batch a bounded time and then says which batch and why.
  const outcome = await redriveWithin(
    {
      mode: chosen.mode,
      batch: describeBatch(chosen),
      ...(chosen.mode.kind === 'sink' ? { target: printableUrl(config.elasticsearchUrl) } : {}),
      signal: session.signal,
    },
    (signal) => redriver.redrive(records, { signal, heartbeat }),
  );
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
    if (newCode === undefined && chosen.mode.kind === 'enrich') enriched.push(sourceKey);
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
