/**
 * Runtime configuration, read from the environment once and validated with messages that name the
 * variable, the value and what was expected. Defaults live here and nowhere else.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';

import { applyConfigFile, restateForOrigin } from './config-file.js';
import { formatDuration, parseDurationMs } from './durations.js';
import { PanaceaError } from './errors.js';
import { LOG_FORMATS, LOG_LEVELS, parseLogLevels } from './logger.js';

export interface PanaceaConfig {
  /** The configuration file the values were read from (`--config`, `PANACEA_CONFIG`), if any. */
  configFile: string | undefined;
  /** Kafka bootstrap servers. `KAFKA_BROKERS`, comma-separated; default `127.0.0.1:9092`. */
  kafkaBrokers: string[];
  /** TLS to the brokers (`KAFKA_SSL` and `KAFKA_SSL_*`); undefined: plaintext. */
  kafkaTls: KafkaTlsConfig | undefined;
  /** SASL authentication (`KAFKA_SASL_*`); undefined: none. */
  kafkaSasl: KafkaSaslConfig | undefined;
  /** Credentials and CA for Elasticsearch (`ELASTICSEARCH_API_KEY`, `_USERNAME`, `_CA_FILE`…). */
  elasticsearchAccess: ElasticsearchAccessConfig;
  /** True when `KAFKA_BROKERS` was set, meaning: use that cluster and start nothing. */
  kafkaBrokersFromEnvironment: boolean;
  /** `ELASTICSEARCH_URL`; default `http://127.0.0.1:9200`. */
  elasticsearchUrl: string;
  /** True when `ELASTICSEARCH_URL` was set, meaning: use that cluster and start nothing. */
  elasticsearchUrlFromEnvironment: boolean;
  /** Everything the product keeps on disk. `PANACEA_DATA_DIR`; default `.panacea` in the cwd. */
  dataDir: string;
  /**
   * Data stream namespace (the last part of `logs-agent.<kind>-<namespace>`), one per deployment.
   * `PANACEA_NAMESPACE`; default `default`.
   */
  namespace: string;
  /**
   * Prefix of every topic and consumer group name, to run several pipelines on one cluster.
   * `PANACEA_TOPIC_PREFIX`; default empty.
   */
  topicPrefix: string;
  /**
   * A Confluent-compatible schema registry to use instead of the embedded one (which keeps its
   * subjects in a Kafka topic). `SCHEMA_REGISTRY_URL`; default unset.
   */
  schemaRegistryUrl: string | undefined;
  /**
   * Kibana, for `panacea kibana import` only (credentials may be in the URL, a path such as
   * `/s/<space>` picks a space). `KIBANA_URL`; default unset.
   */
  kibanaUrl: string | undefined;
  /** Settings of the metrics stage, each from its own variable (see MetricsConfig). */
  metrics: MetricsConfig;
  /**
   * A JSON file that disables built-in redaction rules and adds rules of its own (see README,
   * "Redaction"). `PANACEA_REDACTION_RULES`; default unset (the built-in rules).
   */
  redactionRulesFile: string | undefined;
  /**
   * The alert rules file, YAML or JSON by extension (see README, "Alerts"); `panacea run` starts
   * the alerts stage and its sink only when it is set. `PANACEA_ALERT_RULES`; default unset.
   */
  alertRulesFile: string | undefined;
  /** How long each kind of data is kept, and how often Panacea enforces it (see RetentionConfig). */
  retention: RetentionConfig;
  /**
   * Whether `panacea run` installs the index templates (as `panacea es setup` does) before it
   * starts. `PANACEA_ES_SETUP`, `true` or `false`; default `true`.
   */
  elasticsearchSetupOnStart: boolean;
  /** Settings of the audit archive, each from its own variable (see ArchiveConfig). */
  archive: ArchiveConfig;
  /**
   * A YAML or JSON file naming where alert notifications are delivered (see README, "Alert
   * destinations"); `panacea run` starts the webhook sink only when it is set.
   * `PANACEA_ALERT_DESTINATIONS`; default unset.
   */
  alertDestinationsFile: string | undefined;
  /** The HTTP endpoints of `panacea run`: metrics and health (see ObservabilityConfig). */
  observability: ObservabilityConfig;
}

