/**
 * SWE-agent importer: turns one SWE-agent trajectory (a `.traj` file: a JSON object with
 * `trajectory`, `info`, and optionally `environment`, `history` and `replay_config`) into contract
 * events. Pure: the caller reads the file and publishes the result; nothing here touches the disk
 * or the network.
 *
 * The promise, per part of the file:
 *
 * | SWE-agent input                               | events                                     |
 * |-----------------------------------------------|--------------------------------------------|
 * | the run                                       | activity `swe.run` `started`, at `start`   |
 * | `info.exit_status` `submitted`                | activity `swe.run` `succeeded`             |
 * | `info.exit_status` any other text, including  | activity `swe.run` `failed` + error        |
 * | `submitted (exit_cost)` (stopped, then saved) | `swe-agent.RunFailed` naming the status    |
 * | `info.exit_status` null, empty or missing     | nothing more: the run had not finished     |
 * | each `trajectory[i]`                          | activity `swe.<command>` `succeeded`, with |
 * |                                               | `durationMs` = `execution_time` × 1000     |
 * | … observation rejecting an edit ("Your        | activity `failed` + error                  |
 * | proposed edit has introduced new syntax       | `swe-agent.EditRejected`                   |
 * | error(s)", "No replacement was performed")    |                                            |
 * | … observation "The command … was cancelled    | activity `failed` + error                  |
 * | because it took more than … seconds"          | `swe-agent.CommandTimeout`                 |
 * | … observation holding a Python traceback      | activity `failed` + error whose `type` is  |
 * | (`Traceback (most recent call last):` at the  | the exception class (`AttributeError`),    |
 * | start of a line)                              | `message` its message, `stack` the trace   |
 * | … empty action (the model's output held no    | activity `swe.no_command` `failed` + error |
 * | command SWE-agent could run)                  | `swe-agent.NoCommand`                      |
 *
 * - Success: only `submitted` is success. `submitted (<reason>)` means SWE-agent stopped the run
 *   (cost limit, context window, errors…) and saved the changes made so far: the run did not finish
 *   on its own, so it is `failed`, with `swe.autosubmitted: true`. Every `exit_*` status (and any
 *   status this list does not know) is `failed`.
 * - A step's activity `action` is `swe.` + the first word of its command (`create`, `edit`,
 *   `python`, `submit`…), after leading `NAME=value` assignments and any directory
 *   (`/usr/bin/python3` → `python3`); characters outside `A-Za-z0-9_.+-` become `_`. SWE-agent
 *   records no exit code, so every other observation, a shell's complaint included, is `succeeded`.
 *   The first edit check wins, then the timeout, then the traceback: an edit's preview of a file
 *   is not read as a traceback.
 * - Time: `.traj` files carry no wall-clock time, so `start` anchors the run. `swe.run started` is
 *   at `start`; each step begins 1 ms after the end of the step before (the first 1 ms after
 *   `start`) and lasts its `execution_time`, or no time when it has none; a step's error is at the
 *   step's end; the run's end (and its error) 1 ms after the last step's end. So order survives a
 *   sort by timestamp, and a file with durations shows them. Timestamps are whole milliseconds
 *   (rounded down); `durationMs` keeps microseconds. The run's own `durationMs` is left out: the
 *   file records command time only, not the model's, so the run's real duration is unknown
 *   (`swe.command_time_ms` sums the steps' times).
 * - Run attributes, each only when the input has it: `swe.instance_id`
 *   (`replay_config.problem_statement.id`), `llm.model` (`replay_config.agent.model.name`),
 *   `swe.environment`; on the end event also `swe.exit_status`, `swe.autosubmitted`,
 *   `swe.submission_bytes` (UTF-8 size of `info.submission`; its text is not copied),
 *   `llm.cost_usd` (`model_stats.instance_cost`), `llm.usage.prompt_tokens` (`tokens_sent`),
 *   `llm.usage.completion_tokens` (`tokens_received`), `llm.api_calls`, `swe.steps` (steps
 *   imported), `swe.command_time_ms`; with `partial`, `swe.import_partial: true` and, when known,
 *   `swe.steps_skipped`. `info.swe_agent_version` becomes `agent.version`. `replay_config` may be
 *   an object or JSON text of one (SWE-agent 1.x writes text).
 * - Step attributes: `swe.step` (0-based index), `shell.command` (the action without surrounding
 *   white space, first 1024 characters; `shell.command_truncated: true` when cut),
 *   `swe.observation_bytes`, `swe.open_file` and `swe.working_dir` from `state` (an object, or
 *   JSON text of one as older versions write; `n/a` is left out). SWE-agent 1.x records `state`
 *   after the step, older versions before it; the attributes carry it as recorded. Thoughts,
 *   responses, observations, `history`, `messages`/`query` and `extra_info` are not copied.
 * - Texts over the contract's limits are cut, never refused: an attribute gets a `<key>_truncated:
 *   true` beside it; an error message keeps its start and ends with `… [cut N characters]`; a stack
 *   keeps its end (where the exception is) and starts with `[cut N characters] …`. Unpaired UTF-16
 *   surrogates in copied text become U+FFFD.
 * - Correlation: `workflowId` = `swe-agent-run-<runId>`; `taskId` = `swe-agent-<runId>-run` on the
 *   run's events, `swe-agent-<runId>-step-<i>` on a step and its error; agent = `{ id: agentId ??
 *   'swe-agent', name: 'SWE-agent', type: 'swe-agent' }`.
 * - Ids are deterministic, so importing a file twice yields the same ids: runId = first 12 hex
 *   characters of the SHA-256 of the file content; eventIds `swe-agent:<runId>:run:started`,
 *   `…:run:ended`, `…:run:error`, `…:step:<i>`, `…:step:<i>:error`. Every event has passed
 *   `validateEvent`.
 * - Bad input throws PanaceaError `IMPORT_INVALID`. Text that is not JSON names the line and
 *   column (1-based) and why; a missing or ill-typed field names its path and the reason, e.g.
 *   `trajectory[3].execution_time: expected a number of seconds ≥ 0, got "abc"`, and the line where
 *   its step starts.
 * - With `partial`, a bad step and every step after it, a bad `info` (the run's end events) and a
 *   bad `environment` or `replay_config` (their labels) are left out and listed in `skipped`
 *   instead of refusing the file. A file that stops being JSON (cut short, or broken in the middle)
 *   keeps the steps that are complete before that point, and `info` etc. when they are; it is
 *   still refused when nothing precedes the break: not an object, or no step array opened yet.
 *   A missing `trajectory`, or one that is not an array, is refused even with `partial`.
 */
