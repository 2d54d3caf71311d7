/**
 * How one simulated tool call turns out: whether the access check before it passes, whether and
 * how it fails, how long it takes, and the attributes its activity event carries. Every random
 * draw comes from the generator passed in, in a fixed order, so a seed tells the same story.
 */
import type { AttributeValue, AuditBody, ErrorBody } from '../../schemas/event.js';
import {
  type AccessTemplate,
  type AgentProfile,
  FAILED_ACCESS_REASONS,
  type FailureMode,
  MODELS,
  type ModelName,
  OUT_OF_MEMORY_STACK,
  RUNTIME_FRAMES,
  SANDBOX_TRACEBACK,
  type StepTemplate,
  type ToolName,
  TOOLS,
  VAULT_FRAMES,
} from './fleet-catalogue.js';
import { clamp, roundTo } from './numbers.js';
import type { Random } from './random.js';

/** Share of first attempts of a tool call that fail. */
const TOOL_FAILURE_RATE = 0.045;
/** A retry fails this often: the cause of the first failure (a quota, a hot row) tends to last. */
const RETRY_FAILURE_RATE = 0.35;
/** Canary builds fail this much more often, which is what canaries are for. */
const CANARY_FAILURE_FACTOR = 1.6;
/** Share of llm.completion and code.exec calls that take the agent process down. */
const OUT_OF_MEMORY_RATE = 0.006;
/** Share of access checks that refuse the agent. */
const AUDIT_DENIED_RATE = 0.03;
/** Share of access checks that fail on the resource's side (a lock, a sealed vault). */
const AUDIT_FAILURE_RATE = 0.015;
/** Share of secret reads that find the agent's credential revoked. */
const CREDENTIAL_REVOKED_RATE = 0.01;

/** A failure decided when a call begins and reported when it ends. */
export interface PlannedFailure {
  type: string;
  message: string;
  severity: ErrorBody['severity'];
  retryable: boolean;
  failsAfter: FailureMode['failsAfter'];
  stack?: string;
  statusCode?: number;
}

/** What a tool call needs to know about the agent that makes it. */
export interface Caller {
  readonly identity: { readonly type: string; readonly team: string };
  readonly profile: AgentProfile;
  readonly isCanary: boolean;
}

/** A call as it ends: what it was, what it touched, and how it failed if it did. */
export interface FinishedCall {
  step: StepTemplate;
  resourceId: string | undefined;
  failure: PlannedFailure | undefined;
}

/** The verdict of an access check, as its audit record tells it, and the failure it causes. */
export interface AccessCheck {
  outcome: AuditBody['outcome'];
  /** Why access was denied or failed; undefined when it succeeded. */
  reason: string | undefined;
  failure: PlannedFailure | undefined;
}

type Attributes = Record<string, AttributeValue>;

/** Decides the access check that runs before a call touches a guarded resource. */
export function checkAccess(
  random: Random,
  caller: Caller,
  tool: ToolName,
  access: AccessTemplate,
  resourceId: string,
): AccessCheck {
  const revoked = access.resourceType === 'secret' && random.chance(CREDENTIAL_REVOKED_RATE);
  const draw = random.next();
  let outcome: AuditBody['outcome'] = 'success';
  let reason: string | undefined;
  if (revoked) {
    outcome = 'denied';
    reason = `token of role "${caller.identity.type}" was revoked by security-operations`;
  } else if (draw < AUDIT_DENIED_RATE) {
    outcome = 'denied';
    reason = deniedReason(caller, access, resourceId);
  } else if (draw < AUDIT_DENIED_RATE + AUDIT_FAILURE_RATE) {
    outcome = 'failure';
    reason = FAILED_ACCESS_REASONS[access.resourceType];
  }

  if (outcome === 'success' || reason === undefined) return { outcome, reason, failure: undefined };
  const failure = accessFailure(tool, access, resourceId, outcome, reason, revoked);
  return { outcome, reason, failure };
}