export interface ObservabilityConfig {
  /**
   * Port of `/metrics`, `/healthz` and `/readyz`. `PANACEA_HTTP_PORT`, a port or `off`; default
   * 9464. Undefined: no HTTP server.
   */
  httpPort: number | undefined;
  /** `PANACEA_HTTP_HOST`; default `127.0.0.1` (set `0.0.0.0` to be scraped from elsewhere). */
  httpHost: string;
  /**
   * Agents that get a label of their own in the agent metrics; the rest count under
   * `agent="other"`. `PANACEA_METRICS_MAX_AGENTS`; default 50, 0 to 10 000.
   */
  maxTrackedAgents: number;
  /**
   * A stage's writer held up by Elasticsearch longer than this makes `/readyz` fail.
   * `PANACEA_READY_MAX_PAUSE_MS`; default 60 000, 1 000 to 86 400 000.
   */
  readyMaxPauseMs: number;
}

export const DEFAULT_OBSERVABILITY_CONFIG = {
  httpPort: 9464,
  httpHost: '127.0.0.1',
  maxTrackedAgents: 50,
  readyMaxPauseMs: 60_000,
} as const;

export interface KafkaTlsConfig {
  /** PEM text of the CA file (`KAFKA_SSL_CA_FILE`), read at start. */
  ca?: string;
  /** PEM text of the client certificate and key, for mutual TLS. */
  cert?: string;
  key?: string;
  /** `KAFKA_SSL_REJECT_UNAUTHORIZED`; default true. */
  rejectUnauthorized: boolean;
}

export type KafkaSaslConfig = {
  username: string;
  password: string;
} & ({ mechanism: 'plain' } | { mechanism: 'scram-sha-256' } | { mechanism: 'scram-sha-512' });

export interface ElasticsearchAccessConfig {
  /** `ELASTICSEARCH_API_KEY`: the encoded key; wins over basic authentication. */
  apiKey?: string;
  /** `ELASTICSEARCH_USERNAME` and `ELASTICSEARCH_PASSWORD`. */
  username?: string;
  password?: string;
  /** PEM text of `ELASTICSEARCH_CA_FILE`, read at start. */
  ca?: string;
}

/**
 * Retention per data stream kind, and for the metrics indices. Each from
 * `PANACEA_RETENTION_<KIND>` as a duration (`30d`, `12h`, `15m`).
 */
export interface RetentionConfig {
  /** `PANACEA_RETENTION_HEARTBEAT`; default 7 days. */
  heartbeatMs: number;
  /** `PANACEA_RETENTION_ACTIVITY`; default 30 days. */
  activityMs: number;
  /** `PANACEA_RETENTION_METRICS`; default 30 days. */
  metricsMs: number;
  /** `PANACEA_RETENTION_ERROR`; default 90 days. */
  errorMs: number;
  /** `PANACEA_RETENTION_AUDIT`; default 400 days. */
  auditMs: number;
  /**
   * How often `panacea run` enforces retention where Elasticsearch does not (no data stream
   * lifecycle, and always for the metrics indices). `PANACEA_RETENTION_INTERVAL`, a duration or
   * `off`; default 1 minute. Undefined: not enforced by `run` (`panacea es retention` still is).
   */
  enforcementIntervalMs: number | undefined;
}

export interface ArchiveConfig {
  /**
   * A segment is sealed once its file reaches this size. `PANACEA_ARCHIVE_SEGMENT_BYTES`; default
   * 67 108 864 (64 MiB), 1 024 to 1 073 741 824.
   */
  segmentBytes: number;
  /**
   * A segment is sealed once it has been open this long, so a quiet partition still commits.
   * `PANACEA_ARCHIVE_SEGMENT_MS`; default 600 000 (10 minutes), 100 to 86 400 000.
   */
  segmentMs: number;
  /**
   * A PEM file with the Ed25519 private key that signs the chain heads.
   * `PANACEA_ARCHIVE_SIGNING_KEY`; default unset: a key generated in the archive directory.
   */
  signingKeyFile: string | undefined;
  /**
   * Segments whose newest event is older than this are deleted unless a legal hold keeps them.
   * `PANACEA_ARCHIVE_RETENTION`, a duration; default `PANACEA_RETENTION_AUDIT` (400 days).
   */
  retentionMs: number;
  /**
   * How often `panacea run` applies the archive retention. `PANACEA_ARCHIVE_RETENTION_INTERVAL`,
   * a duration from 1s to 1d or `off`; default 1 hour. Undefined: not applied by `run`
   * (`panacea audit retention` still applies it).
   */
  retentionIntervalMs: number | undefined;
  /**
   * Where sealed segments are kept besides the archive directory: an S3-compatible bucket when
   * `PANACEA_ARCHIVE_S3_BUCKET` is set (see ArchiveS3Config); default undefined, the directory.
   */
  s3: ArchiveS3Config | undefined;
}

