/**
 * Where the real agent traces live: the project's shared datasets (written by others, with their
 * licences), beside the repository as `../shared/datasets/` unless `PANACEA_DATASETS_DIR` says
 * otherwise. The demo imports one of them and the tests pin what the importers make of them.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

import { PanaceaError } from '../../core/errors.js';
import { packageRoot } from '../../core/package-root.js';

export const OPENHANDS_SESSION_FILE = 'agent-traces/openhands-basic_gui_mode.json';

export function datasetsDirectory(environment = process.env): string {
  return (
    environment.PANACEA_DATASETS_DIR ?? path.resolve(packageRoot(), '..', 'shared', 'datasets')
  );
}

/** The path of a shipped dataset file, or a clear error that says where it was looked for. */
export function requireDataset(relativePath: string, environment = process.env): string {
  const file = path.join(datasetsDirectory(environment), relativePath);
  if (!existsSync(file)) {
    throw new PanaceaError(
      'USAGE',
      `the real agent trace ${relativePath} is not at ${file}; put the project's shared datasets ` +
        'beside the repository (../shared/datasets) or set PANACEA_DATASETS_DIR',
      { file },
    );
  }
  return file;
}
