/**
 * Which fields a set of Kibana saved objects reads, per data view: a data view's time field and
 * the fields its runtime fields' scripts read, a saved search's columns, sort and query, a Lens
 * layer's source fields, sort fields and filters. Kibana cannot run on the development machines,
 * so this is how the tests check the objects against the installed mappings: a panel on a field
 * that no index has fails a test instead of showing an empty chart to an operator.
 *
 * Queries are KQL; the field of every `field : value` and `field < value` clause is read. A KQL
 * query without a field (free text) reads none.
 */
import { PanaceaError } from '../../core/errors.js';

export interface KibanaObject {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  references?: { name: string; type: string; id: string }[];
}

/**
 * How a field is read: `aggregate` (a Lens bucket or metric, a sort, a time field, a runtime
 * field's doc values) needs doc values; `search` (a KQL clause) and `show` (a Discover column)
 * need only the field to be mapped.
 */
export type FieldPurpose = 'aggregate' | 'search' | 'show';

export interface FieldUse {
  /** `lens panacea-ingest-lag`, for messages. */
  object: string;
  dataViewId: string;
  field: string;
  purpose: FieldPurpose;
}

/** Lens's pseudo-field for "count of documents"; not a field of any index. */
export const LENS_RECORDS_FIELD = '___records___';
const LENS_LAYER_REFERENCE = 'indexpattern-datasource-layer-';
/** The reference through which a saved search names its data view. */
export const SEARCH_INDEX_REFERENCE = 'kibanaSavedObjectMeta.searchSourceJSON.index';

/** Every field the objects read, each with the data view it is read through. */
export function referencedFields(objects: KibanaObject[]): FieldUse[] {
  return objects.flatMap((object) => {
    const name = `${object.type} ${object.id}`;
    switch (object.type) {
      case 'index-pattern':
        return uniqueUses(
          name,
          object.id,
          dataViewFields(object).map((field) => [field, 'aggregate'] as const),
        );
      case 'search':
        return searchFields(object, name);
      case 'lens':
        return lensFields(object, name);
      default:
        return [];
    }
  });
}

/** The runtime fields a data view defines: field name → its script source. */
export function runtimeFieldsOf(dataView: KibanaObject): Record<string, string> {
  const text = dataView.attributes.runtimeFieldMap;
  if (typeof text !== 'string') return {};
  const map = JSON.parse(text) as Record<string, { script?: { source?: string } }>;
  return Object.fromEntries(
    Object.entries(map).map(([field, spec]) => [field, spec.script?.source ?? '']),
  );
}

/** The fields of a KQL query: the left side of each comparison, quoted values left out. */
export function kqlFields(query: string): string[] {
  const unquoted = query.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const fields = [...unquoted.matchAll(/([A-Za-z_@][\w.@]*)\s*(?::|<=|>=|<|>)/g)].map(
    (match) => match[1] as string,
  );
  return [...new Set(fields)];
}

function dataViewFields(dataView: KibanaObject): string[] {
  const timeField = dataView.attributes.timeFieldName;
  const scriptFields = Object.values(runtimeFieldsOf(dataView)).flatMap((source) =>
    [...source.matchAll(/doc\[['"]([^'"]+)['"]\]/g)].map((match) => match[1] as string),
  );
  return [...new Set([...(typeof timeField === 'string' ? [timeField] : []), ...scriptFields])];
}

function searchFields(search: KibanaObject, name: string): FieldUse[] {
  const dataViewId = referenceId(search, SEARCH_INDEX_REFERENCE, name);
  const columns = (search.attributes.columns as string[] | undefined) ?? [];
  const sort = ((search.attributes.sort as [string, string][] | undefined) ?? []).map(
    ([field]) => field,
  );
  const meta = search.attributes.kibanaSavedObjectMeta as { searchSourceJSON?: string } | undefined;
  const source = JSON.parse(meta?.searchSourceJSON ?? '{}') as { query?: { query?: string } };
  return uniqueUses(name, dataViewId, [
    ...sort.map((field) => [field, 'aggregate'] as const),
    ...kqlFields(source.query?.query ?? '').map((field) => [field, 'search'] as const),
    ...columns.map((field) => [field, 'show'] as const),
  ]);
}

interface LensColumn {
  sourceField?: string;
  params?: { sortField?: string };
  filter?: { query?: string };
}

function lensFields(lens: KibanaObject, name: string): FieldUse[] {
  const state = lens.attributes.state as {
    datasourceStates?: {
      formBased?: { layers?: Record<string, { columns?: Record<string, LensColumn> }> };
    };
    query?: { query?: string };
  };
  const layers = Object.entries(state.datasourceStates?.formBased?.layers ?? {});
  if (layers.length === 0) {
    throw new PanaceaError('IMPORT_INVALID', `${name}: no formBased layer to read fields from`);
  }
  const queryFields = kqlFields(state.query?.query ?? '');

  return layers.flatMap(([layerId, layer]) => {
    const dataViewId = referenceId(lens, `${LENS_LAYER_REFERENCE}${layerId}`, name);
    const columns = Object.values(layer.columns ?? {});
    const aggregated = columns.flatMap((column) => [
      ...(column.sourceField === undefined || column.sourceField === LENS_RECORDS_FIELD
        ? []
        : [column.sourceField]),
      ...(column.params?.sortField === undefined ? [] : [column.params.sortField]),
    ]);
    const searched = columns.flatMap((column) => kqlFields(column.filter?.query ?? ''));
    return uniqueUses(name, dataViewId, [
      ...aggregated.map((field) => [field, 'aggregate'] as const),
      ...[...searched, ...queryFields].map((field) => [field, 'search'] as const),
    ]);
  });
}

/** One use per field, the most demanding purpose kept (the first given). */
function uniqueUses(
  object: string,
  dataViewId: string,
  fields: (readonly [string, FieldPurpose])[],
): FieldUse[] {
  const byField = new Map<string, FieldPurpose>();
  for (const [field, purpose] of fields) if (!byField.has(field)) byField.set(field, purpose);
  return [...byField].map(([field, purpose]) => ({ object, dataViewId, field, purpose }));
}

function referenceId(object: KibanaObject, referenceName: string, name: string): string {
  const reference = object.references?.find((candidate) => candidate.name === referenceName);
  if (reference === undefined) {
    throw new PanaceaError('IMPORT_INVALID', `${name}: no reference named ${referenceName}`);
  }
  return reference.id;
}