/** The S3-compatible segment store, each setting from its own variable. */
export interface ArchiveS3Config {
  /** `PANACEA_ARCHIVE_S3_BUCKET`: the bucket, which must exist. */
  bucket: string;
  /** `PANACEA_ARCHIVE_S3_PREFIX`: prepended to every key, e.g. `panacea/`; default empty. */
  prefix: string;
  /**
   * `PANACEA_ARCHIVE_S3_ENDPOINT`: an http(s) URL of an S3-compatible server (path-style
   * addressing); default unset, AWS S3 itself.
   */
  endpoint: string | undefined;
  /** `PANACEA_ARCHIVE_S3_REGION`; default `us-east-1`. */
  region: string;
  /**
   * `PANACEA_ARCHIVE_S3_OBJECT_LOCK`: `off`, `governance` or `compliance`: the Object Lock mode
   * each segment is written with, retained for the archive retention; default `off`.
   */
  objectLock: 'off' | 'governance' | 'compliance';
}

export const DEFAULT_ARCHIVE_CONFIG = {
  segmentBytes: 64 * 1024 * 1024,
  segmentMs: 600_000,
  retentionIntervalMs: 3_600_000,
} as const;

export interface MetricsConfig {
  /** Event-time window size. `PANACEA_METRICS_WINDOW_MS`; default 60 000, 1 000 to 86 400 000. */
  windowSizeMs: number;
  /**
   * How far behind a partition's latest event time an event may be and still count.
   * `PANACEA_METRICS_LATENESS_MS`; default 30 000, 0 to 604 800 000.
   */
  allowedLatenessMs: number;
  /** Silence after which an agent is stale. `PANACEA_METRICS_STALE_MS`; default 90 000. */
  staleAfterMs: number;
  /** In progress this long is a stuck task. `PANACEA_METRICS_STUCK_MS`; default 900 000. */
  stuckAfterMs: number;
  /**
   * How far an event time may run ahead of the time its record reached Kafka and still count in
   * windows. `PANACEA_METRICS_MAX_FUTURE_MS`; default 300 000, 0 to 86 400 000.
   */
  maxFutureMs: number;
}

export const DEFAULT_METRICS_CONFIG: MetricsConfig = {
  windowSizeMs: 60_000,
  allowedLatenessMs: 30_000,
  staleAfterMs: 90_000,
  stuckAfterMs: 900_000,
  maxFutureMs: 300_000,
};

const DAY_MS = 86_400_000;

export const DEFAULT_RETENTION_CONFIG: RetentionConfig = {
  heartbeatMs: 7 * DAY_MS,
  activityMs: 30 * DAY_MS,
  metricsMs: 30 * DAY_MS,
  errorMs: 90 * DAY_MS,
  auditMs: 400 * DAY_MS,
  enforcementIntervalMs: 60_000,
};

const RETENTION_VARIABLES = {
  PANACEA_RETENTION_HEARTBEAT: 'heartbeatMs',
  PANACEA_RETENTION_ACTIVITY: 'activityMs',
  PANACEA_RETENTION_METRICS: 'metricsMs',
  PANACEA_RETENTION_ERROR: 'errorMs',
  PANACEA_RETENTION_AUDIT: 'auditMs',
} as const satisfies Record<string, keyof RetentionConfig>;

// A retention under a minute would delete data the sink is still writing; over ten years is a typo.
const MIN_RETENTION_MS = 60_000;
const MAX_RETENTION_MS = 3650 * DAY_MS;
const MIN_ENFORCEMENT_INTERVAL_MS = 1000;
const DURATION_FORM = 'a duration such as 15m, 12h or 30d';

