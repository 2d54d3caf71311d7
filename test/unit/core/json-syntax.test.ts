/**
 * Pins where the JSON syntax scan says text stops being JSON, and which parts before that it
 * reports complete.
 */
import { describe, expect, it } from 'vitest';

import { positionAt, scanJsonSyntax } from '../../../core/json-syntax.js';

const spanText = (text: string, span: { start: number; end: number } | undefined): string =>
  span === undefined ? '(none)' : text.slice(span.start, span.end);

describe('json syntax scan on valid text', () => {
  it('reports no problem for any JSON value that JSON.parse accepts', () => {
    const samples = [
      '{}',
      '[]',
      ' 0 ',
      '-12.5e+3',
      '"a\\u00e9\\n\\"b"',
      'true',
      'null',
      '{"a": [1, {"b": [false, null]}], "c": "\\ud800"}',
      '\n\t{ "x" : [ ] }\r\n',
    ];

    for (const sample of samples) {
      expect(() => JSON.parse(sample)).not.toThrow();
      expect(scanJsonSyntax(sample).problem).toBeUndefined();
    }
  });

  it('lists the complete top-level members and the elements of the named array', () => {
    const text = '{"environment": "main", "trajectory": [{"a": 1}, 2, [3]], "info": {}}';

    const scan = scanJsonSyntax(text, 'trajectory');

    expect(scan.rootIsObject).toBe(true);
    expect([...scan.members.keys()]).toEqual(['environment', 'trajectory', 'info']);
    expect(spanText(text, scan.members.get('trajectory'))).toBe('[{"a": 1}, 2, [3]]');
    expect(scan.elements.map((span) => spanText(text, span))).toEqual(['{"a": 1}', '2', '[3]']);
    expect(scan.elementsOpened).toBe(true);
  });

  it('walks nesting far deeper than the call stack allows', () => {
    const depth = 200_000;
    const text = `${'['.repeat(depth)}${']'.repeat(depth)}`;

    expect(scanJsonSyntax(text).problem).toBeUndefined();
  });
});

describe('json syntax scan on broken text', () => {
  it('names line and column of a missing comma between two properties', () => {
    const text =
      '{\n  "trajectory": [\n    {"action": "ls", "observation": ""},\n' +
      '    {"action": "ls" "observation": ""}\n  ]\n}';

    const { problem } = scanJsonSyntax(text);

    expect(problem).toMatchObject({
      line: 4,
      column: 21,
      reason: `expected ',' or '}' after a property value, got '"'`,
      endOfInput: false,
    });
  });

  it('says the input ended, and where, for text cut inside a string', () => {
    const text = '{"trajectory": [{"action": "ls"}, {"action": "cre';

    const scan = scanJsonSyntax(text, 'trajectory');

    expect(scan.problem).toMatchObject({
      line: 1,
      column: text.length + 1,
      reason: 'unexpected end of input (inside a string)',
      endOfInput: true,
    });
    expect(scan.elements.map((span) => spanText(text, span))).toEqual(['{"action": "ls"}']);
    expect(scan.members.has('trajectory')).toBe(false);
    expect(scan.elementsOpened).toBe(true);
  });

  it('says the input ended for text cut after a comma, in a literal and in a number', () => {
    expect(scanJsonSyntax('[1,').problem?.reason).toBe(
      'unexpected end of input (expected a value)',
    );
    expect(scanJsonSyntax('[tr').problem?.reason).toBe(
      'unexpected end of input (inside the literal true)',
    );
    expect(scanJsonSyntax('[1.').problem?.reason).toBe(
      'unexpected end of input (expected a digit after the decimal point)',
    );
    expect(scanJsonSyntax('{"a"').problem?.reason).toBe(
      "unexpected end of input (expected ':' after the property name)",
    );
  });

  it('refuses what JSON does not allow, with the offending character', () => {
    expect(scanJsonSyntax('{"a": NaN}').problem).toMatchObject({
      column: 7,
      reason: "expected a value, got 'N'",
    });
    expect(scanJsonSyntax('[1,]').problem?.reason).toBe("expected a value, got ']'");
    expect(scanJsonSyntax('{"a": 1,}').problem?.reason).toBe(
      "expected a property name in double quotes, got '}'",
    );
    expect(scanJsonSyntax('"tab\there"').problem?.reason).toBe(
      'control character U+0009 in a string must be escaped',
    );
    expect(scanJsonSyntax('"\\x"').problem?.reason).toBe('\\x is not a JSON escape');
    expect(scanJsonSyntax('[01]').problem?.reason).toBe(
      "expected ',' or ']' after an array element, got '1'",
    );
    expect(scanJsonSyntax('{} {}').problem).toMatchObject({
      column: 4,
      reason: 'unexpected text after the end of the JSON value',
    });
  });

  it('counts lines at \\n and columns in characters, a \\r belonging to its line', () => {
    const text = 'ab\r\ncd\nef';

    expect(positionAt(text, 0)).toEqual({ offset: 0, line: 1, column: 1 });
    expect(positionAt(text, 2)).toEqual({ offset: 2, line: 1, column: 3 });
    expect(positionAt(text, 4)).toEqual({ offset: 4, line: 2, column: 1 });
    expect(positionAt(text, text.length)).toEqual({ offset: 9, line: 3, column: 3 });
  });
});
