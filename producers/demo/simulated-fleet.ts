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

/** First call plus two retries: enough to ride out a rate limit, few enough to fail fast. */
const MAX_ATTEMPTS = 3;
/** Share of first attempts of a tool call that fail. */
const TOOL_FAILURE_RATE = 0.045;
/** A retry fails this often: the cause of the first failure (a quota, a hot row) tends to last. */
const RETRY_FAILURE_RATE = 0.35;
/** Canary builds fail this much more often, which is what canaries are for. */
const CANARY_FAILURE_FACTOR = 1.6;
/** Share of llm.completion and code.exec calls that take the agent process down. */
const OUT_OF_MEMORY_RATE = 0.006;
const AUDIT_DENIED_RATE = 0.03;
const AUDIT_FAILURE_RATE = 0.015;
/** Share of secret reads that find the agent's credential revoked. */
const CREDENTIAL_REVOKED_RATE = 0.01;
/** How much longer an agent with an empty queue waits for work than between two tasks. */
const IDLE_GAP_FACTOR = 4;
/** Period of the slow rise and fall of each agent's backlog, like a working day compressed. */
const LOAD_CYCLE_MS = 20 * 60_000;

// ---------------------------------------------------------------------------------------------
// Catalogue: tools, how they fail, and the kinds of agent that use them.
// ---------------------------------------------------------------------------------------------

type ToolName = 'web.search' | 'db.query' | 'code.exec' | 'http.request' | 'llm.completion';
type ResourceType = 'repository' | 'database_table' | 'secret' | 'ticket';
type ModelName = 'gpt-4o' | 'gpt-4o-mini' | 'claude-3-5-sonnet';

interface FailureMode {
  type: string;
  /** Default `error`. */
  severity?: 'warning' | 'error';
  /** Default true: most tool failures are transient. */
  retryable?: boolean;
  /** Relative frequency among the tool's failures. Default 1. */
  weight?: number;
  /** `fast`: refused up front; `timeout`: cut off by the tool's timeout. Default: a usual run. */
  failsAfter?: 'fast' | 'timeout';
  /** HTTP status the tool saw; absent when no response came back. */
  statusCode?: number;
  /** `{host}`, `{model}` and `{resource}` are replaced by what the call talked to. */
  message: string;
}

interface ToolProfile {
  /** Median duration of a successful call, ms; durations are log-normal around it. */
  medianMs: number;
  /** Spread of the log-normal duration (standard deviation of its logarithm). */
  sigma: number;
  timeoutMs: number;
  failures: readonly FailureMode[];
  /** Frames below the throw site, innermost first, for the stacks of its errors. */
  stackFrames: readonly string[];
}

