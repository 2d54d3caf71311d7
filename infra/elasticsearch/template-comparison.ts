/**
 * Whether a template stored in Elasticsearch is the one Panacea wants, so that setup writes only
 * what changed and can say so. Elasticsearch gives a template back in its own shape: settings
 * nested and as strings, defaults it filled in, dates of its own. Both sides are brought to one
 * form first: flat `path → text` pairs without what the server adds.
 */

/** A template as setup wants it stored, and the data streams whose mappings follow it. */
export interface WantedTemplate {
  type: 'component' | 'index';
  name: string;
  /** What `PUT _component_template` or `PUT _index_template` takes. */
  body: Record<string, unknown>;
  /** Data streams to roll over when this template changes, so new indices use the new mappings. */
  dataStreams: string[];
}

export type TemplateChange = 'created' | 'updated' | 'unchanged';

/** Keys the server writes into a stored template on its own; never part of what we want. */
const SERVER_KEYS = new Set(['created_date_millis', 'modified_date_millis']);

/** Defaults the server fills in, dropped when they hold their default value. */
const SERVER_DEFAULTS: Array<[path: string, value: string]> = [
  ['data_stream.hidden', 'false'],
  ['data_stream.allow_custom_routing', 'false'],
  ['template.lifecycle.enabled', 'true'],
];

/** What changes if `wanted` is written over `stored` (undefined: no such template yet). */
export function compareTemplate(
  wanted: Record<string, unknown>,
  stored: Record<string, unknown> | undefined,
): TemplateChange {
  if (stored === undefined) return 'created';
  const wantedPairs = flatten(wanted);
  const storedPairs = withoutServerDefaults(flatten(stored));
  if (wantedPairs.size !== storedPairs.size) return 'updated';
  for (const [path, value] of wantedPairs) {
    if (storedPairs.get(path) !== value) return 'updated';
  }
  return 'unchanged';
}

/**
 * `{ a: { b: 1 }, 'c.d': [true] }` → `a.b → "1"`, `c.d.0 → "true"`. Settings may be written
 * either dotted or nested and come back nested; numbers and booleans come back as strings.
 * An empty object is a value of its own (`data_stream: {}` makes a template a data stream one).
 */
export function flatten(value: unknown, prefix = '', into = new Map<string, string>()) {
  if (Array.isArray(value)) {
    value.forEach((item, index) => flatten(item, join(prefix, String(index)), into));
  } else if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([key]) => !SERVER_KEYS.has(key));
    if (entries.length === 0) into.set(prefix, '{}');
    for (const [key, item] of entries) flatten(item, join(prefix, key), into);
  } else {
    into.set(prefix, String(value));
  }
  return into;
}

function withoutServerDefaults(pairs: Map<string, string>): Map<string, string> {
  for (const [path, value] of SERVER_DEFAULTS) {
    if (pairs.get(path) !== value) continue;
    pairs.delete(path);
    // What the default was filled into is empty again, as it was written: `data_stream: {}`.
    const parent = path.slice(0, path.lastIndexOf('.'));
    const siblings = [...pairs.keys()].some((key) => key.startsWith(`${parent}.`));
    if (!siblings) pairs.set(parent, '{}');
  }
  return pairs;
}

function join(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}
