/**
 * Every setting Panacea reads, in one table: its key in the configuration file, the environment
 * variable that overrides it, the form of its value and whether it is a secret. The configuration
 * file, its JSON Schema, `panacea config print` and the check that no variable goes undocumented
 * all come from this table; core/config.ts parses and validates the values.
 */

/** The form of a value, as the file may give it (the environment always gives text). */
export type SettingForm =
  | { type: 'string'; pattern?: string; enum?: readonly string[]; path?: boolean }
  | { type: 'integer'; minimum: number; maximum: number }
  | { type: 'boolean' }
  | { type: 'duration' }
  | { type: 'durationOrOff' }
  | { type: 'portOrOff' }
  | { type: 'list' };

export interface Setting {
  /** Dotted path in the configuration file, e.g. `kafka.sasl.password`. */
  key: string;
  /** The environment variable that overrides the file. */
  variable: string;
  form: SettingForm;
  description: string;
  /** Printed masked by `panacea config print`. */
  secret?: boolean;
}

const text = { type: 'string' } as const;
/** A file or directory; in the configuration file, relative to the file's own directory. */
const filePath = { type: 'string', path: true } as const;
const flag = { type: 'boolean' } as const;
const duration = { type: 'duration' } as const;
const port = { type: 'integer', minimum: 1, maximum: 65_535 } as const;
const DAY_MS = 86_400_000;

function milliseconds(minimum: number, maximum: number): SettingForm {
  return { type: 'integer', minimum, maximum };
}