const TOOLS: Record<ToolName, ToolProfile> = {
  'web.search': {
    medianMs: 650,
    sigma: 0.45,
    timeoutMs: 10_000,
    failures: [
      {
        type: 'RateLimitError',
        severity: 'warning',
        weight: 5,
        failsAfter: 'fast',
        statusCode: 429,
        message: '429 Too Many Requests: search quota of 100 queries per minute used up',
      },
      {
        type: 'UpstreamTimeoutError',
        weight: 2,
        failsAfter: 'timeout',
        message: '{host} did not answer within 10000 ms',
      },
      { type: 'HttpError', statusCode: 502, message: 'status code 502 (Bad Gateway) from {host}' },
    ],
    stackFrames: [
      'Object.fetch (node:internal/deps/undici/undici:13502:13)',
      'process.processTicksAndRejections (node:internal/process/task_queues:105:5)',
      'async SearchTool.search (/srv/agent/dist/tools/search-tool.js:37:21)',
    ],
  },
  'db.query': {
    medianMs: 40,
    sigma: 0.9,
    timeoutMs: 15_000,
    failures: [
      {
        type: 'DeadlockDetectedError',
        weight: 2,
        message: 'deadlock detected (SQLSTATE 40P01) on {resource}',
      },
      {
        type: 'QueryTimeoutError',
        weight: 2,
        failsAfter: 'timeout',
        message: 'canceling statement due to statement timeout (SQLSTATE 57014)',
      },
      {
        type: 'PoolExhaustedError',
        severity: 'warning',
        failsAfter: 'fast',
        message: 'timeout exceeded when trying to connect: all 10 pool connections busy',
      },
      {
        type: 'UniqueViolationError',
        retryable: false,
        failsAfter: 'fast',
        message: 'duplicate key value violates unique constraint on {resource} (SQLSTATE 23505)',
      },
    ],
    stackFrames: [
      'Parser.parseErrorMessage (/srv/agent/node_modules/pg-protocol/dist/parser.js:285:98)',
      'Parser.handlePacket (/srv/agent/node_modules/pg-protocol/dist/parser.js:122:29)',
      'Parser.parse (/srv/agent/node_modules/pg-protocol/dist/parser.js:35:38)',
      'Socket.<anonymous> (/srv/agent/node_modules/pg-protocol/dist/index.js:11:42)',
      'async DbTool.query (/srv/agent/dist/tools/db-tool.js:41:18)',
    ],
  },
  'code.exec': {
    medianMs: 2_200,
    sigma: 0.7,
    timeoutMs: 120_000,
    failures: [
      {
        type: 'SandboxExecutionError',
        retryable: false,
        weight: 3,
        message: "sandbox job exited with code 1: KeyError: 'amount'",
      },
      {
        type: 'ExecutionTimeoutError',
        failsAfter: 'timeout',
        message: 'sandbox job exceeded its 120000 ms wall-clock limit and was killed',
      },
    ],
    // The sandbox reports a Python traceback instead; see SANDBOX_TRACEBACK.
    stackFrames: [],
  },
  'http.request': {
    medianMs: 240,
    sigma: 0.6,
    timeoutMs: 30_000,
    failures: [
      {
        type: 'RateLimitError',
        severity: 'warning',
        weight: 3,
        failsAfter: 'fast',
        statusCode: 429,
        message: '429 Too Many Requests from {host}; rate limit resets in 30 s',
      },
      {
        type: 'HttpError',
        weight: 3,
        statusCode: 503,
        message: 'Request failed with status code 503 (Service Unavailable) from {host}',
      },
      {
        type: 'ConnectionResetError',
        weight: 2,
        failsAfter: 'fast',
        message: 'socket hang up (ECONNRESET) talking to {host}',
      },
      {
        type: 'HttpError',
        retryable: false,
        failsAfter: 'fast',
        statusCode: 404,
        message: 'Request failed with status code 404 (Not Found) from {host}',
      },
    ],
    stackFrames: [
      'settle (/srv/agent/node_modules/axios/lib/core/settle.js:19:12)',
      'IncomingMessage.handleStreamEnd (/srv/agent/node_modules/axios/lib/adapters/http.js:599:11)',
      'IncomingMessage.emit (node:events:531:35)',
      'endReadableNT (node:internal/streams/readable:1698:12)',
      'async Axios.request (/srv/agent/node_modules/axios/lib/core/Axios.js:45:14)',
      'async HttpTool.call (/srv/agent/dist/tools/http-tool.js:54:22)',
    ],
  },
  'llm.completion': {
    medianMs: 2_800,
    sigma: 0.55,
    timeoutMs: 60_000,
    failures: [
      {
        type: 'RateLimitError',
        severity: 'warning',
        weight: 5,
        failsAfter: 'fast',
        statusCode: 429,
        message: '429 Rate limit reached for {model}: 450000 tokens per minute; retry after 1.2 s',
      },
      {
        type: 'OverloadedError',
        severity: 'warning',
        weight: 2,
        failsAfter: 'fast',
        statusCode: 529,
        message: '529 {model} is overloaded; try again shortly',
      },
      {
        type: 'APITimeoutError',
        failsAfter: 'timeout',
        message: 'Request timed out after 60000 ms.',
      },
      {
        type: 'OutputParseError',
        statusCode: 200,
        message:
          'model output does not match the tool schema: "I\'m sorry, I can\'t..." is not JSON',
      },
      {
        type: 'ContextLengthExceededError',
        retryable: false,
        failsAfter: 'fast',
        statusCode: 400,
        message: '400 {model} allows at most 128000 tokens of context; the request used 131472',
      },
    ],
    stackFrames: [
      'OpenAI.makeStatusError (/srv/agent/node_modules/openai/core.js:293:25)',
      'OpenAI.makeRequest (/srv/agent/node_modules/openai/core.js:337:30)',
      'process.processTicksAndRejections (node:internal/process/task_queues:105:5)',
      'async LlmTool.complete (/srv/agent/dist/tools/llm-tool.js:88:20)',
    ],
  },
};

/** Frames every tool call passes through in the agent runtime, outermost last. */
const RUNTIME_FRAMES = [
  'async ToolRunner.invoke (/srv/agent/dist/runtime/tool-runner.js:112:19)',
  'async StepExecutor.run (/srv/agent/dist/runtime/step-executor.js:67:22)',
  'async TaskLoop.next (/srv/agent/dist/runtime/task-loop.js:141:7)',
];

const VAULT_FRAMES = [
  'VaultClient.handleResponse (/srv/agent/node_modules/node-vault/src/index.js:106:25)',
  'process.processTicksAndRejections (node:internal/process/task_queues:105:5)',
  'async SecretStore.read (/srv/agent/dist/secrets/secret-store.js:29:16)',
];

