/**
 * The project's error type and its closed catalogue of codes.
 *
 * Every error that crosses a module boundary is a PanaceaError: a code from the catalogue below, a
 * plain sentence, a retry flag decided here once, and context in fields (topic, partition, offset,
 * field, line) rather than in the message text. A dead-letter reason is `code: message`.
 */

export const ERROR_CATALOGUE = {
  USAGE: { retriable: false, summary: 'the command line is not valid' },
  CONFIG_INVALID: { retriable: false, summary: 'a configuration value is not valid' },
  FILE_UNREADABLE: { retriable: false, summary: 'an input file cannot be read' },
  INVALID_JSON: { retriable: false, summary: 'a line is not valid JSON' },
  CONTRACT_VIOLATION: { retriable: false, summary: 'an event does not follow the event contract' },
  RECORD_TOO_LARGE: { retriable: false, summary: 'a record is over the size Kafka accepts' },
  ENCODE_FAILED: { retriable: false, summary: 'an event could not be encoded' },
  DECODE_FAILED: { retriable: false, summary: 'a record could not be decoded' },
  UNKNOWN_SCHEMA_ID: { retriable: false, summary: 'a record names a schema id nobody registered' },
  SCHEMA_UNRESOLVABLE: {
    retriable: false,
    summary: "a record's writer schema cannot be read into this build's schema",
  },
  SCHEMA_INCOMPATIBLE: {
    retriable: false,
    summary: "a new schema version breaks its subject's compatibility mode",
  },
  SCHEMA_LINT_FAILED: { retriable: false, summary: "a schema breaks the project's schema rules" },
  SCHEMA_INVALID: {
    retriable: false,
    summary: 'the schema registry refused a schema as not valid',
  },
  SCHEMA_REGISTRY_UNAVAILABLE: {
    retriable: true,
    summary: 'the schema registry could not be read or written',
  },
  KIND_TOPIC_MISMATCH: {
    retriable: false,
    summary: 'an event arrived on the topic of another kind',
  },
  AGENT_INVALID: { retriable: false, summary: 'an agent registry entry is not valid' },
  AGENT_REGISTRY_UNAVAILABLE: {
    retriable: true,
    summary: 'the agent registry could not be read or written',
  },
  DOCUMENT_REJECTED: { retriable: false, summary: 'Elasticsearch refused a document' },
  ELASTICSEARCH_UNAVAILABLE: { retriable: true, summary: 'Elasticsearch did not accept a request' },
  ELASTICSEARCH_REFUSED: {
    retriable: false,
    summary: 'Elasticsearch refused a template, rollover or deletion request as not valid',
  },
  KAFKA_UNAVAILABLE: { retriable: true, summary: 'Kafka could not be reached' },
  ARCHIVE_WRITE_FAILED: { retriable: true, summary: 'the audit archive could not be written' },
  ARCHIVE_INVALID: {
    retriable: false,
    summary: 'the audit archive is not what its manifest and signed chain head say',
  },
  ARCHIVE_STORE_UNAVAILABLE: {
    retriable: true,
    summary: "the audit archive's object store could not be reached or refused a request",
  },
  ARCHIVE_BUSY: {
    retriable: true,
    summary: 'another process is changing the audit archive (retention or a legal hold)',
  },
  IMPORT_INVALID: { retriable: false, summary: 'an input file for an importer is not valid' },
  KIBANA_UNAVAILABLE: { retriable: true, summary: 'Kibana could not be reached or failed' },
  KIBANA_REQUEST_REJECTED: { retriable: false, summary: 'Kibana refused a request as not valid' },
  STACK_UNAVAILABLE: { retriable: false, summary: 'the local stack cannot be started' },
  STACK_START_FAILED: { retriable: false, summary: 'a local server did not come up' },
  STAGE_STOPPED: { retriable: false, summary: 'a stage was asked to stop during its work' },
  PUBLISHER_BUFFER_FULL: {
    retriable: true,
    summary: 'the publisher refused an event because its buffer is full',
  },
  METRICS_STATE_INVALID: {
    retriable: false,
    summary: 'saved metrics state cannot be restored, or two sketches cannot be merged',
  },
  PUBLISHER_CLOSED: { retriable: false, summary: 'the publisher was closed' },
  ALERT_RULES_INVALID: { retriable: false, summary: 'an alert rules file is not valid' },
  ALERTS_STATE_INVALID: {
    retriable: false,
    summary: "the alerts stage's saved state cannot be restored",
  },
  SILENCE_INVALID: { retriable: false, summary: 'an alert silence is not valid' },
  DELIVERY_FAILED: {
    retriable: true,
    summary: 'an alert destination did not accept a notification (no answer, timeout, 429 or 5xx)',
  },
  DELIVERY_REFUSED: {
    retriable: false,
    summary: 'an alert destination refused a notification (4xx or a redirect)',
  },
  DELIVERY_LEDGER_UNAVAILABLE: {
    retriable: true,
    summary: 'the ledger of delivered alert notifications could not be read or written',
  },
  PUBLISHER_WORKER_FAILED: {
    retriable: true,
    summary: "the publisher's Kafka worker thread stopped or could not start",
  },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** Where in the input or the log an error happened; every key is optional. */
export interface ErrorContext {
  field?: string;
  line?: number;
  topic?: string;
  partition?: number;
  offset?: string;
  [key: string]: unknown;
}

export class PanaceaError extends Error {
  override readonly name = 'PanaceaError';
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.retriable = ERROR_CATALOGUE[code].retriable;
    this.context = context;
  }

  /** The reason a person sees in a dead-letter record or on stderr: code, then the sentence. */
  get reason(): string {
    return `${this.code}: ${this.message}`;
  }
}

/** Wraps anything thrown into a PanaceaError, keeping the original as `cause`. */
export function toPanaceaError(error: unknown, fallbackCode: ErrorCode): PanaceaError {
  if (error instanceof PanaceaError) return error;
  const message = messageOf(error);
  return new PanaceaError(fallbackCode, message, {}, error);
}

/** The message of anything thrown: an Error's own message, or the value as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