export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:9092';
export const DEFAULT_ELASTICSEARCH_URL = 'http://127.0.0.1:9200';
export const DEFAULT_DATA_DIR = '.panacea';
export const DEFAULT_NAMESPACE = 'default';

const BROKER_PATTERN = /^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/;
// Elasticsearch's rules for the namespace part of a data stream name: lowercase, no hyphen, no
// characters that are illegal in index names, and short.
const NAMESPACE_PATTERN = /^[a-z0-9_]{1,100}$/;
const TOPIC_PREFIX_PATTERN = /^[A-Za-z0-9._-]{0,100}$/;

/**
 * The settings from the environment, over the configuration file's (see config-file.ts). Every
 * invalid value is refused with a message that names where it came from: the variable, or the
 * file and the key.
 */
export function loadConfig(environment: NodeJS.ProcessEnv = process.env): PanaceaConfig {
  const origins = applyConfigFile(environment);
  try {
    return readSettings(environment);
  } catch (error) {
    if (error instanceof PanaceaError && error.code === 'CONFIG_INVALID') {
      throw restateForOrigin(error, origins);
    }
    throw error;
  }
}

function readSettings(environment: NodeJS.ProcessEnv): PanaceaConfig {
  const brokersText = nonEmpty(environment.KAFKA_BROKERS);
  const elasticsearchText = nonEmpty(environment.ELASTICSEARCH_URL);

  // The ports of a local stack (`panacea stack up`) move the defaults with them, so every command
  // talks to the stack that was started with those ports.
  const kafkaPort = portVariable(environment, 'PANACEA_KAFKA_PORT');
  const elasticsearchPort = portVariable(environment, 'PANACEA_ELASTICSEARCH_PORT');
  const localBrokers = kafkaPort === undefined ? DEFAULT_KAFKA_BROKERS : `127.0.0.1:${kafkaPort}`;
  const localUrl =
    elasticsearchPort === undefined
      ? DEFAULT_ELASTICSEARCH_URL
      : `http://127.0.0.1:${elasticsearchPort}`;

  const kafkaBrokers = parseBrokers(brokersText ?? localBrokers);
  const elasticsearchUrl = parseElasticsearchUrl(elasticsearchText ?? localUrl);
  const namespace = nonEmpty(environment.PANACEA_NAMESPACE) ?? DEFAULT_NAMESPACE;
  const topicPrefix = environment.PANACEA_TOPIC_PREFIX ?? '';
  const dataDir = path.resolve(nonEmpty(environment.PANACEA_DATA_DIR) ?? DEFAULT_DATA_DIR);

  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw invalid('PANACEA_NAMESPACE', namespace, 'lowercase letters, digits and _ (1-100)');
  }
  const logLevel = environment.LOG_LEVEL;
  if (logLevel !== undefined && parseLogLevels(logLevel) === undefined) {
    const levels = LOG_LEVELS.join(', ');
    throw invalid('LOG_LEVEL', logLevel, `one of ${levels}, then any component=level, by commas`);
  }
  const logFormat = environment.LOG_FORMAT;
  if (logFormat !== undefined && !(LOG_FORMATS as readonly string[]).includes(logFormat)) {
    throw invalid('LOG_FORMAT', logFormat, LOG_FORMATS.join(' or '));
  }
  if (!TOPIC_PREFIX_PATTERN.test(topicPrefix)) {
    throw invalid('PANACEA_TOPIC_PREFIX', topicPrefix, 'letters, digits, ".", "_" or "-"');
  }

  const schemaRegistryText = nonEmpty(environment.SCHEMA_REGISTRY_URL);
  const schemaRegistryUrl =
    schemaRegistryText === undefined
      ? undefined
      : parseHttpUrl('SCHEMA_REGISTRY_URL', schemaRegistryText);

  const kibanaText = nonEmpty(environment.KIBANA_URL);
  const kibanaUrl = kibanaText === undefined ? undefined : parseHttpUrl('KIBANA_URL', kibanaText);

  const metrics: MetricsConfig = {
    windowSizeMs: millisecondsVariable(environment, 'PANACEA_METRICS_WINDOW_MS', 1000, DAY_MS),
    allowedLatenessMs: millisecondsVariable(
      environment,
      'PANACEA_METRICS_LATENESS_MS',
      0,
      7 * DAY_MS,
    ),
    staleAfterMs: millisecondsVariable(environment, 'PANACEA_METRICS_STALE_MS', 1000, DAY_MS),
    stuckAfterMs: millisecondsVariable(environment, 'PANACEA_METRICS_STUCK_MS', 1000, 30 * DAY_MS),
    maxFutureMs: millisecondsVariable(environment, 'PANACEA_METRICS_MAX_FUTURE_MS', 0, DAY_MS),
  };

  const retention = readRetention(environment);
  const setupText = nonEmpty(environment.PANACEA_ES_SETUP) ?? 'true';
  if (setupText !== 'true' && setupText !== 'false') {
    throw invalid('PANACEA_ES_SETUP', setupText, 'true or false');
  }

  return {
    configFile: optionalPath(environment.PANACEA_CONFIG),
    kafkaBrokers,
    kafkaTls: readKafkaTls(environment),
    kafkaSasl: readKafkaSasl(environment),
    elasticsearchAccess: readElasticsearchAccess(environment, elasticsearchUrl),
    kafkaBrokersFromEnvironment: brokersText !== undefined,
    elasticsearchUrl,
    elasticsearchUrlFromEnvironment: elasticsearchText !== undefined,
    dataDir,
    namespace,
    topicPrefix,
    schemaRegistryUrl,
    kibanaUrl,
    metrics,
    redactionRulesFile: optionalPath(environment.PANACEA_REDACTION_RULES),
    alertRulesFile: optionalPath(environment.PANACEA_ALERT_RULES),
    retention,
    elasticsearchSetupOnStart: setupText === 'true',
    archive: {
      segmentBytes: wholeNumberVariable(
        environment,
        'PANACEA_ARCHIVE_SEGMENT_BYTES',
        DEFAULT_ARCHIVE_CONFIG.segmentBytes,
        1024,
        1024 * 1024 * 1024,
        'bytes',
      ),
      segmentMs: wholeNumberVariable(
        environment,
        'PANACEA_ARCHIVE_SEGMENT_MS',
        DEFAULT_ARCHIVE_CONFIG.segmentMs,
        100,
        DAY_MS,
        'milliseconds',
      ),
      signingKeyFile: optionalPath(environment.PANACEA_ARCHIVE_SIGNING_KEY),
      ...readArchiveRetention(environment, retention.auditMs),
      s3: readArchiveS3(environment),
    },
    alertDestinationsFile: optionalPath(environment.PANACEA_ALERT_DESTINATIONS),
    observability: readObservability(environment),
  };
}

