/**
 * `panacea config check|print|schema`: the settings in force and where each came from.
 *
 * - `check` reads the configuration (file and environment) and the files it names (redaction
 *   rules, alert rules, alert destinations), and says it is valid; an invalid value fails before any command runs, naming the key.
 * - `print [--json]` lists every setting: its value (secrets masked), and whether it came from the
 *   environment, the file or the default.
 * - `schema` prints the JSON Schema of the configuration file.
 */
import { applyConfigFile, type SettingOrigin } from '../../core/config-file.js';
import { configJsonSchema } from '../../core/config-schema.js';
import type { PanaceaConfig } from '../../core/config.js';
import { formatDuration } from '../../core/durations.js';
import { PanaceaError } from '../../core/errors.js';
import { SETTINGS, type Setting } from '../../core/settings.js';
import { defaultCacheDir } from '../../infra/stack/stack.js';
import { loadAlertRules } from '../../processors/alerts/rules-file.js';
import { loadRedactionRules } from '../../processors/enrich/redaction-rules-file.js';
import { datasetsDirectory } from '../../producers/importers/shipped-datasets.js';
import { loadDestinationsFile } from '../../sinks/webhooks/destinations-file.js';
import { EXIT_OK, parseCommandArgs, say } from '../command-line.js';
import { DEFAULT_ELASTICSEARCH_PORT, DEFAULT_KAFKA_PORT } from './stack.js';

export const CONFIG_USAGE = 'panacea [--config FILE] config check|print|schema [--json]';

const MASK = '********';

type Effective = (config: PanaceaConfig) => string | number | boolean | undefined;
const ms = (durationMs: number | undefined): string =>
  durationMs === undefined ? 'off' : formatDuration(durationMs);

/**
 * The value in force of each setting the configuration holds, so a setting left unset prints the
 * default it gets rather than a placeholder. Settings read outside the configuration (the local
 * stack's, the logger's) print what is set, or nothing.
 */
export const EFFECTIVE_VALUES: Record<string, Effective> = {
  'kafka.brokers': (config) => config.kafkaBrokers.join(','),
  'kafka.ssl.enabled': (config) => config.kafkaTls !== undefined,
  'kafka.ssl.rejectUnauthorized': (config) => config.kafkaTls?.rejectUnauthorized ?? true,
  'kafka.sasl.mechanism': (config) => config.kafkaSasl?.mechanism,
  'kafka.sasl.username': (config) => config.kafkaSasl?.username,
  'elasticsearch.url': (config) => config.elasticsearchUrl,
  'elasticsearch.username': (config) => config.elasticsearchAccess.username,
  'elasticsearch.setupOnStart': (config) => config.elasticsearchSetupOnStart,
  namespace: (config) => config.namespace,
  topicPrefix: (config) => config.topicPrefix,
  dataDir: (config) => config.dataDir,
  'schemaRegistry.url': (config) => config.schemaRegistryUrl,
  'redaction.rulesFile': (config) => config.redactionRulesFile,
  'metrics.windowMs': (config) => config.metrics.windowSizeMs,
  'metrics.latenessMs': (config) => config.metrics.allowedLatenessMs,
  'metrics.staleMs': (config) => config.metrics.staleAfterMs,
  'metrics.stuckMs': (config) => config.metrics.stuckAfterMs,
  'metrics.maxFutureMs': (config) => config.metrics.maxFutureMs,
  'retention.heartbeat': (config) => ms(config.retention.heartbeatMs),
  'retention.activity': (config) => ms(config.retention.activityMs),
  'retention.metrics': (config) => ms(config.retention.metricsMs),
  'retention.error': (config) => ms(config.retention.errorMs),
  'retention.audit': (config) => ms(config.retention.auditMs),
  'retention.interval': (config) => ms(config.retention.enforcementIntervalMs),
  'archive.segmentBytes': (config) => config.archive.segmentBytes,
  'archive.segmentMs': (config) => config.archive.segmentMs,
  'archive.signingKeyFile': (config) => config.archive.signingKeyFile,
  'archive.retention': (config) => ms(config.archive.retentionMs),
  'archive.retentionInterval': (config) => ms(config.archive.retentionIntervalMs),
  'archive.s3.bucket': (config) => config.archive.s3?.bucket,
  'archive.s3.prefix': (config) => config.archive.s3?.prefix,
  'archive.s3.endpoint': (config) => config.archive.s3?.endpoint,
  'archive.s3.region': (config) => config.archive.s3?.region,
  'archive.s3.objectLock': (config) => config.archive.s3?.objectLock ?? 'off',
  'alerts.rulesFile': (config) => config.alertRulesFile,
  'alerts.destinationsFile': (config) => config.alertDestinationsFile,
  'observability.httpPort': (config) => config.observability.httpPort ?? 'off',
  'observability.httpHost': (config) => config.observability.httpHost,
  'observability.maxTrackedAgents': (config) => config.observability.maxTrackedAgents,
  'observability.readyMaxPauseMs': (config) => config.observability.readyMaxPauseMs,
  'stack.kafkaPort': () => DEFAULT_KAFKA_PORT,
  'stack.elasticsearchPort': () => DEFAULT_ELASTICSEARCH_PORT,
  'stack.source': () => 'auto',
  'stack.cacheDir': () => defaultCacheDir(),
  datasetsDir: () => datasetsDirectory(),
  'logging.level': () => 'info',
  'logging.format': () => (process.stderr.isTTY ? 'pretty' : 'json'),
};

