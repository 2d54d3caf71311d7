/**
 * How error messages name a value a person sent: its kind, and for strings and scalars the value
 * itself (long strings cut at 40 characters), e.g. `got "done"`, `got number 12`, `got an array`.
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  return `${typeof value} ${String(value)}`;
}