const SANDBOX_TRACEBACK = [
  'Traceback (most recent call last):',
  '  File "/sandbox/job.py", line 58, in <module>',
  '    main()',
  '  File "/sandbox/job.py", line 51, in main',
  '    rows = transform(load_rows(sys.argv[1]))',
  '  File "/sandbox/job.py", line 23, in transform',
  '    return [normalise(row) for row in rows]',
  '  File "/sandbox/job.py", line 17, in normalise',
  '    "amount": Decimal(row["amount"]),',
  "KeyError: 'amount'",
].join('\n');

const OUT_OF_MEMORY_STACK = [
  'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
  '----- Native stack trace -----',
  ' 1: 0xcc2a0c node::OOMErrorHandler(char const*, v8::OOMDetails const&) [node]',
  ' 2: 0x1068df0 v8::Utils::ReportOOMFailure(v8::internal::Isolate*, char const*) [node]',
  ' 3: 0x10690d7 v8::internal::V8::FatalProcessOutOfMemory(v8::internal::Isolate*) [node]',
  ' 4: 0x129ef79 v8::internal::Heap::CollectGarbage(v8::internal::AllocationSpace) [node]',
  ' 5: 0x12a1a58 v8::internal::Heap::AllocateRawWithRetryOrFailSlowPath(int) [node]',
].join('\n');

/** Price per 1000 tokens in USD and generation speed once the first token is out. */
const MODELS: Record<ModelName, { promptUsd: number; completionUsd: number; msPerToken: number }> =
  {
    'gpt-4o': { promptUsd: 0.0025, completionUsd: 0.01, msPerToken: 22 },
    'gpt-4o-mini': { promptUsd: 0.00015, completionUsd: 0.0006, msPerToken: 12 },
    'claude-3-5-sonnet': { promptUsd: 0.003, completionUsd: 0.015, msPerToken: 20 },
  };

interface AccessTemplate {
  /** The audit action, e.g. `ticket.update`. */
  action: string;
  resourceType: ResourceType;
  /** Candidates for the resource; without them it is the ticket or repository of the run. */
  resourceIds?: readonly string[];
}

interface StepTemplate {
  tool: ToolName;
  /** How many calls of this step run in a row, drawn from [min, max]. Default one. */
  repeat?: Repeat;
  /** HTTP method of an http.request, SQL operation of a db.query. */
  operation?: string;
  /** Host an http.request or web.search talks to. */
  host?: string;
  access?: AccessTemplate;
}

type Repeat = readonly [min: number, max: number];

interface TaskTemplate {
  name: string;
  steps: readonly StepTemplate[];
}

interface WorkflowTemplate {
  name: string;
  weight: number;
  tasks: readonly TaskTemplate[];
}

interface AgentProfile {
  type: string;
  displayName: string;
  teams: readonly string[];
  version: string;
  canaryVersion: string;
  llmModel: ModelName;
  /** First two octets of the subnet the agent's pods run in. */
  subnet: string;
  /** Repositories a run can be about; empty for agents that never touch code. */
  repositories: readonly string[];
  workflows: readonly WorkflowTemplate[];
  busyCpuPercent: number;
  baselineMemoryMb: number;
  /** Memory a finished task leaves behind until the next restart (a growing context cache). */
  retainedMbPerTask: number;
  typicalQueueDepth: number;
}

const SEARCH = 'api.search.example.com';
const ZENDESK = 'acme.zendesk.com';
const GITHUB = 'api.github.com';
const VAULT = 'vault.internal';

const workflow = (name: string, weight: number, tasks: TaskTemplate[]): WorkflowTemplate => ({
  name,
  weight,
  tasks,
});
const task = (name: string, ...steps: StepTemplate[]): TaskTemplate => ({ name, steps });
const http = (
  operation: string,
  host: string,
  extra: Partial<StepTemplate> = {},
): StepTemplate => ({
  tool: 'http.request',
  operation,
  host,
  ...extra,
});
const db = (operation: string, access: AccessTemplate, repeat?: Repeat): StepTemplate => ({
  tool: 'db.query',
  operation,
  access,
  ...(repeat === undefined ? {} : { repeat }),
});
const llm = (repeat: Repeat = [1, 1]): StepTemplate => ({ tool: 'llm.completion', repeat });
const search = (repeat: Repeat = [1, 1]): StepTemplate => ({
  tool: 'web.search',
  host: SEARCH,
  repeat,
});
const exec = (): StepTemplate => ({ tool: 'code.exec' });
/** Access to the ticket or repository the workflow run is about. */
const ofRun = (action: string, resourceType: 'ticket' | 'repository'): AccessTemplate => ({
  action,
  resourceType,
});
/** Access to one of the named resources. */
const oneOf = (
  action: string,
  resourceType: ResourceType,
  ...resourceIds: string[]
): AccessTemplate => ({
  action,
  resourceType,
  resourceIds,
});

