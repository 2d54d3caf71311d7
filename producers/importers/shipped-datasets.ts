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
/** A replayed SWE-agent 1.x run: durations, one rejected edit, zero model cost. */
export const SWE_AGENT_MARSHMALLOW_FILE = 'agent-traces/marshmallow-code__marshmallow-1867.traj';
/** A GPT-4 SWE-agent run without durations: a traceback, three rejected edits, model costs. */
export const SWE_AGENT_PYDICOM_FILE = 'agent-traces/pydicom__pydicom-1458.traj';

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
