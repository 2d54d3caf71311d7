// Two projects: unit tests of pure logic (no servers), and integration tests on a real Kafka and a
// real Elasticsearch that the integration global setup starts once per run (or reuses when
// KAFKA_BROKERS and ELASTICSEARCH_URL are set).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          // One file at a time: the servers share two cores, and timings stay predictable.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