const PROFILES: readonly AgentProfile[] = [
  {
    type: 'support-triage',
    displayName: 'Support Triage Bot',
    teams: ['customer-support', 'customer-support-emea'],
    version: '2.4.1',
    canaryVersion: '2.5.0-rc.2',
    llmModel: 'gpt-4o-mini',
    subnet: '10.20',
    repositories: [],
    workflows: [
      workflow('ticket-triage', 3, [
        task('read-ticket', http('GET', ZENDESK, { access: ofRun('ticket.read', 'ticket') })),
        task('classify-intent', llm()),
        task(
          'lookup-customer',
          db('SELECT', oneOf('table.select', 'database_table', 'crm.public.customers'), [1, 2]),
        ),
        task('draft-reply', search(), llm()),
        task('update-ticket', http('PUT', ZENDESK, { access: ofRun('ticket.update', 'ticket') })),
      ]),
      workflow('sla-escalation', 1, [
        task(
          'scan-breaching-tickets',
          http('GET', ZENDESK, { repeat: [1, 2], access: ofRun('ticket.read', 'ticket') }),
        ),
        task('page-on-call', llm(), http('POST', 'events.pagerduty.com')),
      ]),
    ],
    busyCpuPercent: 35,
    baselineMemoryMb: 420,
    retainedMbPerTask: 0,
    typicalQueueDepth: 14,
  },
  {
    type: 'code-review',
    displayName: 'Code Review Agent',
    teams: ['developer-productivity', 'platform'],
    version: '1.9.0',
    canaryVersion: '1.10.0-beta.1',
    llmModel: 'claude-3-5-sonnet',
    subnet: '10.42',
    repositories: [
      'github.com/acme/payments-service',
      'github.com/acme/web-checkout',
      'github.com/acme/infra-terraform',
      'github.com/acme/mobile-app',
    ],
    workflows: [
      workflow('pull-request-review', 4, [
        task(
          'fetch-credentials',
          http('GET', VAULT, { access: oneOf('secret.read', 'secret', 'kv/data/ci/github-app') }),
        ),
        task(
          'fetch-diff',
          http('GET', GITHUB, { repeat: [1, 3], access: ofRun('repository.read', 'repository') }),
        ),
        task('static-analysis', exec()),
        task('review-changes', llm([1, 3])),
        task(
          'post-review',
          http('POST', GITHUB, { access: ofRun('repository.comment', 'repository') }),
        ),
      ]),
      workflow('dependency-audit', 1, [
        task(
          'fetch-lockfile',
          http('GET', GITHUB, { access: ofRun('repository.read', 'repository') }),
        ),
        task('check-advisories', search([1, 2]), http('GET', 'api.osv.dev')),
        task(
          'open-upgrade-pull-request',
          llm(),
          http('POST', GITHUB, { access: ofRun('repository.write', 'repository') }),
        ),
      ]),
    ],
    busyCpuPercent: 70,
    baselineMemoryMb: 900,
    retainedMbPerTask: 0,
    typicalQueueDepth: 4,
  },
  {
    type: 'data-sync',
    displayName: 'Data Sync Agent',
    teams: ['data-platform'],
    version: '3.1.4',
    canaryVersion: '3.2.0-rc.1',
    llmModel: 'gpt-4o-mini',
    subnet: '192.168',
    repositories: [],
    workflows: [
      workflow('crm-to-warehouse', 3, [
        task(
          'fetch-credentials',
          http('GET', VAULT, {
            access: oneOf('secret.read', 'secret', 'kv/data/sync/salesforce-oauth'),
          }),
        ),
        task('extract-changes', http('GET', 'acme.my.salesforce.com', { repeat: [2, 4] })),
        task('map-schema', llm()),
        task('transform', exec()),
        task(
          'load',
          db(
            'INSERT',
            oneOf(
              'table.insert',
              'database_table',
              'warehouse.staging.accounts',
              'warehouse.staging.deals',
            ),
            [1, 3],
          ),
        ),
      ]),
      workflow('reconcile-invoices', 1, [
        task(
          'read-invoices',
          db('SELECT', oneOf('table.select', 'database_table', 'billing.public.invoices'), [1, 2]),
        ),
        task('compare-ledgers', exec()),
        task(
          'write-report',
          db(
            'INSERT',
            oneOf('table.insert', 'database_table', 'analytics.finance.reconciliations'),
          ),
        ),
      ]),
    ],
    busyCpuPercent: 80,
    baselineMemoryMb: 1_300,
    retainedMbPerTask: 0,
    typicalQueueDepth: 2,
  },
  {
    type: 'research-assistant',
    displayName: 'Research Assistant',
    teams: ['research', 'strategy'],
    version: '0.8.3',
    canaryVersion: '0.9.0-beta.3',
    llmModel: 'gpt-4o',
    subnet: '10.64',
    repositories: [],
    workflows: [
      workflow('literature-review', 2, [
        task('plan-queries', llm()),
        task('search', search([2, 4])),
        task('read-sources', http('GET', 'arxiv.org', { repeat: [2, 3] })),
        task('synthesise', llm([1, 2])),
        task(
          'save-notes',
          db('INSERT', oneOf('table.insert', 'database_table', 'research.public.notes')),
        ),
      ]),
      workflow('market-brief', 1, [
        task('search', search([1, 3])),
        task(
          'analyse-sales',
          db('SELECT', oneOf('table.select', 'database_table', 'billing.public.invoices')),
          exec(),
        ),
        task('write-brief', llm()),
      ]),
    ],
    busyCpuPercent: 45,
    baselineMemoryMb: 1_100,
    retainedMbPerTask: 1.5,
    typicalQueueDepth: 3,
  },
];

