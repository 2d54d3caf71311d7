/**
 * The product reaches Kafka through core/kafka.ts only, so the client library can change in one
 * file (the benchmarks and tests may use clients directly: they compare them).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const PRODUCT_FOLDERS = ['cli', 'core', 'infra', 'processors', 'producers', 'schemas', 'sinks'];

function typeScriptFiles(folder: string): string[] {
  return readdirSync(path.join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => path.join(folder, file));
}

describe('kafka boundary', () => {
  it('has no product module but core/kafka.ts import kafkajs', () => {
    const files = PRODUCT_FOLDERS.flatMap(typeScriptFiles);
    const importers = files.filter(
      (file) =>
        file !== path.join('core', 'kafka.ts') &&
        /from 'kafkajs'/.test(readFileSync(path.join(root, file), 'utf8')),
    );

    expect(files.length).toBeGreaterThan(50);
    expect(importers).toEqual([]);
  });
});
