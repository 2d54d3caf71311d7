/**
 * The JSON Schema of the configuration file, built from the settings table so the two cannot
 * drift: `panacea config schema` prints it and `schemas/config.schema.json` is its committed copy
 * (for editors; a test keeps it equal to this).
 */
import { SETTINGS, type SettingForm } from './settings.js';

type JsonSchema = Record<string, unknown>;

const DURATION_PATTERN = '^[0-9]{1,9}(ms|s|m|h|d)$';

export function configJsonSchema(): JsonSchema {
  const root: JsonSchema = objectSchema('Panacea configuration');
  for (const setting of SETTINGS) {
    const path = setting.key.split('.');
    let node = root;
    for (const part of path.slice(0, -1)) {
      const properties = node.properties as Record<string, JsonSchema>;
      properties[part] ??= objectSchema(undefined);
      node = properties[part];
    }
    (node.properties as Record<string, JsonSchema>)[path.at(-1)!] = {
      ...valueSchema(setting.form),
      description: `${setting.description}. Overridden by ${setting.variable}.`,
      ...(setting.secret ? { writeOnly: true } : {}),
    };
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    ...root,
  };
}

function objectSchema(title: string | undefined): JsonSchema {
  return {
    ...(title === undefined ? {} : { title }),
    type: 'object',
    additionalProperties: false,
    properties: {},
  };
}

function valueSchema(form: SettingForm): JsonSchema {
  switch (form.type) {
    case 'string':
      return {
        type: 'string',
        ...(form.enum === undefined ? {} : { enum: [...form.enum] }),
        ...(form.pattern === undefined ? {} : { pattern: form.pattern }),
      };
    case 'integer':
      return { type: 'integer', minimum: form.minimum, maximum: form.maximum };
    case 'boolean':
      return { type: 'boolean' };
    case 'duration':
      return { type: 'string', pattern: DURATION_PATTERN };
    case 'durationOrOff':
      return { anyOf: [{ type: 'string', pattern: DURATION_PATTERN }, { const: 'off' }] };
    case 'portOrOff':
      return { anyOf: [{ type: 'integer', minimum: 1, maximum: 65_535 }, { const: 'off' }] };
    case 'list':
      return {
        anyOf: [
          { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
          { type: 'string', minLength: 1 },
        ],
      };
  }
}
