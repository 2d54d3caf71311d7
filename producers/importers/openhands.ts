/**
 * OpenHands importer: turns one saved OpenHands session (a JSON array of actions and observations,
 * as OpenHands writes trajectories) into contract events. Pure: the caller reads the file and
 * publishes the result; nothing here touches the disk or the network.
 *
 * The promise, per OpenHands entry:
 *
 * | OpenHands input                               | events                                     |
 * |-----------------------------------------------|--------------------------------------------|
 * | action + its observation (`cause` = its id)   | activity `succeeded`/`failed`, with        |
 * |                                               | `durationMs` = observation − action time   |
 * | action without an observation                 | activity `started`, no `durationMs`        |
 * | `run` observation, exit code ≠ 0 (or, with no | activity `failed` + error                  |
 * | exit code, `success: false`)                  | `openhands.CommandFailed`                  |
 * | `error` observation answering an action       | activity `failed` + error                  |
 * |                                               | `openhands.ActionFailed` with its text     |
 * | `error` observation answering no action       | error `openhands.AgentError`               |
 * | `change_agent_state` action,                  | heartbeat (state map below); the action's  |
 * | `agent_state_changed` observation             | own `null` observation adds nothing        |
 * | any other observation answering no action     | nothing: there is no action to measure     |
 *
 * - Activity `action` is `tool.<function_name>` for tool calls, else `openhands.<action>` (e.g.
 *   `openhands.message`). Status: a `run` result is `succeeded` only for exit code 0 (the exit code
 *   decides when present, else `success`; exit −1 after a timeout is `failed`); an `error`
 *   observation is `failed`; every other observation, `null` included, is `succeeded`.
 * - `durationMs` keeps the microseconds of the two timestamps: it is a number with up to three
 *   decimals (20:29:59.282034 → 20:30:29.862264 is 30580.23). Event timestamps are epoch
 *   milliseconds, truncated like the contract truncates RFC 3339 fractions.
 * - Activity attributes, each present only when the input has it: `openhands.action`,
 *   `openhands.event_id`, `openhands.source`, `openhands.observation`,
 *   `openhands.observation_id`, `tool.name`, `tool.call_id`, `llm.model`,
 *   `llm.usage.prompt_tokens`, `llm.usage.completion_tokens`, `llm.usage.total_tokens`,
 *   `llm.usage.cache_read_tokens`, `llm.usage.cache_creation_tokens`, `shell.command` (run only,
 *   first 1024 characters, `shell.command_truncated: true` when cut), `shell.exit_code`,
 *   `file.path` (edit, read). Message texts, thoughts and file contents are not copied.
 * - Agent state → heartbeat status: running, user_confirmed, rate_limited → `busy`; error →
 *   `error`; loading, init, awaiting_user_input, awaiting_user_confirmation, user_rejected,
 *   paused, stopped, finished, rejected → `idle`; a state this map does not know → `active`
 *   (alive, nothing more claimed). One heartbeat per state change: an announcement of the same
 *   OpenHands state less than 1 s after the last kept one is dropped, so a `change_agent_state`
 *   action and the `agent_state_changed` observation confirming it give one heartbeat, at the
 *   earlier time.
 * - Correlation: `workflowId` = `openhands-session-<sessionId>`; `taskId` = `openhands-<action id>`
 *   on activities and on the errors they cause; agent = `{ id, name: 'OpenHands', type:
 *   'openhands' }`, plus `version` from the first entry carrying a string `openhands_version`.
 * - Ids are deterministic, so importing a file twice yields the same ids: sessionId = first 12 hex
 *   characters of the SHA-256 of the file content; eventId = `openhands:<sessionId>:<id>` for an
 *   activity (id of the action), `…:<id>:error` for an error (id of the observation reporting it)
 *   and `…:<id>:heartbeat` for a heartbeat.
 * - Timestamps without a zone are read in `timeZone` (UTC by default); a timestamp that carries
 *   its own `Z` or `±hh:mm` keeps it. In an IANA zone, a wall-clock time that occurs twice (clocks
 *   going back) is the earlier instant and one skipped by clocks going forward is moved forward by
 *   the gap, as Temporal's "compatible" disambiguation does.
 * - Output is ordered by timestamp (to the microsecond), then by OpenHands id. Every event has
 *   passed `validateEvent`.
 * - Bad input throws PanaceaError `IMPORT_INVALID` naming the entry (its 0-based index in the
 *   array, and its OpenHands id when known), the field and the reason.
 */
