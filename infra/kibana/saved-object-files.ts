/**
 * Reads Kibana saved objects from NDJSON files: one file, or every `*.ndjson` of a directory in
 * name order. Every line is checked (JSON, `type`, `id`, `attributes`) before anything is sent,
 * so a broken file is named with its line instead of half-imported.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { messageOf, PanaceaError } from '../../core/errors.js';
import { packageRoot } from '../../core/package-root.js';
import type { KibanaObject } from './referenced-fields.js';

export interface SavedObjectFiles {
  files: string[];
  objects: KibanaObject[];
  /** The objects of all files as one NDJSON text, what the import request carries. */
  ndjson: string;
}

/** The shipped objects: `infra/kibana/` of the package. */
export function defaultSavedObjectsPath(): string {
  return path.join(packageRoot(), 'infra', 'kibana');
}

export function readSavedObjectFiles(fileOrDirectory: string): SavedObjectFiles {
  const files = listFiles(fileOrDirectory);
  const objects = files.flatMap((file) => parseFile(file));
  const ndjson = objects.map((object) => JSON.stringify(object)).join('\n') + '\n';
  return { files, objects, ndjson };
}

function listFiles(fileOrDirectory: string): string[] {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(fileOrDirectory).isDirectory();
  } catch (error) {
    throw unreadable(fileOrDirectory, error);
  }
  if (!isDirectory) return [fileOrDirectory];

  const files = readdirSync(fileOrDirectory)
    .filter((name) => name.endsWith('.ndjson'))
    .sort()
    .map((name) => path.join(fileOrDirectory, name));
  if (files.length === 0) {
    throw new PanaceaError('FILE_UNREADABLE', `${fileOrDirectory}: no .ndjson file in it`, {
      file: fileOrDirectory,
    });
  }
  return files;
}

function parseFile(file: string): KibanaObject[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw unreadable(file, error);
  }

  const objects: KibanaObject[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const lineNumber = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new PanaceaError('INVALID_JSON', `${file} line ${lineNumber}: ${messageOf(error)}`, {
        file,
        line: lineNumber,
      });
    }
    objects.push(checkObject(value, file, lineNumber));
  }
  return objects;
}

function checkObject(value: unknown, file: string, line: number): KibanaObject {
  const object = value as Partial<KibanaObject> | null;
  const problem =
    object === null || typeof object !== 'object' || Array.isArray(object)
      ? 'expected a JSON object'
      : typeof object.type !== 'string' || object.type === ''
        ? 'type is missing'
        : typeof object.id !== 'string' || object.id === ''
          ? 'id is missing'
          : object.attributes === null || typeof object.attributes !== 'object'
            ? 'attributes is missing'
            : undefined;
  if (problem !== undefined) {
    throw new PanaceaError('IMPORT_INVALID', `${file} line ${line}: ${problem}`, { file, line });
  }
  return object as KibanaObject;
}

function unreadable(file: string, error: unknown): PanaceaError {
  return new PanaceaError('FILE_UNREADABLE', `${file}: ${messageOf(error)}`, { file }, error);
}
