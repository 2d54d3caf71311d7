/**
 * A simulated fleet of AI agents for the demo: support, code-review, data-sync and research agents
 * that run workflows of tasks made of tool calls, hit rate limits and retry, read and write guarded
 * resources, crash now and then, and send heartbeats. Pure logic: the caller owns the clock and
 * calls `advanceTo(nowMs)`; each event comes out once the clock passes the instant it happens.
 *
 * Why it is deterministic and small: each agent has exactly two entries on one agenda (its next
 * heartbeat and its next step of work), and every random draw happens when an entry runs. Entries
 * run in (time, insertion) order, so a seed and a start give the same events however the caller
 * slices the clock, and the agenda never holds more than two entries per agent.
 */
import { PanaceaError } from '../../core/errors.js';
import { describeProblems, validateEvent } from '../../schemas/contract.js';
import type {
  ActivityBody,
  AgentEvent,
  AttributeValue,
  AuditBody,
  ErrorBody,
  HeartbeatBody,
} from '../../schemas/event.js';
import { MAX_EPOCH_MS, MIN_EPOCH_MS } from '../../schemas/timestamp.js';
import { Agenda, type AgendaEntry } from './agenda.js';
import {
  type AccessTemplate,
  type AgentProfile,
  PROFILES,
  type StepTemplate,
  type TaskTemplate,
  type WorkflowTemplate,
} from './fleet-catalogue.js';
import { at, required } from './invariants.js';
import { clamp, roundTo } from './numbers.js';
import { Random } from './random.js';
import {
  checkAccess,
  drawCallAttributes,
  drawCallDurationMs,
  drawFailure,
  type FinishedCall,
  type PlannedFailure,
} from './tool-calls.js';

export interface SimulatedFleetOptions {
  /**
   * Seed for the pseudo-random generator; the same seed and clock give the same events. Default 1.
   */
  seed?: number;
  /** Number of simulated agents. Default 6. */
  agentCount?: number;
  /** Heartbeat period per agent in ms. Default 10_000. */
  heartbeatIntervalMs?: number;
  /** Mean pause between two tasks of one agent, ms. Default 3_000. */
  meanTaskGapMs?: number;
}

export interface SimulatedAgent {
  id: string;
  name: string;
  type: string;
  version: string;
  team: string;
}

export interface SimulatedFleet {
  /**
   * Everything that happened in (previous call, nowMs], in timestamp order, as validated contract
   * events. The first window opens at the fleet's start; a clock that did not move forward gives
   * an empty list.
   */
  advanceTo(nowMs: number): AgentEvent[];
  readonly agents: ReadonlyArray<SimulatedAgent>;
}

export const SIMULATED_FLEET_DEFAULTS = {
  seed: 1,
  agentCount: 6,
  heartbeatIntervalMs: 10_000,
  meanTaskGapMs: 3_000,
} as const;

export function createSimulatedFleet(
  startMs: number,
  options: SimulatedFleetOptions = {},
): SimulatedFleet {
  return new Fleet(startMs, resolveOptions(startMs, options));
}

/** First call plus two retries: enough to ride out a rate limit, few enough to fail fast. */
const MAX_ATTEMPTS = 3;
/** How much longer an agent with an empty queue waits for work than between two tasks. */
const IDLE_GAP_FACTOR = 4;
/** Period of the slow rise and fall of each agent's backlog, like a working day compressed. */
const LOAD_CYCLE_MS = 20 * 60_000;

// ---------------------------------------------------------------------------------------------
// What each agent is doing.
// ---------------------------------------------------------------------------------------------

interface WorkflowRun {
  template: WorkflowTemplate;
  workflowId: string;
  traceId: string;
  spanId: string;
  startedAtMs: number;
  taskIndex: number;
  /** The ticket and repository the run is about, so a read and a later write name the same. */
  ticketId: string;
  /** Undefined for agents that never touch code. */
  repositoryId: string | undefined;
}

