/**
 * The directory that holds package.json, found from this file's own location, so data files
 * (Avro schemas, templates) resolve the same way from the TypeScript sources and from dist/.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

export function packageRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let directory = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(directory, 'package.json'))) {
    const parent = path.dirname(directory);
    if (parent === directory) throw new Error('package.json not found above ' + import.meta.url);
    directory = parent;
  }
  cachedRoot = directory;
  return directory;
}
