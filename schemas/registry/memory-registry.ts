/**
 * A registry held in memory by one process, with the embedded registry's exact rules (it applies
 * the same log). `panacea schemas check` uses it to try the shipped versions in order without a
 * cluster, and code that encodes without Kafka (unit tests, offline tools) can use it too.
 */
import type avro from 'avsc';

import type { CompatibilityMode } from './compatibility.js';
import { RegistryLog } from './registry-log.js';
import {
  assertCompatible,
  schemaText,
  type RegisteredSchema,
  type SchemaRegistry,
} from './schema-registry.js';

export function createMemoryRegistry(): SchemaRegistry {
  const log = new RegistryLog();
  return {
    description: 'in memory (this process only)',
    async register(subject: string, schema: avro.Schema): Promise<RegisteredSchema> {
      const text = schemaText(schema);
      const existing = log.find(subject, text);
      if (existing !== undefined) return existing;
      assertCompatible(subject, log.compatibility(subject), schema, log.versions(subject));
      log.apply(log.propose(subject, text));
      return log.find(subject, text) as RegisteredSchema;
    },
    schemaById: async (id) => log.schemaById(id),
    versions: async (subject) => log.versions(subject),
    subjects: async () => log.subjects(),
    compatibility: async (subject) => log.compatibility(subject),
    async setCompatibility(subject: string, mode: CompatibilityMode): Promise<void> {
      log.apply({ kind: 'config', subject, compatibility: mode });
    },
    close: async () => undefined,
  };
}
