/**
 * The simulated fleet's catalogue, data only: the tools agents call with how long they take and how
 * they fail, the stack traces their errors carry, the models and their prices, and the kinds of
 * agent with the workflows they run. The simulation in simulated-fleet.ts draws from it; nothing
 * here is random or has state.
 */

// ---------------------------------------------------------------------------------------------
// Tools and how they fail.
// ---------------------------------------------------------------------------------------------

export type ToolName = 'web.search' | 'db.query' | 'code.exec' | 'http.request' | 'llm.completion';
export type ResourceType = 'repository' | 'database_table' | 'secret' | 'ticket';
export type ModelName = 'gpt-4o' | 'gpt-4o-mini' | 'claude-3-5-sonnet';

export interface FailureMode {
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

export interface ToolProfile {
  /** Median duration of a successful call, ms; durations are log-normal around it. */
  medianMs: number;
  /** Spread of the log-normal duration (standard deviation of its logarithm). */
  sigma: number;
  timeoutMs: number;
  failures: readonly FailureMode[];
  /** Frames below the throw site, innermost first, for the stacks of its errors. */
  stackFrames: readonly string[];
}

/** A quota the caller used up: refused at once with a 429, logged as a warning, worth a retry. */
const rateLimit = (weight: number, message: string): FailureMode => ({
  type: 'RateLimitError',
  severity: 'warning',
  weight,
  failsAfter: 'fast',
  statusCode: 429,
  message,
});

export const TOOLS: Record<ToolName, ToolProfile> = {
  'web.search': {
    medianMs: 650,
    sigma: 0.45,
    timeoutMs: 10_000,
    failures: [
      rateLimit(5, '429 Too Many Requests: search quota of 100 queries per minute used up'),
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
      rateLimit(3, '429 Too Many Requests from {host}; rate limit resets in 30 s'),
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
      rateLimit(
        5,
        '429 Rate limit reached for {model}: 450000 tokens per minute; retry after 1.2 s',
      ),
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
export const RUNTIME_FRAMES = [
  'async ToolRunner.invoke (/srv/agent/dist/runtime/tool-runner.js:112:19)',
  'async StepExecutor.run (/srv/agent/dist/runtime/step-executor.js:67:22)',
  'async TaskLoop.next (/srv/agent/dist/runtime/task-loop.js:141:7)',
];

export const VAULT_FRAMES = [
  'VaultClient.handleResponse (/srv/agent/node_modules/node-vault/src/index.js:106:25)',
  'process.processTicksAndRejections (node:internal/process/task_queues:105:5)',
  'async SecretStore.read (/srv/agent/dist/secrets/secret-store.js:29:16)',
];

export const SANDBOX_TRACEBACK = [
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

export const OUT_OF_MEMORY_STACK = [
  'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
  '----- Native stack trace -----',
  ' 1: 0xcc2a0c node::OOMErrorHandler(char const*, v8::OOMDetails const&) [node]',
  ' 2: 0x1068df0 v8::Utils::ReportOOMFailure(v8::internal::Isolate*, char const*) [node]',
  ' 3: 0x10690d7 v8::internal::V8::FatalProcessOutOfMemory(v8::internal::Isolate*) [node]',
  ' 4: 0x129ef79 v8::internal::Heap::CollectGarbage(v8::internal::AllocationSpace) [node]',
  ' 5: 0x12a1a58 v8::internal::Heap::AllocateRawWithRetryOrFailSlowPath(int) [node]',
].join('\n');

export interface ModelProfile {
  /** Price of 1000 prompt tokens, USD. */
  promptUsd: number;
  /** Price of 1000 completion tokens, USD. */
  completionUsd: number;
  /** Generation speed once the first token is out. */
  msPerToken: number;
}

export const MODELS: Record<ModelName, ModelProfile> = {
  'gpt-4o': { promptUsd: 0.0025, completionUsd: 0.01, msPerToken: 22 },
  'gpt-4o-mini': { promptUsd: 0.00015, completionUsd: 0.0006, msPerToken: 12 },
  'claude-3-5-sonnet': { promptUsd: 0.003, completionUsd: 0.015, msPerToken: 20 },
};

// ---------------------------------------------------------------------------------------------
// Agents and the workflows they run.
// ---------------------------------------------------------------------------------------------

export interface AccessTemplate {
  /** The audit action, e.g. `ticket.update`. */
  action: string;
  resourceType: ResourceType;
  /** Candidates for the resource; without them it is the ticket or repository of the run. */
  resourceIds?: readonly string[];
}

export interface StepTemplate {
  tool: ToolName;
  /** How many calls of this step run in a row, drawn from [min, max]. Default one. */
  repeat?: Repeat;
  /** HTTP method of an http.request, SQL operation of a db.query. */
  operation?: string;
  /** Host an http.request or web.search talks to. */
  host?: string;
  access?: AccessTemplate;
}

export type Repeat = readonly [min: number, max: number];

export interface TaskTemplate {
  name: string;
  steps: readonly StepTemplate[];
}

export interface WorkflowTemplate {
  name: string;
  weight: number;
  tasks: readonly TaskTemplate[];
}

export interface AgentProfile {
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

export const PROFILES: readonly AgentProfile[] = [
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

export const FAILED_ACCESS_REASONS: Record<ResourceType, string> = {
  repository: 'repository is archived and read-only',
  database_table: 'lock wait timeout exceeded while acquiring a row lock',
  secret: 'Vault is sealed; unseal in progress',
  ticket: 'ticket not found: it was merged into another ticket',
};
