/**
 * The shipped real OpenHands session, imported with `panacea import` and run through the pipeline,
 * is in Elasticsearch as the events the importer promises.
 */
import { describe, expect, it } from 'vitest';

import {
  OPENHANDS_SESSION_FILE,
  requireDataset,
} from '../../producers/importers/shipped-datasets.js';
import { field, isolate, runPanacea, searchAll } from './harness.js';

describe('openhands import on the real pipeline', () => {
  it('stores the session with the failed command as a failed activity with its duration and an error', async () => {
    const isolation = isolate('openhands');

    const imported = await runPanacea(
      ['import', '--format', 'openhands', requireDataset(OPENHANDS_SESSION_FILE)],
      isolation.env,
    );
    expect(imported.exitCode).toBe(0);
    expect(imported.stdout).toContain('published 11 (');
    const run = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(run.exitCode).toBe(0);

    const hits = await searchAll(isolation);
    const kinds = hits.map((hit) => field(hit, 'panacea.kind'));
    expect(kinds.filter((kind) => kind === 'activity')).toHaveLength(6);
    expect(kinds.filter((kind) => kind === 'error')).toHaveLength(1);
    expect(kinds.filter((kind) => kind === 'heartbeat')).toHaveLength(4);

    const failed = hits.filter(
      (hit) =>
        field(hit, 'event.outcome') === 'failure' && field(hit, 'panacea.kind') === 'activity',
    );
    expect(failed).toHaveLength(1);
    const command = failed[0]!;
    expect(field(command, 'panacea.activity.duration_ms')).toBe(30_580.23);
    expect(field(command, 'event.duration')).toBe(30_580_230_000);
    expect(field(command, '@timestamp')).toBe('2025-01-20T20:29:59.282Z');
    expect(field(command, 'event.action')).toBe('tool.execute_bash');
    expect(field(command, 'gen_ai.agent.name')).toBe('OpenHands');
    const attributes = field(command, 'panacea.activity.attributes') as Record<string, unknown>;
    expect(attributes['shell.exit_code']).toBe(-1);
    expect(attributes['shell.command']).toBe(
      'cd /workspace/todo-app && python3 -m http.server 8000',
    );
    expect(attributes['llm.usage.total_tokens']).toBe(5573);

    const error = hits.find((hit) => field(hit, 'panacea.kind') === 'error')!;
    expect(field(error, 'error.type')).toBe('openhands.CommandFailed');
    expect(field(error, 'error.message')).toContain('exit code -1');
    expect(field(error, 'panacea.task.id')).toBe(field(command, 'panacea.task.id'));

    const heartbeats = hits
      .filter((hit) => field(hit, 'panacea.kind') === 'heartbeat')
      .map((hit) => field(hit, 'panacea.heartbeat.status'));
    expect(heartbeats).toEqual(['idle', 'idle', 'busy', 'idle']);

    // Importing the same file again changes nothing: the ids are derived from the file.
    await runPanacea(
      ['import', '--format', 'openhands', requireDataset(OPENHANDS_SESSION_FILE)],
      isolation.env,
    );
    await runPanacea(['run', '--until-idle'], isolation.env);
    expect(await searchAll(isolation)).toHaveLength(11);
  });
});
