/**
 * The one normalisation rule for attribute keys: a key that is also the prefix of another key
 * moves down to `<key>._value`; nothing is dropped and other keys keep their names.
 */
import { describe, expect, it } from 'vitest';

import { normaliseAttributeKeys } from '../../../../processors/enrich/attribute-keys.js';

describe('attribute key normalisation', () => {
  it('moves a key that is also an object prefix to <key>._value', () => {
    const result = normaliseAttributeKeys({ 'a.b': 1, 'a.b.c': 2, other: 'x' });

    expect(result).toEqual({
      attributes: { 'a.b._value': 1, 'a.b.c': 2, other: 'x' },
      movedKeys: 1,
    });
  });

  it('moves every level of a chain of prefixes', () => {
    const result = normaliseAttributeKeys({ a: true, 'a.b': 'x', 'a.b.c': 3 });

    expect(result.attributes).toEqual({ 'a._value': true, 'a.b._value': 'x', 'a.b.c': 3 });
    expect(result.movedKeys).toBe(2);
  });

  it('adds underscores when <key>._value is taken already', () => {
    const result = normaliseAttributeKeys({ tool: 'search', 'tool._value': 1, 'tool.name': 'web' });

    expect(result.attributes).toEqual({
      'tool._value_': 'search',
      'tool._value': 1,
      'tool.name': 'web',
    });
  });

  it('keeps every value: as many keys out as in', () => {
    const input = { x: 1, 'x.y': 2, 'x.y.z': 3, 'x._value': 4, 'x.y._value': 5, 'x.y._value_': 6 };

    const result = normaliseAttributeKeys(input);

    expect(Object.keys(result.attributes)).toHaveLength(Object.keys(input).length);
    expect(Object.values(result.attributes).sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('leaves keys that only share a beginning, not a dotted prefix', () => {
    const input = { ab: 1, 'abc.d': 2, 'a-b.c': 3, 'tool.name': 'x', 'tool.version': 'y' };

    const result = normaliseAttributeKeys(input);

    expect(result).toEqual({ attributes: input, movedKeys: 0 });
  });
});