interface PrintedSetting {
  key: string;
  variable: string;
  value: string | undefined;
  source: 'environment' | 'file' | 'default';
}

export async function configCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const [action, ...rest] = args;
  const { values } = parseCommandArgs(rest, { json: { type: 'boolean', default: false } });
  const origins = applyConfigFile(process.env);

  switch (action) {
    case 'check': {
      // Files the settings name are configuration too: a broken one fails here, not at run.
      loadRedactionRules(config.redactionRulesFile);
      if (config.alertRulesFile !== undefined) loadAlertRules(config.alertRulesFile);
      if (config.alertDestinationsFile !== undefined) {
        loadDestinationsFile(config.alertDestinationsFile);
      }
      const fromFile = [...origins.values()].filter((origin) => origin.from === 'file').length;
      const summary = {
        valid: true,
        file: config.configFile ?? null,
        fromFile,
        fromEnvironment: [...origins.values()].length - fromFile,
      };
      if (values.json) say(JSON.stringify(summary));
      else {
        say(
          `configuration valid: ${config.configFile ?? 'no configuration file'}; ` +
            `${summary.fromFile} settings from the file, ${summary.fromEnvironment} from the environment, the rest default`,
        );
      }
      return EXIT_OK;
    }
    case 'print': {
      const printed = SETTINGS.map((setting) => printedSetting(setting, origins, config));
      if (values.json) say(JSON.stringify({ file: config.configFile ?? null, settings: printed }));
      else for (const line of printedLines(printed)) say(line);
      return EXIT_OK;
    }
    case 'schema':
      say(JSON.stringify(configJsonSchema(), null, 2));
      return EXIT_OK;
    default:
      throw new PanaceaError(
        'USAGE',
        `config: expected check, print or schema, got ${action === undefined ? 'nothing' : `"${action}"`}`,
      );
  }
}

function printedSetting(
  setting: Setting,
  origins: Map<string, SettingOrigin>,
  config: PanaceaConfig,
): PrintedSetting {
  const raw = process.env[setting.variable];
  const origin = origins.get(setting.variable);
  const effective = EFFECTIVE_VALUES[setting.key]?.(config);
  const value = raw ?? (effective === undefined ? undefined : String(effective));
  return {
    key: setting.key,
    variable: setting.variable,
    value: value === undefined ? undefined : masked(setting, value),
    source: origin?.from ?? 'default',
  };
}

/**
 * Secrets as a mask; a URL setting (Elasticsearch, schema registry, Kibana, S3 endpoint) keeps
 * its address but never the credentials in it. Only URL settings are read as URLs: a password
 * such as `Summer2026:secret` parses as a URL without credentials and was printed as it is.
 */
function masked(setting: Setting, value: string): string {
  if (!/\.(url|endpoint)$/.test(setting.key)) return setting.secret ? MASK : value;
  try {
    const url = new URL(value);
    if (url.username === '' && url.password === '') return value;
    url.username = url.username === '' ? '' : MASK;
    url.password = url.password === '' ? '' : MASK;
    return url.toString();
  } catch {
    return setting.secret ? MASK : value;
  }
}

function printedLines(settings: PrintedSetting[]): string[] {
  const width = Math.max(...settings.map((setting) => setting.key.length));
  return settings.map((setting) => {
    const value = setting.value === '' ? '""' : (setting.value ?? '(unset)');
    const from = `  [${setting.source === 'default' ? 'default' : `${setting.source}, ${setting.variable}`}]`;
    return `${setting.key.padEnd(width)}  ${value}${from}`;
  });
}
