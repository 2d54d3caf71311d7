import { describe, expect, it } from 'vitest';

import { describeEnforcement, describeSetup, esCommand } from '../../../cli/commands/es.js';
import { loadConfig } from '../../../core/config.js';
import { rejectedPanaceaError } from '../fixtures/panacea-error.js';

describe('panacea es output', () => {
  it('says per template what changed, and which streams wait for their first write', () => {
    const lines = describeSetup({
      elasticsearchVersion: '9.2.0',
      degradations: [],
      mechanism: 'panacea',
      templates: [
        { name: 'logs-agent.activity-p@panacea', type: 'index', change: 'updated' },
        { name: 'logs-agent@panacea-settings', type: 'component', change: 'unchanged' },
      ],
      dataStreams: [
        { name: 'logs-agent.activity-p', state: 'exists', rolledOver: true },
        { name: 'logs-agent.error-p', state: 'pending', rolledOver: false },
      ],
    });

    expect(lines).toContain('index template logs-agent.activity-p@panacea: updated');
    expect(lines).toContain('component template logs-agent@panacea-settings: unchanged');
    expect(lines).toContain('data stream logs-agent.activity-p: exists, rolled over');
    expect(lines).toContain(
      'data stream logs-agent.error-p: not created yet: this server has no _data_stream API, the first write creates it',
    );
    expect(lines[0]).toMatch(/retention mechanism: panacea/);
  });

  it('words a dry run as what it would do', () => {
    const lines = describeEnforcement(
      {
        ranAt: '2026-12-04T00:00:00.000Z',
        dryRun: true,
        rolledOver: [{ dataStream: 's', reason: 'max age' }],
        deletedIndices: [{ dataStream: 's', index: 'i', newestTimestamp: '2026-01-01T00:00:00Z' }],
        deletedDocuments: [{ index: 'm', count: 3 }],
      },
      'panacea',
    );

    expect(lines.slice(1)).toEqual([
      'would roll over s (max age)',
      'would delete i of s (newest document 2026-01-01T00:00:00Z)',
      'would delete 3 expired documents of m',
    ]);
  });

  it('says so when nothing expired', () => {
    const report = {
      ranAt: 'x',
      dryRun: false,
      rolledOver: [],
      deletedIndices: [],
      deletedDocuments: [],
    };

    expect(describeEnforcement(report, 'lifecycle').at(-1)).toBe('nothing expired');
  });
});

describe('panacea es failures', () => {
  it('name the Elasticsearch URL without the password written into it', async () => {
    const config = loadConfig({ ELASTICSEARCH_URL: 'http://elastic:leak-me@127.0.0.1:1' });

    const error = await rejectedPanaceaError(esCommand(['status'], config));

    expect(error.code).toBe('ELASTICSEARCH_UNAVAILABLE');
    expect(error.message).toContain('es status at http://127.0.0.1:1/');
    expect(error.message).not.toContain('leak-me');
  });
});