interface TaskRun {
  template: TaskTemplate;
  taskId: string;
  spanId: string;
  startedAtMs: number;
  /** The task's steps with repeats unrolled: a handful at most. */
  steps: StepTemplate[];
  stepIndex: number;
  /** 0 for the first call of the current step, then 1, 2 for its retries. */
  attempt: number;
  toolCallCount: number;
}

interface ToolCallRun extends FinishedCall {
  spanId: string;
  startedAtMs: number;
}

interface RecoveryRun {
  spanId: string;
  startedAtMs: number;
  reason: string;
}

interface AgentRuntime {
  readonly identity: SimulatedAgent;
  readonly profile: AgentProfile;
  readonly sourceIp: string;
  readonly isCanary: boolean;
  /** Phase of the agent's load cycle, radians, so agents do not peak together. */
  readonly loadPhase: number;
  workflow: WorkflowRun | undefined;
  task: TaskRun | undefined;
  call: ToolCallRun | undefined;
  recovery: RecoveryRun | undefined;
  cpuPercent: number;
  memoryMb: number;
  retainedMb: number;
  queueDepth: number;
}

/** What an agenda entry does when it runs: an agent's next heartbeat, or its next step of work. */
type AgendaStep =
  'heartbeat' | 'workflow.start' | 'task.start' | 'call.begin' | 'call.end' | 'recovery.end';

interface AgendaItem {
  agent: AgentRuntime;
  step: AgendaStep;
}

interface Correlation {
  workflowId?: string;
  taskId?: string;
  traceId?: string;
  spanId?: string;
}

type EventBody =
  | { kind: 'activity'; activity: ActivityBody }
  | { kind: 'error'; error: ErrorBody }
  | { kind: 'audit'; audit: AuditBody }
  | { kind: 'heartbeat'; heartbeat: HeartbeatBody };

type FleetSettings = Required<SimulatedFleetOptions>;

// ---------------------------------------------------------------------------------------------
// The fleet.
// ---------------------------------------------------------------------------------------------

class Fleet implements SimulatedFleet {
  readonly agents: ReadonlyArray<SimulatedAgent>;
  readonly #settings: FleetSettings;
  readonly #eventIdPrefix: string;
  readonly #random: Random;
  readonly #agenda = new Agenda<AgendaItem>();
  readonly #startMs: number;
  #clockMs: number;
  #eventCount = 0;
  #emitted: AgentEvent[] = [];

  constructor(startMs: number, settings: FleetSettings) {
    this.#settings = settings;
    // The start is part of the id: ids are the dedupe key in Elasticsearch, and a second demo run
    // with the same seed must add documents, not overwrite the first run's.
    this.#eventIdPrefix = `demo-${settings.seed}-${startMs}-`;
    this.#random = new Random(settings.seed);
    this.#startMs = startMs;
    this.#clockMs = startMs;

    const runtimes = Array.from({ length: settings.agentCount }, (_, index) =>
      this.#createAgent(index),
    );
    this.agents = Object.freeze(runtimes.map((agent) => Object.freeze({ ...agent.identity })));

    for (const agent of runtimes) {
      const firstBeatMs = startMs + this.#random.integer(1, settings.heartbeatIntervalMs);
      this.#schedule(firstBeatMs, agent, 'heartbeat');
      this.#schedule(startMs + 1 + this.#gapMs(), agent, 'workflow.start');
    }
  }

