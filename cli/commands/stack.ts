/**
 * `panacea stack up | down | status`: the local Kafka and Elasticsearch this machine runs the
 * pipeline on.
 */
import type { PanaceaConfig } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import { componentLogger } from '../../core/logger.js';
import {
  defaultCacheDir,
  stackDown,
  stackStatus,
  stackUp,
  type StackOptions,
} from '../../infra/stack/stack.js';
import { EXIT_FAILURE, EXIT_OK, parseCommandArgs, parsePort, say } from '../command-line.js';

export const STACK_USAGE = `panacea stack up|down|status [--kafka-port N] [--elasticsearch-port N] [--source auto|docker|maven]`;

export const DEFAULT_KAFKA_PORT = 9092;
export const DEFAULT_ELASTICSEARCH_PORT = 9200;

export function stackOptionsFrom(
  config: PanaceaConfig,
  values: { 'kafka-port'?: string; 'elasticsearch-port'?: string; source?: string },
): StackOptions {
  const source = values.source ?? process.env.PANACEA_STACK_SOURCE ?? 'auto';
  if (source !== 'auto' && source !== 'docker' && source !== 'maven') {
    // Named as the user gave it: the option, or the variable when the option was not used.
    const setting = values.source === undefined ? 'PANACEA_STACK_SOURCE' : '--source';
    throw new PanaceaError(
      values.source === undefined ? 'CONFIG_INVALID' : 'USAGE',
      `${setting}: expected auto, docker or maven, got "${source}"`,
      { field: setting },
    );
  }
  return {
    dataDir: config.dataDir,
    cacheDir: defaultCacheDir(),
    kafkaPort: parsePort(
      values['kafka-port'] ?? process.env.PANACEA_KAFKA_PORT,
      values['kafka-port'] === undefined ? 'PANACEA_KAFKA_PORT' : '--kafka-port',
      DEFAULT_KAFKA_PORT,
    ),
    elasticsearchPort: parsePort(
      values['elasticsearch-port'] ?? process.env.PANACEA_ELASTICSEARCH_PORT,
      values['elasticsearch-port'] === undefined
        ? 'PANACEA_ELASTICSEARCH_PORT'
        : '--elasticsearch-port',
      DEFAULT_ELASTICSEARCH_PORT,
    ),
    ...(config.kafkaBrokersFromEnvironment ? { externalKafkaBrokers: config.kafkaBrokers } : {}),
    ...(config.elasticsearchUrlFromEnvironment
      ? { externalElasticsearchUrl: config.elasticsearchUrl }
      : {}),
    source,
    kafkaHeapMb: 512,
    elasticsearchHeapMb: 1024,
    startTimeoutMs: 180_000,
  };
}

/**
 * `panacea es setup` on the stack just brought up, unless `PANACEA_ES_SETUP=false`. Its report
 * goes to stderr: stdout carries only the `KAFKA_BROKERS=…` lines a shell can evaluate.
 */
async function setUpElasticsearch(config: PanaceaConfig, elasticsearchUrl: string): Promise<void> {
  if (!config.elasticsearchSetupOnStart) return;
  // Loaded here, so `stack status` and `stack down` do not load the Elasticsearch client.
  const { describeSetup } = await import('./es.js');
  const { setupElasticsearch } = await import('../../infra/elasticsearch/setup.js');
  const { Client } = await import('@elastic/elasticsearch');
  const client = new Client({ node: elasticsearchUrl, maxRetries: 0, requestTimeout: 30_000 });
  try {
    const report = await setupElasticsearch(client, {
      namespace: config.namespace,
      retention: config.retention,
    });
    for (const line of describeSetup(report)) process.stderr.write(`${line}\n`);
  } finally {
    await client.close();
  }
}

export async function stackCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      'kafka-port': { type: 'string' },
      'elasticsearch-port': { type: 'string' },
      source: { type: 'string' },
    },
    true,
  );
  const action = positionals[0];
  if (positionals.length !== 1 || (action !== 'up' && action !== 'down' && action !== 'status')) {
    throw new PanaceaError('USAGE', `expected: ${STACK_USAGE}`);
  }
  const options = stackOptionsFrom(config, values);

  switch (action) {
    case 'up': {
      const result = await stackUp(options, componentLogger('stack'));
      const components = [
        ['Kafka', 'kafka', result.kafka],
        ['Elasticsearch', 'elasticsearch', result.elasticsearch],
      ] as const;
      for (const [label, name, component] of components) {
        const detail = component.detail === undefined ? '' : `: ${component.detail}`;
        const how = result.startedNow.includes(name)
          ? `started (${component.source}${detail})`
          : component.source === 'maven' || component.source === 'docker'
            ? `already running (${component.source}${detail}), started nothing`
            : `already available (${component.source}), started nothing`;
        process.stderr.write(`${label} at ${component.address}: ${how}\n`);
      }
      await setUpElasticsearch(config, result.elasticsearchUrl);
      say(`KAFKA_BROKERS=${result.kafkaBrokers.join(',')}`);
      say(`ELASTICSEARCH_URL=${result.elasticsearchUrl}`);
      return EXIT_OK;
    }
    case 'down': {
      const result = await stackDown(options.dataDir);
      for (const line of result.stopped) say(`stopped ${line}`);
      for (const line of result.leftAlone) say(`left alone ${line}`);
      if (result.stopped.length === 0 && result.leftAlone.length === 0)
        say(`nothing to stop: no stack was started from ${options.dataDir}`);
      return EXIT_OK;
    }
    case 'status': {
      const components = await stackStatus(options);
      for (const component of components) {
        say(
          `${component.name}\t${component.answering ? 'up' : 'down'}\t${component.address}\t${component.source}${component.pid === undefined ? '' : `\tpid ${component.pid}`}${component.detail === undefined ? '' : `\t${component.detail}`}`,
        );
      }
      return components.every((component) => component.answering) ? EXIT_OK : EXIT_FAILURE;
    }
  }
}
