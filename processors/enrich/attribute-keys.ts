/**
 * The one normalisation rule for attribute keys: a key that is also the prefix of another key (at
 * a dot: `a.b` beside `a.b.c`) moves one level down, to `a.b._value`. Elasticsearch reads dots in
 * field names as object paths, so `a.b` would have to be a value and an object at once; after the
 * move both are objects holding values. Nothing is dropped and keys that do not collide keep their
 * names. Should `a.b._value` itself be taken, an underscore is added (`_value_`, `_value__`, …)
 * until the name is free.
 */
import type { AttributeValue } from '../../schemas/event.js';

export const MOVED_KEY_SUFFIX = '._value';

export interface NormalisedAttributes {
  attributes: Record<string, AttributeValue>;
  /** Keys moved by the rule. */
  movedKeys: number;
}

export function normaliseAttributeKeys(
  attributes: Record<string, AttributeValue>,
): NormalisedAttributes {
  const keys = Object.keys(attributes);
  const prefixes = objectPrefixes(keys);
  if (!keys.some((key) => prefixes.has(key))) return { attributes, movedKeys: 0 };

  const result: Record<string, AttributeValue> = {};
  let movedKeys = 0;
  for (const [key, value] of Object.entries(attributes)) {
    if (!prefixes.has(key)) {
      result[key] = value;
      continue;
    }
    result[freeName(key, keys, prefixes)] = value;
    movedKeys += 1;
  }
  return { attributes: result, movedKeys };
}

/** Every dotted prefix of every key: `a.b.c` gives `a` and `a.b`. */
function objectPrefixes(keys: readonly string[]): Set<string> {
  const prefixes = new Set<string>();
  for (const key of keys) {
    for (let dot = key.indexOf('.'); dot !== -1; dot = key.indexOf('.', dot + 1)) {
      prefixes.add(key.slice(0, dot));
    }
  }
  return prefixes;
}

function freeName(key: string, keys: readonly string[], prefixes: Set<string>): string {
  let candidate = key + MOVED_KEY_SUFFIX;
  while (keys.includes(candidate) || prefixes.has(candidate)) candidate += '_';
  return candidate;
}