import { createHash } from 'node:crypto';

import { messageOf, PanaceaError } from '../../core/errors.js';
import { positionAt, scanJsonSyntax, type JsonSyntaxScan } from '../../core/json-syntax.js';
import { CONTRACT_LIMITS, describeProblems, validateEvent } from '../../schemas/contract.js';
import { describeValue } from '../../schemas/describe-value.js';
import type {
  ActivityBody,
  AgentEvent,
  AgentIdentity,
  AttributeValue,
  ErrorBody,
} from '../../schemas/event.js';
import { MAX_EPOCH_MS } from '../../schemas/timestamp.js';

export interface SweAgentImportOptions {
  /** Name shown in errors, usually the file path. */
  sourceName: string;
  /**
   * When the run started. Required: `.traj` files carry no wall-clock time, so every timestamp is
   * laid out from this instant.
   */
  start?: Date;
  /** Agent id to use; default `swe-agent`. */
  agentId?: string;
  /**
   * Import what is valid before the first bad step instead of refusing the file, and list what was
   * left out in `skipped`. Default false: a bad file yields nothing.
   */
  partial?: boolean;
}

/** A part of the file left out by a partial import, and why. */
export interface SkippedPart {
  /** What was left out: `trajectory[3..10]`, `trajectory[7] onwards`, `info`, `replay_config`. */
  part: string;
  /** How many steps were left out; absent when unknown (the file breaks inside the steps). */
  stepCount?: number;
  /** The reason, with the source name and the position (path, or line and column). */
  reason: string;
}

export interface SweAgentImport {
  events: AgentEvent[];
  runId: string;
  /** Steps turned into events. */
  importedStepCount: number;
  /** Empty unless `partial` left something out. */
  skipped: SkippedPart[];
}

type JsonObject = Record<string, unknown>;
type Attributes = Record<string, AttributeValue>;

/** One trajectory step after its shape was checked. */
interface TrajectoryStep {
  index: number;
  /** The action without surrounding white space; empty when the model gave no command. */
  command: string;
  observation: string;
  /** From `execution_time`, rounded to the microsecond. */
  durationUs?: number;
  openFile?: string;
  workingDir?: string;
}

/** What `info` says about the end of the run. */
interface RunOutcome {
  /** Absent while the run had not finished. */
  exitStatus?: string;
  submissionBytes?: number;
  agentVersion?: string;
  usage: Attributes;
}

interface StepFailure {
  type: string;
  message: string;
  stack?: string;
}

interface RunContext {
  sourceName: string;
  runId: string;
  agent: AgentIdentity;
  workflowId: string;
  runTaskId: string;
  startMs: number;
  labels: Attributes;
}

/** The whole file, or what could be recovered of it. */
interface TrajectoryDocument {
  /** The text that was read, without a byte order mark. */
  text: string;
  root: JsonObject;
}

/** A field that is missing or ill-typed; turned into a PanaceaError with the position. */
class FieldProblem {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {}
}

const DEFAULT_AGENT_ID = 'swe-agent';
const RUN_ID_HEX_CHARS = 12;
const SUCCESS_EXIT_STATUS = 'submitted';
/** `submitted (exit_cost)`: SWE-agent stopped the run for the reason and saved its changes. */
const AUTOSUBMITTED_PATTERN = /^submitted \((.+)\)$/s;
/** Each step starts this long after the one before, so equal timestamps never blur the order. */
const STEP_GAP_US = 1_000;
const MAX_EXECUTION_SECONDS = CONTRACT_LIMITS.maxDurationMs / 1000;
const COMMAND_ATTRIBUTE_CHARS = CONTRACT_LIMITS.shortTextChars;
const LABEL_ATTRIBUTE_CHARS = CONTRACT_LIMITS.shortTextChars;
// Budgets in bytes of the text as JSON (escapes included): together they keep an error event well
// under the contract's 256 KiB, whatever the text is made of.
const MESSAGE_JSON_BYTES = 32_768;
const STACK_JSON_BYTES = 131_072;
/** Error lines quoted from a rejected edit; the rest is a preview of the file. */
const MAX_QUOTED_EDIT_ERRORS = 10;

