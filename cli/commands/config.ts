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
import { PanaceaError } from '../../core/errors.js';
import { SETTINGS, type Setting } from '../../core/settings.js';
import { loadAlertRules } from '../../processors/alerts/rules-file.js';
import { loadRedactionRules } from '../../processors/enrich/redaction-rules-file.js';
import { loadDestinationsFile } from '../../sinks/webhooks/destinations-file.js';
import { EXIT_OK, parseCommandArgs, say } from '../command-line.js';

export const CONFIG_USAGE = 'panacea [--config FILE] config check|print|schema [--json]';

const MASK = '********';

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
      const printed = SETTINGS.map((setting) => printedSetting(setting, origins));
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

function printedSetting(setting: Setting, origins: Map<string, SettingOrigin>): PrintedSetting {
  const raw = process.env[setting.variable];
  const origin = origins.get(setting.variable);
  return {
    key: setting.key,
    variable: setting.variable,
    value: raw === undefined ? undefined : masked(setting, raw),
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
    const value = setting.value ?? '(default)';
    const from = setting.source === 'default' ? '' : `  [${setting.source}, ${setting.variable}]`;
    return `${setting.key.padEnd(width)}  ${value}${from}`;
  });
}