const FAILED_ACCESS_REASONS: Record<ResourceType, string> = {
  repository: 'repository is archived and read-only',
  database_table: 'lock wait timeout exceeded while acquiring a row lock',
  secret: 'Vault is sealed; unseal in progress',
  ticket: 'ticket not found: it was merged into another ticket',
};

// ---------------------------------------------------------------------------------------------
// Pseudo-random numbers and the agenda.
// ---------------------------------------------------------------------------------------------

/** mulberry32: small, fast and good enough for a demo; not for anything secret. */
class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  uint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let value = this.#state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return (value ^ (value >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4_294_967_296;
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Uniform integer in [min, max], both included. */
  integer(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return at(items, Math.floor(this.next() * items.length));
  }

  weighted<T>(items: readonly T[], weightOf: (item: T) => number): T {
    const totalWeight = items.reduce((sum, item) => sum + weightOf(item), 0);
    let remaining = this.next() * totalWeight;
    for (const item of items) {
      remaining -= weightOf(item);
      if (remaining < 0) return item;
    }
    return at(items, items.length - 1);
  }

  /** Standard normal by Box-Muller; the second value of the pair is dropped for simplicity. */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Log-normal around a median: most values near it, a long tail of slow ones. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** Knuth's method: fine for the small means used here. */
  poisson(mean: number): number {
    const limit = Math.exp(-mean);
    let count = 0;
    for (let product = this.next(); product > limit; product *= this.next()) count += 1;
    return count;
  }

  hex(chars: number): string {
    let text = '';
    while (text.length < chars) text += this.uint32().toString(16).padStart(8, '0');
    return text.slice(0, chars);
  }
}

type Step =
  'heartbeat' | 'workflow.start' | 'task.start' | 'call.begin' | 'call.end' | 'recovery.end';

interface AgendaEntry {
  atMs: number;
  /** Insertion counter: breaks ties in time, so the order never depends on the heap's layout. */
  order: number;
  agent: AgentRuntime;
  step: Step;
}

/** A binary min-heap of entries by (atMs, order). */
class Agenda {
  readonly #entries: AgendaEntry[] = [];
  #insertions = 0;

