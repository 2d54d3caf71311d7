import { describe, expect, it } from 'vitest';

import { levelOf, parseLogLevels } from '../../../core/logger.js';

describe('per-component log levels', () => {
  it('reads a default level and component levels', () => {
    const levels = parseLogLevels('warn,stage.sink-elasticsearch=debug, stage=error');
    expect(levels?.defaultLevel).toBe('warn');
    expect(levels && Object.fromEntries(levels.byComponent)).toEqual({
      'stage.sink-elasticsearch': 'debug',
      stage: 'error',
    });
  });

  it('gives a component the level of the longest name that covers it', () => {
    const levels = parseLogLevels('info,stage=warn,stage.sink-elasticsearch=debug');
    if (levels === undefined) throw new Error('not parsed');
    expect(levelOf(levels, 'stage.sink-elasticsearch')).toBe('debug');
    expect(levelOf(levels, 'stage.enrich')).toBe('warn');
    expect(levelOf(levels, 'stage')).toBe('warn');
    // A prefix covers only at a dot: `stages` is not under `stage`.
    expect(levelOf(levels, 'stages')).toBe('info');
    expect(levelOf(levels, 'pipeline')).toBe('info');
  });

  it('defaults to info, also when only component levels are given', () => {
    expect(parseLogLevels(undefined)?.defaultLevel).toBe('info');
    expect(parseLogLevels('http=debug')?.defaultLevel).toBe('info');
  });

  it('refuses unknown levels and empty component names', () => {
    expect(parseLogLevels('loud')).toBeUndefined();
    expect(parseLogLevels('info,stage=loud')).toBeUndefined();
    expect(parseLogLevels('info,=debug')).toBeUndefined();
  });
});
