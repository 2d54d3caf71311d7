/**
 * The shipped Kibana saved objects, checked without Kibana (it cannot run on the development
 * machines): every line parses as a saved object, every reference resolves inside the set, every
 * data view pattern covers the names the pipeline writes, and every field a data view, search or
 * Lens layer reads is in the index templates' mappings. The integration test checks the same
 * fields against a real Elasticsearch after a pipeline run.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { PanaceaError } from '../../../../core/errors.js';
import { createNaming, EVENT_KINDS, METRICS_INDEX_RECORDS } from '../../../../core/naming.js';
import { EVENT_MAPPINGS } from '../../../../infra/elasticsearch/index-templates.js';
import { METRICS_MAPPINGS } from '../../../../infra/elasticsearch/metrics-templates.js';
import {
  kqlFields,
  referencedFields,
  runtimeFieldsOf,
} from '../../../../infra/kibana/referenced-fields.js';
import {
  defaultSavedObjectsPath,
  readSavedObjectFiles,
} from '../../../../infra/kibana/saved-object-files.js';
import { savedObjectFiles, toNdjson } from '../../../../infra/kibana/saved-objects.js';

const directory = defaultSavedObjectsPath();
const { objects } = readSavedObjectFiles(directory);
const dataViews = objects.filter((object) => object.type === 'index-pattern');

interface Mapping {
  type?: string;
  properties?: Record<string, Mapping>;
  fields?: Record<string, Mapping>;
}

/** Every searchable dotted path of a mapping, with multi-fields (`error.message.keyword`). */
function mappedFields(mapping: Mapping, prefix = ''): Set<string> {
  const fields = new Set<string>();
  for (const [name, child] of Object.entries(mapping.properties ?? {})) {
    const dotted = prefix + name;
    if (child.type !== undefined) fields.add(dotted);
    for (const multi of Object.keys(child.fields ?? {})) fields.add(`${dotted}.${multi}`);
    for (const nested of mappedFields(child, `${dotted}.`)) fields.add(nested);
  }
  return fields;
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

const scratch = mkdtempSync(path.join(os.tmpdir(), 'panacea-kibana-objects-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('kibana saved objects', () => {
  it('parses every line of every file as an object with type, id and attributes', () => {
    const files = readdirSync(directory).filter((name) => name.endsWith('.ndjson'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const lines = readFileSync(path.join(directory, file), 'utf8').trimEnd().split('\n');
      for (const line of lines) {
        const object = JSON.parse(line) as Record<string, unknown>;
        expect(object, `${file}: ${line.slice(0, 80)}`).toMatchObject({
          type: expect.any(String),
          id: expect.any(String),
          attributes: expect.any(Object),
          references: expect.any(Array),
        });
      }
    }
    expect(new Set(objects.map((object) => object.id)).size).toBe(objects.length);
  });

  it('holds the files saved-objects.ts builds (npm run kibana:ndjson after a change)', () => {
    for (const [name, built] of Object.entries(savedObjectFiles())) {
      expect(readFileSync(path.join(directory, name), 'utf8'), name).toBe(toNdjson(built));
    }
  });

  it('resolves every reference to an object of the right type in the set', () => {
    const known = new Set(objects.map((object) => `${object.type}/${object.id}`));
    const references = objects.flatMap((object) =>
      (object.references ?? []).map((reference) => ({ from: object.id, reference })),
    );

    expect(references.length).toBeGreaterThan(0);
    for (const { from, reference } of references) {
      expect(known.has(`${reference.type}/${reference.id}`), `${from} → ${reference.id}`).toBe(
        true,
      );
    }
  });

  it('gives every dashboard panel a reference of its own', () => {
    const dashboards = objects.filter((object) => object.type === 'dashboard');
    expect(dashboards).toHaveLength(1);
    for (const dashboard of dashboards) {
      const panels = JSON.parse(dashboard.attributes.panelsJSON as string) as {
        panelIndex: string;
        panelRefName: string;
      }[];
      const names = new Set(dashboard.references?.map((reference) => reference.name));
      expect(panels.length).toBeGreaterThanOrEqual(10);
      for (const panel of panels) {
        expect(names.has(`${panel.panelIndex}:${panel.panelRefName}`)).toBe(true);
      }
    }
  });

  it('has a data view with @timestamp for every data stream and metrics index, any namespace', () => {
    const naming = createNaming({ topicPrefix: '', namespace: 'prod_eu' });
    const patterns = dataViews.map((view) => globToRegExp(view.attributes.title as string));
    // Every metrics index but the partials, which are the combining step's input only.
    const shown = METRICS_INDEX_RECORDS.filter((record) => record !== 'window_partial');
    const names = [
      ...EVENT_KINDS.map((kind) => naming.dataStream(kind)),
      ...shown.map((record) => naming.metricsIndex(record)),
    ];

    for (const name of names) {
      expect(patterns.filter((pattern) => pattern.test(name)).length, name).toBeGreaterThan(0);
    }
    // One view per kind and per metrics index, plus the view of all events.
    expect(dataViews).toHaveLength(names.length + 1);
    for (const view of dataViews) expect(view.attributes.timeFieldName).toBe('@timestamp');
  });

  it('gives each metrics data view the indices of one record only', () => {
    const naming = createNaming({ topicPrefix: '', namespace: 'prod' });
    const indices = METRICS_INDEX_RECORDS.map((record) => naming.metricsIndex(record));
    const titles = dataViews
      .map((view) => view.attributes.title as string)
      .filter((title) => title.startsWith('metrics-agent.'));

    for (const title of titles) {
      const matched = indices.filter((index) => globToRegExp(title).test(index));
      expect(matched, title).toHaveLength(1);
    }
  });

  it('reads only fields the index templates map, or runtime fields of its data view', () => {
    const eventFields = mappedFields(EVENT_MAPPINGS as Mapping);
    const metricsFields = mappedFields(METRICS_MAPPINGS as Mapping);
    const uses = referencedFields(objects);
    const missing: string[] = [];

    for (const use of uses) {
      const view = dataViews.find((candidate) => candidate.id === use.dataViewId);
      const title = view?.attributes.title as string;
      const mapped = title.startsWith('logs-agent.') ? eventFields : metricsFields;
      const runtime = view === undefined ? {} : runtimeFieldsOf(view);
      if (!mapped.has(use.field) && !(use.field in runtime)) {
        missing.push(`${use.object}: ${use.field} (${title})`);
      }
    }

    expect(missing).toEqual([]);
    // Guard against an extractor that finds nothing and so passes trivially.
    expect(uses.length).toBeGreaterThan(40);
    expect(uses.map((use) => use.field)).toContain('panacea.metrics.duration_ms.p95');
  });

  it('flags a panel on a field no mapping has', () => {
    const [lens] = objects.filter((object) => object.type === 'lens');
    const broken = JSON.parse(
      JSON.stringify(lens).replace('"sourceField":"panacea.status.current"', '"sourceField":"x.y"'),
    ) as typeof lens;

    expect(
      referencedFields([broken as NonNullable<typeof lens>]).map((use) => use.field),
    ).toContain('x.y');
  });
});

describe('kql field extraction', () => {
  it('reads the field of each comparison and ignores quoted values', () => {
    expect(
      kqlFields('panacea.task.state : "in_progress" and panacea.task.started_at < "now-15m"'),
    ).toEqual(['panacea.task.state', 'panacea.task.started_at']);
    expect(kqlFields('message : "a: b" or @timestamp >= "2026-01-01"')).toEqual([
      'message',
      '@timestamp',
    ]);
    expect(kqlFields('')).toEqual([]);
  });
});

describe('saved object files', () => {
  it('names the file and line of a line that is not JSON', () => {
    const file = path.join(scratch, 'broken.ndjson');
    writeFileSync(file, '{"type":"search","id":"a","attributes":{}}\n{not json\n');

    expect(() => readSavedObjectFiles(file)).toThrow(
      expect.objectContaining({ code: 'INVALID_JSON', context: { file, line: 2 } }),
    );
  });

  it('refuses an object without attributes and a directory without NDJSON', () => {
    const file = path.join(scratch, 'no-attributes.ndjson');
    writeFileSync(file, '{"type":"search","id":"a"}\n');
    const empty = mkdtempSync(path.join(scratch, 'empty-'));

    expect(() => readSavedObjectFiles(file)).toThrow(/line 1: attributes is missing/);
    expect(() => readSavedObjectFiles(empty)).toThrow(PanaceaError);
    expect(() => readSavedObjectFiles(path.join(scratch, 'absent'))).toThrow(
      expect.objectContaining({ code: 'FILE_UNREADABLE' }),
    );
  });
});
