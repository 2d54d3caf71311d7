import { describe, expect, it } from 'vitest';

import { wantedEventTemplates } from '../../../../infra/elasticsearch/index-templates.js';
import { wantedMetricsTemplate } from '../../../../infra/elasticsearch/metrics-templates.js';
import { compareTemplate } from '../../../../infra/elasticsearch/template-comparison.js';

const wanted = {
  index_patterns: ['logs-agent.activity-x'],
  data_stream: {},
  priority: 510,
  composed_of: ['a', 'b'],
  template: {
    settings: { 'index.auto_expand_replicas': '0-1', 'index.mapping.total_fields.limit': 2000 },
    mappings: { dynamic: 'false', properties: { message: { type: 'text' } } },
    lifecycle: { data_retention: '30d' },
  },
  _meta: { managed_by: 'panacea' },
};

/** The same template as Elasticsearch 9.2 returns it from `GET _index_template`. */
const storedAsServerReturnsIt = {
  index_patterns: ['logs-agent.activity-x'],
  template: {
    settings: {
      index: { auto_expand_replicas: '0-1', mapping: { total_fields: { limit: '2000' } } },
    },
    mappings: { dynamic: 'false', properties: { message: { type: 'text' } } },
    lifecycle: { enabled: true, data_retention: '30d' },
  },
  composed_of: ['a', 'b'],
  priority: 510,
  _meta: { managed_by: 'panacea' },
  data_stream: { hidden: false, allow_custom_routing: false },
  created_date_millis: 1796418353981,
  modified_date_millis: 1796418353981,
};

describe('template comparison', () => {
  it('reports a template the server does not hold as created', () => {
    expect(compareTemplate(wanted, undefined)).toBe('created');
  });

  it('sees no change in the server-shaped copy of the wanted template', () => {
    expect(compareTemplate(wanted, storedAsServerReturnsIt)).toBe('unchanged');
  });

  it('sees a field added to the stored mappings as a change', () => {
    const stored = structuredClone(storedAsServerReturnsIt);
    Object.assign(stored.template.mappings.properties, { extra: { type: 'keyword' } });

    expect(compareTemplate(wanted, stored)).toBe('updated');
  });

  it('sees another retention as a change', () => {
    const stored = structuredClone(storedAsServerReturnsIt);
    stored.template.lifecycle.data_retention = '7d';

    expect(compareTemplate(wanted, stored)).toBe('updated');
  });

  it('sees a template that is not a data stream template any more as a change', () => {
    const { data_stream: _dataStream, ...stored } = storedAsServerReturnsIt;

    expect(compareTemplate(wanted, stored)).toBe('updated');
  });

  it('sees a lifecycle switched off as a change', () => {
    const stored = structuredClone(storedAsServerReturnsIt);
    stored.template.lifecycle.enabled = false;

    expect(compareTemplate(wanted, stored)).toBe('updated');
  });
});

describe('wanted templates', () => {
  const retention = { retentionMs: 30 * 86_400_000, inTemplate: true };

  it('gives each kind its own data stream template on the shared components', () => {
    const templates = wantedEventTemplates('prod', { constantKeyword: false }, () => retention);

    expect(templates.map((template) => template.name)).toEqual([
      'logs-agent@panacea-settings',
      'logs-agent@panacea-mappings',
      'logs-agent.activity-prod@panacea',
      'logs-agent.error-prod@panacea',
      'logs-agent.audit-prod@panacea',
      'logs-agent.heartbeat-prod@panacea',
    ]);
    expect(templates[2]?.dataStreams).toEqual(['logs-agent.activity-prod']);
    expect(templates[2]?.body.index_patterns).toEqual(['logs-agent.activity-prod']);
  });

  it('puts data_retention in the template only where the lifecycle applies it', () => {
    const [, , withLifecycle] = wantedEventTemplates(
      'p',
      { constantKeyword: true },
      () => retention,
    );
    const [, , without] = wantedEventTemplates('p', { constantKeyword: true }, () => ({
      ...retention,
      inTemplate: false,
    }));

    expect(withLifecycle?.body.template).toEqual({ lifecycle: { data_retention: '30d' } });
    expect(without?.body.template).toBeUndefined();
    expect(without?.body._meta).toMatchObject({ retention: '30d', retention_by: 'panacea' });
  });

  it('changes every data stream template when a shared component changes', () => {
    const full = wantedEventTemplates('p', { constantKeyword: true }, () => retention);
    const degraded = wantedEventTemplates('p', { constantKeyword: false }, () => retention);

    expect(compareTemplate(full[2]!.body, degraded[2]!.body)).toBe('updated');
  });

  it('keeps the metrics indices plain indices', () => {
    expect(wantedMetricsTemplate().body.data_stream).toBeUndefined();
  });
});