import { createHash } from 'node:crypto';

import { messageOf, PanaceaError } from '../../core/errors.js';
import { CONTRACT_LIMITS, describeProblems, validateEvent } from '../../schemas/contract.js';
import type {
  ActivityBody,
  AgentEvent,
  AgentIdentity,
  AttributeValue,
  HeartbeatBody,
} from '../../schemas/event.js';
import { describeValue } from '../../schemas/describe-value.js';

export interface OpenHandsImportOptions {
  /** Name shown in errors, usually the file path. */
  sourceName: string;
  /**
   * How to read timestamps without a zone: 'UTC' (default), an IANA zone like 'Europe/Berlin', or
   * an offset like '+02:00'.
   */
  timeZone?: string;
  /**
   * Agent id to use; default derived: 'openhands-' + first 12 hex chars of sha256 of the file
   * content.
   */
  agentId?: string;
}

export interface ImportedEvents {
  events: AgentEvent[];
  sessionId: string;
}

type HeartbeatStatus = HeartbeatBody['status'];
type JsonObject = Record<string, unknown>;

const DEFAULT_TIME_ZONE = 'UTC';
const SESSION_ID_HEX_CHARS = 12;
const COMMAND_ATTRIBUTE_CHARS = CONTRACT_LIMITS.shortTextChars;
/** Two announcements of one state closer than this are one state change, not two. */
const SAME_STATE_WINDOW_US = 1_000_000;

const HEARTBEAT_STATUS_BY_AGENT_STATE = new Map<string, HeartbeatStatus>([
  ['loading', 'idle'],
  ['init', 'idle'],
  ['running', 'busy'],
  ['awaiting_user_input', 'idle'],
  ['awaiting_user_confirmation', 'idle'],
  ['user_confirmed', 'busy'],
  ['user_rejected', 'idle'],
  ['paused', 'idle'],
  ['stopped', 'idle'],
  ['finished', 'idle'],
  ['rejected', 'idle'],
  ['rate_limited', 'busy'],
  ['error', 'error'],
]);
const UNKNOWN_STATE_STATUS: HeartbeatStatus = 'active';

// Year, month, day, hour, minute, second, optional fraction (kept to the microsecond), optional
// zone. OpenHands writes Python's isoformat() of a naive datetime, so the zone is usually absent.
const ISO_DATE_TIME_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/;
const OFFSET_PATTERN = /^([+-])(\d{2}):(\d{2})$/;

/** One OpenHands entry after its shape was checked. */
interface OpenHandsEntry {
  /** 0-based position in the input array, for error messages. */
  index: number;
  id: number;
  /** Epoch microseconds; exact as a double until the year 2255. */
  timestampUs: number;
  source?: string;
  action?: string;
  observation?: string;
  cause?: number;
  raw: JsonObject;
}

interface WallClockFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** How zone-less wall-clock times are turned into instants. */
type WallClockZone =
  { kind: 'fixed'; offsetMs: number } | { kind: 'iana'; formatter: Intl.DateTimeFormat };

interface SessionContext {
  sourceName: string;
  sessionId: string;
  agent: AgentIdentity;
  workflowId: string;
}

/** An event before validation, with what it is sorted by. */
interface DraftEvent {
  sortUs: number;
  openhandsId: number;
  entry: OpenHandsEntry;
  event: AgentEvent;
}

interface StateAnnouncement {
  entry: OpenHandsEntry;
  agentState: string;
}

interface CommandOutcome {
  status: 'succeeded' | 'failed';
  exitCode?: number;
  /** Error event to emit beside the activity, when the outcome is a failure worth reporting. */
  failure?: { type: string; message: string };
}

interface ToolCall {
  functionName: string;
  callId?: string;
  model?: string;
  usage: Record<string, number>;
}