export const SETTINGS: readonly Setting[] = [
  // Kafka
  {
    key: 'kafka.brokers',
    variable: 'KAFKA_BROKERS',
    form: { type: 'list' },
    description: 'Bootstrap servers, host:port; set means: use that cluster and start nothing',
  },
  {
    key: 'kafka.ssl.enabled',
    variable: 'KAFKA_SSL',
    form: flag,
    description: 'Connect to the brokers over TLS',
  },
  {
    key: 'kafka.ssl.caFile',
    variable: 'KAFKA_SSL_CA_FILE',
    form: filePath,
    description: "PEM file of the CA that signed the brokers' certificates (default: system CAs)",
  },
  {
    key: 'kafka.ssl.certFile',
    variable: 'KAFKA_SSL_CERT_FILE',
    form: filePath,
    description: 'PEM client certificate, for brokers that require mutual TLS',
  },
  {
    key: 'kafka.ssl.keyFile',
    variable: 'KAFKA_SSL_KEY_FILE',
    form: filePath,
    description: 'PEM private key of the client certificate',
  },
  {
    key: 'kafka.ssl.rejectUnauthorized',
    variable: 'KAFKA_SSL_REJECT_UNAUTHORIZED',
    form: flag,
    description: 'Refuse brokers whose certificate does not verify (default true)',
  },
  {
    key: 'kafka.sasl.mechanism',
    variable: 'KAFKA_SASL_MECHANISM',
    form: { type: 'string', enum: ['plain', 'scram-sha-256', 'scram-sha-512'] },
    description: 'SASL mechanism; unset: no SASL',
  },
  {
    key: 'kafka.sasl.username',
    variable: 'KAFKA_SASL_USERNAME',
    form: text,
    description: 'SASL user name',
  },
  {
    key: 'kafka.sasl.password',
    variable: 'KAFKA_SASL_PASSWORD',
    form: text,
    description: 'SASL password',
    secret: true,
  },
  // Elasticsearch
  {
    key: 'elasticsearch.url',
    variable: 'ELASTICSEARCH_URL',
    form: text,
    description: 'Elasticsearch URL; set means: use that cluster and start nothing',
  },
  {
    key: 'elasticsearch.apiKey',
    variable: 'ELASTICSEARCH_API_KEY',
    form: text,
    description: 'API key (the base64 "encoded" form Elasticsearch returns)',
    secret: true,
  },
  {
    key: 'elasticsearch.username',
    variable: 'ELASTICSEARCH_USERNAME',
    form: text,
    description: 'Basic authentication user',
  },
  {
    key: 'elasticsearch.password',
    variable: 'ELASTICSEARCH_PASSWORD',
    form: text,
    description: 'Basic authentication password',
    secret: true,
  },
  {
    key: 'elasticsearch.caFile',
    variable: 'ELASTICSEARCH_CA_FILE',
    form: filePath,
    description: 'PEM file of the CA that signed the https:// server certificate',
  },
  {
    key: 'elasticsearch.setupOnStart',
    variable: 'PANACEA_ES_SETUP',
    form: flag,
    description: 'panacea run installs index templates before it starts (default true)',
  },
  // Naming and places
  {
    key: 'namespace',
    variable: 'PANACEA_NAMESPACE',
    form: { type: 'string', pattern: '^[a-z0-9_]{1,100}$' },
    description: 'Data stream namespace, one per deployment (default "default")',
  },
  {
    key: 'topicPrefix',
    variable: 'PANACEA_TOPIC_PREFIX',
    form: { type: 'string', pattern: '^[A-Za-z0-9._-]{0,100}$' },
    description: 'Prefix of every topic and consumer group (default empty)',
  },
  {
    key: 'dataDir',
    variable: 'PANACEA_DATA_DIR',
    form: filePath,
    description: 'Where Panacea keeps files: stack data, audit archive (default .panacea)',
  },
  {
    key: 'schemaRegistry.url',
    variable: 'SCHEMA_REGISTRY_URL',
    form: text,
    description: 'A Confluent-compatible schema registry instead of the embedded one',
  },
  {
    key: 'kibana.url',
    variable: 'KIBANA_URL',
    form: text,
    description: 'Kibana, for panacea kibana import (credentials may be in the URL)',
    secret: true,
  },
  // Local stack
  {
    key: 'stack.kafkaPort',
    variable: 'PANACEA_KAFKA_PORT',
    form: port,
    description: 'Port of the local Kafka that panacea stack up starts (default 9092)',
  },
  {
    key: 'stack.elasticsearchPort',
    variable: 'PANACEA_ELASTICSEARCH_PORT',
    form: port,
    description: 'Port of the local Elasticsearch (default 9200)',
  },
  {
    key: 'stack.source',
    variable: 'PANACEA_STACK_SOURCE',
    form: { type: 'string', enum: ['auto', 'maven', 'docker'] },
    description: 'Where the local stack comes from (default auto)',
  },
  {
    key: 'stack.cacheDir',
    variable: 'PANACEA_CACHE_DIR',
    form: filePath,
    description: 'Download cache of the local stack (default /var/cache/panacea, else ~/.cache)',
  },
  {
    key: 'datasetsDir',
    variable: 'PANACEA_DATASETS_DIR',
    form: filePath,
    description: 'Real agent traces the demo replays',
  },
  // Logging
  {
    key: 'logging.level',
    variable: 'LOG_LEVEL',
    // Checked by core/config.ts: a level, then any `component=level`, comma-separated.
    form: text,
    description:
      'Log level (trace, debug, info, warn, error, fatal, silent; default info), then any ' +
      'component=level, comma-separated, e.g. info,stage.sink-elasticsearch=debug',
  },
  {
    key: 'logging.format',
    variable: 'LOG_FORMAT',
    form: { type: 'string', enum: ['json', 'pretty'] },
    description: 'json, or pretty for people (default json)',
  },
  // Stages
  {
    key: 'redaction.rulesFile',
    variable: 'PANACEA_REDACTION_RULES',
    form: filePath,
    description: 'JSON file that disables or adds redaction rules',
  },
  {
    key: 'alerts.rulesFile',
    variable: 'PANACEA_ALERT_RULES',
    form: filePath,
    description: 'YAML or JSON alert rules file; when set, run starts the alerts stage',
  },
  {
    key: 'metrics.windowMs',
    variable: 'PANACEA_METRICS_WINDOW_MS',
    form: milliseconds(1000, DAY_MS),
    description: 'Event-time window size, ms (default 60000)',
  },
  {
    key: 'metrics.latenessMs',
    variable: 'PANACEA_METRICS_LATENESS_MS',
    form: milliseconds(0, 7 * DAY_MS),
    description: 'Allowed lateness, ms (default 30000)',
  },
  {
    key: 'metrics.staleMs',
    variable: 'PANACEA_METRICS_STALE_MS',
    form: milliseconds(1000, DAY_MS),
    description: 'Silence after which an agent is stale, ms (default 90000)',
  },
  {
    key: 'metrics.stuckMs',
    variable: 'PANACEA_METRICS_STUCK_MS',
    form: milliseconds(1000, 30 * DAY_MS),
    description: 'In progress this long is a stuck task, ms (default 900000)',
  },
  {
    key: 'metrics.maxFutureMs',
    variable: 'PANACEA_METRICS_MAX_FUTURE_MS',
    form: milliseconds(0, DAY_MS),
    description: 'How far ahead of its record an event time may run, ms (default 300000)',
  },
  ...(['heartbeat', 'activity', 'metrics', 'error', 'audit'] as const).map((kind) => ({
    key: `retention.${kind}`,
    variable: `PANACEA_RETENTION_${kind.toUpperCase()}`,
    form: duration,
    description: `How long ${kind} data is kept in Elasticsearch`,
  })),
  {
    key: 'retention.interval',
    variable: 'PANACEA_RETENTION_INTERVAL',
    form: { type: 'durationOrOff' },
    description: 'How often panacea run enforces retention, or off (default 1m)',
  },
  {
    key: 'archive.segmentBytes',
    variable: 'PANACEA_ARCHIVE_SEGMENT_BYTES',
    form: { type: 'integer', minimum: 1024, maximum: 1024 * 1024 * 1024 },
    description: 'Audit archive segment size, bytes (default 64 MiB)',
  },
  {
    key: 'archive.segmentMs',
    variable: 'PANACEA_ARCHIVE_SEGMENT_MS',
    form: milliseconds(100, DAY_MS),
    description: 'Longest time a segment stays open, ms (default 600000)',
  },
  {
    key: 'archive.signingKeyFile',
    variable: 'PANACEA_ARCHIVE_SIGNING_KEY',
    form: filePath,
    description: 'PEM Ed25519 private key that signs the chain heads',
  },
  {
    key: 'archive.retention',
    variable: 'PANACEA_ARCHIVE_RETENTION',
    form: duration,
    description:
      'Archive segments older than this are deleted unless held (default: audit retention)',
  },
  {
    key: 'archive.retentionInterval',
    variable: 'PANACEA_ARCHIVE_RETENTION_INTERVAL',
    form: { type: 'durationOrOff' },
    description: 'How often panacea run applies the archive retention, or off (default 1h)',
  },
  {
    key: 'archive.s3.bucket',
    variable: 'PANACEA_ARCHIVE_S3_BUCKET',
    form: text,
    description: 'Keep sealed archive segments in this S3-compatible bucket',
  },
  {
    key: 'archive.s3.prefix',
    variable: 'PANACEA_ARCHIVE_S3_PREFIX',
    form: text,
    description: 'Prefix of every key in the bucket',
  },
  {
    key: 'archive.s3.endpoint',
    variable: 'PANACEA_ARCHIVE_S3_ENDPOINT',
    form: text,
    description: 'URL of an S3-compatible server (default: AWS S3)',
  },
  {
    key: 'archive.s3.region',
    variable: 'PANACEA_ARCHIVE_S3_REGION',
    form: text,
    description: "The bucket's region (default us-east-1)",
  },
  {
    key: 'archive.s3.objectLock',
    variable: 'PANACEA_ARCHIVE_S3_OBJECT_LOCK',
    form: { type: 'string', enum: ['off', 'governance', 'compliance'] },
    description: 'Object Lock mode of each segment until its retention ends (default off)',
  },
  {
    key: 'alerts.destinationsFile',
    variable: 'PANACEA_ALERT_DESTINATIONS',
    form: filePath,
    description: 'YAML or JSON file of the alert destinations; set: run starts the webhook sink',
  },
  // The pipeline's own metrics and health
  {
    key: 'observability.httpPort',
    variable: 'PANACEA_HTTP_PORT',
    form: { type: 'portOrOff' },
    description: 'Port of /metrics, /healthz and /readyz in panacea run, or off (default 9464)',
  },
  {
    key: 'observability.httpHost',
    variable: 'PANACEA_HTTP_HOST',
    form: text,
    description: 'Address the HTTP endpoints listen on (default 127.0.0.1)',
  },
  {
    key: 'observability.maxTrackedAgents',
    variable: 'PANACEA_METRICS_MAX_AGENTS',
    form: { type: 'integer', minimum: 0, maximum: 10_000 },
    description: 'Agents with a label of their own in the agent metrics; the rest: other (50)',
  },
  {
    key: 'observability.readyMaxPauseMs',
    variable: 'PANACEA_READY_MAX_PAUSE_MS',
    form: milliseconds(1000, DAY_MS),
    description: 'Readiness fails once a writer waits on Elasticsearch this long, ms (60000)',
  },
];

const BY_KEY = new Map(SETTINGS.map((setting) => [setting.key, setting]));
const BY_VARIABLE = new Map(SETTINGS.map((setting) => [setting.variable, setting]));

export function settingByKey(key: string): Setting | undefined {
  return BY_KEY.get(key);
}

export function settingByVariable(variable: string): Setting | undefined {
  return BY_VARIABLE.get(variable);
}