// Why SWE-agent 1.x stops a run (sweagent/agent/agents.py); other statuses are shown as they are.
const EXIT_STATUS_MEANING = new Map<string, string>([
  ['exit_cost', 'the cost limit was reached'],
  ['exit_context', "the model's context window was exceeded"],
  ['exit_format', "the model's output could not be parsed, repeatedly"],
  ['exit_api', 'the model API kept failing'],
  ['exit_error', 'an unexpected error'],
  ['exit_environment_error', 'the environment failed'],
  ['exit_command_timeout', 'commands timed out, repeatedly'],
  ['exit_total_execution_time', 'the total execution time limit was reached'],
  ['exit_forfeit', 'the agent gave up'],
  ['exit_command', 'the agent ran exit'],
]);

const EDIT_REJECTED_PATTERN = /^\s*\[?Your proposed edit has introduced new syntax error\(s\)/;
const REPLACEMENT_REFUSED_PATTERN = /^\s*(?:ERROR:\s*)?No replacement was performed\b/;
const COMMAND_TIMEOUT_PATTERN = /^\s*The command .* was cancelled because it took more than/s;
const TRACEBACK_HEADER_PATTERN = /^Traceback \(most recent call last\):\s*$/;
// `AttributeError: text`, `pydicom.errors.InvalidDicomError: text` or a bare `KeyboardInterrupt`.
const EXCEPTION_LINE_PATTERN = /^([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)(?::\s?(.*))?$/;
const ENVIRONMENT_ASSIGNMENT_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*=/;
const ACTION_NAME_CHARS = 64;
const LONE_SURROGATE_PATTERN =
  /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function importSweAgentTrajectory(
  content: string,
  options: SweAgentImportOptions,
): SweAgentImport {
  const sourceName = options.sourceName === '' ? 'SWE-agent trajectory' : options.sourceName;
  const startMs = resolveStartMs(options.start);
  const agentId = resolveAgentId(options.agentId);
  const partial = options.partial === true;
  const runId = createHash('sha256').update(content).digest('hex').slice(0, RUN_ID_HEX_CHARS);

  const skipped: SkippedPart[] = [];
  const document = readDocument(content, sourceName, partial, skipped);
  const locator = new PositionLocator(document.text);
  const refuseOrSkip = (problem: FieldProblem, part: string, stepCount?: number): void => {
    const error = fieldError(sourceName, problem, locator);
    if (!partial) throw error;
    skipped.push(dropUndefined({ part, stepCount, reason: error.message }));
  };

  const rawSteps = readStepArray(document.root, sourceName);
  const steps = readSteps(rawSteps, refuseOrSkip);
  const outcome = readPart(() => readOutcome(document.root.info), refuseOrSkip);
  const labels = readPart(() => readLabels(document.root), refuseOrSkip) ?? {};

  const context: RunContext = {
    sourceName,
    runId,
    agent: dropUndefined({
      id: agentId,
      name: 'SWE-agent',
      type: 'swe-agent',
      version: outcome?.agentVersion,
    }),
    workflowId: `swe-agent-run-${runId}`,
    runTaskId: `swe-agent-${runId}-run`,
    startMs,
    labels,
  };
  const drafts = layOutEvents(steps, outcome, skipped, context);
  const events = drafts.map((draft) => validateDraft(draft, context));

  return { events, runId, importedStepCount: steps.length, skipped };
}

function resolveStartMs(start: Date | undefined): number {
  if (start === undefined) {
    throw new PanaceaError(
      'IMPORT_INVALID',
      'a start time is required: SWE-agent trajectories record no wall-clock time, so the run is ' +
        'laid out from the instant it started (--start 2025-01-20T20:30:00Z on the command line)',
      { field: 'start' },
    );
  }
  if (!(start instanceof Date) || Number.isNaN(start.getTime())) {
    throw new PanaceaError(
      'IMPORT_INVALID',
      `start must be a valid Date, got ${describeValue(start)}`,
      { field: 'start' },
    );
  }
  return start.getTime();
}

function resolveAgentId(agentId: string | undefined): string {
  if (agentId === undefined) return DEFAULT_AGENT_ID;

  if (agentId.length === 0 || agentId.length > CONTRACT_LIMITS.idChars) {
    throw new PanaceaError(
      'IMPORT_INVALID',
      `agent id must be 1-${CONTRACT_LIMITS.idChars} characters, got ${agentId.length}`,
      { field: 'agentId' },
    );
  }
  return agentId;
}

function readDocument(
  content: string,
  sourceName: string,
  partial: boolean,
  skipped: SkippedPart[],
): TrajectoryDocument {
  // A byte order mark is not JSON, but editors add it; it carries nothing.
  const text = content.startsWith('\uFEFF') ? content.slice(1) : content;

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error: unknown) {
    return recoverBrokenDocument(text, sourceName, partial, skipped, error);
  }

  if (!isPlainObject(parsed)) {
    throw new PanaceaError(
      'IMPORT_INVALID',
      `${sourceName}: expected a JSON object with "trajectory" and "info" (a SWE-agent .traj ` +
        `file), got ${describeValue(parsed)}`,
      { source: sourceName },
    );
  }
  return { text, root: parsed };
}

/**
 * For text that is not JSON: the error with its line and column; with `partial`, the members and
 * steps that are complete before the break, when there are any to keep.
 */
function recoverBrokenDocument(
  text: string,
  sourceName: string,
  partial: boolean,
  skipped: SkippedPart[],
  parseError: unknown,
): TrajectoryDocument {
  const scan = scanJsonSyntax(text, 'trajectory');
  const problem = scan.problem;
  if (problem === undefined) {
    // The two readers disagree; JSON.parse has the last word, without a position.
    throw new PanaceaError(
      'IMPORT_INVALID',
      `${sourceName}: is not valid JSON (${messageOf(parseError)})`,
      { source: sourceName },
      parseError,
    );
  }

  const where = `line ${problem.line} column ${problem.column}`;
  const cutHint = problem.endOfInput ? '; the file looks cut short' : '';
  const message = `${sourceName}: is not valid JSON at ${where}: ${problem.reason}${cutHint}`;
  const recoverable = scan.rootIsObject && (scan.members.has('trajectory') || scan.elementsOpened);
  const errorContext = {
    source: sourceName,
    line: problem.line,
    column: problem.column,
    partialRecovers: recoverable,
  };
  if (!partial || !recoverable) {
    const suffix = partial ? '; no trajectory step precedes it, so nothing can be imported' : '';
    throw new PanaceaError('IMPORT_INVALID', message + suffix, errorContext, parseError);
  }

  const root = rebuildRoot(text, scan);
  const lost: string[] = [];
  const stepsComplete = scan.members.has('trajectory');
  if (!stepsComplete) lost.push(`trajectory[${scan.elements.length}] onwards`);
  if (!scan.members.has('info')) lost.push("info (the run's outcome)");
  skipped.push({
    part: lost.length === 0 ? `the rest of the file from ${where}` : lost.join(', '),
    ...(stepsComplete ? { stepCount: 0 } : {}),
    reason: message,
  });
  return { text, root };
}

/** The members the importer reads, from the spans the scan found complete. */
function rebuildRoot(text: string, scan: JsonSyntaxScan): JsonObject {
  const parseSpan = (span: { start: number; end: number }): unknown =>
    JSON.parse(text.slice(span.start, span.end));
  const root: JsonObject = {};

  for (const name of ['trajectory', 'info', 'environment', 'replay_config']) {
    const span = scan.members.get(name);
    if (span !== undefined) root[name] = parseSpan(span);
  }
  root.trajectory ??= scan.elements.map(parseSpan);
  return root;
}

function readStepArray(root: JsonObject, sourceName: string): unknown[] {
  const trajectory = root.trajectory;
  if (Array.isArray(trajectory)) return trajectory;

  const reason =
    trajectory === undefined
      ? 'is missing: a SWE-agent .traj file holds its steps in a "trajectory" array'
      : `expected an array of steps, got ${describeValue(trajectory)}`;
  throw new PanaceaError('IMPORT_INVALID', `${sourceName}: trajectory: ${reason}`, {
    source: sourceName,
    field: 'trajectory',
  });
}

/** The steps up to the first bad one, which refuses the file or, with `partial`, ends the list. */
function readSteps(
  rawSteps: readonly unknown[],
  refuseOrSkip: (problem: FieldProblem, part: string, stepCount?: number) => void,
): TrajectoryStep[] {
  const steps: TrajectoryStep[] = [];
  for (const [index, raw] of rawSteps.entries()) {
    try {
      steps.push(readStep(raw, index));
    } catch (error: unknown) {
      if (!(error instanceof FieldProblem)) throw error;
      const lastIndex = rawSteps.length - 1;
      const part =
        index === lastIndex ? `trajectory[${index}]` : `trajectory[${index}..${lastIndex}]`;
      refuseOrSkip(error, part, rawSteps.length - index);
      break;
    }
  }
  return steps;
}

/**
 * A part read whole or not at all: a problem refuses the file or, with `partial`, skips the
 * top-level member it is in (`info`, `environment`, `replay_config`).
 */
function readPart<T>(
  read: () => T,
  refuseOrSkip: (problem: FieldProblem, part: string) => void,
): T | undefined {
  try {
    return read();
  } catch (error: unknown) {
    if (!(error instanceof FieldProblem)) throw error;
    refuseOrSkip(error, topLevelMemberOf(error.path));
    return undefined;
  }
}

/** `info` for `info.model_stats.tokens_sent`, `trajectory` for `trajectory[3].action`. */
function topLevelMemberOf(path: string): string {
  return path.split(/[.[]/)[0] ?? path;
}

function readStep(raw: unknown, index: number): TrajectoryStep {
  const path = `trajectory[${index}]`;
  if (!isPlainObject(raw)) {
    throw new FieldProblem(path, `expected a step object, got ${describeValue(raw)}`);
  }

  const action = requireString(raw.action, `${path}.action`, 'the command the step ran');
  const observation = requireString(raw.observation, `${path}.observation`, 'what the step saw');
  const durationUs = readDurationUs(raw.execution_time, `${path}.execution_time`);
  const state = readState(raw.state, `${path}.state`);

  return dropUndefined({
    index,
    command: action.trim(),
    observation,
    durationUs,
    openFile: readStateText(state, 'open_file', `${path}.state`),
    workingDir: readStateText(state, 'working_dir', `${path}.state`),
  });
}

function requireString(value: unknown, path: string, what: string): string {
  if (typeof value === 'string') return value;
  if (value === undefined) throw new FieldProblem(path, `is missing: expected ${what} as a string`);
  throw new FieldProblem(path, `expected ${what} as a string, got ${describeValue(value)}`);
}

function readDurationUs(value: unknown, path: string): number | undefined {
  if (value === undefined || value === null) return undefined;

  const isSeconds = typeof value === 'number' && Number.isFinite(value) && value >= 0;
  if (!isSeconds) {
    throw new FieldProblem(path, `expected a number of seconds ≥ 0, got ${describeValue(value)}`);
  }
  if (value > MAX_EXECUTION_SECONDS) {
    throw new FieldProblem(path, `${value} seconds is over the ${MAX_EXECUTION_SECONDS} s limit`);
  }
  return Math.round(value * 1_000_000);
}

/** `state` as an object: SWE-agent 1.x writes an object, older versions JSON text of one. */
function readState(value: unknown, path: string): JsonObject {
  if (value === undefined || value === null) return {};
  if (isPlainObject(value)) return value;

  if (typeof value === 'string') {
    const parsed = parseJsonOrUndefined(value);
    if (isPlainObject(parsed)) return parsed;
  }
  throw new FieldProblem(
    path,
    `expected an object or JSON text of one, got ${describeValue(value)}`,
  );
}

function readStateText(state: JsonObject, key: string, path: string): string | undefined {
  const value = state[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new FieldProblem(`${path}.${key}`, `expected a string, got ${describeValue(value)}`);
  }
  // SWE-agent writes `n/a` when no file is open.
  return value === '' || value === 'n/a' ? undefined : value;
}

function readOutcome(info: unknown): RunOutcome | undefined {
  if (info === undefined || info === null) return undefined;
  if (!isPlainObject(info)) {
    throw new FieldProblem('info', `expected an object, got ${describeValue(info)}`);
  }

  const exitStatus = info.exit_status;
  if (exitStatus !== undefined && exitStatus !== null && typeof exitStatus !== 'string') {
    throw new FieldProblem(
      'info.exit_status',
      `expected a string or null, got ${describeValue(exitStatus)}`,
    );
  }
  const submission = info.submission;
  const submissionIsText = typeof submission === 'string';
  if (!submissionIsText && submission !== undefined && submission !== null) {
    // SWE-agent's types also allow an object here; it has no size worth reporting.
    if (!isPlainObject(submission)) {
      throw new FieldProblem(
        'info.submission',
        `expected a string, an object or null, got ${describeValue(submission)}`,
      );
    }
  }
  const agentVersion = info.swe_agent_version;
  if (agentVersion !== undefined && agentVersion !== null && typeof agentVersion !== 'string') {
    throw new FieldProblem(
      'info.swe_agent_version',
      `expected a string, got ${describeValue(agentVersion)}`,
    );
  }

  return dropUndefined({
    exitStatus: typeof exitStatus === 'string' && exitStatus !== '' ? exitStatus : undefined,
    submissionBytes: submissionIsText ? Buffer.byteLength(submission) : undefined,
    // Only a broken file has a version this long; the agent identity has no room for a flag.
    agentVersion:
      typeof agentVersion === 'string' && agentVersion !== ''
        ? toWellFormed(agentVersion.slice(0, CONTRACT_LIMITS.shortTextChars))
        : undefined,
    usage: readModelStats(info.model_stats),
  });
}

function readModelStats(value: unknown): Attributes {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) {
    throw new FieldProblem('info.model_stats', `expected an object, got ${describeValue(value)}`);
  }

  const read = (key: string, integer: boolean): number | undefined => {
    const stat = value[key];
    if (stat === undefined || stat === null) return undefined;
    const valid =
      typeof stat === 'number' &&
      Number.isFinite(stat) &&
      stat >= 0 &&
      (!integer || Number.isInteger(stat));
    if (!valid) {
      const expected = integer ? 'an integer ≥ 0' : 'a number ≥ 0';
      throw new FieldProblem(
        `info.model_stats.${key}`,
        `expected ${expected}, got ${describeValue(stat)}`,
      );
    }
    return stat;
  };
  return dropUndefined({
    // instance_cost is this run's; total_cost adds up every run of a batch.
    'llm.cost_usd': read('instance_cost', false),
    'llm.usage.prompt_tokens': read('tokens_sent', true),
    'llm.usage.completion_tokens': read('tokens_received', true),
    'llm.api_calls': read('api_calls', true),
  });
}

/** Attributes naming the run, from `environment` and `replay_config`. */
function readLabels(root: JsonObject): Attributes {
  const environment = root.environment;
  if (environment !== undefined && environment !== null && typeof environment !== 'string') {
    throw new FieldProblem('environment', `expected a string, got ${describeValue(environment)}`);
  }
  const replayConfig = readReplayConfig(root.replay_config);
  const problemStatement = isPlainObject(replayConfig.problem_statement)
    ? replayConfig.problem_statement
    : {};
  const agentConfig = isPlainObject(replayConfig.agent) ? replayConfig.agent : {};
  const modelConfig = isPlainObject(agentConfig.model) ? agentConfig.model : {};

  // Inside the replayed configuration only these two names are read; other shapes are ignored.
  return {
    ...textAttribute('swe.instance_id', optionalString(problemStatement.id), LABEL_ATTRIBUTE_CHARS),
    ...textAttribute('llm.model', optionalString(modelConfig.name), LABEL_ATTRIBUTE_CHARS),
    ...textAttribute('swe.environment', optionalString(environment), LABEL_ATTRIBUTE_CHARS),
  };
}

function readReplayConfig(value: unknown): JsonObject {
  if (value === undefined || value === null) return {};
  if (isPlainObject(value)) return value;

  if (typeof value === 'string') {
    const parsed = parseJsonOrUndefined(value);
    if (isPlainObject(parsed)) return parsed;
    throw new FieldProblem('replay_config', 'expected JSON text of an object; the text is not one');
  }
  throw new FieldProblem(
    'replay_config',
    `expected an object or JSON text of one, got ${describeValue(value)}`,
  );
}

/** Every event of the run, in order, on the time layout described in the header. */
function layOutEvents(
  steps: readonly TrajectoryStep[],
  outcome: RunOutcome | undefined,
  skipped: readonly SkippedPart[],
  context: RunContext,
): AgentEvent[] {
  const events: AgentEvent[] = [];
  let clockUs = 0;
  const clockMs = (): number => context.startMs + Math.floor(clockUs / 1000);

  const partialAttributes = buildPartialAttributes(skipped);
  events.push(
    buildRunActivity(context, 'started', context.startMs, {
      ...context.labels,
      ...partialAttributes,
    }),
  );

  for (const step of steps) {
    clockUs += STEP_GAP_US;
    const failure = detectFailure(step);
    events.push(buildStepActivity(step, failure, clockMs(), context));
    clockUs += step.durationUs ?? 0;
    if (failure !== undefined) events.push(buildStepError(step, failure, clockMs(), context));
  }

  if (outcome?.exitStatus !== undefined) clockUs += STEP_GAP_US;
  assertRunFitsTimeRange(clockMs(), steps.length, context);
  if (outcome?.exitStatus === undefined) return events;

  const endMs = clockMs();
  const exitStatus = outcome.exitStatus;
  const autosubmitted = AUTOSUBMITTED_PATTERN.test(exitStatus);
  const succeeded = exitStatus === SUCCESS_EXIT_STATUS;
  const endAttributes: Attributes = {
    ...context.labels,
    ...textAttribute('swe.exit_status', exitStatus, LABEL_ATTRIBUTE_CHARS),
    ...(autosubmitted ? { 'swe.autosubmitted': true } : {}),
    ...dropUndefined({ 'swe.submission_bytes': outcome.submissionBytes }),
    ...outcome.usage,
    'swe.steps': steps.length,
    ...commandTimeAttribute(steps),
    ...partialAttributes,
  };
  events.push(buildRunActivity(context, succeeded ? 'succeeded' : 'failed', endMs, endAttributes));
  if (!succeeded) events.push(buildRunError(exitStatus, endMs, context));
  return events;
}

/** The anchor is the caller's: a run laid out from it past the contract's last instant names it. */
function assertRunFitsTimeRange(lastMs: number, stepCount: number, context: RunContext): void {
  if (lastMs <= MAX_EPOCH_MS) return;
  throw new PanaceaError(
    'IMPORT_INVALID',
    `--start ${new Date(context.startMs).toISOString()}: the run's ${stepCount} steps laid out from it would end at epoch ms ${lastMs}, after 9999-12-31T23:59:59.999Z, the latest time an event may carry; give an earlier --start`,
    { field: 'start' },
  );
}

function buildPartialAttributes(skipped: readonly SkippedPart[]): Attributes {
  if (skipped.length === 0) return {};

  const stepCounts = skipped.map((part) => part.stepCount);
  const known = stepCounts.every((count) => count !== undefined);
  const stepsSkipped = stepCounts.reduce<number>((sum, count) => sum + (count ?? 0), 0);
  return { 'swe.import_partial': true, ...(known ? { 'swe.steps_skipped': stepsSkipped } : {}) };
}

function commandTimeAttribute(steps: readonly TrajectoryStep[]): Attributes {
  const timed = steps.filter((step) => step.durationUs !== undefined);
  if (timed.length === 0) return {};

  const totalUs = timed.reduce((sum, step) => sum + (step.durationUs ?? 0), 0);
  return { 'swe.command_time_ms': totalUs / 1000 };
}

function buildRunActivity(
  context: RunContext,
  status: ActivityBody['status'],
  timestamp: number,
  attributes: Attributes,
): AgentEvent {
  const idPart = status === 'started' ? 'run:started' : 'run:ended';
  return {
    kind: 'activity',
    ...envelope(context, idPart, timestamp),
    taskId: context.runTaskId,
    activity: { action: 'swe.run', status, attributes },
  };
}

function buildRunError(exitStatus: string, timestamp: number, context: RunContext): AgentEvent {
  const autosubmitted = AUTOSUBMITTED_PATTERN.exec(exitStatus);
  const reason = autosubmitted?.[1] ?? exitStatus;
  const meaning = EXIT_STATUS_MEANING.get(reason);
  const explained = meaning === undefined ? `"${reason}"` : `"${reason}" (${meaning})`;
  const message =
    autosubmitted === null
      ? `SWE-agent run ended with exit status ${explained}`
      : `SWE-agent stopped the run with exit status ${explained} and submitted its changes so far`;

  return {
    kind: 'error',
    ...envelope(context, 'run:error', timestamp),
    taskId: context.runTaskId,
    error: errorBody({ type: 'swe-agent.RunFailed', message }),
  };
}

function buildStepActivity(
  step: TrajectoryStep,
  failure: StepFailure | undefined,
  timestamp: number,
  context: RunContext,
): AgentEvent {
  const attributes: Attributes = {
    'swe.step': step.index,
    ...(step.command === ''
      ? {}
      : textAttribute('shell.command', step.command, COMMAND_ATTRIBUTE_CHARS)),
    'swe.observation_bytes': Buffer.byteLength(step.observation),
    ...textAttribute('swe.open_file', step.openFile, LABEL_ATTRIBUTE_CHARS),
    ...textAttribute('swe.working_dir', step.workingDir, LABEL_ATTRIBUTE_CHARS),
  };
  const activity: ActivityBody = dropUndefined({
    action: actionNameOf(step.command),
    status: failure === undefined ? ('succeeded' as const) : ('failed' as const),
    durationMs: step.durationUs === undefined ? undefined : step.durationUs / 1000,
    attributes,
  });

  return {
    kind: 'activity',
    ...envelope(context, `step:${step.index}`, timestamp),
    taskId: stepTaskId(step, context),
    activity,
  };
}

function buildStepError(
  step: TrajectoryStep,
  failure: StepFailure,
  timestamp: number,
  context: RunContext,
): AgentEvent {
  return {
    kind: 'error',
    ...envelope(context, `step:${step.index}:error`, timestamp),
    taskId: stepTaskId(step, context),
    error: errorBody(failure),
  };
}

function errorBody(failure: StepFailure): ErrorBody {
  return dropUndefined({
    type: cutStart(failure.type, CONTRACT_LIMITS.shortTextChars, MESSAGE_JSON_BYTES),
    message: cutStart(failure.message, CONTRACT_LIMITS.messageChars, MESSAGE_JSON_BYTES),
    stack:
      failure.stack === undefined
        ? undefined
        : cutEnd(failure.stack, CONTRACT_LIMITS.stackChars, STACK_JSON_BYTES),
    severity: 'error' as const,
    retryable: false,
  });
}

/** `swe.` + the command's first word, as described in the header. */
function actionNameOf(command: string): string {
  if (command === '') return 'swe.no_command';

  const words = command.split(/\s+/);
  const word = words.find((candidate) => !ENVIRONMENT_ASSIGNMENT_PATTERN.test(candidate)) ?? '';
  const program = word.slice(word.lastIndexOf('/') + 1);
  const name = program.replace(/[^A-Za-z0-9_.+-]/g, '_').slice(0, ACTION_NAME_CHARS);
  return `swe.${name === '' ? 'command' : name}`;
}

function detectFailure(step: TrajectoryStep): StepFailure | undefined {
  if (step.command === '') {
    return {
      type: 'swe-agent.NoCommand',
      message:
        `step ${step.index}: the model's output held no command SWE-agent could run ` +
        '(a format error or a blocked command); SWE-agent asks the model again',
    };
  }

  // Python prints `\n`; a terminal in between may have made it `\r\n`.
  const observation = step.observation.replace(/\r\n?/g, '\n');
  return (
    detectEditRejection(observation) ??
    detectCommandTimeout(observation) ??
    detectPythonException(observation)
  );
}

function detectEditRejection(observation: string): StepFailure | undefined {
  if (REPLACEMENT_REFUSED_PATTERN.test(observation)) {
    const firstLine = observation.trim().split('\n')[0] ?? '';
    return { type: 'swe-agent.EditRejected', message: `edit not applied: ${firstLine}` };
  }
  if (!EDIT_REJECTED_PATTERN.test(observation)) return undefined;

  // The linter's findings are the `- ` lines after `ERRORS:`; a preview of the file follows.
  const lines = observation.split('\n');
  const errorsAt = lines.findIndex((line) => line.trim() === 'ERRORS:');
  const findings: string[] = [];
  for (const line of errorsAt === -1 ? [] : lines.slice(errorsAt + 1)) {
    const trimmed = line.trim();
    if (trimmed === '' && findings.length === 0) continue;
    if (trimmed === '' || /^This is how your edit would have looked/.test(trimmed)) break;
    findings.push(trimmed.replace(/^- /, ''));
    if (findings.length === MAX_QUOTED_EDIT_ERRORS) break;
  }

  const detail = findings.length === 0 ? 'no finding quoted' : findings.join('; ');
  return {
    type: 'swe-agent.EditRejected',
    message: `edit rejected for syntax errors, the file is unchanged: ${detail}`,
  };
}

function detectCommandTimeout(observation: string): StepFailure | undefined {
  if (!COMMAND_TIMEOUT_PATTERN.test(observation)) return undefined;

  const firstLine = observation.trim().split('\n')[0] ?? '';
  return { type: 'swe-agent.CommandTimeout', message: firstLine };
}

/**
 * The last exception of the observation's Python traceback: its class and message from the first
 * unindented line after the last `Traceback` header (frames are indented), the stack from the
 * first header (so chained exceptions are kept) to that line.
 */
function detectPythonException(observation: string): StepFailure | undefined {
  const lines = observation.split('\n');
  const headerIndexes = lines.flatMap((line, index) =>
    TRACEBACK_HEADER_PATTERN.test(line) ? [index] : [],
  );
  const firstHeader = headerIndexes[0];
  const lastHeader = headerIndexes.at(-1);
  if (firstHeader === undefined || lastHeader === undefined) return undefined;

  const exceptionIndex = lines.findIndex(
    (line, index) => index > lastHeader && line !== '' && !/^\s/.test(line),
  );
  const match =
    exceptionIndex === -1 ? null : EXCEPTION_LINE_PATTERN.exec(lines[exceptionIndex] ?? '');
  if (match === null) {
    return {
      type: 'swe-agent.PythonTraceback',
      message: 'a Python traceback without its final exception line',
      stack: lines.slice(firstHeader).join('\n'),
    };
  }

  const [, exceptionClass = 'Exception', exceptionMessage = ''] = match;
  return {
    type: exceptionClass,
    message: exceptionMessage.trim() === '' ? exceptionClass : exceptionMessage.trim(),
    stack: lines.slice(firstHeader, exceptionIndex + 1).join('\n'),
  };
}

function envelope(context: RunContext, idPart: string, timestamp: number) {
  return {
    eventId: `swe-agent:${context.runId}:${idPart}`,
    timestamp,
    agent: context.agent,
    workflowId: context.workflowId,
  };
}

function stepTaskId(step: TrajectoryStep, context: RunContext): string {
  return `swe-agent-${context.runId}-step-${step.index}`;
}

function validateDraft(event: AgentEvent, context: RunContext): AgentEvent {
  const result = validateEvent(event);
  if (result.ok) return result.event;

  // The drafts are built to pass; reaching this is a bug here, reported with what it concerns.
  throw new PanaceaError(
    'IMPORT_INVALID',
    `${context.sourceName}: the ${event.kind} event ${event.eventId} breaks the event contract: ` +
      describeProblems(result.problems),
    { source: context.sourceName, field: result.problems[0]?.field },
  );
}

/** The IMPORT_INVALID error for a bad field: path, reason and where its part starts. */
function fieldError(
  sourceName: string,
  problem: FieldProblem,
  locator: PositionLocator,
): PanaceaError {
  const position = locator.locate(problem.path);
  const stepIndex = /^trajectory\[(\d+)\]/.exec(problem.path)?.[1];
  const part = stepIndex === undefined ? topLevelMemberOf(problem.path) : 'the step';
  const where =
    position === undefined
      ? ''
      : ` (${part} starts at line ${position.line} column ${position.column})`;

  return new PanaceaError(
    'IMPORT_INVALID',
    `${sourceName}: ${problem.path}: ${problem.reason}${where}`,
    dropUndefined({
      source: sourceName,
      field: problem.path,
      step: stepIndex === undefined ? undefined : Number(stepIndex),
      line: position?.line,
      column: position?.column,
      partialRecovers: true,
    }),
  );
}

/** Finds where a step or a top-level member starts in the text; scans only when asked. */
class PositionLocator {
  readonly #text: string;
  #scan: JsonSyntaxScan | undefined;

  constructor(text: string) {
    this.#text = text;
  }

  locate(path: string): { line: number; column: number } | undefined {
    this.#scan ??= scanJsonSyntax(this.#text, 'trajectory');

    const stepIndex = /^trajectory\[(\d+)\]/.exec(path)?.[1];
    const span =
      stepIndex === undefined
        ? this.#scan.members.get(topLevelMemberOf(path))
        : this.#scan.elements[Number(stepIndex)];
    return span === undefined ? undefined : positionAt(this.#text, span.start);
  }
}

/** The attribute, cut to `maxChars` and flagged with `<key>_truncated` when cut. */
function textAttribute(key: string, value: string | undefined, maxChars: number): Attributes {
  if (value === undefined) return {};

  const wellFormed = toWellFormed(value);
  if (wellFormed.length <= maxChars) return { [key]: wellFormed };
  return { [key]: toWellFormed(wellFormed.slice(0, maxChars)), [`${key}_truncated`]: true };
}

/** Keeps the start of the text within both limits, marking what was cut. */
function cutStart(text: string, maxChars: number, maxJsonBytes: number): string {
  const wellFormed = toWellFormed(text);
  if (fits(wellFormed, maxChars, maxJsonBytes)) return wellFormed;

  const marker = (cutChars: number): string => ` … [cut ${cutChars} characters]`;
  const keptChars = largestFitting(wellFormed.length, (kept) =>
    fits(wellFormed.slice(0, kept) + marker(wellFormed.length - kept), maxChars, maxJsonBytes),
  );
  const kept = toWellFormed(wellFormed.slice(0, keptChars));
  return kept + marker(wellFormed.length - keptChars);
}

/** Keeps the end of the text within both limits, marking what was cut. */
function cutEnd(text: string, maxChars: number, maxJsonBytes: number): string {
  const wellFormed = toWellFormed(text);
  if (fits(wellFormed, maxChars, maxJsonBytes)) return wellFormed;

  const marker = (cutChars: number): string => `[cut ${cutChars} characters] … `;
  const keptChars = largestFitting(wellFormed.length, (kept) =>
    fits(marker(wellFormed.length - kept) + wellFormed.slice(-kept), maxChars, maxJsonBytes),
  );
  const kept = toWellFormed(keptChars === 0 ? '' : wellFormed.slice(-keptChars));
  return marker(wellFormed.length - keptChars) + kept;
}

function fits(text: string, maxChars: number, maxJsonBytes: number): boolean {
  return text.length <= maxChars && Buffer.byteLength(JSON.stringify(text)) <= maxJsonBytes;
}

/** The largest n in 0..upper for which `fitsWith(n)` holds; it must hold for 0. */
function largestFitting(upper: number, fitsWith: (n: number) => boolean): number {
  let low = 0;
  let high = upper;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (fitsWith(middle)) low = middle;
    else high = middle - 1;
  }
  return low;
}

/** The text with every unpaired UTF-16 surrogate replaced by U+FFFD, which the contract accepts. */
function toWellFormed(text: string): string {
  return text.replace(LONE_SURROGATE_PATTERN, '\uFFFD');
}

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON: the caller reports the value as ill-typed.
    return undefined;
  }
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function dropUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(
    Object.entries(value).filter(([, entry]) => entry !== undefined),
  ) as never;
}