  add(atMs: number, agent: AgentRuntime, step: Step): void {
    this.#insertions += 1;
    this.#entries.push({ atMs, order: this.#insertions, agent, step });

    let index = this.#entries.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.#before(index, parent)) return;
      this.#swap(index, parent);
      index = parent;
    }
  }

  /** The earliest entry at or before `nowMs`, taken off the agenda; undefined if there is none. */
  takeDue(nowMs: number): AgendaEntry | undefined {
    const first = this.#entries[0];
    if (first === undefined || first.atMs > nowMs) return undefined;

    const last = at(this.#entries, this.#entries.length - 1);
    this.#entries.pop();
    if (this.#entries.length === 0) return first;
    this.#entries[0] = last;

    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < this.#entries.length && this.#before(left, smallest)) smallest = left;
      if (right < this.#entries.length && this.#before(right, smallest)) smallest = right;
      if (smallest === index) return first;
      this.#swap(index, smallest);
      index = smallest;
    }
  }

  #before(left: number, right: number): boolean {
    const a = at(this.#entries, left);
    const b = at(this.#entries, right);
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.order < b.order);
  }

  #swap(left: number, right: number): void {
    const a = at(this.#entries, left);
    this.#entries[left] = at(this.#entries, right);
    this.#entries[right] = a;
  }
}

// ---------------------------------------------------------------------------------------------
// The fleet.
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

interface PlannedFailure {
  type: string;
  message: string;
  severity: ErrorBody['severity'];
  retryable: boolean;
  failsAfter: FailureMode['failsAfter'];
  stack?: string;
  statusCode?: number;
}

interface ToolCallRun {
  step: StepTemplate;
  spanId: string;
  startedAtMs: number;
  resourceId: string | undefined;
  failure: PlannedFailure | undefined;
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

export function createSimulatedFleet(
  startMs: number,
  options: SimulatedFleetOptions = {},
): SimulatedFleet {
  return new Fleet(startMs, resolveOptions(startMs, options));
}

class Fleet implements SimulatedFleet {
  readonly agents: ReadonlyArray<SimulatedAgent>;
  readonly #settings: FleetSettings;
  readonly #eventIdPrefix: string;
  readonly #random: Random;
  readonly #agenda = new Agenda();
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
      this.#agenda.add(firstBeatMs, agent, 'heartbeat');
      this.#agenda.add(startMs + 1 + this.#gapMs(), agent, 'workflow.start');
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

  #run({ agent, atMs, step }: AgendaEntry): void {
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

    this.#emit(agent, nowMs, workflowCorrelation(run), {
      kind: 'activity',
      activity: {
        action: 'workflow.started',
        status: 'started',
        attributes: { 'workflow.name': template.name },
      },
    });

    this.#agenda.add(nowMs + random.integer(20, 250), agent, 'task.start');
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

    this.#emit(agent, nowMs, taskCorrelation(run, taskRun), {
      kind: 'activity',
      activity: {
        action: 'task.started',
        status: 'started',
        attributes: { 'task.name': template.name, 'workflow.name': run.template.name },
      },
    });

    this.#agenda.add(nowMs + this.#thinkMs(), agent, 'call.begin');
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
    failure ??= this.#drawFailure(agent, step, taskRun.attempt, resourceId);

    agent.call = { step, spanId, startedAtMs: nowMs, resourceId, failure };
    taskRun.toolCallCount += 1;
    this.#agenda.add(nowMs + this.#callDurationMs(step.tool, failure), agent, 'call.end');
  }

  #endCall(agent: AgentRuntime, nowMs: number): void {
    const run = required(agent.workflow, 'a tool call runs inside a workflow');
    const taskRun = required(agent.task, 'a tool call runs inside a task');
    const call = required(agent.call, 'a tool call ends after it began');
    const { failure } = call;
    const correlation = { ...taskCorrelation(run, taskRun), spanId: call.spanId };
    const durationMs = nowMs - call.startedAtMs;
    agent.call = undefined;

    this.#emit(agent, nowMs, correlation, {
      kind: 'activity',
      activity: {
        action: 'tool.call',
        status: failure === undefined ? 'succeeded' : 'failed',
        durationMs,
        attributes: this.#callAttributes(agent, call, taskRun.attempt, durationMs),
      },
    });
    if (failure !== undefined) this.#emit(agent, nowMs, correlation, errorBody(failure));

    if (failure === undefined) {
      taskRun.stepIndex += 1;
      taskRun.attempt = 0;
      if (taskRun.stepIndex < taskRun.steps.length) {
        this.#agenda.add(nowMs + this.#thinkMs(), agent, 'call.begin');
      } else {
        this.#finishTask(agent, nowMs);
      }
      return;
    }
    if (failure.retryable && taskRun.attempt + 1 < MAX_ATTEMPTS) {
      taskRun.attempt += 1;
      const backoffMs = 500 * 2 ** (taskRun.attempt - 1) * this.#random.between(0.5, 1.5);
      this.#agenda.add(nowMs + Math.round(backoffMs), agent, 'call.begin');
      return;
    }

    this.#closeTask(agent, nowMs, failure);
    this.#closeWorkflow(agent, nowMs, failure.type);
    if (failure.severity === 'critical') {
      this.#crash(agent, nowMs, failure);
    } else {
      this.#agenda.add(nowMs + this.#idleMs(agent), agent, 'workflow.start');
    }
  }

  #finishTask(agent: AgentRuntime, nowMs: number): void {
    const run = required(agent.workflow, 'a task finishes inside a workflow');

    this.#closeTask(agent, nowMs, undefined);
    run.taskIndex += 1;
    if (run.taskIndex < run.template.tasks.length) {
      this.#agenda.add(nowMs + this.#gapMs(), agent, 'task.start');
      return;
    }

    this.#closeWorkflow(agent, nowMs, undefined);
    this.#agenda.add(nowMs + this.#idleMs(agent), agent, 'workflow.start');
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

    this.#emit(agent, nowMs, taskCorrelation(run, taskRun), {
      kind: 'activity',
      activity: {
        action: failure === undefined ? 'task.succeeded' : 'task.failed',
        status: failure === undefined ? 'succeeded' : 'failed',
        durationMs: nowMs - taskRun.startedAtMs,
        attributes,
      },
    });
  }

  #closeWorkflow(agent: AgentRuntime, nowMs: number, errorType: string | undefined): void {
    const run = required(agent.workflow, 'a workflow closes after it started');
    const attributes: Record<string, AttributeValue> = {
      'workflow.name': run.template.name,
      'workflow.tasks_completed': run.taskIndex,
    };
    if (errorType !== undefined) attributes['error.type'] = errorType;
    agent.workflow = undefined;

    this.#emit(agent, nowMs, workflowCorrelation(run), {
      kind: 'activity',
      activity: {
        action: errorType === undefined ? 'workflow.succeeded' : 'workflow.failed',
        status: errorType === undefined ? 'succeeded' : 'failed',
        durationMs: nowMs - run.startedAtMs,
        attributes,
      },
    });
  }

  /** A critical error takes the agent out of service until it is restarted or unblocked. */
  #crash(agent: AgentRuntime, nowMs: number, failure: PlannedFailure): void {
    const recovery = { spanId: this.#random.hex(16), startedAtMs: nowMs, reason: failure.type };
    agent.recovery = recovery;
    // A revoked credential waits for a person to rotate it; a crashed process only for a restart.
    const downtimeMs =
      failure.type === 'CredentialRevokedError'
        ? this.#random.integer(60_000, 150_000)
        : this.#random.integer(15_000, 45_000);

    this.#emit(
      agent,
      nowMs,
      { spanId: recovery.spanId },
      {
        kind: 'activity',
        activity: {
          action: 'agent.recovery',
          status: 'started',
          attributes: { 'recovery.reason': recovery.reason },
        },
      },
    );

    this.#agenda.add(nowMs + downtimeMs, agent, 'recovery.end');
  }

  #endRecovery(agent: AgentRuntime, nowMs: number): void {
    const recovery = required(agent.recovery, 'a recovery ends after it started');
    agent.recovery = undefined;
    // A fresh process: whatever the old one had retained is gone.
    agent.retainedMb = 0;
    agent.memoryMb = agent.profile.baselineMemoryMb * this.#random.between(0.55, 0.7);

    this.#emit(
      agent,
      nowMs,
      { spanId: recovery.spanId },
      {
        kind: 'activity',
        activity: {
          action: 'agent.recovery',
          status: 'succeeded',
          durationMs: nowMs - recovery.startedAtMs,
          attributes: { 'recovery.reason': recovery.reason },
        },
      },
    );

    this.#agenda.add(nowMs + this.#idleMs(agent), agent, 'workflow.start');
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
    const random = this.#random;
    const revoked = access.resourceType === 'secret' && random.chance(CREDENTIAL_REVOKED_RATE);
    const draw = random.next();
    let outcome: AuditBody['outcome'] = 'success';
    let reason: string | undefined;
    if (revoked) {
      outcome = 'denied';
      reason = `token of role "${agent.identity.type}" was revoked by security-operations`;
    } else if (draw < AUDIT_DENIED_RATE) {
      outcome = 'denied';
      reason = deniedReason(agent, access, resourceId);
    } else if (draw < AUDIT_DENIED_RATE + AUDIT_FAILURE_RATE) {
      outcome = 'failure';
      reason = FAILED_ACCESS_REASONS[access.resourceType];
    }

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

    if (outcome === 'success' || reason === undefined) return undefined;
    const type = revoked
      ? 'CredentialRevokedError'
      : outcome === 'denied'
        ? 'PermissionDeniedError'
        : 'ResourceAccessError';
    const verb = outcome === 'denied' ? 'was denied' : 'failed';
    const message = `${access.action} on ${resourceId} ${verb}: ${reason}`;
    const frames = revoked ? VAULT_FRAMES : TOOLS[step.tool].stackFrames;
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

  #drawFailure(
    agent: AgentRuntime,
    step: StepTemplate,
    attempt: number,
    resourceId: string | undefined,
  ): PlannedFailure | undefined {
    const random = this.#random;
    const tool = TOOLS[step.tool];
    const heavy = step.tool === 'llm.completion' || step.tool === 'code.exec';
    if (heavy && random.chance(OUT_OF_MEMORY_RATE)) {
      const limitMb = Math.round(agent.profile.baselineMemoryMb * 2);
      return {
        type: 'OutOfMemoryError',
        message: `agent process exceeded its ${limitMb} MB heap limit during ${step.tool}`,
        severity: 'critical',
        retryable: false,
        failsAfter: undefined,
        stack: OUT_OF_MEMORY_STACK,
      };
    }

    const failureRate =
      attempt > 0
        ? RETRY_FAILURE_RATE
        : TOOL_FAILURE_RATE * (agent.isCanary ? CANARY_FAILURE_FACTOR : 1);
    if (!random.chance(failureRate)) return undefined;

    const mode = random.weighted(tool.failures, (candidate) => candidate.weight ?? 1);
    const message = mode.message
      .replaceAll('{host}', step.host ?? 'localhost')
      .replaceAll('{model}', agent.profile.llmModel)
      .replaceAll('{resource}', resourceId ?? 'the table');
    const severity = mode.severity ?? 'error';
    // Warnings are handled in place and logged without a stack; errors carry where they came from.
    const stack =
      severity === 'warning'
        ? undefined
        : step.tool === 'code.exec'
          ? SANDBOX_TRACEBACK
          : nodeStack(mode.type, message, [...tool.stackFrames, ...RUNTIME_FRAMES]);
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

  #callDurationMs(tool: ToolName, failure: PlannedFailure | undefined): number {
    const { medianMs, sigma, timeoutMs } = TOOLS[tool];
    if (failure?.failsAfter === 'timeout') return timeoutMs;
    if (failure?.failsAfter === 'fast') return 1 + Math.round(this.#random.logNormal(40, 0.6));

    const durationMs = Math.round(this.#random.logNormal(medianMs, sigma));
    // A call slower than the timeout would have been cut off by it.
    return clamp(durationMs, 1, timeoutMs - 1);
  }

  #callAttributes(
    agent: AgentRuntime,
    call: ToolCallRun,
    attempt: number,
    durationMs: number,
  ): Record<string, AttributeValue> {
    const random = this.#random;
    const { step, failure } = call;
    const attributes: Record<string, AttributeValue> = { 'tool.name': step.tool };
    if (attempt > 0) attributes['retry.attempt'] = attempt;
    if (failure !== undefined) attributes['error.type'] = failure.type;

    switch (step.tool) {
      case 'llm.completion': {
        const modelName = agent.profile.llmModel;
        const model = MODELS[modelName];
        const promptTokens = Math.round(random.logNormal(1_800, 0.6));
        // Tokens stream at the model's pace after about 400 ms to the first one.
        const completionTokens =
          failure === undefined
            ? Math.max(1, Math.round((durationMs - 400) / model.msPerToken))
            : 0;
        const costUsd =
          (promptTokens * model.promptUsd + completionTokens * model.completionUsd) / 1_000;
        attributes['llm.model'] = modelName;
        attributes['llm.usage.prompt_tokens'] = promptTokens;
        attributes['llm.usage.completion_tokens'] = completionTokens;
        attributes['llm.usage.total_tokens'] = promptTokens + completionTokens;
        attributes['llm.cost_usd'] = roundTo(costUsd, 6);
        setStatusCode(attributes, failure, 200);
        break;
      }
      case 'http.request':
        attributes['http.method'] = step.operation ?? 'GET';
        attributes['server.address'] = step.host ?? 'localhost';
        setStatusCode(attributes, failure, step.operation === 'POST' ? 201 : 200);
        break;
      case 'db.query':
        attributes['db.system'] = 'postgresql';
        attributes['db.operation'] = step.operation ?? 'SELECT';
        if (call.resourceId !== undefined) attributes['db.sql.table'] = call.resourceId;
        attributes['db.rows'] = failure === undefined ? Math.round(random.logNormal(40, 1.2)) : 0;
        break;
      case 'web.search':
        attributes['server.address'] = step.host ?? 'localhost';
        attributes['search.result_count'] = failure === undefined ? random.integer(3, 20) : 0;
        setStatusCode(attributes, failure, 200);
        break;
      case 'code.exec':
        attributes['code.language'] = 'python';
        // 137 is SIGKILL: what a job killed at its time limit exits with.
        attributes['process.exit_code'] =
          failure === undefined ? 0 : failure.failsAfter === 'timeout' ? 137 : 1;
        break;
    }
    return attributes;
  }

  #heartbeat(agent: AgentRuntime, nowMs: number): void {
    const random = this.#random;
    const { profile } = agent;
    const status = heartbeatStatusOf(agent);
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

    this.#agenda.add(nowMs + this.#settings.heartbeatIntervalMs, agent, 'heartbeat');
  }

  #resourceIdOf(access: AccessTemplate, run: WorkflowRun): string {
    if (access.resourceIds !== undefined) return this.#random.pick(access.resourceIds);
    if (access.resourceType === 'ticket') return run.ticketId;
    return required(
      run.repositoryId,
      'a step on a repository belongs to an agent with repositories',
    );
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

function deniedReason(agent: AgentRuntime, access: AccessTemplate, resourceId: string): string {
  const { type, team } = agent.identity;
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

/** A failed call without a status never got a response (a reset, a timeout): no status then. */
function setStatusCode(
  attributes: Record<string, AttributeValue>,
  failure: PlannedFailure | undefined,
  successStatusCode: number,
): void {
  const statusCode = failure === undefined ? successStatusCode : failure.statusCode;
  if (statusCode !== undefined) attributes['http.status_code'] = statusCode;
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

function nodeStack(type: string, message: string, frames: readonly string[]): string {
  return [`${type}: ${message}`, ...frames.map((frame) => `    at ${frame}`)].join('\n');
}

function roundTo(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** Indexing that insists the index is in range; a miss is a bug in this file. */
function at<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`simulated fleet: no item at index ${index}`);
  return item;
}

function required<T>(value: T | undefined, expectation: string): T {
  if (value === undefined) throw new Error(`simulated fleet: broken state, ${expectation}`);
  return value;
}

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
