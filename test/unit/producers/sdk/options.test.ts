import { describe, expect, it } from 'vitest';

import { resolveOptions } from '../../../../producers/sdk/options.js';
import { thrownPanaceaError } from '../../fixtures/panacea-error.js';

const VALID = { brokers: '127.0.0.1:9092', agent: { id: 'agent-1' } };

describe('agent publisher options', () => {
  it('takes brokers as text or an array, and copies the agent', () => {
    const agent = { id: 'agent-1', name: 'Planner' };
    const resolved = resolveOptions({ brokers: ['127.0.0.1:9092', 'kafka-2:9093'], agent });
    agent.name = 'changed later';

    expect(resolved.brokers).toEqual(['127.0.0.1:9092', 'kafka-2:9093']);
    expect(resolved.agent).toEqual({ id: 'agent-1', name: 'Planner' });
  });

  it.each([
    ['an agent id over 256 characters', { agent: { id: 'a'.repeat(300) } }, 'agent.id'],
    ['an agent id with a lone surrogate', { agent: { id: 'agent-\ud800' } }, 'agent.id'],
    ['an agent name over the limit', { agent: { id: 'a', name: 'n'.repeat(5_000) } }, 'agent.name'],
    ['a broker port past 65535', { brokers: '127.0.0.1:99999' }, 'brokers'],
    ['a topic prefix that is a number', { topicPrefix: 5 }, 'topicPrefix'],
    ['an encoder of null', { encoder: null }, 'encoder'],
    ['a logger that is a number', { logger: 5 }, 'logger'],
  ])('refuses %s as CONFIG_INVALID naming the option', (_label, override, field) => {
    const error = thrownPanaceaError(() =>
      resolveOptions({ ...VALID, ...override } as unknown as Parameters<typeof resolveOptions>[0]),
    );

    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.context.field).toBe(field);
    expect(error.message).toContain(field);
  });

  it('refuses an option it does not know, naming it, so a typo is not ignored', () => {
    const error = thrownPanaceaError(() =>
      resolveOptions({ ...VALID, lingerMS: 5 } as unknown as Parameters<typeof resolveOptions>[0]),
    );

    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.context.field).toBe('lingerMS');
    expect(error.message).toContain('lingerMs');
  });
});
