/**
 * The pino transport end to end: an agent process logs through `panacea/pino` and exits; the
 * pipeline (`panacea run --until-idle`) then stores its lines in Elasticsearch as activity and
 * error documents, the error with its type and stack.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../../../core/package-root.js';
import { field, isolate, runPanacea, searchAll, type SearchHit } from '../harness.js';

const AGENT_SCRIPT = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  'fixtures',
  'agent-logging-with-pino.mjs',
);

function runAgent(env: NodeJS.ProcessEnv): Promise<{ exitCode: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AGENT_SCRIPT], { env, cwd: packageRoot() });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.resume();
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code ?? -1, stderr });
    });
  });
}

function byMessage(hits: SearchHit[], message: string): SearchHit {
  const hit = hits.find((candidate) => field(candidate, 'message') === message);
  if (hit === undefined) throw new Error(`no document with message "${message}"`);
  return hit;
}

describe('pino transport', () => {
  it('turns the log lines of an agent process into activity and error documents in Elasticsearch', async () => {
    const isolation = isolate('pino');

    const agent = await runAgent(isolation.env);
    expect(agent.stderr).not.toContain('undelivered');
    expect(agent.exitCode).toBe(0);
    const run = await runPanacea(['run', '--until-idle'], isolation.env);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('sink-elasticsearch: 4 records, 0 dead-lettered');

    const hits = await searchAll(isolation);
    expect(hits).toHaveLength(4);
    for (const hit of hits) {
      expect(field(hit, 'gen_ai.agent.id')).toBe('pino-agent');
      expect(field(hit, 'gen_ai.agent.name')).toBe('Pino agent');
      expect(field(hit, 'panacea.workflow.id')).toBe('wf-pino');
    }

    const info = byMessage(hits, 'tool call finished succeeded');
    expect(info._index).toContain(`logs-agent.activity-${isolation.namespace}`);
    expect(field(info, 'event.outcome')).toBe('success');
    expect(field(info, 'panacea.activity.attributes')).toMatchObject({
      'log.level': 'info',
      component: 'planner',
      tool: 'search',
      'request.id': 'r-1',
      'request.attempt': 2,
      hostname: expect.any(String),
      pid: expect.any(Number),
    });

    const warn = byMessage(hits, 'model.call succeeded in 1234.5 ms');
    expect(field(warn, 'event.duration')).toBe(1_234_500_000);
    expect(field(warn, 'panacea.activity.attributes')).toMatchObject({
      'log.level': 'warn',
      'log.message': 'slow model call',
      model: 'small',
    });

    const error = byMessage(hits, 'search took longer than 30 s');
    expect(error._index).toContain(`logs-agent.error-${isolation.namespace}`);
    expect(field(error, 'error.type')).toBe('ToolTimeout');
    expect(field(error, 'log.level')).toBe('error');
    expect(field(error, 'error.stack_trace')).toMatch(
      /^Error: search took longer than 30 s\n\s+at .*agent-logging-with-pino\.mjs/,
    );
    expect(field(error, 'panacea.error.attributes')).toMatchObject({
      'log.level': 'error',
      'log.message': 'search failed',
      'err.code': 'ETIMEDOUT',
      tool: 'search',
      component: 'planner',
    });

    const fatal = byMessage(hits, 'out of memory');
    expect(field(fatal, 'error.type')).toBe('RangeError');
    expect(field(fatal, 'log.level')).toBe('critical');
    expect(field(fatal, 'error.stack_trace')).toContain('RangeError: out of memory');

    // Searchable by the mapped fields, not only stored.
    const critical = await searchAll(isolation, 'error', { term: { 'log.level': 'critical' } });
    expect(critical.map((hit) => hit._id)).toEqual([fatal._id]);
  });
});