  advanceTo(nowMs: number): AgentEvent[] {
    if (!Number.isFinite(nowMs)) {
      throw new RangeError(`nowMs: expected finite epoch milliseconds, got ${String(nowMs)}`);
    }
    if (nowMs <= this.#clockMs) return [];

    for (let entry = this.#agenda.takeDue(nowMs); entry; entry = this.#agenda.takeDue(nowMs)) {
      this.#run(entry);
    }
    this.#clockMs = nowMs;

    const events = this.#emitted;
    this.#emitted = [];
    return events;
  }

  #createAgent(index: number): AgentRuntime {
    const profile = at(PROFILES, index % PROFILES.length);
    const ordinal = Math.floor(index / PROFILES.length) + 1;
    const isCanary = ordinal % 3 === 2;
    const random = this.#random;

    return {
      identity: {
        id: `${profile.type}-${String(ordinal).padStart(3, '0')}`,
        name: `${profile.displayName} ${ordinal}`,
        type: profile.type,
        version: isCanary ? profile.canaryVersion : profile.version,
        team: at(profile.teams, (ordinal - 1) % profile.teams.length),
      },
      profile,
      sourceIp: `${profile.subnet}.${random.integer(0, 255)}.${random.integer(2, 254)}`,
      isCanary,
      loadPhase: random.between(0, 2 * Math.PI),
      workflow: undefined,
      task: undefined,
      call: undefined,
      recovery: undefined,
      cpuPercent: random.between(2, 6),
      memoryMb: profile.baselineMemoryMb * random.between(0.9, 1.1),
      retainedMb: 0,
      queueDepth: random.integer(0, profile.typicalQueueDepth * 2),
    };
  }

