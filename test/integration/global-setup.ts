/**
 * Starts one real Kafka and one real Elasticsearch for the whole integration run, on free ports
 * and in a temporary data directory, and stops them at the end. When KAFKA_BROKERS and
 * ELASTICSEARCH_URL are both set, those servers are used and nothing is started or stopped.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { TestProject } from 'vitest/node';

import { componentLogger } from '../../core/logger.js';
import { freePort } from '../../infra/stack/jvm-servers.js';
import { defaultCacheDir, stackDown, stackUp } from '../../infra/stack/stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    elasticsearchUrl: string;
    /** Where each test's own data directory goes; removed with everything in it at the end. */
    testRoot: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const testRoot = mkdtempSync(path.join(os.tmpdir(), 'panacea-test-run-'));
  // Tests run commands as the Elasticsearch user's neighbours; their directories must be enterable.
  chmodSync(testRoot, 0o755);
  project.provide('testRoot', testRoot);
  const removeTestRoot = (): void => rmSync(testRoot, { recursive: true, force: true });

  const givenBrokers = process.env.KAFKA_BROKERS;
  const givenUrl = process.env.ELASTICSEARCH_URL;
  if (givenBrokers && givenUrl) {
    project.provide('kafkaBrokers', givenBrokers);
    project.provide('elasticsearchUrl', givenUrl);
    return async () => removeTestRoot();
  }

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'panacea-test-stack-'));
  // mkdtemp makes the directory private (0700); the Elasticsearch user must be able to enter it.
  chmodSync(dataDir, 0o755);
  const starting = stackUp(
    {
      dataDir,
      cacheDir: defaultCacheDir(),
      kafkaPort: await freePort(),
      elasticsearchPort: await freePort(),
      source: process.env.PANACEA_STACK_SOURCE === 'docker' ? 'docker' : 'maven',
      kafkaHeapMb: 512,
      elasticsearchHeapMb: 1024,
      startTimeoutMs: 240_000,
      ...(givenBrokers ? { externalKafkaBrokers: givenBrokers.split(',') } : {}),
      ...(givenUrl ? { externalElasticsearchUrl: givenUrl } : {}),
    },
    componentLogger('test-stack'),
  );
  // If one server fails to come up, the other may already run: stop it before failing the run.
  const started = await starting.catch(async (error: unknown) => {
    await stackDown(dataDir).catch(() => undefined);
    removeTestRoot();
    throw error;
  });
  project.provide('kafkaBrokers', started.kafkaBrokers.join(','));
  project.provide('elasticsearchUrl', started.elasticsearchUrl);

  return async () => {
    await stackDown(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
    removeTestRoot();
  };
}