function readObservability(environment: NodeJS.ProcessEnv): ObservabilityConfig {
  const portText = nonEmpty(environment.PANACEA_HTTP_PORT);
  const defaults = DEFAULT_OBSERVABILITY_CONFIG;
  const port = Number(portText ?? defaults.httpPort);
  const validPort = /^\d+$/.test(String(portText ?? port)) && port >= 1 && port <= 65_535;
  if (portText !== 'off' && !validPort) {
    throw invalid('PANACEA_HTTP_PORT', portText ?? '', 'a port from 1 to 65535, or off');
  }
  const httpPort = portText === 'off' ? undefined : port;
  return {
    httpPort,
    httpHost: readHttpHost(environment) ?? defaults.httpHost,
    maxTrackedAgents: wholeNumberVariable(
      environment,
      'PANACEA_METRICS_MAX_AGENTS',
      defaults.maxTrackedAgents,
      0,
      10_000,
      'agents',
    ),
    readyMaxPauseMs: wholeNumberVariable(
      environment,
      'PANACEA_READY_MAX_PAUSE_MS',
      defaults.readyMaxPauseMs,
      1000,
      DAY_MS,
      'milliseconds',
    ),
  };
}

function readKafkaTls(environment: NodeJS.ProcessEnv): KafkaTlsConfig | undefined {
  const enabled = booleanVariable(environment, 'KAFKA_SSL', false);
  const caFile = nonEmpty(environment.KAFKA_SSL_CA_FILE);
  const certFile = nonEmpty(environment.KAFKA_SSL_CERT_FILE);
  const keyFile = nonEmpty(environment.KAFKA_SSL_KEY_FILE);
  const rejectUnauthorized = booleanVariable(environment, 'KAFKA_SSL_REJECT_UNAUTHORIZED', true);
  // A CA or a client certificate says TLS as clearly as KAFKA_SSL=true does.
  if (!enabled && caFile === undefined && certFile === undefined) {
    if (environment.KAFKA_SSL !== undefined && keyFile !== undefined) {
      throw invalid('KAFKA_SSL_KEY_FILE', keyFile, 'no key without KAFKA_SSL_CERT_FILE and TLS');
    }
    return undefined;
  }
  if ((certFile === undefined) !== (keyFile === undefined)) {
    const [variable, value] =
      certFile === undefined ? ['KAFKA_SSL_KEY_FILE', keyFile] : ['KAFKA_SSL_CERT_FILE', certFile];
    throw invalid(variable, value ?? '', 'KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE together');
  }
  return {
    ...(caFile === undefined ? {} : { ca: pemFile('KAFKA_SSL_CA_FILE', caFile) }),
    ...(certFile === undefined ? {} : { cert: pemFile('KAFKA_SSL_CERT_FILE', certFile) }),
    ...(keyFile === undefined ? {} : { key: pemFile('KAFKA_SSL_KEY_FILE', keyFile) }),
    rejectUnauthorized,
  };
}