  #schedule(atMs: number, agent: AgentRuntime, step: AgendaStep): void {
    this.#agenda.add(atMs, { agent, step });
  }

  #run({ atMs, item: { agent, step } }: AgendaEntry<AgendaItem>): void {
    switch (step) {
      case 'heartbeat':
        return this.#heartbeat(agent, atMs);
      case 'workflow.start':
        return this.#startWorkflow(agent, atMs);
      case 'task.start':
        return this.#startTask(agent, atMs);
      case 'call.begin':
        return this.#beginCall(agent, atMs);
      case 'call.end':
        return this.#endCall(agent, atMs);
      case 'recovery.end':
        return this.#endRecovery(agent, atMs);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Work: a workflow is a list of tasks, a task a list of tool calls, each retried when it may.
  // -------------------------------------------------------------------------------------------

  #startWorkflow(agent: AgentRuntime, nowMs: number): void {
    const random = this.#random;
    const { repositories, workflows } = agent.profile;
    const template = random.weighted(workflows, (candidate) => candidate.weight);
    const run: WorkflowRun = {
      template,
      workflowId: `wf-${random.hex(16)}`,
      traceId: random.hex(32),
      spanId: random.hex(16),
      startedAtMs: nowMs,
      taskIndex: 0,
      ticketId: `ZD-${random.integer(100_000, 999_999)}`,
      repositoryId: repositories.length > 0 ? random.pick(repositories) : undefined,
    };
    agent.workflow = run;
    agent.queueDepth = Math.max(0, agent.queueDepth - 1);

    this.#emitActivity(agent, nowMs, workflowCorrelation(run), {
      action: 'workflow.started',
      status: 'started',
      attributes: { 'workflow.name': template.name },
    });

    this.#schedule(nowMs + random.integer(20, 250), agent, 'task.start');
  }

  #startTask(agent: AgentRuntime, nowMs: number): void {
    const run = required(agent.workflow, 'a task starts inside a workflow');
    const random = this.#random;
    const template = at(run.template.tasks, run.taskIndex);
    const steps = template.steps.flatMap((step) => {
      const [min, max] = step.repeat ?? [1, 1];
      return Array.from({ length: random.integer(min, max) }, () => step);
    });
    const taskRun: TaskRun = {
      template,
      taskId: `task-${random.hex(16)}`,
      spanId: random.hex(16),
      startedAtMs: nowMs,
      steps,
      stepIndex: 0,
      attempt: 0,
      toolCallCount: 0,
    };
    agent.task = taskRun;

    this.#emitActivity(agent, nowMs, taskCorrelation(run, taskRun), {
      action: 'task.started',
      status: 'started',
      attributes: { 'task.name': template.name, 'workflow.name': run.template.name },
    });

    this.#schedule(nowMs + this.#thinkMs(), agent, 'call.begin');
  }

  #beginCall(agent: AgentRuntime, nowMs: number): void {
    const run = required(agent.workflow, 'a tool call runs inside a workflow');
    const taskRun = required(agent.task, 'a tool call runs inside a task');
    const step = at(taskRun.steps, taskRun.stepIndex);
    const spanId = this.#random.hex(16);
    const correlation = { ...taskCorrelation(run, taskRun), spanId };

    // Access is checked before the tool does anything, so a refused call fails within milliseconds.
    let failure: PlannedFailure | undefined;
    let resourceId: string | undefined;
    if (step.access !== undefined) {
      resourceId = this.#resourceIdOf(step.access, run);
      failure = this.#audit(agent, nowMs, correlation, step, step.access, resourceId);
    }
    failure ??= drawFailure(this.#random, agent, step, taskRun.attempt, resourceId);

    agent.call = { step, spanId, startedAtMs: nowMs, resourceId, failure };
    taskRun.toolCallCount += 1;
    const durationMs = drawCallDurationMs(this.#random, step.tool, failure);
    this.#schedule(nowMs + durationMs, agent, 'call.end');
  }

  #endCall(agent: AgentRuntime, nowMs: number): void {
    const run = required(agent.workflow, 'a tool call runs inside a workflow');
    const taskRun = required(agent.task, 'a tool call runs inside a task');
    const call = required(agent.call, 'a tool call ends after it began');
    const { failure } = call;
    const correlation = { ...taskCorrelation(run, taskRun), spanId: call.spanId };
    const durationMs = nowMs - call.startedAtMs;
    agent.call = undefined;

    this.#emitActivity(agent, nowMs, correlation, {
      action: 'tool.call',
      status: failure === undefined ? 'succeeded' : 'failed',
      durationMs,
      attributes: drawCallAttributes(this.#random, agent, call, taskRun.attempt, durationMs),
    });
    if (failure !== undefined) this.#emit(agent, nowMs, correlation, errorBody(failure));

    if (failure === undefined) {
      this.#nextStep(agent, taskRun, nowMs);
    } else if (failure.retryable && taskRun.attempt + 1 < MAX_ATTEMPTS) {
      this.#retryStep(agent, taskRun, nowMs);
    } else {
      this.#abandonWorkflow(agent, nowMs, failure);
    }
  }

  #nextStep(agent: AgentRuntime, taskRun: TaskRun, nowMs: number): void {
    taskRun.stepIndex += 1;
    taskRun.attempt = 0;
    if (taskRun.stepIndex < taskRun.steps.length) {
      this.#schedule(nowMs + this.#thinkMs(), agent, 'call.begin');
    } else {
      this.#finishTask(agent, nowMs);
    }
  }

  /** Exponential backoff with jitter: about 500 ms before the first retry, 1 s before the next. */
  #retryStep(agent: AgentRuntime, taskRun: TaskRun, nowMs: number): void {
    taskRun.attempt += 1;
    const backoffMs = 500 * 2 ** (taskRun.attempt - 1) * this.#random.between(0.5, 1.5);
    this.#schedule(nowMs + Math.round(backoffMs), agent, 'call.begin');
  }

  /** A failure that cannot be retried, or is still failing on the last attempt, ends the run. */
  #abandonWorkflow(agent: AgentRuntime, nowMs: number, failure: PlannedFailure): void {
    this.#closeTask(agent, nowMs, failure);
    this.#closeWorkflow(agent, nowMs, failure.type);

    if (failure.severity === 'critical') {
      this.#crash(agent, nowMs, failure);
    } else {
      this.#schedule(nowMs + this.#idleMs(agent), agent, 'workflow.start');
    }
  }

  #finishTask(agent: AgentRuntime, nowMs: number): void {
    const run = required(agent.workflow, 'a task finishes inside a workflow');

    this.#closeTask(agent, nowMs, undefined);
    run.taskIndex += 1;
    if (run.taskIndex < run.template.tasks.length) {
      this.#schedule(nowMs + this.#gapMs(), agent, 'task.start');
      return;
    }

    this.#closeWorkflow(agent, nowMs, undefined);
    this.#schedule(nowMs + this.#idleMs(agent), agent, 'workflow.start');
  }

  #closeTask(agent: AgentRuntime, nowMs: number, failure: PlannedFailure | undefined): void {
    const run = required(agent.workflow, 'a task closes inside a workflow');
    const taskRun = required(agent.task, 'a task closes after it started');
    const attributes: Record<string, AttributeValue> = {
      'task.name': taskRun.template.name,
      'workflow.name': run.template.name,
      'task.tool_calls': taskRun.toolCallCount,
    };
    if (failure !== undefined) attributes['error.type'] = failure.type;
    // Only a transient failure that is still failing on the last attempt exhausts the retries.
    if (failure?.retryable === true && failure.severity !== 'critical') {
      attributes['retry.exhausted'] = true;
    }
    agent.task = undefined;
    agent.retainedMb += agent.profile.retainedMbPerTask;

    const durationMs = nowMs - taskRun.startedAtMs;
    const activity = outcomeActivity('task', failure?.type, durationMs, attributes);
    this.#emitActivity(agent, nowMs, taskCorrelation(run, taskRun), activity);
  }

  #closeWorkflow(agent: AgentRuntime, nowMs: number, errorType: string | undefined): void {
    const run = required(agent.workflow, 'a workflow closes after it started');
    const attributes: Record<string, AttributeValue> = {
      'workflow.name': run.template.name,
      'workflow.tasks_completed': run.taskIndex,
    };
    if (errorType !== undefined) attributes['error.type'] = errorType;
    agent.workflow = undefined;

    const durationMs = nowMs - run.startedAtMs;
    const activity = outcomeActivity('workflow', errorType, durationMs, attributes);
    this.#emitActivity(agent, nowMs, workflowCorrelation(run), activity);
  }

  /** Writes the audit record of one access and returns the failure it causes, if any. */
  #audit(
    agent: AgentRuntime,
    nowMs: number,
    correlation: Correlation,
    step: StepTemplate,
    access: AccessTemplate,
    resourceId: string,
  ): PlannedFailure | undefined {
    const { outcome, reason, failure } = checkAccess(
      this.#random,
      agent,
      step.tool,
      access,
      resourceId,
    );

    this.#emit(agent, nowMs, correlation, {
      kind: 'audit',
      audit: {
        actor: { type: 'agent', id: agent.identity.id },
        action: access.action,
        resource: { type: access.resourceType, id: resourceId },
        outcome,
        ...(reason === undefined ? {} : { reason }),
        sourceIp: agent.sourceIp,
      },
    });

    return failure;
  }

  #resourceIdOf(access: AccessTemplate, run: WorkflowRun): string {
    if (access.resourceIds !== undefined) return this.#random.pick(access.resourceIds);
    if (access.resourceType === 'ticket') return run.ticketId;
    return required(
      run.repositoryId,
      'a step on a repository belongs to an agent with repositories',
    );
  }

  // -------------------------------------------------------------------------------------------
  // Outages: a critical error takes the agent out of service until it is restarted or unblocked.
  // -------------------------------------------------------------------------------------------

  #crash(agent: AgentRuntime, nowMs: number, failure: PlannedFailure): void {
    const recovery = { spanId: this.#random.hex(16), startedAtMs: nowMs, reason: failure.type };
    agent.recovery = recovery;
    // A revoked credential waits for a person to rotate it; a crashed process only for a restart.
    const downtimeMs =
      failure.type === 'CredentialRevokedError'
        ? this.#random.integer(60_000, 150_000)
        : this.#random.integer(15_000, 45_000);

    this.#emitRecovery(agent, nowMs, recovery, 'started');

    this.#schedule(nowMs + downtimeMs, agent, 'recovery.end');
  }

  #endRecovery(agent: AgentRuntime, nowMs: number): void {
    const recovery = required(agent.recovery, 'a recovery ends after it started');
    agent.recovery = undefined;
    // A fresh process: whatever the old one had retained is gone.
    agent.retainedMb = 0;
    agent.memoryMb = agent.profile.baselineMemoryMb * this.#random.between(0.55, 0.7);

    this.#emitRecovery(agent, nowMs, recovery, 'succeeded');

    this.#schedule(nowMs + this.#idleMs(agent), agent, 'workflow.start');
  }

  /** The recovery's activity: that it started, or that it is over and how long it took. */
  #emitRecovery(
    agent: AgentRuntime,
    nowMs: number,
    recovery: RecoveryRun,
    status: 'started' | 'succeeded',
  ): void {
    this.#emitActivity(
      agent,
      nowMs,
      { spanId: recovery.spanId },
      {
        action: 'agent.recovery',
        status,
        ...(status === 'started' ? {} : { durationMs: nowMs - recovery.startedAtMs }),
        attributes: { 'recovery.reason': recovery.reason },
      },
    );
  }

  // -------------------------------------------------------------------------------------------
  // Heartbeats.
  // -------------------------------------------------------------------------------------------

  #heartbeat(agent: AgentRuntime, nowMs: number): void {
    const status = heartbeatStatusOf(agent);
    this.#driftVitals(agent, nowMs, status);

    this.#emit(
      agent,
      nowMs,
      {},
      {
        kind: 'heartbeat',
        heartbeat: {
          status,
          cpuPercent: roundTo(agent.cpuPercent, 1),
          memoryMb: roundTo(agent.memoryMb, 1),
          queueDepth: agent.queueDepth,
        },
      },
    );

    this.#schedule(nowMs + this.#settings.heartbeatIntervalMs, agent, 'heartbeat');
  }

  /** Moves CPU, memory and queue depth one beat towards where the agent's status takes them. */
  #driftVitals(agent: AgentRuntime, nowMs: number, status: HeartbeatBody['status']): void {
    const random = this.#random;
    const { profile } = agent;
    const cpuTargetPercent = { busy: profile.busyCpuPercent, active: 18, idle: 4, error: 1 }[
      status
    ];
    const memoryTargetMb =
      profile.baselineMemoryMb * (status === 'busy' ? 1.25 : 1) + agent.retainedMb;
    // Measured from the start, so a seed tells the same story whenever the demo is started.
    const cycleAngle = (2 * Math.PI * (nowMs - this.#startMs)) / LOAD_CYCLE_MS;
    const load = 1 + 0.6 * Math.sin(cycleAngle + agent.loadPhase);
    const arrivals = random.poisson(profile.typicalQueueDepth * load * 0.15);
    const departures = status === 'error' ? 0 : random.poisson(agent.queueDepth * 0.15);

    // Each beat moves part of the way to the target, with noise, so values drift and do not jump.
    agent.cpuPercent = clamp(
      agent.cpuPercent + 0.6 * (cpuTargetPercent - agent.cpuPercent) + 3 * random.normal(),
      0,
      100,
    );
    agent.memoryMb = Math.max(
      50,
      agent.memoryMb + 0.2 * (memoryTargetMb - agent.memoryMb) + 6 * random.normal(),
    );
    agent.queueDepth = Math.max(0, agent.queueDepth + arrivals - departures);
  }

  // -------------------------------------------------------------------------------------------
  // Events and pauses.
  // -------------------------------------------------------------------------------------------

  #emitActivity(
    agent: AgentRuntime,
    nowMs: number,
    correlation: Correlation,
    activity: ActivityBody,
  ): void {
    this.#emit(agent, nowMs, correlation, { kind: 'activity', activity });
  }

  /** Validates and queues one event; an event that breaks the contract is a bug here, so throw. */
  #emit(agent: AgentRuntime, nowMs: number, correlation: Correlation, body: EventBody): void {
    this.#eventCount += 1;
    const { id, name, type, version } = agent.identity;
    const candidate = {
      eventId: `${this.#eventIdPrefix}${this.#eventCount}`,
      timestamp: nowMs,
      agent: { id, name, type, version },
      ...correlation,
      ...body,
    };

    const result = validateEvent(candidate);
    if (!result.ok) {
      throw new PanaceaError(
        'CONTRACT_VIOLATION',
        `the simulated fleet built an invalid ${body.kind} event: ` +
          describeProblems(result.problems),
        { field: result.problems[0]?.field },
      );
    }

    this.#emitted.push(result.event);
  }

  /** Pause between two tasks: exponential, so most pauses are short and a few are long. */
  #gapMs(): number {
    return Math.round(this.#random.exponential(this.#settings.meanTaskGapMs));
  }

  /** Pause before the next workflow: short while work is queued, longer when the queue is empty. */
  #idleMs(agent: AgentRuntime): number {
    const meanMs = this.#settings.meanTaskGapMs * (agent.queueDepth > 0 ? 1 : IDLE_GAP_FACTOR);
    return Math.round(this.#random.exponential(meanMs));
  }

  /** Time the agent spends deciding on its next tool call. */
  #thinkMs(): number {
    return Math.min(2_000, Math.round(this.#random.logNormal(120, 0.6)));
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

function heartbeatStatusOf(agent: AgentRuntime): HeartbeatBody['status'] {
  if (agent.recovery !== undefined) return 'error';
  if (agent.task !== undefined) return 'busy';
  // Between two tasks of a workflow the agent is still working on something.
  if (agent.workflow !== undefined) return 'active';
  return 'idle';
}

/** The closing activity of a task or workflow: `task.succeeded`, `workflow.failed` and so on. */
function outcomeActivity(
  subject: 'task' | 'workflow',
  errorType: string | undefined,
  durationMs: number,
  attributes: Record<string, AttributeValue>,
): ActivityBody {
  const status = errorType === undefined ? 'succeeded' : 'failed';
  return { action: `${subject}.${status}`, status, durationMs, attributes };
}

function errorBody(failure: PlannedFailure): EventBody {
  return {
    kind: 'error',
    error: {
      type: failure.type,
      message: failure.message,
      ...(failure.stack === undefined ? {} : { stack: failure.stack }),
      severity: failure.severity,
      retryable: failure.retryable,
    },
  };
}

function workflowCorrelation(run: WorkflowRun): Correlation {
  return { workflowId: run.workflowId, traceId: run.traceId, spanId: run.spanId };
}

function taskCorrelation(run: WorkflowRun, taskRun: TaskRun): Correlation {
  return {
    workflowId: run.workflowId,
    taskId: taskRun.taskId,
    traceId: run.traceId,
    spanId: taskRun.spanId,
  };
}

// ---------------------------------------------------------------------------------------------
// Options.
// ---------------------------------------------------------------------------------------------

function resolveOptions(startMs: number, options: SimulatedFleetOptions): FleetSettings {
  const defaults = SIMULATED_FLEET_DEFAULTS;
  checkInteger('startMs', startMs, MIN_EPOCH_MS, MAX_EPOCH_MS);

  return {
    seed: checkInteger('seed', options.seed ?? defaults.seed, 0, 4_294_967_295),
    agentCount: checkInteger('agentCount', options.agentCount ?? defaults.agentCount, 1, 1_000),
    heartbeatIntervalMs: checkInteger(
      'heartbeatIntervalMs',
      options.heartbeatIntervalMs ?? defaults.heartbeatIntervalMs,
      100,
      3_600_000,
    ),
    meanTaskGapMs: checkInteger(
      'meanTaskGapMs',
      options.meanTaskGapMs ?? defaults.meanTaskGapMs,
      0,
      3_600_000,
    ),
  };
}

function checkInteger(field: string, value: unknown, min: number, max: number): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) {
    return value;
  }

  const got = typeof value === 'string' ? `"${value}"` : String(value);
  throw new PanaceaError(
    'CONFIG_INVALID',
    `${field}: expected an integer from ${min} to ${max}, got ${got}`,
    { field },
  );
}
