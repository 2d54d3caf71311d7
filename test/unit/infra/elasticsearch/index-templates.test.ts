import { describe, expect, it } from 'vitest';

import {
  EVENT_MAPPINGS,
  eventMappingsFor,
} from '../../../../infra/elasticsearch/index-templates.js';
import {
  toEnrichedDocument,
  type EnrichedDocument,
} from '../../../../processors/enrich/ecs-document.js';
import { createTally, enrichEvent } from '../../../../processors/enrich/enrich-event.js';
import { BUILT_IN_RULES } from '../../../../processors/enrich/redaction.js';
import {
  FULL_INPUTS,
  SAMPLE_ENRICHMENT_CONTEXT,
  validEvent,
} from '../../fixtures/sample-events.js';

interface FieldMapping {
  type?: string;
  properties?: Record<string, FieldMapping>;
}

interface MappingGap {
  path: string;
  problem: string;
}

// Which mapping types can hold a JSON leaf of each kind the enrichment writes.
const TYPES_FOR_STRINGS = ['keyword', 'constant_keyword', 'text', 'date', 'ip'];
const TYPES_FOR_NUMBERS = ['long', 'integer', 'double', 'float', 'scaled_float'];
const TYPES_FOR_BOOLEANS = ['boolean'];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typesFor(leaf: unknown): string[] {
  if (typeof leaf === 'string') return TYPES_FOR_STRINGS;
  if (typeof leaf === 'number') return TYPES_FOR_NUMBERS;
  if (typeof leaf === 'boolean') return TYPES_FOR_BOOLEANS;
  return [];
}

/**
 * Walks a document against mapping properties, as Elasticsearch would index it: an object goes
 * into `properties` unless its field is `flattened`; an array holds leaves of one mapped type.
 */
function findMappingGaps(
  document: unknown,
  properties: Record<string, FieldMapping>,
  visited: Set<string>,
  parentPath = '',
): MappingGap[] {
  if (!isPlainObject(document)) return [{ path: parentPath, problem: 'is not an object' }];

  const gaps: MappingGap[] = [];
  for (const [key, value] of Object.entries(document)) {
    const fieldPath = parentPath === '' ? key : `${parentPath}.${key}`;
    const mapping = properties[key];
    visited.add(fieldPath);
    if (mapping === undefined) {
      gaps.push({ path: fieldPath, problem: 'has no mapping' });
    } else if (isPlainObject(value) && mapping.type === 'flattened') {
      continue;
    } else if (isPlainObject(value)) {
      if (mapping.properties === undefined) {
        gaps.push({ path: fieldPath, problem: `is an object mapped as ${mapping.type}` });
      } else {
        gaps.push(...findMappingGaps(value, mapping.properties, visited, fieldPath));
      }
    } else {
      const leaves = Array.isArray(value) ? (value as unknown[]) : [value];
      for (const leaf of leaves) {
        if (mapping.type === undefined || !typesFor(leaf).includes(mapping.type)) {
          gaps.push({
            path: fieldPath,
            problem: `holds a ${typeof leaf} but is mapped as ${mapping.type ?? 'an object'}`,
          });
        }
      }
    }
  }
  return gaps;
}

function collectTypes(mapping: unknown): string[] {
  if (!isPlainObject(mapping)) return [];
  const own = typeof mapping.type === 'string' ? [mapping.type] : [];
  return [...own, ...Object.values(mapping).flatMap((child) => collectTypes(child))];
}

const MAPPED_PROPERTIES = EVENT_MAPPINGS.properties as unknown as Record<string, FieldMapping>;

