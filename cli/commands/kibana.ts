/**
 * `panacea kibana import [--file DIR_OR_FILE] [--overwrite]`: sends the shipped data views, saved
 * searches and dashboard (`infra/kibana/*.ndjson`, or the given file or directory) to KIBANA_URL
 * through Kibana's saved objects import API, then names each object Kibana refused and why.
 * Exit 0 when every object was imported, 1 when some were refused, 2 on a usage, configuration,
 * file or connection error (nothing imported).
 */
import type { PanaceaConfig } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import { componentLogger } from '../../core/logger.js';
import { importSavedObjects, type RejectedObject } from '../../infra/kibana/kibana-import.js';
import {
  defaultSavedObjectsPath,
  readSavedObjectFiles,
} from '../../infra/kibana/saved-object-files.js';
import { EXIT_OK, EXIT_PARTIAL, parseCommandArgs, say } from '../command-line.js';

const logger = componentLogger('kibana');

export async function kibanaCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const [action, ...rest] = args;
  if (action !== 'import') {
    throw new PanaceaError(
      'USAGE',
      `kibana: expected import, got ${action === undefined ? 'nothing' : `"${action}"`}`,
    );
  }
  const { values } = parseCommandArgs(rest, {
    file: { type: 'string', short: 'f' },
    overwrite: { type: 'boolean', default: false },
  });
  if (config.kibanaUrl === undefined) {
    throw new PanaceaError(
      'CONFIG_INVALID',
      'KIBANA_URL is not set: expected the address of Kibana, e.g. http://127.0.0.1:5601',
      { field: 'KIBANA_URL' },
    );
  }

  const source = readSavedObjectFiles(values.file ?? defaultSavedObjectsPath());
  logger.info(
    { files: source.files, objects: source.objects.length, overwrite: values.overwrite },
    'importing saved objects into Kibana',
  );
  const result = await importSavedObjects({
    kibanaUrl: config.kibanaUrl,
    ndjson: source.ndjson,
    overwrite: values.overwrite,
  });

  for (const object of result.rejected) say(describeRejection(object));
  say(
    `imported ${result.successCount} of ${source.objects.length}, refused ${result.rejected.length}`,
  );
  if (result.rejected.some((object) => object.errorType === 'conflict') && !values.overwrite) {
    say('objects with these ids exist already: --overwrite replaces them');
  }
  return result.rejected.length === 0 ? EXIT_OK : EXIT_PARTIAL;
}

/** `lens panacea-ingest-lag ("Ingest lag (ms)"): missing_references: missing index-pattern x`. */
function describeRejection(object: RejectedObject): string {
  const title = object.title === undefined ? '' : ` ("${object.title}")`;
  const detail = object.detail === '' ? '' : `: ${object.detail}`;
  return `${object.type} ${object.id}${title}: ${object.errorType}${detail}`;
}