const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

function readKafkaSasl(environment: NodeJS.ProcessEnv): KafkaSaslConfig | undefined {
  const mechanism = nonEmpty(environment.KAFKA_SASL_MECHANISM)?.toLowerCase();
  const username = nonEmpty(environment.KAFKA_SASL_USERNAME);
  const password = environment.KAFKA_SASL_PASSWORD;
  if (mechanism === undefined) {
    if (username !== undefined) {
      throw invalid(
        'KAFKA_SASL_MECHANISM',
        '',
        `one of ${SASL_MECHANISMS.join(', ')} with KAFKA_SASL_USERNAME`,
      );
    }
    return undefined;
  }
  if (!(SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
    throw invalid('KAFKA_SASL_MECHANISM', mechanism, `one of ${SASL_MECHANISMS.join(', ')}`);
  }
  if (username === undefined) throw invalid('KAFKA_SASL_USERNAME', '', 'a user name for SASL');
  if (password === undefined || password === '') {
    throw invalid('KAFKA_SASL_PASSWORD', '', 'a password for SASL');
  }
  // The mechanism was checked against SASL_MECHANISMS just above.
  return { mechanism, username, password } as KafkaSaslConfig;
}

function readElasticsearchAccess(
  environment: NodeJS.ProcessEnv,
  elasticsearchUrl: string,
): ElasticsearchAccessConfig {
  const apiKey = nonEmpty(environment.ELASTICSEARCH_API_KEY);
  const username = nonEmpty(environment.ELASTICSEARCH_USERNAME);
  const password = environment.ELASTICSEARCH_PASSWORD;
  const caFile = nonEmpty(environment.ELASTICSEARCH_CA_FILE);
  if (username !== undefined && (password === undefined || password === '')) {
    throw invalid('ELASTICSEARCH_PASSWORD', '', 'a password with ELASTICSEARCH_USERNAME');
  }
  if (username === undefined && password !== undefined && password !== '') {
    throw invalid('ELASTICSEARCH_USERNAME', '', 'a user name with ELASTICSEARCH_PASSWORD');
  }
  if (caFile !== undefined && !elasticsearchUrl.startsWith('https://')) {
    throw invalid('ELASTICSEARCH_CA_FILE', caFile, 'an https:// ELASTICSEARCH_URL to use it with');
  }
  return {
    ...(apiKey === undefined ? {} : { apiKey }),
    ...(username === undefined ? {} : { username, password }),
    ...(caFile === undefined ? {} : { ca: pemFile('ELASTICSEARCH_CA_FILE', caFile) }),
  };
}

function booleanVariable(
  environment: NodeJS.ProcessEnv,
  variable: string,
  fallback: boolean,
): boolean {
  const text = nonEmpty(environment[variable]);
  if (text === undefined) return fallback;
  if (text !== 'true' && text !== 'false') throw invalid(variable, text, 'true or false');
  return text === 'true';
}

/** A PEM file's text, read now so a wrong path fails at start rather than at the first connect. */
function pemFile(variable: string, file: string): string {
  let content: string;
  try {
    content = readFileSync(path.resolve(file), 'utf8');
  } catch (error) {
    throw invalid(
      variable,
      file,
      `a readable PEM file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  if (!content.includes('-----BEGIN ')) throw invalid(variable, file, 'a PEM file (-----BEGIN …)');
  return content;
}

/** An IP address or a host name to listen on; not a URL, not a host:port pair. */
function readHttpHost(environment: NodeJS.ProcessEnv): string | undefined {
  const host = nonEmpty(environment.PANACEA_HTTP_HOST);
  if (host === undefined) return undefined;
  const hostName =
    /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
  if (isIP(host) === 0 && !hostName.test(host)) {
    throw invalid(
      'PANACEA_HTTP_HOST',
      host,
      'an IP address or a host name, such as 127.0.0.1 or 0.0.0.0',
    );
  }
  return host;
}

function readArchiveRetention(
  environment: NodeJS.ProcessEnv,
  auditRetentionMs: number,
): Pick<ArchiveConfig, 'retentionMs' | 'retentionIntervalMs'> {
  return {
    retentionMs: retentionVariable(environment, 'PANACEA_ARCHIVE_RETENTION') ?? auditRetentionMs,
    retentionIntervalMs: intervalVariable(
      environment,
      'PANACEA_ARCHIVE_RETENTION_INTERVAL',
      DEFAULT_ARCHIVE_CONFIG.retentionIntervalMs,
    ),
  };
}

function readRetention(environment: NodeJS.ProcessEnv): RetentionConfig {
  const retention = { ...DEFAULT_RETENTION_CONFIG };
  for (const [variable, key] of Object.entries(RETENTION_VARIABLES)) {
    retention[key] = retentionVariable(environment, variable) ?? retention[key];
  }
  retention.enforcementIntervalMs = intervalVariable(
    environment,
    'PANACEA_RETENTION_INTERVAL',
    DEFAULT_RETENTION_CONFIG.enforcementIntervalMs,
  );
  return retention;
}

/** A retention period, from a minute to ten years; undefined when the variable is unset. */
function retentionVariable(environment: NodeJS.ProcessEnv, variable: string): number | undefined {
  const text = nonEmpty(environment[variable]);
  if (text === undefined) return undefined;
  const durationMs = parseDurationMs(text);
  if (durationMs === undefined || durationMs < MIN_RETENTION_MS || durationMs > MAX_RETENTION_MS) {
    const range = `from ${formatDuration(MIN_RETENTION_MS)} to ${formatDuration(MAX_RETENTION_MS)}`;
    throw invalid(variable, text, `${DURATION_FORM}, ${range}`);
  }
  return durationMs;
}

/** How often a scheduled job runs, from a second to a day; undefined for `off`. */
function intervalVariable(
  environment: NodeJS.ProcessEnv,
  variable: string,
  fallbackMs: number | undefined,
): number | undefined {
  const text = nonEmpty(environment[variable]);
  if (text === undefined) return fallbackMs;
  if (text === 'off') return undefined;
  const intervalMs = parseDurationMs(text);
  if (intervalMs === undefined || intervalMs < MIN_ENFORCEMENT_INTERVAL_MS || intervalMs > DAY_MS) {
    throw invalid(variable, text, `${DURATION_FORM} from 1s to 1d, or off`);
  }
  return intervalMs;
}

const S3_OBJECT_LOCK_MODES = ['off', 'governance', 'compliance'] as const;
// S3's own rules for bucket names: 3-63 lowercase letters, digits, dots and hyphens.
const S3_BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function readArchiveS3(environment: NodeJS.ProcessEnv): ArchiveS3Config | undefined {
  // Checked even without a bucket: a lock mode set by mistake is better named than ignored.
  const objectLock = nonEmpty(environment.PANACEA_ARCHIVE_S3_OBJECT_LOCK) ?? 'off';
  if (!(S3_OBJECT_LOCK_MODES as readonly string[]).includes(objectLock)) {
    throw invalid('PANACEA_ARCHIVE_S3_OBJECT_LOCK', objectLock, S3_OBJECT_LOCK_MODES.join(', '));
  }
  const bucket = nonEmpty(environment.PANACEA_ARCHIVE_S3_BUCKET);
  if (bucket === undefined) return undefined;
  if (!S3_BUCKET_PATTERN.test(bucket)) {
    throw invalid(
      'PANACEA_ARCHIVE_S3_BUCKET',
      bucket,
      'an S3 bucket name (3-63 of a-z, 0-9, . and -)',
    );
  }
  const endpointText = nonEmpty(environment.PANACEA_ARCHIVE_S3_ENDPOINT);
  const prefix = nonEmpty(environment.PANACEA_ARCHIVE_S3_PREFIX) ?? '';
  return {
    bucket,
    // A prefix names a folder: it ends with one slash, whatever was written.
    prefix: prefix === '' ? '' : `${prefix.replace(/\/+$/, '')}/`,
    endpoint:
      endpointText === undefined
        ? undefined
        : parseHttpUrl('PANACEA_ARCHIVE_S3_ENDPOINT', endpointText),
    region: nonEmpty(environment.PANACEA_ARCHIVE_S3_REGION) ?? 'us-east-1',
    objectLock: objectLock as ArchiveS3Config['objectLock'],
  };
}

function wholeNumberVariable(
  environment: NodeJS.ProcessEnv,
  variable: string,
  fallback: number,
  min: number,
  max: number,
  unit: string,
): number {
  const text = nonEmpty(environment[variable]);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw invalid(variable, text, `whole ${unit} from ${min} to ${max}`);
  }
  return value;
}

function optionalPath(value: string | undefined): string | undefined {
  const text = nonEmpty(value);
  return text === undefined ? undefined : path.resolve(text);
}

function parseBrokers(text: string): string[] {
  const brokers = text.split(',').map((broker) => broker.trim());
  for (const broker of brokers) {
    const port = Number(broker.slice(broker.lastIndexOf(':') + 1));
    if (!BROKER_PATTERN.test(broker) || port < 1 || port > 65_535) {
      throw invalid('KAFKA_BROKERS', text, 'comma-separated host:port pairs');
    }
  }
  return brokers;
}

function parseElasticsearchUrl(text: string): string {
  return parseHttpUrl('ELASTICSEARCH_URL', text);
}

/** `http://` or `https://` followed by a host (or `user@`), as written, not as the parser repairs it. */
const WRITTEN_HOST = /^https?:\/\/[^/\\?#]/i;

function parseHttpUrl(variable: string, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(variable, text, 'an http:// or https:// URL');
  }
  // The URL parser reads http:///x, http:x and http:\\x as host "x": the host must be written.
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !WRITTEN_HOST.test(text)) {
    throw invalid(variable, text, 'an http:// or https:// URL');
  }
  return text.replace(/\/+$/, '');
}

/** A port variable, checked here so a bad one is named rather than the address built from it. */
function portVariable(environment: NodeJS.ProcessEnv, variable: string): string | undefined {
  const text = nonEmpty(environment[variable]);
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65_535) {
    throw invalid(variable, text, 'a port from 1 to 65535');
  }
  return text;
}

const METRICS_VARIABLES = {
  PANACEA_METRICS_WINDOW_MS: 'windowSizeMs',
  PANACEA_METRICS_LATENESS_MS: 'allowedLatenessMs',
  PANACEA_METRICS_STALE_MS: 'staleAfterMs',
  PANACEA_METRICS_STUCK_MS: 'stuckAfterMs',
  PANACEA_METRICS_MAX_FUTURE_MS: 'maxFutureMs',
} as const satisfies Record<string, keyof MetricsConfig>;

/** A whole number of milliseconds from `min` to `max`, or the metrics default when unset. */
function millisecondsVariable(
  environment: NodeJS.ProcessEnv,
  variable: keyof typeof METRICS_VARIABLES,
  min: number,
  max: number,
): number {
  const text = nonEmpty(environment[variable]);
  if (text === undefined) return DEFAULT_METRICS_CONFIG[METRICS_VARIABLES[variable]];
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw invalid(variable, text, `whole milliseconds from ${min} to ${max}`);
  }
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function invalid(variable: string, value: string, expected: string): PanaceaError {
  return new PanaceaError('CONFIG_INVALID', `${variable}: expected ${expected}, got "${value}"`, {
    field: variable,
  });
}
