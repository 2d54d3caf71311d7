/**
 * How `dlq inspect --show` presents a dead letter's key and value: schema-registry-framed Avro
 * (magic byte 0, a 4-byte schema id) decoded through the schema codec and shown as JSON, JSON
 * pretty-printed, text as text, and anything else as a byte preview that says what it is. A value
 * the codec cannot read is shown as bytes with the codec's reason: it is often why the record was
 * dead-lettered in the first place.
 */
import { messageOf } from '../../core/errors.js';

/** Bytes shown in a preview; the length says how many there are in all. */
export const PREVIEW_BYTES = 256;

export type DecodedValue =
  | { format: 'null' }
  | { format: 'avro'; schemaId: number; json: string }
  | { format: 'json'; json: string }
  | { format: 'text'; text: string }
  | { format: 'bytes'; preview: string; note?: string };

/** The Confluent wire format's frame: the magic byte 0 and a schema id, then at least one byte. */
export function schemaIdOfFrame(value: Buffer): number | undefined {
  if (value.length < 6 || value[0] !== 0) return undefined;
  return value.readUInt32BE(1);
}

export async function decodeValue(
  value: Buffer | null,
  decodeAvro: (value: Buffer) => Promise<unknown>,
): Promise<DecodedValue> {
  if (value === null) return { format: 'null' };

  const schemaId = schemaIdOfFrame(value);
  if (schemaId !== undefined) {
    try {
      const event = await decodeAvro(value);
      return { format: 'avro', schemaId, json: JSON.stringify(event, null, 2) };
    } catch (error) {
      return {
        format: 'bytes',
        preview: bytePreview(value),
        note: `framed for schema id ${schemaId}, but the codec cannot read it: ${messageOf(error)}`,
      };
    }
  }
  return decodePlain(value);
}

/** JSON pretty-printed, printable UTF-8 as text, anything else as bytes. */
export function decodePlain(value: Buffer): DecodedValue {
  const text = printableText(value);
  if (text === undefined) return { format: 'bytes', preview: bytePreview(value) };
  try {
    return { format: 'json', json: JSON.stringify(JSON.parse(text), null, 2) };
  } catch {
    return { format: 'text', text };
  }
}

/** The bytes as UTF-8 when they are valid UTF-8 without control characters (bar tab and newline). */
export function printableText(value: Buffer): string | undefined {
  const text = value.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(value)) return undefined;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) return undefined;
  return text;
}

/** `N bytes: 00 01 …` in hex, the first PREVIEW_BYTES, with the printable ones beside them. */
export function bytePreview(value: Buffer): string {
  const shown = value.subarray(0, PREVIEW_BYTES);
  const hex = [...shown].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
  const ascii = [...shown]
    .map((byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '.'))
    .join('');
  const more = value.length > PREVIEW_BYTES ? ` (first ${PREVIEW_BYTES} shown)` : '';
  return `${value.length} bytes${more}: ${hex}\n  as text: ${ascii}`;
}

/** The key as a person reads it: text when printable, else a byte preview. */
export function describeKey(key: Buffer | null): string {
  if (key === null) return '(none)';
  return printableText(key) ?? bytePreview(key);
}

export function formatDecodedValue(decoded: DecodedValue): string[] {
  switch (decoded.format) {
    case 'null':
      return ['value: (null: a tombstone)'];
    case 'avro':
      return [
        `value: Avro, schema id ${decoded.schemaId}, decoded into this build's schema:`,
        decoded.json,
      ];
    case 'json':
      return ['value: JSON:', decoded.json];
    case 'text':
      return ['value: text:', decoded.text];
    case 'bytes':
      return [
        `value: bytes${decoded.note === undefined ? '' : ` (${decoded.note})`}:`,
        `  ${decoded.preview}`,
      ];
  }
}