/** Draws whether a call fails on its own (after any access check passed), and how. */
export function drawFailure(
  random: Random,
  caller: Caller,
  step: StepTemplate,
  attempt: number,
  resourceId: string | undefined,
): PlannedFailure | undefined {
  const heavy = step.tool === 'llm.completion' || step.tool === 'code.exec';
  if (heavy && random.chance(OUT_OF_MEMORY_RATE)) return outOfMemory(caller, step.tool);

  const failureRate =
    attempt > 0
      ? RETRY_FAILURE_RATE
      : TOOL_FAILURE_RATE * (caller.isCanary ? CANARY_FAILURE_FACTOR : 1);
  if (!random.chance(failureRate)) return undefined;

  const mode = random.weighted(TOOLS[step.tool].failures, (candidate) => candidate.weight ?? 1);
  return toolFailure(mode, caller.profile.llmModel, step, resourceId);
}

export function drawCallDurationMs(
  random: Random,
  tool: ToolName,
  failure: PlannedFailure | undefined,
): number {
  const { medianMs, sigma, timeoutMs } = TOOLS[tool];
  if (failure?.failsAfter === 'timeout') return timeoutMs;
  if (failure?.failsAfter === 'fast') return 1 + Math.round(random.logNormal(40, 0.6));

  const durationMs = Math.round(random.logNormal(medianMs, sigma));
  // A call slower than the timeout would have been cut off by it.
  return clamp(durationMs, 1, timeoutMs - 1);
}

/** The attributes of a call's activity event; the tool's own come after the common ones. */
export function drawCallAttributes(
  random: Random,
  caller: Caller,
  call: FinishedCall,
  attempt: number,
  durationMs: number,
): Attributes {
  const attributes: Attributes = { 'tool.name': call.step.tool };
  if (attempt > 0) attributes['retry.attempt'] = attempt;
  if (call.failure !== undefined) attributes['error.type'] = call.failure.type;

  return {
    ...attributes,
    ...drawToolAttributes(random, caller.profile.llmModel, call, durationMs),
  };
}

// ---------------------------------------------------------------------------------------------
// Failures.
// ---------------------------------------------------------------------------------------------

function deniedReason(caller: Caller, access: AccessTemplate, resourceId: string): string {
  const { type, team } = caller.identity;
  switch (access.resourceType) {
    case 'repository':
      return `GitHub App of team ${team} lacks permission "${access.action}" on ${resourceId}`;
    case 'database_table': {
      const role = `agent_${type.replaceAll('-', '_')}`;
      const privilege = access.action.replace('table.', '').toUpperCase();
      return `role "${role}" has no ${privilege} privilege on ${resourceId}`;
    }
    case 'secret':
      return `Vault policy "${type}" does not grant read on ${resourceId}`;
    case 'ticket':
      return `${resourceId} is in the restricted group "legal-hold"`;
  }
}

/** A refused access fails the call at once and for good; a revoked credential stops the agent. */
function accessFailure(
  tool: ToolName,
  access: AccessTemplate,
  resourceId: string,
  outcome: 'denied' | 'failure',
  reason: string,
  revoked: boolean,
): PlannedFailure {
  const type = revoked
    ? 'CredentialRevokedError'
    : outcome === 'denied'
      ? 'PermissionDeniedError'
      : 'ResourceAccessError';
  const verb = outcome === 'denied' ? 'was denied' : 'failed';
  const message = `${access.action} on ${resourceId} ${verb}: ${reason}`;
  const frames = revoked ? VAULT_FRAMES : TOOLS[tool].stackFrames;

  return {
    type,
    message,
    severity: revoked ? 'critical' : 'error',
    retryable: false,
    failsAfter: 'fast',
    stack: nodeStack(type, message, [...frames, ...RUNTIME_FRAMES]),
    ...(outcome === 'denied' ? { statusCode: 403 } : {}),
  };
}

function outOfMemory(caller: Caller, tool: ToolName): PlannedFailure {
  const limitMb = Math.round(caller.profile.baselineMemoryMb * 2);
  return {
    type: 'OutOfMemoryError',
    message: `agent process exceeded its ${limitMb} MB heap limit during ${tool}`,
    severity: 'critical',
    retryable: false,
    failsAfter: undefined,
    stack: OUT_OF_MEMORY_STACK,
  };
}

