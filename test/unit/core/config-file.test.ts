/**
 * The configuration file and the security settings: values from a YAML or JSON file under the
 * environment, errors that name the file and the key (or the variable), and the settings table
 * that the file, its JSON Schema and `config print` share.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { configCommand, EFFECTIVE_VALUES } from '../../../cli/commands/config.js';
import { takeConfigOption } from '../../../core/config-file.js';
import { configJsonSchema } from '../../../core/config-schema.js';
import { loadConfig } from '../../../core/config.js';
import { SETTINGS } from '../../../core/settings.js';
import { rejectedPanaceaError, thrownPanaceaError } from '../fixtures/panacea-error.js';

const directory = mkdtempSync(path.join(os.tmpdir(), 'panacea-config-file-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const target = path.join(directory, name);
  writeFileSync(target, content);
  return target;
}

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('configuration file', () => {
  it('reads nested YAML keys, and an environment variable wins over the file', () => {
    const config = loadConfig({
      PANACEA_CONFIG: file(
        'panacea.yaml',
        [
          'kafka:',
          '  brokers: [kafka-1:9092, kafka-2:9092]',
          'namespace: prod',
          'retention:',
          '  audit: 500d',
          'metrics:',
          '  windowMs: 30000',
          'elasticsearch:',
          '  setupOnStart: false',
        ].join('\n'),
      ),
      PANACEA_NAMESPACE: 'staging',
    });

    expect(config.kafkaBrokers).toEqual(['kafka-1:9092', 'kafka-2:9092']);
    expect(config.namespace).toBe('staging');
    expect(config.retention.auditMs).toBe(500 * 86_400_000);
    expect(config.metrics.windowSizeMs).toBe(30_000);
    expect(config.elasticsearchSetupOnStart).toBe(false);
    expect(config.configFile).toBe(path.join(directory, 'panacea.yaml'));
  });

  it('reads JSON by its extension', () => {
    const config = loadConfig({
      PANACEA_CONFIG: file('panacea.json', JSON.stringify({ topicPrefix: 'team-a.' })),
    });
    expect(config.topicPrefix).toBe('team-a.');
  });

  it('reads a JSON file that starts with a byte order mark', () => {
    const config = loadConfig({
      PANACEA_CONFIG: file('bom.json', `\uFEFF${JSON.stringify({ topicPrefix: 'team-b.' })}`),
    });
    expect(config.topicPrefix).toBe('team-b.');
  });

  it('names an unknown key and suggests the nearest one', () => {
    const error = thrownPanaceaError(() =>
      loadConfig({ PANACEA_CONFIG: file('typo.yaml', 'kafka:\n  brokres: [a:1]\n') }),
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe(
      `${path.join(directory, 'typo.yaml')}: kafka.brokres: unknown setting; did you mean kafka.brokers?`,
    );
  });

  it('names the key, the value and the form for a value of the wrong type', () => {
    const error = thrownPanaceaError(() =>
      loadConfig({ PANACEA_CONFIG: file('types.yaml', 'metrics:\n  windowMs: "1m"\n') }),
    );
    expect(error.message).toBe(
      `${path.join(directory, 'types.yaml')}: metrics.windowMs: expected a whole number from 1000 to 86400000, got "1m"`,
    );
  });

  it('reads the observability settings, a port or off, and component log levels', () => {
    const on = loadConfig({
      PANACEA_CONFIG: file(
        'observe.yaml',
        'observability:\n  httpPort: 19464\n  maxTrackedAgents: 3\n' +
          'logging:\n  level: warn,stage.enrich=debug\n',
      ),
    });
    expect(on.observability).toMatchObject({ httpPort: 19_464, maxTrackedAgents: 3 });
    const off = loadConfig({
      PANACEA_CONFIG: file('observe-off.yaml', 'observability:\n  httpPort: "off"\n'),
    });
    expect(off.observability.httpPort).toBeUndefined();
    const error = thrownPanaceaError(() =>
      loadConfig({ PANACEA_CONFIG: file('observe-bad.yaml', 'observability:\n  httpPort: 0\n') }),
    );
    expect(error.message).toBe(
      `${path.join(directory, 'observe-bad.yaml')}: observability.httpPort: expected a port from 1 to 65535, or off, got 0`,
    );
  });

  it("restates a value the settings refuse with the file's key, not only the variable", () => {
    const error = thrownPanaceaError(() =>
      loadConfig({ PANACEA_CONFIG: file('namespace.yaml', 'namespace: Bad-NS\n') }),
    );
    expect(error.message).toBe(
      `${path.join(directory, 'namespace.yaml')}: namespace (or PANACEA_NAMESPACE): expected lowercase letters, digits and _ (1-100), got "Bad-NS"`,
    );
    expect(error.context.field).toBe('namespace');
  });

  it('gives the line and column of a YAML syntax error', () => {
    const error = thrownPanaceaError(() =>
      loadConfig({ PANACEA_CONFIG: file('broken.yaml', 'kafka:\n  brokers: [a:1\nx: y\n') }),
    );
    expect(error.message).toMatch(/broken\.yaml: not valid YAML at line \d+, column \d+/);
  });

  it('says a group of settings given a plain value expects a mapping', () => {
    const error = thrownPanaceaError(() =>
      loadConfig({ PANACEA_CONFIG: file('group.yaml', 'kafka: 5\n') }),
    );
    expect(error.message).toBe(
      `${path.join(directory, 'group.yaml')}: kafka: expected a mapping of its settings (kafka.…), got 5`,
    );
  });

  it('refuses a YAML file of several documents in words of its own', () => {
    const error = thrownPanaceaError(() =>
      loadConfig({ PANACEA_CONFIG: file('docs.yaml', 'namespace: a\n---\nnamespace: b\n') }),
    );
    expect(error.message).toContain('it holds several documents (---); expected one');
    expect(error.message).not.toContain('parseAllDocuments');
  });

  it('refuses a key given twice, in JSON as in YAML', () => {
    const error = thrownPanaceaError(() =>
      loadConfig({
        PANACEA_CONFIG: file('twice.json', '{"namespace":"aaa",\n "namespace":"bbb"}'),
      }),
    );
    expect(error.message).toMatch(
      /twice\.json: not valid JSON at line 2, column \d+: Map keys must be unique/,
    );
  });

  it('reads a relative path in the file as beside the file, wherever the command runs', () => {
    const config = loadConfig({
      PANACEA_CONFIG: file('paths.yaml', 'redaction:\n  rulesFile: rules/redaction.json\n'),
    });
    expect(config.redactionRulesFile).toBe(path.join(directory, 'rules', 'redaction.json'));
  });

  it('refuses a file that cannot be read, naming it', () => {
    const missing = path.join(directory, 'missing.yaml');
    const error = thrownPanaceaError(() => loadConfig({ PANACEA_CONFIG: missing }));
    expect(error.message).toContain(`cannot read the configuration file ${missing}`);
  });
});

describe('security settings', () => {
  it('builds TLS and SASL for Kafka, reading the PEM files at start', () => {
    const ca = file('ca.pem', PEM);
    const config = loadConfig({
      PANACEA_CONFIG: file(
        'secure.yaml',
        `kafka:\n  ssl:\n    caFile: ${ca}\n  sasl:\n    mechanism: scram-sha-512\n    username: panacea\n`,
      ),
      KAFKA_SASL_PASSWORD: 's3cret',
    });
    expect(config.kafkaTls).toEqual({ ca: PEM, rejectUnauthorized: true });
    expect(config.kafkaSasl).toEqual({
      mechanism: 'scram-sha-512',
      username: 'panacea',
      password: 's3cret',
    });
  });

  it('refuses an unknown SASL mechanism, a user without a password and a CA that is not PEM', () => {
    expect(
      thrownPanaceaError(() =>
        loadConfig({ KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_USERNAME: 'a' }),
      ).message,
    ).toBe(
      'KAFKA_SASL_MECHANISM: expected one of plain, scram-sha-256, scram-sha-512, got "gssapi"',
    );
    expect(
      thrownPanaceaError(() =>
        loadConfig({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'a' }),
      ).context.field,
    ).toBe('KAFKA_SASL_PASSWORD');
    expect(
      thrownPanaceaError(() => loadConfig({ KAFKA_SSL_CA_FILE: file('not.pem', 'hello') })).message,
    ).toMatch(/^KAFKA_SSL_CA_FILE: expected a PEM file/);
    expect(
      thrownPanaceaError(() => loadConfig({ KAFKA_SSL_CERT_FILE: file('cert.pem', PEM) })).context
        .field,
    ).toBe('KAFKA_SSL_CERT_FILE');
  });

  it('takes an Elasticsearch API key, or basic authentication, and a CA only for https', () => {
    expect(loadConfig({ ELASTICSEARCH_API_KEY: 'a2V5' }).elasticsearchAccess).toEqual({
      apiKey: 'a2V5',
    });
    expect(
      loadConfig({ ELASTICSEARCH_USERNAME: 'elastic', ELASTICSEARCH_PASSWORD: 'pw' })
        .elasticsearchAccess,
    ).toEqual({ username: 'elastic', password: 'pw' });
    expect(
      thrownPanaceaError(() => loadConfig({ ELASTICSEARCH_USERNAME: 'elastic' })).context.field,
    ).toBe('ELASTICSEARCH_PASSWORD');
    expect(
      thrownPanaceaError(() => loadConfig({ ELASTICSEARCH_CA_FILE: file('es-ca.pem', PEM) }))
        .message,
    ).toContain('an https:// ELASTICSEARCH_URL');
  });
});

describe('settings table', () => {
  it('lists every variable core/config.ts reads, so the file and config print miss none', () => {
    const source = readFileSync(new URL('../../../core/config.ts', import.meta.url), 'utf8');
    const variables = new Set(
      [
        // Read as `environment.NAME` or named in a string.
        ...source.matchAll(
          /(?:environment\.|')((?:PANACEA|KAFKA|ELASTICSEARCH|LOG|KIBANA|SCHEMA_REGISTRY)_[A-Z_]+)\b/g,
        ),
      ]
        .map((match) => match[1]!)
        // The configuration file's own variable, and the per-kind family written with <KIND>.
        .filter((variable) => variable !== 'PANACEA_CONFIG' && !variable.endsWith('_')),
    );
    const known = new Set(SETTINGS.map((setting) => setting.variable));

    expect(variables.size).toBeGreaterThan(20);
    expect([...variables].filter((variable) => !known.has(variable))).toEqual([]);
  });

  it('matches the committed JSON Schema', () => {
    const committed = JSON.parse(
      readFileSync(new URL('../../../schemas/config.schema.json', import.meta.url), 'utf8'),
    ) as unknown;
    expect(committed).toEqual(configJsonSchema());
  });
});

describe('panacea config print', () => {
  it('masks secrets and credentials in URLs, and says where each value came from', async () => {
    const saved = { ...process.env };
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) =>
      lines.push(chunk) > 0) as typeof process.stdout.write;
    try {
      process.env.KAFKA_SASL_PASSWORD = 'hunter2:colon';
      process.env.ELASTICSEARCH_API_KEY = 'Summer2026:apikey';
      process.env.ELASTICSEARCH_URL = 'http://elastic:espassword@127.0.0.1:9200';
      process.env.SCHEMA_REGISTRY_URL = 'http://sr:srpassword@127.0.0.1:8081';
      process.env.PANACEA_ARCHIVE_S3_ENDPOINT = 'http://ak:s3password@127.0.0.1:9000';
      process.env.KIBANA_URL = 'http://admin:pw@127.0.0.1:5601';
      await configCommand(['print', '--json'], loadConfig(process.env));
    } finally {
      process.stdout.write = write;
      process.env = saved;
    }
    const printed = JSON.parse(lines.join('')) as {
      settings: { key: string; value?: string; source: string }[];
    };
    const byKey = new Map(printed.settings.map((setting) => [setting.key, setting]));
    expect(byKey.get('kafka.sasl.password')).toMatchObject({
      value: '********',
      source: 'environment',
    });
    expect(byKey.get('kibana.url')?.value).toBe('http://********:********@127.0.0.1:5601/');
    // An unset setting prints the value it gets, not a placeholder.
    expect(byKey.get('retention.audit')).toMatchObject({ value: '400d', source: 'default' });
    expect(byKey.get('archive.s3.objectLock')?.value).toBe('off');
    expect(lines.join('')).not.toContain('hunter2');
    for (const secret of ['apikey', 'espassword', 'srpassword', 's3password']) {
      expect(lines.join('')).not.toContain(secret);
    }
    expect(byKey.get('elasticsearch.url')?.value).toBe('http://********:********@127.0.0.1:9200/');
    expect(byKey.get('namespace')?.source).toBe(
      process.env.PANACEA_NAMESPACE ? 'environment' : 'default',
    );
  });
});

describe('panacea config check', () => {
  it('reads the alert rules and alert destinations files the settings name', async () => {
    const missingRules = await rejectedPanaceaError(
      configCommand(
        ['check'],
        loadConfig({ PANACEA_ALERT_RULES: path.join(directory, 'no-rules.yaml') }),
      ),
    );
    expect(missingRules.code).toBe('ALERT_RULES_INVALID');
    expect(missingRules.message).toContain('no-rules.yaml: cannot read it');

    const badRules = file('bad-rules.yaml', 'rules:\n  - name: a\n    kind: nope\n');
    const invalidRules = await rejectedPanaceaError(
      configCommand(['check'], loadConfig({ PANACEA_ALERT_RULES: badRules })),
    );
    expect(invalidRules.code).toBe('ALERT_RULES_INVALID');
    expect(invalidRules.message).toContain('rule "a": field "kind"');

    const badDestinations = file(
      'bad-destinations.yaml',
      'destinations:\n  - name: a\n    type: slack\n    url: file:///etc/passwd\n',
    );
    const invalidDestinations = await rejectedPanaceaError(
      configCommand(['check'], loadConfig({ PANACEA_ALERT_DESTINATIONS: badDestinations })),
    );
    expect(invalidDestinations.code).toBe('CONFIG_INVALID');
    expect(invalidDestinations.message).toContain('destination "a": url:');
  });
});

describe('--config', () => {
  it('sets PANACEA_CONFIG, and refuses an empty path rather than reading no file', () => {
    const environment: NodeJS.ProcessEnv = {};
    expect(takeConfigOption(['--config=a.yaml', 'config', 'check'], environment)).toEqual([
      'config',
      'check',
    ]);
    expect(environment.PANACEA_CONFIG).toBe('a.yaml');

    for (const argv of [['--config=', 'run'], ['--config'], ['--config', '--json']]) {
      const error = thrownPanaceaError(() => takeConfigOption(argv, {}));
      expect(error.code).toBe('USAGE');
      expect(error.message).toBe('--config: expected a file path');
    }
  });
});

describe('config print values', () => {
  it('knows the value in force only of settings that exist', () => {
    const keys = new Set(SETTINGS.map((setting) => setting.key));
    expect(Object.keys(EFFECTIVE_VALUES).filter((key) => !keys.has(key))).toEqual([]);
  });
});