export function importOpenHandsSession(
  content: string,
  options: OpenHandsImportOptions,
): ImportedEvents {
  const sourceName = options.sourceName === '' ? 'OpenHands session' : options.sourceName;
  const zone = resolveTimeZone(options.timeZone ?? DEFAULT_TIME_ZONE);
  const sessionId = createHash('sha256')
    .update(content)
    .digest('hex')
    .slice(0, SESSION_ID_HEX_CHARS);
  const agentId = resolveAgentId(options.agentId, sessionId);

  const rows = parseRows(content, sourceName);
  const entries = rows.map((row, index) => readEntry(row, index, zone, sourceName));
  assertUniqueIds(entries, sourceName);

  const context: SessionContext = {
    sourceName,
    sessionId,
    agent: buildAgent(agentId, entries),
    workflowId: `openhands-session-${sessionId}`,
  };
  const drafts = buildDrafts(entries, context);

  // Each OpenHands id yields at most one event, so timestamp and id give a total order.
  drafts.sort((left, right) => left.sortUs - right.sortUs || left.openhandsId - right.openhandsId);
  const events = drafts.map((draft) => validateDraft(draft, sourceName));

  return { events, sessionId };
}

function resolveAgentId(agentId: string | undefined, sessionId: string): string {
  if (agentId === undefined) return `openhands-${sessionId}`;

  if (agentId.length === 0 || agentId.length > CONTRACT_LIMITS.idChars) {
    throw new PanaceaError(
      'IMPORT_INVALID',
      `agent id must be 1-${CONTRACT_LIMITS.idChars} characters, got ${agentId.length}`,
      { field: 'agentId' },
    );
  }
  return agentId;
}

function parseRows(content: string, sourceName: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (error: unknown) {
    const detail = messageOf(error);
    throw new PanaceaError(
      'IMPORT_INVALID',
      `${sourceName}: is not valid JSON (${detail}); expected a JSON array of OpenHands events`,
      { source: sourceName },
      error,
    );
  }

  if (!Array.isArray(parsed)) {
    throw new PanaceaError(
      'IMPORT_INVALID',
      `${sourceName}: expected a JSON array of OpenHands events, got ${describeValue(parsed)}`,
      { source: sourceName },
    );
  }
  return parsed;
}

function readEntry(
  row: unknown,
  index: number,
  zone: WallClockZone,
  sourceName: string,
): OpenHandsEntry {
  const fail = (field: string, reason: string, id?: number): never => {
    throw entryError(sourceName, index, id, field, reason);
  };
  if (!isPlainObject(row)) return fail('(entry)', `expected an object, got ${describeValue(row)}`);

  const id = row.id;
  if (!isNonNegativeInteger(id)) {
    return fail('id', `expected a non-negative integer, got ${describeValue(id)}`);
  }
  const timestampUs = readTimestampUs(row.timestamp, zone);
  if (typeof timestampUs === 'string') return fail('timestamp', timestampUs, id);

  const action = optionalString(row.action);
  const observation = optionalString(row.observation);
  if (action === undefined && observation === undefined) {
    fail('action', 'is missing: an entry needs a non-empty "action" or "observation" string', id);
  }
  if (action !== undefined && observation !== undefined) {
    fail('observation', 'must not appear beside "action": an entry is one or the other', id);
  }
  const cause = row.cause;
  if (cause !== undefined && cause !== null && !isNonNegativeInteger(cause)) {
    fail('cause', `expected the id of an action, got ${describeValue(cause)}`, id);
  }

  return dropUndefined({
    index,
    id,
    timestampUs,
    source: optionalString(row.source),
    action,
    observation,
    cause: isNonNegativeInteger(cause) ? cause : undefined,
    raw: row,
  });
}

/** Epoch microseconds, or the reason the value is not a usable timestamp. */
function readTimestampUs(value: unknown, zone: WallClockZone): number | string {
  if (typeof value !== 'string') {
    return `expected an ISO 8601 date-time string, got ${describeValue(value)}`;
  }
  const match = ISO_DATE_TIME_PATTERN.exec(value);
  if (match === null) {
    const expected = 'expected YYYY-MM-DDThh:mm:ss[.ffffff]';
    return `${describeValue(value)} is not an ISO 8601 date-time (${expected})`;
  }

  const [, year, month, day, hour, minute, second, fraction = '', ownOffset] = match;
  const wallClock: WallClockFields = {
    year: Number(year),
    month: Number(month),
    day: Number(day),
    hour: Number(hour),
    minute: Number(minute),
    second: Number(second),
  };
  if (!isRealCalendarTime(wallClock)) {
    return `${describeValue(value)} is not a real calendar date and time`;
  }

  const wallClockMs = Date.UTC(
    wallClock.year,
    wallClock.month - 1,
    wallClock.day,
    wallClock.hour,
    wallClock.minute,
    wallClock.second,
  );
  const fractionUs = Number(fraction.padEnd(6, '0').slice(0, 6));
  if (ownOffset !== undefined) {
    const offsetMs = ownOffset === 'Z' ? 0 : parseOffsetMs(ownOffset);
    if (offsetMs === undefined)
      return `${describeValue(value)} has an offset outside -23:59..+23:59`;
    return (wallClockMs - offsetMs) * 1000 + fractionUs;
  }
  return wallClockToEpochMs(wallClockMs, zone) * 1000 + fractionUs;
}

