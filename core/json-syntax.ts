/**
 * Reads JSON text a second time, slowly, for what `JSON.parse` does not say: where the text stops
 * being JSON (offset, line and column, and why), and which parts before that point are complete.
 * Importers use it to report a broken or cut file precisely, and to recover the complete steps of
 * a cut file when asked to.
 *
 * It checks syntax only (RFC 8259) and builds no values: a caller parses the spans it wants with
 * `JSON.parse`. It walks with an explicit stack, so deeply nested input cannot overflow the call
 * stack.
 */

export interface TextPosition {
  /** 0-based index in the text, in UTF-16 code units (what `String.prototype.slice` takes). */
  offset: number;
  /** 1-based line: a line ends at `\n` (a `\r` before it belongs to the line). */
  line: number;
  /** 1-based column, in characters (UTF-16 code units) from the start of the line. */
  column: number;
}

export interface JsonSyntaxProblem extends TextPosition {
  /** Why the text is not JSON at this position, e.g. `unexpected end of input`. */
  reason: string;
  /** True when the text ended where more JSON was required: the file was probably cut short. */
  endOfInput: boolean;
}

/** A complete JSON value in the text: `text.slice(start, end)` parses on its own. */
export interface JsonSpan {
  start: number;
  end: number;
}

export interface JsonSyntaxScan {
  /** The first syntax problem; absent when the whole text is one valid JSON value. */
  problem?: JsonSyntaxProblem;
  /** True when the text starts (after white space) with `{`. */
  rootIsObject: boolean;
  /** The top-level object's members whose value is complete, by name (a repeated name: last). */
  members: Map<string, JsonSpan>;
  /**
   * The complete elements of the array that is the value of top-level member `elementsOf`, in
   * order; empty when that member is missing or not an array.
   */
  elements: JsonSpan[];
  /** Whether the array of `elementsOf` was opened (complete or not). */
  elementsOpened: boolean;
}

type Mode = 'value' | 'value-or-close' | 'key' | 'key-or-close' | 'after-value';

interface OpenContainer {
  kind: 'object' | 'array';
  start: number;
  /** For an object: the name of the member whose value is being read. */
  memberName?: string;
}

/** Thrown inside the scan to stop at the first problem; never leaves this module. */
class SyntaxStop {
  constructor(
    readonly offset: number,
    readonly reason: string,
    readonly endOfInput: boolean,
  ) {}
}

const ESCAPABLE = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX_DIGIT = /^[0-9a-fA-F]{4}$/;
const LITERALS = ['true', 'false', 'null'] as const;

export function scanJsonSyntax(text: string, elementsOf?: string): JsonSyntaxScan {
  const scan: JsonSyntaxScan = {
    rootIsObject: text[skipWhiteSpace(text, 0)] === '{',
    members: new Map(),
    elements: [],
    elementsOpened: false,
  };
  const stack: OpenContainer[] = [];

  // A value is complete: remember it when it is a top-level member or an element of `elementsOf`.
  const complete = (start: number, end: number): void => {
    const [root, second] = stack;
    if (stack.length === 1 && root?.kind === 'object' && root.memberName !== undefined) {
      scan.members.set(root.memberName, { start, end });
    } else if (
      elementsOf !== undefined &&
      stack.length === 2 &&
      root?.kind === 'object' &&
      root.memberName === elementsOf &&
      second?.kind === 'array'
    ) {
      scan.elements.push({ start, end });
    }
  };
  const isValueOfElementsMember = (): boolean => {
    const [root] = stack;
    return (
      elementsOf !== undefined &&
      stack.length === 1 &&
      root?.kind === 'object' &&
      root.memberName === elementsOf
    );
  };
  const open = (kind: OpenContainer['kind'], start: number): void => {
    // A repeated member name replaces the earlier value, as it does in JSON.parse.
    if (isValueOfElementsMember()) {
      scan.elementsOpened = kind === 'array';
      scan.elements = [];
    }
    stack.push({ kind, start });
  };
  const close = (end: number): void => {
    const container = stack.pop();
    if (container !== undefined) complete(container.start, end);
  };

  try {
    let position = 0;
    let mode: Mode = 'value';
    for (;;) {
      position = skipWhiteSpace(text, position);
      const character = text[position];

      if (mode === 'value' || mode === 'value-or-close') {
        if (character === undefined) throw new SyntaxStop(position, 'expected a value', true);
        if (mode === 'value-or-close' && character === ']') {
          close(position + 1);
          position += 1;
          mode = 'after-value';
        } else if (character === '{' || character === '[') {
          open(character === '{' ? 'object' : 'array', position);
          position += 1;
          mode = character === '{' ? 'key-or-close' : 'value-or-close';
        } else {
          const start = position;
          position = skipScalar(text, position);
          complete(start, position);
          mode = 'after-value';
        }
      } else if (mode === 'key' || mode === 'key-or-close') {
        if (mode === 'key-or-close' && character === '}') {
          close(position + 1);
          position += 1;
          mode = 'after-value';
          continue;
        }
        if (character !== '"') {
          const expected = mode === 'key' ? 'a property name' : "a property name or '}'";
          throw unexpected(text, position, `${expected} in double quotes`);
        }
        const nameEnd = skipString(text, position);
        const container = stack.at(-1);
        if (container !== undefined) {
          container.memberName = JSON.parse(text.slice(position, nameEnd)) as string;
        }
        position = skipWhiteSpace(text, nameEnd);
        if (text[position] !== ':') throw unexpected(text, position, "':' after the property name");
        position += 1;
        mode = 'value';
      } else {
        const container = stack.at(-1);
        if (container === undefined) {
          if (character === undefined) break;
          throw new SyntaxStop(position, 'unexpected text after the end of the JSON value', false);
        }
        const closer = container.kind === 'object' ? '}' : ']';
        if (character === ',') {
          position += 1;
          mode = container.kind === 'object' ? 'key' : 'value';
        } else if (character === closer) {
          close(position + 1);
          position += 1;
        } else {
          const after = container.kind === 'object' ? 'a property value' : 'an array element';
          throw unexpected(text, position, `',' or '${closer}' after ${after}`);
        }
      }
    }
  } catch (error: unknown) {
    if (!(error instanceof SyntaxStop)) throw error;
    const reason = error.endOfInput ? `unexpected end of input (${error.reason})` : error.reason;
    scan.problem = { ...positionAt(text, error.offset), reason, endOfInput: error.endOfInput };
  }
  return scan;
}