function toolFailure(
  mode: FailureMode,
  model: ModelName,
  step: StepTemplate,
  resourceId: string | undefined,
): PlannedFailure {
  const message = mode.message
    .replaceAll('{host}', step.host ?? 'localhost')
    .replaceAll('{model}', model)
    .replaceAll('{resource}', resourceId ?? 'the table');
  const severity = mode.severity ?? 'error';
  // Warnings are handled in place and logged without a stack; errors carry where they came from.
  const stack =
    severity === 'warning'
      ? undefined
      : step.tool === 'code.exec'
        ? SANDBOX_TRACEBACK
        : nodeStack(mode.type, message, [...TOOLS[step.tool].stackFrames, ...RUNTIME_FRAMES]);

  return {
    type: mode.type,
    message,
    severity,
    retryable: mode.retryable ?? true,
    failsAfter: mode.failsAfter,
    ...(stack === undefined ? {} : { stack }),
    ...(mode.statusCode === undefined ? {} : { statusCode: mode.statusCode }),
  };
}

function nodeStack(type: string, message: string, frames: readonly string[]): string {
  return [`${type}: ${message}`, ...frames.map((frame) => `    at ${frame}`)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Attributes of each tool.
// ---------------------------------------------------------------------------------------------

function drawToolAttributes(
  random: Random,
  model: ModelName,
  call: FinishedCall,
  durationMs: number,
): Attributes {
  const { step, failure } = call;
  switch (step.tool) {
    case 'llm.completion':
      return drawCompletionAttributes(random, model, failure, durationMs);
    case 'http.request':
      return {
        'http.method': step.operation ?? 'GET',
        'server.address': step.host ?? 'localhost',
        ...statusCodeAttribute(failure, step.operation === 'POST' ? 201 : 200),
      };
    case 'db.query':
      return {
        'db.system': 'postgresql',
        'db.operation': step.operation ?? 'SELECT',
        ...(call.resourceId === undefined ? {} : { 'db.sql.table': call.resourceId }),
        'db.rows': failure === undefined ? Math.round(random.logNormal(40, 1.2)) : 0,
      };
    case 'web.search':
      return {
        'server.address': step.host ?? 'localhost',
        'search.result_count': failure === undefined ? random.integer(3, 20) : 0,
        ...statusCodeAttribute(failure, 200),
      };
    case 'code.exec':
      return {
        'code.language': 'python',
        // 137 is SIGKILL: what a job killed at its time limit exits with.
        'process.exit_code': failure === undefined ? 0 : failure.failsAfter === 'timeout' ? 137 : 1,
      };
  }
}

function drawCompletionAttributes(
  random: Random,
  modelName: ModelName,
  failure: PlannedFailure | undefined,
  durationMs: number,
): Attributes {
  const model = MODELS[modelName];
  const promptTokens = Math.round(random.logNormal(1_800, 0.6));
  // Tokens stream at the model's pace after about 400 ms to the first one.
  const completionTokens =
    failure === undefined ? Math.max(1, Math.round((durationMs - 400) / model.msPerToken)) : 0;
  const costUsd = (promptTokens * model.promptUsd + completionTokens * model.completionUsd) / 1_000;

  return {
    'llm.model': modelName,
    'llm.usage.prompt_tokens': promptTokens,
    'llm.usage.completion_tokens': completionTokens,
    'llm.usage.total_tokens': promptTokens + completionTokens,
    'llm.cost_usd': roundTo(costUsd, 6),
    ...statusCodeAttribute(failure, 200),
  };
}

/** A failed call without a status never got a response (a reset, a timeout): no status then. */
function statusCodeAttribute(
  failure: PlannedFailure | undefined,
  successStatusCode: number,
): Attributes {
  const statusCode = failure === undefined ? successStatusCode : failure.statusCode;
  return statusCode === undefined ? {} : { 'http.status_code': statusCode };
}