describe('index templates', () => {
  describe('event mappings', () => {
    const documents: EnrichedDocument[] = Object.values(FULL_INPUTS).map((input) =>
      toEnrichedDocument(validEvent(input), SAMPLE_ENRICHMENT_CONTEXT),
    );

    it.each(documents.map((document) => [document.panacea.kind, document] as const))(
      'maps every field of a %s document with all optional fields set',
      (_kind, document) => {
        const gaps = findMappingGaps(document, MAPPED_PROPERTIES, new Set());

        expect(gaps).toEqual([]);
      },
    );

    it('maps the fields the enrichment adds: registry facts, labels, tags and redactions', () => {
      const visited = new Set<string>();
      const document = enrichEvent(
        {
          event: validEvent({
            ...FULL_INPUTS.activity,
            agent: { id: 'agent-7' },
            activity: {
              action: 'ann@example.com',
              status: 'started',
              attributes: { a: 1, 'a.b': 2 },
            },
          }),
          repairedUtf8: true,
        },
        SAMPLE_ENRICHMENT_CONTEXT,
        {
          redactionRules: BUILT_IN_RULES,
          agentProfile: (id) => ({
            id,
            name: 'A',
            team: 't',
            owner: 'o',
            environment: 'e',
            labels: { tier: 'gold' },
          }),
        },
        createTally(),
      );

      const gaps = findMappingGaps(document, MAPPED_PROPERTIES, visited);

      expect(gaps).toEqual([]);
      expect([...visited]).toEqual(
        expect.arrayContaining([
          'tags',
          'labels',
          'panacea.redactions',
          'panacea.agent.registered',
          'panacea.agent.display_name',
          'panacea.agent.team',
          'panacea.agent.owner',
          'panacea.agent.environment',
        ]),
      );
    });

    it('walks the optional fields of every kind, so none escapes the check', () => {
      const visited = new Set<string>();
      for (const document of documents) findMappingGaps(document, MAPPED_PROPERTIES, visited);

      expect([...visited]).toEqual(
        expect.arrayContaining([
          'event.duration',
          'event.reason',
          'trace.id',
          'span.id',
          'gen_ai.agent.version',
          'error.stack_trace',
          'log.level',
          'source.ip',
          'panacea.workflow.id',
          'panacea.task.id',
          'panacea.activity.duration_ms',
          'panacea.activity.attributes',
          'panacea.error.retryable',
          'panacea.audit.resource.id',
          'panacea.heartbeat.queue_depth',
        ]),
      );
    });

    it('treats attributes as one flattened leaf', () => {
      const visited = new Set<string>();
      for (const document of documents) findMappingGaps(document, MAPPED_PROPERTIES, visited);

      expect(
        [...visited].filter((field) => field.startsWith('panacea.activity.attributes')),
      ).toEqual(['panacea.activity.attributes']);
    });

    it('reports a field the mappings do not cover and a leaf of the wrong type', () => {
      const document = { event: { id: 'evt-1', severity: 'high' }, source: { ip: 7 } };

      const gaps = findMappingGaps(document, MAPPED_PROPERTIES, new Set());

      expect(gaps).toEqual([
        { path: 'event.severity', problem: 'has no mapping' },
        { path: 'source.ip', problem: 'holds a number but is mapped as ip' },
      ]);
    });

    it('indexes no field it was not told about', () => {
      expect(EVENT_MAPPINGS.dynamic).toBe('false');
    });

    it('maps times as dates, durations as long nanoseconds and source.ip as ip', () => {
      const properties = EVENT_MAPPINGS.properties;

      expect(properties['@timestamp'].type).toBe('date');
      expect(properties.event.properties.created.type).toBe('date');
      expect(properties.event.properties.ingested.type).toBe('date');
      expect(properties.event.properties.duration.type).toBe('long');
      expect(properties.source.properties.ip.type).toBe('ip');
    });
  });

  describe('capabilities', () => {
    it('maps data_stream.* as constant_keyword where the server has it', () => {
      const mappings = eventMappingsFor({ constantKeyword: true }) as typeof EVENT_MAPPINGS;

      expect(mappings.properties.data_stream.properties).toEqual({
        type: { type: 'constant_keyword' },
        dataset: { type: 'constant_keyword' },
        namespace: { type: 'constant_keyword' },
      });
    });

    it('degrades constant_keyword to keyword where the server lacks it', () => {
      const mappings = eventMappingsFor({ constantKeyword: false }) as typeof EVENT_MAPPINGS;

      expect(collectTypes(mappings)).not.toContain('constant_keyword');
      for (const field of ['type', 'dataset', 'namespace'] as const) {
        expect(mappings.properties.data_stream.properties[field].type).toBe('keyword');
      }
    });

    it('changes nothing but data_stream when degrading', () => {
      const full = eventMappingsFor({ constantKeyword: true }) as typeof EVENT_MAPPINGS;
      const degraded = eventMappingsFor({ constantKeyword: false }) as typeof EVENT_MAPPINGS;
      const { data_stream: _full, ...fullRest } = full.properties;
      const { data_stream: _degraded, ...degradedRest } = degraded.properties;

      expect(degraded.dynamic).toBe(full.dynamic);
      expect(degradedRest).toEqual(fullRest);
    });

    it('leaves the shared mappings untouched when degrading', () => {
      eventMappingsFor({ constantKeyword: false });

      expect(EVENT_MAPPINGS.properties.data_stream.properties.type.type).toBe('constant_keyword');
    });
  });
});