/** Line and column (both 1-based) of an offset in the text. */
export function positionAt(text: string, offset: number): TextPosition {
  let line = 1;
  let lineStart = 0;
  for (let index = text.indexOf('\n'); index !== -1 && index < offset;) {
    line += 1;
    lineStart = index + 1;
    index = text.indexOf('\n', lineStart);
  }
  return { offset, line, column: offset - lineStart + 1 };
}

function skipWhiteSpace(text: string, position: number): number {
  let index = position;
  while (index < text.length) {
    const character = text[index];
    if (character !== ' ' && character !== '\t' && character !== '\n' && character !== '\r') break;
    index += 1;
  }
  return index;
}

/** The end of the string, number or literal starting at `position`. */
function skipScalar(text: string, position: number): number {
  const character = text[position] ?? '';
  if (character === '"') return skipString(text, position);
  if (character === '-' || isDigit(character)) return skipNumber(text, position);

  const literal = LITERALS.find((candidate) => candidate[0] === character);
  if (literal === undefined) throw unexpected(text, position, 'a value');
  for (let index = 1; index < literal.length; index += 1) {
    const actual = text[position + index];
    if (actual === undefined) {
      throw new SyntaxStop(position + index, `inside the literal ${literal}`, true);
    }
    if (actual !== literal[index])
      throw unexpected(text, position + index, `the literal ${literal}`);
  }
  return position + literal.length;
}

function skipString(text: string, position: number): number {
  let index = position + 1;
  for (;;) {
    const character = text[index];
    if (character === undefined) throw new SyntaxStop(index, 'inside a string', true);
    if (character === '"') return index + 1;
    if (character === '\\') {
      const escaped = text[index + 1];
      if (escaped === undefined) throw new SyntaxStop(index + 1, 'inside a string', true);
      if (escaped === 'u') {
        const digits = text.slice(index + 2, index + 6);
        if (digits.length < 4 && index + 2 + digits.length === text.length) {
          throw new SyntaxStop(text.length, 'inside a string', true);
        }
        if (!HEX_DIGIT.test(digits)) {
          throw new SyntaxStop(index, 'a \\u escape needs four hexadecimal digits', false);
        }
        index += 6;
      } else if (ESCAPABLE.has(escaped)) {
        index += 2;
      } else {
        throw new SyntaxStop(index, `\\${escaped} is not a JSON escape`, false);
      }
    } else if (character.charCodeAt(0) < 0x20) {
      const code = character.charCodeAt(0).toString(16).padStart(4, '0');
      throw new SyntaxStop(index, `control character U+${code} in a string must be escaped`, false);
    } else {
      index += 1;
    }
  }
}

function skipNumber(text: string, position: number): number {
  let index = position;
  if (text[index] === '-') index += 1;

  if (text[index] === '0') index += 1;
  else index = skipDigits(text, index, 'a digit');
  if (text[index] === '.') index = skipDigits(text, index + 1, 'a digit after the decimal point');
  if (text[index] === 'e' || text[index] === 'E') {
    index += 1;
    if (text[index] === '+' || text[index] === '-') index += 1;
    index = skipDigits(text, index, 'a digit in the exponent');
  }
  return index;
}

/** Skips one or more digits; `expected` names what is missing when there is none. */
function skipDigits(text: string, position: number, expected: string): number {
  let index = position;
  while (isDigit(text[index] ?? '')) index += 1;
  if (index > position) return index;
  if (position === text.length) throw new SyntaxStop(position, `expected ${expected}`, true);
  throw unexpected(text, position, expected);
}

function isDigit(character: string): boolean {
  return character >= '0' && character <= '9';
}

/** The problem for a character that cannot stand here; `expected` says what could. */
function unexpected(text: string, position: number, expected: string): SyntaxStop {
  const character = text[position];
  if (character === undefined) return new SyntaxStop(position, `expected ${expected}`, true);
  return new SyntaxStop(
    position,
    `expected ${expected}, got ${describeCharacter(character)}`,
    false,
  );
}

function describeCharacter(character: string): string {
  const code = character.charCodeAt(0);
  if (code < 0x20 || code === 0x7f)
    return `control character U+${code.toString(16).padStart(4, '0')}`;
  return `'${character}'`;
}
