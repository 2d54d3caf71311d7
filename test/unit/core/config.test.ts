import path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  DEFAULT_ARCHIVE_CONFIG,
  DEFAULT_DATA_DIR,
  DEFAULT_ELASTICSEARCH_URL,
  DEFAULT_KAFKA_BROKERS,
  DEFAULT_METRICS_CONFIG,
  DEFAULT_NAMESPACE,
  DEFAULT_OBSERVABILITY_CONFIG,
  DEFAULT_RETENTION_CONFIG,
  loadConfig,
} from '../../../core/config.js';
import type { PanaceaError } from '../../../core/errors.js';
import { thrownPanaceaError } from '../fixtures/panacea-error.js';

function configError(environment: NodeJS.ProcessEnv): PanaceaError {
  return thrownPanaceaError(() => loadConfig(environment));
}

describe('config', () => {
  describe('defaults', () => {
    it('uses the local defaults for an empty environment', () => {
      expect(loadConfig({})).toEqual({
        configFile: undefined,
        kafkaBrokers: ['127.0.0.1:9092'],
        kafkaTls: undefined,
        kafkaSasl: undefined,
        elasticsearchAccess: {},
        kafkaBrokersFromEnvironment: false,
        elasticsearchUrl: 'http://127.0.0.1:9200',
        elasticsearchUrlFromEnvironment: false,
        dataDir: path.resolve('.panacea'),
        namespace: 'default',
        topicPrefix: '',
        metrics: DEFAULT_METRICS_CONFIG,
        retention: DEFAULT_RETENTION_CONFIG,
        elasticsearchSetupOnStart: true,
        archive: {
          ...DEFAULT_ARCHIVE_CONFIG,
          signingKeyFile: undefined,
          retentionMs: DEFAULT_RETENTION_CONFIG.auditMs,
          s3: undefined,
        },
        observability: DEFAULT_OBSERVABILITY_CONFIG,
      });
    });

    it('points the default addresses at a local stack started on other ports', () => {
      const config = loadConfig({
        PANACEA_KAFKA_PORT: '29092',
        PANACEA_ELASTICSEARCH_PORT: '29200',
      });

      expect(config.kafkaBrokers).toEqual(['127.0.0.1:29092']);
      expect(config.kafkaBrokersFromEnvironment).toBe(false);
      expect(config.elasticsearchUrl).toBe('http://127.0.0.1:29200');
      expect(config.elasticsearchUrlFromEnvironment).toBe(false);
    });

    it('lets explicit addresses win over the local stack ports', () => {
      const config = loadConfig({ PANACEA_KAFKA_PORT: '29092', KAFKA_BROKERS: 'kafka:9092' });

      expect(config.kafkaBrokers).toEqual(['kafka:9092']);
    });

    it('publishes the defaults it applies', () => {
      expect(DEFAULT_KAFKA_BROKERS).toBe('127.0.0.1:9092');
      expect(DEFAULT_ELASTICSEARCH_URL).toBe('http://127.0.0.1:9200');
      expect(DEFAULT_DATA_DIR).toBe('.panacea');
      expect(DEFAULT_NAMESPACE).toBe('default');
    });

    it('treats blank variables as unset', () => {
      const config = loadConfig({
        KAFKA_BROKERS: '  ',
        ELASTICSEARCH_URL: '',
        PANACEA_NAMESPACE: ' ',
        PANACEA_DATA_DIR: '',
      });

      expect(config.kafkaBrokers).toEqual(['127.0.0.1:9092']);
      expect(config.kafkaBrokersFromEnvironment).toBe(false);
      expect(config.elasticsearchUrl).toBe('http://127.0.0.1:9200');
      expect(config.elasticsearchUrlFromEnvironment).toBe(false);
      expect(config.namespace).toBe('default');
      expect(config.dataDir).toBe(path.resolve('.panacea'));
    });
  });

  describe('values from the environment', () => {
    it('splits KAFKA_BROKERS on commas and trims each broker', () => {
      const config = loadConfig({
        KAFKA_BROKERS: ' kafka-1:9092, kafka-2.internal:19092 ,[::1]:9093',
      });

      expect(config.kafkaBrokers).toEqual(['kafka-1:9092', 'kafka-2.internal:19092', '[::1]:9093']);
      expect(config.kafkaBrokersFromEnvironment).toBe(true);
    });

    it('drops trailing slashes from ELASTICSEARCH_URL and marks it as external', () => {
      const config = loadConfig({ ELASTICSEARCH_URL: 'https://search.example:9243/es//' });

      expect(config.elasticsearchUrl).toBe('https://search.example:9243/es');
      expect(config.elasticsearchUrlFromEnvironment).toBe(true);
    });

    it('reads KIBANA_URL with credentials and a space path, unset by default', () => {
      const config = loadConfig({ KIBANA_URL: 'https://ops:secret@kibana.example:5601/s/ops/' });

      expect(config.kibanaUrl).toBe('https://ops:secret@kibana.example:5601/s/ops');
      expect(loadConfig({}).kibanaUrl).toBeUndefined();
      expect(configError({ KIBANA_URL: 'kibana:5601' }).context).toEqual({ field: 'KIBANA_URL' });
    });

    it('resolves PANACEA_DATA_DIR to an absolute path', () => {
      expect(loadConfig({ PANACEA_DATA_DIR: 'var/panacea' }).dataDir).toBe(
        path.resolve('var/panacea'),
      );
      expect(loadConfig({ PANACEA_DATA_DIR: '/srv/panacea' }).dataDir).toBe(
        path.resolve('/srv/panacea'),
      );
    });

    it('takes a namespace of lowercase letters, digits and underscores', () => {
      expect(loadConfig({ PANACEA_NAMESPACE: 'prod_eu1' }).namespace).toBe('prod_eu1');
    });

    it('takes a topic prefix of letters, digits, dots, underscores and hyphens', () => {
      expect(loadConfig({ PANACEA_TOPIC_PREFIX: 'Team-A_1.' }).topicPrefix).toBe('Team-A_1.');
    });
  });

  describe('validation', () => {
    it.each([
      ['KAFKA_BROKERS', 'kafka-1', 'comma-separated host:port pairs'],
      ['KAFKA_BROKERS', 'kafka-1:9092,', 'comma-separated host:port pairs'],
      ['KAFKA_BROKERS', 'kafka://kafka-1:9092', 'comma-separated host:port pairs'],
      ['KAFKA_BROKERS', 'kafka-1:port', 'comma-separated host:port pairs'],
      ['ELASTICSEARCH_URL', 'localhost:9200', 'an http:// or https:// URL'],
      ['ELASTICSEARCH_URL', 'ftp://127.0.0.1:9200', 'an http:// or https:// URL'],
      ['ELASTICSEARCH_URL', 'not a url', 'an http:// or https:// URL'],
      ['ELASTICSEARCH_URL', 'http:///x', 'an http:// or https:// URL'],
      ['SCHEMA_REGISTRY_URL', 'http:registry:8081', 'an http:// or https:// URL'],
      ['PANACEA_NAMESPACE', 'Prod', 'lowercase letters, digits and _ (1-100)'],
      ['PANACEA_NAMESPACE', 'prod-eu', 'lowercase letters, digits and _ (1-100)'],
      ['PANACEA_NAMESPACE', 'n'.repeat(101), 'lowercase letters, digits and _ (1-100)'],
      ['PANACEA_TOPIC_PREFIX', 'team a.', 'letters, digits, ".", "_" or "-"'],
      ['PANACEA_TOPIC_PREFIX', 'team/a.', 'letters, digits, ".", "_" or "-"'],
    ])(
      'refuses %s=%j, naming the variable, the value and what was expected',
      (variable, value, expected) => {
        const error = configError({ [variable]: value });

        expect(error.code).toBe('CONFIG_INVALID');
        expect(error.retriable).toBe(false);
        expect(error.context.field).toBe(variable);
        expect(error.message).toBe(`${variable}: expected ${expected}, got "${value}"`);
      },
    );

    it('accepts a namespace of exactly 100 characters', () => {
      expect(loadConfig({ PANACEA_NAMESPACE: 'n'.repeat(100) }).namespace).toHaveLength(100);
    });

    it('refuses a broker port above 65535', () => {
      expect(configError({ KAFKA_BROKERS: 'kafka-1:99999' }).context.field).toBe('KAFKA_BROKERS');
    });
  });

  describe('local stack ports', () => {
    it.each([
      ['PANACEA_KAFKA_PORT', 'abc'],
      ['PANACEA_ELASTICSEARCH_PORT', '70000'],
    ])('names %s when it is not a port', (variable, value) => {
      const error = thrownPanaceaError(() => loadConfig({ [variable]: value }));

      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.context.field).toBe(variable);
      expect(error.message).toBe(`${variable}: expected a port from 1 to 65535, got "${value}"`);
    });
  });

  describe('metrics settings', () => {
    it('reads the window, lateness, stale and stuck times in milliseconds', () => {
      const config = loadConfig({
        PANACEA_METRICS_WINDOW_MS: '10000',
        PANACEA_METRICS_LATENESS_MS: '0',
        PANACEA_METRICS_STALE_MS: '5000',
        PANACEA_METRICS_STUCK_MS: '60000',
        PANACEA_METRICS_MAX_FUTURE_MS: '0',
      });

      expect(config.metrics).toEqual({
        windowSizeMs: 10_000,
        allowedLatenessMs: 0,
        staleAfterMs: 5_000,
        stuckAfterMs: 60_000,
        maxFutureMs: 0,
      });
    });

    it.each([
      ['PANACEA_METRICS_WINDOW_MS', '999', 'whole milliseconds from 1000 to 86400000'],
      ['PANACEA_METRICS_WINDOW_MS', '1.5', 'whole milliseconds from 1000 to 86400000'],
      ['PANACEA_METRICS_LATENESS_MS', '-1', 'whole milliseconds from 0 to 604800000'],
      ['PANACEA_METRICS_STALE_MS', '1m', 'whole milliseconds from 1000 to 86400000'],
      ['PANACEA_METRICS_STUCK_MS', '2592000001', 'whole milliseconds from 1000 to 2592000000'],
      ['PANACEA_METRICS_MAX_FUTURE_MS', '86400001', 'whole milliseconds from 0 to 86400000'],
    ])('refuses %s=%s naming the range', (variable, value, expected) => {
      const error = configError({ [variable]: value });

      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.context.field).toBe(variable);
      expect(error.message).toBe(`${variable}: expected ${expected}, got "${value}"`);
    });
  });

  describe('retention', () => {
    it('keeps heartbeats 7 days, activity and metrics 30, errors 90 and audit 400 by default', () => {
      const retention = loadConfig({}).retention;

      expect(retention.heartbeatMs).toBe(7 * 86_400_000);
      expect(retention.activityMs).toBe(30 * 86_400_000);
      expect(retention.metricsMs).toBe(30 * 86_400_000);
      expect(retention.errorMs).toBe(90 * 86_400_000);
      expect(retention.auditMs).toBe(400 * 86_400_000);
      expect(retention.enforcementIntervalMs).toBe(60_000);
    });

    it('reads each kind from its own variable in days, hours or minutes', () => {
      const retention = loadConfig({
        PANACEA_RETENTION_ACTIVITY: '12h',
        PANACEA_RETENTION_HEARTBEAT: '15m',
        PANACEA_RETENTION_ERROR: '45d',
        PANACEA_RETENTION_AUDIT: '730d',
        PANACEA_RETENTION_METRICS: '90m',
        PANACEA_RETENTION_INTERVAL: '30s',
      }).retention;

      expect(retention).toEqual({
        activityMs: 12 * 3_600_000,
        heartbeatMs: 15 * 60_000,
        errorMs: 45 * 86_400_000,
        auditMs: 730 * 86_400_000,
        metricsMs: 90 * 60_000,
        enforcementIntervalMs: 30_000,
      });
    });

    it('turns enforcement in panacea run off with PANACEA_RETENTION_INTERVAL=off', () => {
      expect(
        loadConfig({ PANACEA_RETENTION_INTERVAL: 'off' }).retention.enforcementIntervalMs,
      ).toBeUndefined();
    });

    it.each([
      ['PANACEA_RETENTION_AUDIT', '1 year', 'a duration such as 15m, 12h or 30d, from 1m to 3650d'],
      ['PANACEA_RETENTION_ERROR', '30', 'a duration such as 15m, 12h or 30d, from 1m to 3650d'],
      ['PANACEA_RETENTION_ACTIVITY', '30s', 'a duration such as 15m, 12h or 30d, from 1m to 3650d'],
      [
        'PANACEA_RETENTION_METRICS',
        '4000d',
        'a duration such as 15m, 12h or 30d, from 1m to 3650d',
      ],
      [
        'PANACEA_RETENTION_INTERVAL',
        'hourly',
        'a duration such as 15m, 12h or 30d from 1s to 1d, or off',
      ],
      ['PANACEA_ES_SETUP', 'yes', 'true or false'],
    ])('refuses %s=%s naming the variable, the value and the form', (variable, value, expected) => {
      const error = configError({ [variable]: value });

      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.context.field).toBe(variable);
      expect(error.message).toBe(`${variable}: expected ${expected}, got "${value}"`);
    });
  });

  describe('audit archive settings', () => {
    it('reads segment size, segment age and the signing key path', () => {
      const config = loadConfig({
        PANACEA_ARCHIVE_SEGMENT_BYTES: '1048576',
        PANACEA_ARCHIVE_SEGMENT_MS: '2000',
        PANACEA_ARCHIVE_SIGNING_KEY: 'keys/archive.pem',
      });
      expect(config.archive).toEqual({
        segmentBytes: 1_048_576,
        segmentMs: 2000,
        signingKeyFile: path.resolve('keys/archive.pem'),
        retentionMs: 400 * 86_400_000,
        retentionIntervalMs: 3_600_000,
        s3: undefined,
      });
    });

    it('reads the S3 segment store settings, with a prefix ending in one slash', () => {
      const config = loadConfig({
        PANACEA_ARCHIVE_S3_BUCKET: 'audit-archive',
        PANACEA_ARCHIVE_S3_PREFIX: 'panacea//',
        PANACEA_ARCHIVE_S3_ENDPOINT: 'http://127.0.0.1:9000/',
        PANACEA_ARCHIVE_S3_OBJECT_LOCK: 'compliance',
      });
      expect(config.archive.s3).toEqual({
        bucket: 'audit-archive',
        prefix: 'panacea/',
        endpoint: 'http://127.0.0.1:9000',
        region: 'us-east-1',
        objectLock: 'compliance',
      });
    });

    it('keeps the archive as long as PANACEA_RETENTION_AUDIT unless told otherwise', () => {
      expect(loadConfig({ PANACEA_RETENTION_AUDIT: '2000d' }).archive.retentionMs).toBe(
        2000 * 86_400_000,
      );
      const config = loadConfig({
        PANACEA_RETENTION_AUDIT: '2000d',
        PANACEA_ARCHIVE_RETENTION: '3650d',
        PANACEA_ARCHIVE_RETENTION_INTERVAL: 'off',
      });
      expect(config.archive.retentionMs).toBe(3650 * 86_400_000);
      expect(config.archive.retentionIntervalMs).toBeUndefined();
    });

    it.each([
      ['PANACEA_ARCHIVE_SEGMENT_BYTES', '1023', 'whole bytes from 1024 to 1073741824'],
      ['PANACEA_ARCHIVE_SEGMENT_BYTES', '64MiB', 'whole bytes from 1024 to 1073741824'],
      ['PANACEA_ARCHIVE_SEGMENT_MS', '99', 'whole milliseconds from 100 to 86400000'],
      ['PANACEA_ARCHIVE_SEGMENT_MS', '1.5', 'whole milliseconds from 100 to 86400000'],
      [
        'PANACEA_ARCHIVE_RETENTION',
        'forever',
        'a duration such as 15m, 12h or 30d, from 1m to 3650d',
      ],
      [
        'PANACEA_ARCHIVE_S3_BUCKET',
        'Audit_Archive',
        'an S3 bucket name (3-63 of a-z, 0-9, . and -)',
      ],
      ['PANACEA_ARCHIVE_S3_OBJECT_LOCK', 'legal', 'off, governance, compliance'],
      [
        'PANACEA_ARCHIVE_RETENTION_INTERVAL',
        '0s',
        'a duration such as 15m, 12h or 30d from 1s to 1d, or off',
      ],
    ])('refuses %s=%s naming the variable', (variable, value, expected) => {
      const error = configError({ [variable]: value });
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toBe(`${variable}: expected ${expected}, got "${value}"`);
    });
  });
  describe('observability settings', () => {
    it('reads the HTTP address, the agent label bound and the readiness pause limit', () => {
      const config = loadConfig({
        PANACEA_HTTP_PORT: '19464',
        PANACEA_HTTP_HOST: '0.0.0.0',
        PANACEA_METRICS_MAX_AGENTS: '5',
        PANACEA_READY_MAX_PAUSE_MS: '2000',
      });
      expect(config.observability).toEqual({
        httpPort: 19_464,
        httpHost: '0.0.0.0',
        maxTrackedAgents: 5,
        readyMaxPauseMs: 2000,
      });
    });

    it('takes an IPv6 address or a host name to listen on', () => {
      expect(loadConfig({ PANACEA_HTTP_HOST: '::1' }).observability.httpHost).toBe('::1');
      expect(loadConfig({ PANACEA_HTTP_HOST: 'localhost' }).observability.httpHost).toBe(
        'localhost',
      );
    });

    it('turns the HTTP endpoints off with PANACEA_HTTP_PORT=off', () => {
      expect(loadConfig({ PANACEA_HTTP_PORT: 'off' }).observability.httpPort).toBeUndefined();
    });

    it.each([
      ['PANACEA_HTTP_PORT', '0', 'a port from 1 to 65535, or off'],
      ['PANACEA_HTTP_PORT', 'none', 'a port from 1 to 65535, or off'],
      ['PANACEA_METRICS_MAX_AGENTS', '10001', 'whole agents from 0 to 10000'],
      ['PANACEA_READY_MAX_PAUSE_MS', '999', 'whole milliseconds from 1000 to 86400000'],
      [
        'PANACEA_HTTP_HOST',
        'not a host',
        'an IP address or a host name, such as 127.0.0.1 or 0.0.0.0',
      ],
      [
        'PANACEA_HTTP_HOST',
        '127.0.0.1:80',
        'an IP address or a host name, such as 127.0.0.1 or 0.0.0.0',
      ],
    ])('refuses %s=%s naming the variable', (variable, value, expected) => {
      const error = configError({ [variable]: value });
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toBe(`${variable}: expected ${expected}, got "${value}"`);
    });
  });

  describe('log levels', () => {
    it('accepts a default level followed by per-component levels', () => {
      expect(() => loadConfig({ LOG_LEVEL: 'info,stage.sink-elasticsearch=debug' })).not.toThrow();
    });

    it.each(['loud', 'info,stage=loud', 'info,=debug'])('refuses LOG_LEVEL=%s', (value) => {
      const error = configError({ LOG_LEVEL: value });
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toContain('LOG_LEVEL: expected one of trace, debug');
    });
  });
});