function resolveTimeZone(value: string): WallClockZone {
  if (value === 'Z') return { kind: 'fixed', offsetMs: 0 };
  if (OFFSET_PATTERN.test(value)) {
    const offsetMs = parseOffsetMs(value);
    if (offsetMs !== undefined) return { kind: 'fixed', offsetMs };
  } else if (value !== '') {
    try {
      const formatter = new Intl.DateTimeFormat('en-US', {
        timeZone: value,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
      return { kind: 'iana', formatter };
    } catch (error: unknown) {
      // Intl throws a RangeError for a zone it does not know; that is the bad value reported below.
      if (!(error instanceof RangeError)) throw error;
    }
  }

  throw new PanaceaError(
    'IMPORT_INVALID',
    `time zone "${value}" is not valid: expected "UTC", an IANA zone such as "Europe/Berlin", ` +
      'or an offset such as "+02:00" (-23:59..+23:59)',
    { field: 'tz' },
  );
}

function parseOffsetMs(value: string): number | undefined {
  const match = OFFSET_PATTERN.exec(value);
  if (match === null) return undefined;

  const [, sign, hours, minutes] = match;
  if (Number(hours) > 23 || Number(minutes) > 59) return undefined;
  const magnitudeMs = (Number(hours) * 60 + Number(minutes)) * 60_000;
  return sign === '-' ? -magnitudeMs : magnitudeMs;
}

/**
 * The instant at which a wall clock in `zone` showed `wallClockMs` (the wall-clock fields read as
 * if UTC). The zone's offset is sampled a day either side, so a transition in between is seen: a
 * time that occurs twice takes the earlier instant, a skipped time takes the offset from before
 * the gap, which moves it forward by the gap's length.
 */
function wallClockToEpochMs(wallClockMs: number, zone: WallClockZone): number {
  if (zone.kind === 'fixed') return wallClockMs - zone.offsetMs;

  const dayMs = 86_400_000;
  const offsetBeforeMs = zoneOffsetMs(zone.formatter, wallClockMs - dayMs);
  const offsetAfterMs = zoneOffsetMs(zone.formatter, wallClockMs + dayMs);
  const candidates = [wallClockMs - offsetBeforeMs, wallClockMs - offsetAfterMs].filter(
    (instantMs) => instantMs + zoneOffsetMs(zone.formatter, instantMs) === wallClockMs,
  );

  if (candidates.length === 0) return wallClockMs - offsetBeforeMs;
  return Math.min(...candidates);
}

/** The zone's offset from UTC at an instant, in milliseconds (east positive). */
function zoneOffsetMs(formatter: Intl.DateTimeFormat, instantMs: number): number {
  const wholeSecondMs = Math.floor(instantMs / 1000) * 1000;
  const parts = new Map(
    formatter.formatToParts(wholeSecondMs).map((part) => [part.type, Number(part.value)]),
  );
  const read = (type: Intl.DateTimeFormatPartTypes): number => parts.get(type) ?? 0;

  const wallClockMs = Date.UTC(
    read('year'),
    read('month') - 1,
    read('day'),
    read('hour'),
    read('minute'),
    read('second'),
  );
  return wallClockMs - wholeSecondMs;
}

function assertUniqueIds(entries: readonly OpenHandsEntry[], sourceName: string): void {
  const indexById = new Map<number, number>();
  for (const entry of entries) {
    const firstIndex = indexById.get(entry.id);
    if (firstIndex !== undefined) {
      throw entryError(
        sourceName,
        entry.index,
        entry.id,
        'id',
        `repeats the id of entry ${firstIndex}`,
      );
    }
    indexById.set(entry.id, entry.index);
  }
}

function buildAgent(agentId: string, entries: readonly OpenHandsEntry[]): AgentIdentity {
  const version = entries
    .map((entry) => optionalString(entry.raw.openhands_version))
    .find((candidate) => candidate !== undefined);

  return dropUndefined({ id: agentId, name: 'OpenHands', type: 'openhands', version });
}

function buildDrafts(entries: readonly OpenHandsEntry[], context: SessionContext): DraftEvent[] {
  const observationByActionId = pairObservations(entries, context.sourceName);
  const drafts: DraftEvent[] = [];
  const announcements: StateAnnouncement[] = [];

  for (const entry of entries) {
    if (entry.action === 'change_agent_state') {
      announcements.push({ entry, agentState: readAgentState(entry, 'args', context) });
    } else if (entry.action !== undefined) {
      const observation = observationByActionId.get(entry.id);
      drafts.push(...buildActivityDrafts(entry, observation, context));
    } else if (entry.observation === 'agent_state_changed') {
      announcements.push({ entry, agentState: readAgentState(entry, 'extras', context) });
    } else if (entry.observation === 'error' && !isAnswer(entry, observationByActionId)) {
      drafts.push(buildErrorDraft(entry, undefined, agentErrorOf(entry), context));
    }
  }

  drafts.push(...buildHeartbeatDrafts(announcements, context));
  return drafts;
}

/** Maps each action id to the observation answering it; an answer to no action stays unpaired. */
function pairObservations(
  entries: readonly OpenHandsEntry[],
  sourceName: string,
): Map<number, OpenHandsEntry> {
  const actionIds = new Set(
    entries.filter((entry) => entry.action !== undefined).map((entry) => entry.id),
  );
  const observationByActionId = new Map<number, OpenHandsEntry>();

  for (const entry of entries) {
    if (entry.observation === undefined || entry.cause === undefined) continue;
    if (!actionIds.has(entry.cause)) continue;

    const earlier = observationByActionId.get(entry.cause);
    if (earlier !== undefined) {
      throw entryError(
        sourceName,
        entry.index,
        entry.id,
        'cause',
        `points at action ${entry.cause}, which observation ${earlier.id} already answers`,
      );
    }
    observationByActionId.set(entry.cause, entry);
  }
  return observationByActionId;
}

function isAnswer(
  entry: OpenHandsEntry,
  observationByActionId: Map<number, OpenHandsEntry>,
): boolean {
  return entry.cause !== undefined && observationByActionId.get(entry.cause) === entry;
}

function buildActivityDrafts(
  action: OpenHandsEntry,
  observation: OpenHandsEntry | undefined,
  context: SessionContext,
): DraftEvent[] {
  const toolCall =
    readToolCall(action, context) ?? (observation && readToolCall(observation, context));
  const args = isPlainObject(action.raw.args) ? action.raw.args : {};
  const actionName =
    toolCall === undefined ? `openhands.${action.action}` : `tool.${toolCall.functionName}`;

  const outcome = observation === undefined ? undefined : readOutcome(action, observation, args);
  const durationMs =
    observation === undefined ? undefined : readDurationMs(action, observation, context);
  const attributes = buildAttributes(action, observation, args, toolCall, outcome);

  const activity: ActivityBody = dropUndefined({
    action: actionName,
    status: outcome?.status ?? 'started',
    durationMs,
    attributes,
  });
  const activityDraft: DraftEvent = {
    sortUs: action.timestampUs,
    openhandsId: action.id,
    entry: action,
    event: {
      kind: 'activity',
      ...envelope(context, action, `${action.id}`),
      taskId: taskIdOf(action),
      activity,
    },
  };
  if (observation === undefined || outcome?.failure === undefined) return [activityDraft];

  return [activityDraft, buildErrorDraft(observation, action, outcome.failure, context)];
}

function readOutcome(
  action: OpenHandsEntry,
  observation: OpenHandsEntry,
  args: JsonObject,
): CommandOutcome {
  if (observation.observation === 'error') {
    const text = observationText(observation) ?? 'OpenHands reported an error without text';
    return {
      status: 'failed',
      failure: { type: 'openhands.ActionFailed', message: `${action.action} failed: ${text}` },
    };
  }
  if (observation.observation !== 'run') return { status: 'succeeded' };

  const extras = isPlainObject(observation.raw.extras) ? observation.raw.extras : {};
  const metadata = isPlainObject(extras.metadata) ? extras.metadata : {};
  const exitCode = [metadata.exit_code, extras.exit_code].find((candidate): candidate is number =>
    Number.isInteger(candidate),
  );
  const success =
    typeof observation.raw.success === 'boolean' ? observation.raw.success : undefined;
  // The exit code is what the shell said; `success` is OpenHands' reading of it and only decides
  // when no exit code was recorded.
  const succeeded = exitCode !== undefined ? exitCode === 0 : success !== false;
  if (succeeded) return dropUndefined({ status: 'succeeded' as const, exitCode });

  const command = optionalString(args.command) ?? optionalString(extras.command) ?? '(unknown)';
  const suffix = optionalString(metadata.suffix)
    ?.trim()
    .replace(/^\[(.*)\]$/s, '$1');
  const failedHow =
    exitCode === undefined ? 'failed (no exit code recorded)' : `failed with exit code ${exitCode}`;
  const message = `command \`${truncate(command, COMMAND_ATTRIBUTE_CHARS)}\` ${failedHow}`;
  return dropUndefined({
    status: 'failed' as const,
    exitCode,
    failure: {
      type: 'openhands.CommandFailed',
      message: suffix === undefined || suffix === '' ? message : `${message}: ${suffix}`,
    },
  });
}

function readDurationMs(
  action: OpenHandsEntry,
  observation: OpenHandsEntry,
  context: SessionContext,
): number {
  const durationUs = observation.timestampUs - action.timestampUs;
  if (durationUs < 0) {
    throw entryError(
      context.sourceName,
      observation.index,
      observation.id,
      'timestamp',
      `is before the timestamp of action ${action.id}, which this observation answers`,
    );
  }
  return durationUs / 1000;
}

function buildAttributes(
  action: OpenHandsEntry,
  observation: OpenHandsEntry | undefined,
  args: JsonObject,
  toolCall: ToolCall | undefined,
  outcome: CommandOutcome | undefined,
): Record<string, AttributeValue> {
  const command = action.action === 'run' ? optionalString(args.command) : undefined;

  return dropUndefined({
    'openhands.action': action.action,
    'openhands.event_id': action.id,
    'openhands.source': action.source,
    'openhands.observation': observation?.observation,
    'openhands.observation_id': observation?.id,
    'tool.name': toolCall?.functionName,
    'tool.call_id': toolCall?.callId,
    'llm.model': toolCall?.model,
    ...toolCall?.usage,
    'shell.command': command === undefined ? undefined : truncate(command, COMMAND_ATTRIBUTE_CHARS),
    'shell.command_truncated':
      command !== undefined && command.length > COMMAND_ATTRIBUTE_CHARS ? true : undefined,
    'shell.exit_code': outcome?.exitCode,
    'file.path': optionalString(args.path),
  });
}

function readToolCall(entry: OpenHandsEntry, context: SessionContext): ToolCall | undefined {
  const metadata = entry.raw.tool_call_metadata;
  if (metadata === undefined || metadata === null) return undefined;
  if (!isPlainObject(metadata)) {
    throw entryError(
      context.sourceName,
      entry.index,
      entry.id,
      'tool_call_metadata',
      `expected an object, got ${describeValue(metadata)}`,
    );
  }

  const functionName = optionalString(metadata.function_name);
  if (functionName === undefined) {
    throw entryError(
      context.sourceName,
      entry.index,
      entry.id,
      'tool_call_metadata.function_name',
      `expected a non-empty string, got ${describeValue(metadata.function_name)}`,
    );
  }

  const response = isPlainObject(metadata.model_response) ? metadata.model_response : {};
  const usage = isPlainObject(response.usage) ? response.usage : {};
  const usageAttributes = dropUndefined({
    'llm.usage.prompt_tokens': tokenCount(usage.prompt_tokens),
    'llm.usage.completion_tokens': tokenCount(usage.completion_tokens),
    'llm.usage.total_tokens': tokenCount(usage.total_tokens),
    'llm.usage.cache_read_tokens': tokenCount(usage.cache_read_input_tokens),
    'llm.usage.cache_creation_tokens': tokenCount(usage.cache_creation_input_tokens),
  });
  return dropUndefined({
    functionName,
    callId: optionalString(metadata.tool_call_id),
    model: optionalString(response.model),
    usage: usageAttributes,
  });
}

function buildErrorDraft(
  observation: OpenHandsEntry,
  action: OpenHandsEntry | undefined,
  failure: { type: string; message: string },
  context: SessionContext,
): DraftEvent {
  return {
    sortUs: observation.timestampUs,
    openhandsId: observation.id,
    entry: observation,
    event: dropUndefined({
      kind: 'error' as const,
      ...envelope(context, observation, `${observation.id}:error`),
      taskId: action === undefined ? undefined : taskIdOf(action),
      error: {
        type: failure.type,
        message: truncate(failure.message, CONTRACT_LIMITS.messageChars),
        severity: 'error' as const,
        retryable: false,
      },
    }),
  };
}

function agentErrorOf(observation: OpenHandsEntry): { type: string; message: string } {
  return {
    type: 'openhands.AgentError',
    message: observationText(observation) ?? 'OpenHands reported an error without text',
  };
}

function readAgentState(
  entry: OpenHandsEntry,
  container: 'args' | 'extras',
  context: SessionContext,
): string {
  const holder = entry.raw[container];
  const agentState = isPlainObject(holder) ? optionalString(holder.agent_state) : undefined;
  if (agentState === undefined) {
    throw entryError(
      context.sourceName,
      entry.index,
      entry.id,
      `${container}.agent_state`,
      `is required on ${entry.action ?? entry.observation} and must be a non-empty string`,
    );
  }
  return agentState;
}

function buildHeartbeatDrafts(
  announcements: readonly StateAnnouncement[],
  context: SessionContext,
): DraftEvent[] {
  const ordered = [...announcements].sort(
    (left, right) =>
      left.entry.timestampUs - right.entry.timestampUs || left.entry.id - right.entry.id,
  );
  const kept: StateAnnouncement[] = [];

  for (const announcement of ordered) {
    const previous = kept.at(-1);
    const repeatsPrevious =
      previous !== undefined &&
      previous.agentState === announcement.agentState &&
      announcement.entry.timestampUs - previous.entry.timestampUs < SAME_STATE_WINDOW_US;
    if (!repeatsPrevious) kept.push(announcement);
  }

  return kept.map(({ entry, agentState }) => ({
    sortUs: entry.timestampUs,
    openhandsId: entry.id,
    entry,
    event: {
      kind: 'heartbeat',
      ...envelope(context, entry, `${entry.id}:heartbeat`),
      heartbeat: {
        status: HEARTBEAT_STATUS_BY_AGENT_STATE.get(agentState) ?? UNKNOWN_STATE_STATUS,
      },
    },
  }));
}

function envelope(context: SessionContext, entry: OpenHandsEntry, idPart: string) {
  return {
    eventId: `openhands:${context.sessionId}:${idPart}`,
    timestamp: Math.floor(entry.timestampUs / 1000),
    agent: context.agent,
    workflowId: context.workflowId,
  };
}

function taskIdOf(action: OpenHandsEntry): string {
  return `openhands-${action.id}`;
}

function validateDraft(draft: DraftEvent, sourceName: string): AgentEvent {
  const result = validateEvent(draft.event);
  if (result.ok) return result.event;

  const { index, id } = draft.entry;
  throw new PanaceaError(
    'IMPORT_INVALID',
    `${sourceName}: entry ${index} (id ${id}): the ${draft.event.kind} event made from it ` +
      `breaks the event contract: ${describeProblems(result.problems)}`,
    { source: sourceName, entry: index, openhandsId: id, field: result.problems[0]?.field },
  );
}

function entryError(
  sourceName: string,
  index: number,
  id: number | undefined,
  field: string,
  reason: string,
): PanaceaError {
  const where = id === undefined ? `entry ${index}` : `entry ${index} (id ${id})`;
  return new PanaceaError('IMPORT_INVALID', `${sourceName}: ${where}: ${field} ${reason}`, {
    source: sourceName,
    entry: index,
    openhandsId: id,
    field,
  });
}

function observationText(observation: OpenHandsEntry): string | undefined {
  return optionalString(observation.raw.content) ?? optionalString(observation.raw.message);
}

function isRealCalendarTime({ year, month, day, hour, minute, second }: WallClockFields): boolean {
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return day <= daysInMonth;
}

function tokenCount(value: unknown): number | undefined {
  return isNonNegativeInteger(value) ? value : undefined;
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function truncate(text: string, maxChars: number): string {
  return text.length > maxChars ? text.slice(0, maxChars) : text;
}

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function dropUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(
    Object.entries(value).filter(([, entry]) => entry !== undefined),
  ) as never;
}
