import { describe, expect, it } from 'vitest';

import { encodedBytesBeforeOpen } from '../../../../producers/sdk/encoding.js';
import { openSchemaCodec } from '../../../../schemas/codec.js';
import { createMemoryRegistry } from '../../../../schemas/registry/memory-registry.js';
import { FULL_INPUTS, MINIMAL_INPUTS, validEvent } from '../../fixtures/sample-events.js';

describe('sdk encoding', () => {
  it('sizes an event before a codec is open exactly as the codec then encodes it', async () => {
    const codec = await openSchemaCodec(createMemoryRegistry());
    const inputs = [...Object.values(MINIMAL_INPUTS), ...Object.values(FULL_INPUTS)];
    const withErrorAttributes = {
      ...FULL_INPUTS.error,
      error: { ...FULL_INPUTS.error.error, attributes: { tool: 'search', attempt: 3 } },
    };

    for (const input of [...inputs, withErrorAttributes]) {
      const event = validEvent(input);
      expect(encodedBytesBeforeOpen(event), event.kind).toBe(codec.encode(event).length);
    }
  });
});
