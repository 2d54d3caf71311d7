/**
 * Pins what the SWE-agent importer makes of the two real trajectories in ../shared/datasets, how
 * it lays out time from the anchor, how it names failures, and how it refuses (or, with
 * `partial`, trims) bad input.
 */
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import {
  requireDataset,
  SWE_AGENT_MARSHMALLOW_FILE,
  SWE_AGENT_PYDICOM_FILE,
} from '../../../../producers/importers/shipped-datasets.js';
import {
  importSweAgentTrajectory,
  type SweAgentImportOptions,
} from '../../../../producers/importers/swe-agent.js';
import { validateEvent } from '../../../../schemas/contract.js';
import type { ActivityEvent, AgentEvent, ErrorEvent } from '../../../../schemas/event.js';
import { thrownPanaceaError } from '../../fixtures/panacea-error.js';

const MARSHMALLOW_PATH = requireDataset(SWE_AGENT_MARSHMALLOW_FILE);
const MARSHMALLOW_CONTENT = readFileSync(MARSHMALLOW_PATH, 'utf8');
const MARSHMALLOW_RUN_ID = '446e76ce113e';
const PYDICOM_PATH = requireDataset(SWE_AGENT_PYDICOM_FILE);
const PYDICOM_CONTENT = readFileSync(PYDICOM_PATH, 'utf8');
const PYDICOM_RUN_ID = 'f081b131803e';
const START = new Date('2025-01-20T20:30:00Z');
const START_MS = START.getTime();

function importMarshmallow(options: Partial<SweAgentImportOptions> = {}) {
  return importSweAgentTrajectory(MARSHMALLOW_CONTENT, {
    sourceName: MARSHMALLOW_PATH,
    start: START,
    ...options,
  });
}

function importPydicom(options: Partial<SweAgentImportOptions> = {}) {
  return importSweAgentTrajectory(PYDICOM_CONTENT, {
    sourceName: PYDICOM_PATH,
    start: START,
    ...options,
  });
}

function importText(content: string, options: Partial<SweAgentImportOptions> = {}) {
  return importSweAgentTrajectory(content, { sourceName: 'test.traj', start: START, ...options });
}

function ofKind<K extends AgentEvent['kind']>(events: AgentEvent[], kind: K) {
  return events.filter((event): event is Extract<AgentEvent, { kind: K }> => event.kind === kind);
}

function failedActivities(events: AgentEvent[]): ActivityEvent[] {
  return ofKind(events, 'activity').filter((event) => event.activity.status === 'failed');
}

function stepActivity(events: AgentEvent[], index: number): ActivityEvent {
  const event = events.find((candidate) => candidate.eventId.endsWith(`:step:${index}`));
  if (event?.kind !== 'activity') throw new Error(`no activity for step ${index}`);
  return event;
}

function runEnd(events: AgentEvent[]): ActivityEvent | undefined {
  const event = events.find((candidate) => candidate.eventId.endsWith(':run:ended'));
  return event?.kind === 'activity' ? event : undefined;
}

/** A .traj text with the given steps and info, pretty-printed as SWE-agent writes it. */
function trajectoryText(steps: unknown[], info: unknown = { exit_status: 'submitted' }): string {
  return JSON.stringify({ environment: 'main', trajectory: steps, info }, null, 2);
}

function step(action: string, observation = '', extra: Record<string, unknown> = {}) {
  return { action, observation, ...extra };
}

/** The shipped marshmallow file, parsed, changed by `edit`, and pretty-printed again. */
function editedMarshmallow(edit: (document: Record<string, unknown>) => void): string {
  const document = JSON.parse(MARSHMALLOW_CONTENT) as Record<string, unknown>;
  edit(document);
  return JSON.stringify(document, null, 2);
}

function stepsOf(document: Record<string, unknown>): Array<Record<string, unknown>> {
  return document.trajectory as Array<Record<string, unknown>>;
}

describe('swe-agent importer on the shipped marshmallow run (durations, one rejected edit)', () => {
  it('yields 13 activities (11 steps and the run twice) and 1 error, nothing else', () => {
    const { events, runId, importedStepCount, skipped } = importMarshmallow();

    expect(runId).toBe(MARSHMALLOW_RUN_ID);
    expect(importedStepCount).toBe(11);
    expect(skipped).toEqual([]);
    expect(events).toHaveLength(14);
    expect(ofKind(events, 'activity')).toHaveLength(13);
    expect(ofKind(events, 'error')).toHaveLength(1);
    expect(ofKind(events, 'audit')).toHaveLength(0);
    expect(ofKind(events, 'heartbeat')).toHaveLength(0);
  });

  it('names each step after its command, in order', () => {
    const steps = ofKind(importMarshmallow().events, 'activity').filter(
      (event) => event.activity.action !== 'swe.run',
    );

    expect(steps.map((event) => event.activity.action)).toEqual([
      'swe.create',
      'swe.insert',
      'swe.python',
      'swe.ls',
      'swe.find_file',
      'swe.open',
      'swe.edit',
      'swe.edit',
      'swe.python',
      'swe.rm',
      'swe.submit',
    ]);
  });

  it('turns the edit rejected for an IndentationError into a failed step and its error', () => {
    const { events } = importMarshmallow();
    const [failed, ...others] = failedActivities(events);
    const [error] = ofKind(events, 'error') as ErrorEvent[];

    expect(others).toEqual([]);
    expect(failed?.eventId).toBe(`swe-agent:${MARSHMALLOW_RUN_ID}:step:6`);
    expect(failed?.activity).toMatchObject({ action: 'swe.edit', durationMs: 685.382 });
    expect(error).toMatchObject({
      eventId: `swe-agent:${MARSHMALLOW_RUN_ID}:step:6:error`,
      taskId: `swe-agent-${MARSHMALLOW_RUN_ID}-step-6`,
      error: {
        type: 'swe-agent.EditRejected',
        message:
          'edit rejected for syntax errors, the file is unchanged: ' +
          'E999 IndentationError: unexpected indent',
        severity: 'error',
        retryable: false,
      },
    });
    expect(error?.taskId).toBe(failed?.taskId);
  });

  it('takes durations from execution_time, in milliseconds to the microsecond', () => {
    const { events } = importMarshmallow();

    expect(stepActivity(events, 0).activity.durationMs).toBe(238.734);
    expect(stepActivity(events, 1).activity.durationMs).toBe(434.605);
    expect(stepActivity(events, 10).activity.durationMs).toBe(222.452);
  });

  it('lays the steps out from the anchor: 1 ms gap, then each step for its execution time', () => {
    const { events } = importMarshmallow();

    expect(events[0]?.timestamp).toBe(START_MS);
    // Step 0 starts 1 ms after the run and lasts 238.734 ms; step 1 starts 1 ms after that.
    expect(stepActivity(events, 0).timestamp).toBe(START_MS + 1);
    expect(stepActivity(events, 1).timestamp).toBe(START_MS + 240);
    // The rejected edit's error is at the end of its step, the next step 1 ms later.
    expect(events.find((event) => event.kind === 'error')?.timestamp).toBe(START_MS + 2372);
    expect(stepActivity(events, 7).timestamp).toBe(START_MS + 2373);
    // 12 gaps of 1 ms and 3999.127 ms of commands.
    expect(runEnd(events)?.timestamp).toBe(START_MS + 4011);
    const timestamps = events.map((event) => event.timestamp);
    expect(timestamps).toEqual([...timestamps].sort((left, right) => left - right));
  });

  it('carries the run identity on both run events and the outcome on the end', () => {
    const { events } = importMarshmallow();
    const [started] = events as ActivityEvent[];

    expect(started?.activity).toEqual({
      action: 'swe.run',
      status: 'started',
      attributes: {
        'swe.instance_id': 'marshmallow-code__marshmallow-1867',
        'llm.model': 'gpt-4o',
        'swe.environment': 'main',
      },
    });
    expect(runEnd(events)?.activity).toEqual({
      action: 'swe.run',
      status: 'succeeded',
      attributes: {
        'swe.instance_id': 'marshmallow-code__marshmallow-1867',
        'llm.model': 'gpt-4o',
        'swe.environment': 'main',
        'swe.exit_status': 'submitted',
        'swe.submission_bytes': 587,
        'llm.cost_usd': 0,
        'llm.usage.prompt_tokens': 0,
        'llm.usage.completion_tokens': 0,
        'llm.api_calls': 11,
        'swe.steps': 11,
        'swe.command_time_ms': 3999.127,
      },
    });
  });

  it('records the command, the step index, the observation size and the state of a step', () => {
    const activity = stepActivity(importMarshmallow().events, 5);

    expect(activity.taskId).toBe(`swe-agent-${MARSHMALLOW_RUN_ID}-step-5`);
    expect(activity.workflowId).toBe(`swe-agent-run-${MARSHMALLOW_RUN_ID}`);
    expect(activity.activity.attributes).toEqual({
      'swe.step': 5,
      'shell.command': 'open "src/marshmallow/fields.py" 1474',
      'swe.observation_bytes': 4137,
      'swe.open_file': '/testbed/src/marshmallow/fields.py',
      'swe.working_dir': '/testbed',
    });
  });
});

describe('swe-agent importer on the shipped pydicom run (no durations, a traceback, costs)', () => {
  it('yields 14 activities and 4 errors: 1 AttributeError and 3 rejected edits', () => {
    const { events, runId } = importPydicom();
    const errors = ofKind(events, 'error');

    expect(runId).toBe(PYDICOM_RUN_ID);
    expect(events).toHaveLength(18);
    expect(ofKind(events, 'activity')).toHaveLength(14);
    expect(errors.map((event) => event.error.type)).toEqual([
      'AttributeError',
      'swe-agent.EditRejected',
      'swe-agent.EditRejected',
      'swe-agent.EditRejected',
    ]);
    expect(failedActivities(events).map((event) => event.eventId)).toEqual(
      [2, 5, 6, 7].map((index) => `swe-agent:${PYDICOM_RUN_ID}:step:${index}`),
    );
  });

  it('reports the traceback with the exception class, its message and the whole trace', () => {
    const { events } = importPydicom();
    const [error] = ofKind(events, 'error');

    expect(stepActivity(events, 2).activity).toMatchObject({
      action: 'swe.python',
      status: 'failed',
    });
    expect(error?.taskId).toBe(`swe-agent-${PYDICOM_RUN_ID}-step-2`);
    expect(error?.error.message).toBe(
      'Unable to convert the pixel data as the following required elements are missing from ' +
        'the dataset: PixelRepresentation',
    );
    expect(error?.error.stack).toMatch(/^Traceback \(most recent call last\):\n {2}File "/);
    expect(error?.error.stack).toContain('numpy_handler.py", line 293, in get_pixeldata');
    expect(error?.error.stack).toMatch(/\nAttributeError: Unable to convert the pixel data .*$/);
  });

  it('quotes the linter finding of each rejected edit', () => {
    const messages = ofKind(importPydicom().events, 'error')
      .slice(1)
      .map((event) => event.error.message);

    expect(messages).toEqual([
      "edit rejected for syntax errors, the file is unchanged: E999 SyntaxError: unmatched ']'",
      "edit rejected for syntax errors, the file is unchanged: E999 SyntaxError: unmatched ')'",
      "edit rejected for syntax errors, the file is unchanged: E999 SyntaxError: unmatched ')'",
    ]);
  });

  it('gives steps without execution_time no duration and spaces them 1 ms apart', () => {
    const { events } = importPydicom();
    const activities = ofKind(events, 'activity');

    expect(activities.every((event) => event.activity.durationMs === undefined)).toBe(true);
    expect(activities.map((event) => event.timestamp - START_MS)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
    ]);
    expect(runEnd(events)?.activity.attributes).not.toHaveProperty('swe.command_time_ms');
  });

  it('carries cost, tokens and API calls from model_stats on the run end', () => {
    expect(runEnd(importPydicom().events)?.activity).toEqual({
      action: 'swe.run',
      status: 'succeeded',
      attributes: {
        'swe.environment': 'swe_main',
        'swe.exit_status': 'submitted',
        'swe.submission_bytes': 803,
        'llm.cost_usd': 1.26719,
        'llm.usage.prompt_tokens': 122612,
        'llm.usage.completion_tokens': 1369,
        'llm.api_calls': 12,
        'swe.steps': 12,
      },
    });
  });

  it('reads a state written as JSON text, leaving out the "n/a" of no open file', () => {
    const { events } = importPydicom();

    expect(stepActivity(events, 0).activity.attributes).toEqual({
      'swe.step': 0,
      'shell.command': 'create reproduce_bug.py',
      'swe.observation_bytes': 62,
      'swe.working_dir': '/pydicom__pydicom',
    });
    expect(stepActivity(events, 9).activity.attributes?.['swe.open_file']).toBe(
      '/pydicom__pydicom/pydicom/pixel_data_handlers/numpy_handler.py',
    );
  });
});

describe('swe-agent importer identity and contract', () => {
  it('gives the same unique ids when the same file is imported twice', () => {
    for (const importShipped of [importMarshmallow, importPydicom]) {
      const firstIds = importShipped().events.map((event) => event.eventId);
      const secondIds = importShipped().events.map((event) => event.eventId);

      expect(secondIds).toEqual(firstIds);
      expect(new Set(firstIds).size).toBe(firstIds.length);
    }
  });

  it('moves every timestamp with the anchor and keeps the ids', () => {
    const first = importMarshmallow().events;
    const later = importMarshmallow({ start: new Date(START_MS + 3_600_000) }).events;

    expect(later.map((event) => event.timestamp)).toEqual(
      first.map((event) => event.timestamp + 3_600_000),
    );
    expect(later.map((event) => event.eventId)).toEqual(first.map((event) => event.eventId));
  });

  it("uses agent id 'swe-agent' by default and the one it is given otherwise", () => {
    const shipped = importMarshmallow().events;
    const named = importMarshmallow({ agentId: 'marshmallow-fixer' }).events;

    for (const event of shipped) {
      expect(event.agent).toEqual({ id: 'swe-agent', name: 'SWE-agent', type: 'swe-agent' });
    }
    expect(named.every((event) => event.agent.id === 'marshmallow-fixer')).toBe(true);
  });

  it('returns only events that pass the event contract unchanged', () => {
    for (const event of [...importMarshmallow().events, ...importPydicom().events]) {
      expect(validateEvent(event)).toEqual({ ok: true, event });
    }
  });

  it('takes agent.version from info.swe_agent_version', () => {
    const content = trajectoryText([step('ls')], {
      exit_status: 'submitted',
      swe_agent_version: '1.1.0',
    });

    expect(importText(content).events[0]?.agent.version).toBe('1.1.0');
  });
});

describe('swe-agent importer run outcomes', () => {
  it('fails a run that exited for a reason, naming it in an error', () => {
    const { events } = importText(trajectoryText([step('ls')], { exit_status: 'exit_cost' }));
    const error = events.at(-1) as ErrorEvent;

    expect(runEnd(events)?.activity.status).toBe('failed');
    expect(error).toMatchObject({
      eventId: expect.stringMatching(/:run:error$/),
      timestamp: runEnd(events)?.timestamp,
      error: {
        type: 'swe-agent.RunFailed',
        message: 'SWE-agent run ended with exit status "exit_cost" (the cost limit was reached)',
      },
    });
  });

  it('fails an autosubmitted run and marks it, though a patch was saved', () => {
    const { events } = importText(
      trajectoryText([step('ls')], {
        exit_status: 'submitted (exit_context)',
        submission: 'diff --git a/x b/x\n',
      }),
    );

    expect(runEnd(events)?.activity).toMatchObject({
      status: 'failed',
      attributes: {
        'swe.exit_status': 'submitted (exit_context)',
        'swe.autosubmitted': true,
        'swe.submission_bytes': 19,
      },
    });
    expect((events.at(-1) as ErrorEvent).error.message).toBe(
      'SWE-agent stopped the run with exit status "exit_context" (the model\'s context window ' +
        'was exceeded) and submitted its changes so far',
    );
  });

  it('leaves a run without exit status (still running when saved) started, with no end', () => {
    for (const info of [{ exit_status: null }, {}, null]) {
      const { events } = importText(trajectoryText([step('ls')], info));

      expect(events.map((event) => event.eventId.split(':').slice(2).join(':'))).toEqual([
        'run:started',
        'step:0',
      ]);
    }
  });

  it('reads replay_config written as JSON text, as SWE-agent 1.x does', () => {
    const content = JSON.stringify({
      trajectory: [step('ls')],
      info: { exit_status: 'submitted' },
      replay_config: JSON.stringify({
        problem_statement: { id: 'django__django-11099' },
        agent: { model: { name: 'claude-3-5-sonnet' } },
      }),
    });

    expect((importText(content).events[0] as ActivityEvent).activity.attributes).toEqual({
      'swe.instance_id': 'django__django-11099',
      'llm.model': 'claude-3-5-sonnet',
    });
  });
});

describe('swe-agent importer step failures and names', () => {
  it('derives the action from the first word, past assignments and directories', () => {
    const { events } = importText(
      trajectoryText([
        step('FOO=1 /usr/bin/python3 -m pytest'),
        step('  str_replace_editor view /testbed/setup.py\n'),
        step('cd /testbed && ls'),
        step('echo "$(date)"'),
      ]),
    );

    expect([0, 1, 2, 3].map((index) => stepActivity(events, index).activity.action)).toEqual([
      'swe.python3',
      'swe.str_replace_editor',
      'swe.cd',
      'swe.echo',
    ]);
    expect(stepActivity(events, 1).activity.attributes?.['shell.command']).toBe(
      'str_replace_editor view /testbed/setup.py',
    );
  });

  it('fails a step whose command timed out', () => {
    const observation =
      "The command 'sleep 100' was cancelled because it took more than 30 seconds. Please try " +
      'a different command that completes more quickly.';
    const { events } = importText(trajectoryText([step('sleep 100', observation)]));

    expect(stepActivity(events, 0).activity.status).toBe('failed');
    expect(ofKind(events, 'error')[0]?.error).toMatchObject({
      type: 'swe-agent.CommandTimeout',
      message: observation,
    });
  });

  it('fails a str_replace_editor replacement that was not performed', () => {
    const observation =
      'No replacement was performed, old_str `x = 1` did not appear verbatim in /a.py.';
    const { events } = importText(
      trajectoryText([step('str_replace_editor str_replace /a.py', observation)]),
    );

    expect(ofKind(events, 'error')[0]?.error).toMatchObject({
      type: 'swe-agent.EditRejected',
      message: `edit not applied: ${observation}`,
    });
  });

  it('fails a step with no command, as a format error leaves it', () => {
    const { events } = importText(trajectoryText([step('', '', { thought: 'no code block' })]));

    expect(stepActivity(events, 0).activity).toMatchObject({
      action: 'swe.no_command',
      status: 'failed',
    });
    expect(ofKind(events, 'error')[0]?.error.type).toBe('swe-agent.NoCommand');
  });

  it('keeps chained tracebacks in the stack and takes the class of the last exception', () => {
    const observation = [
      'collecting...',
      'Traceback (most recent call last):',
      '  File "a.py", line 1, in <module>',
      "    {}['x']",
      "KeyError: 'x'",
      '',
      'During handling of the above exception, another exception occurred:',
      '',
      'Traceback (most recent call last):',
      '  File "a.py", line 3, in <module>',
      '    raise errors.InvalidDicomError()',
      'pydicom.errors.InvalidDicomError',
      'after the trace',
    ].join('\r\n');
    const [error] = ofKind(
      importText(trajectoryText([step('python a.py', observation)])).events,
      'error',
    );

    expect(error?.error.type).toBe('pydicom.errors.InvalidDicomError');
    expect(error?.error.message).toBe('pydicom.errors.InvalidDicomError');
    expect(error?.error.stack?.split('\n')).toHaveLength(11);
    expect(error?.error.stack).toMatch(/^Traceback[^]*KeyError: 'x'[^]*InvalidDicomError$/);
  });

  it('does not read a file shown with line numbers as a traceback', () => {
    const observation =
      '[File: /t.py (3 lines total)]\n1:Traceback (most recent call last):\n2:ValueError: no';

    expect(
      ofKind(importText(trajectoryText([step('open /t.py', observation)])).events, 'error'),
    ).toEqual([]);
  });

  it('cuts a long command at 1024 characters and flags it', () => {
    const command = `echo ${'x'.repeat(5000)}`;
    const attributes = stepActivity(importText(trajectoryText([step(command)])).events, 0).activity
      .attributes;

    expect(attributes?.['shell.command']).toBe(command.slice(0, 1024));
    expect(attributes?.['shell.command_truncated']).toBe(true);
  });

  it('cuts a huge traceback from the start and keeps the exception, never refusing it', () => {
    const frames = Array.from(
      { length: 20_000 },
      (_, index) => `  File "f.py", line ${index}, in f\n    "é\\u0001"`,
    );
    const observation = [
      'Traceback (most recent call last):',
      ...frames,
      'RecursionError: too deep',
    ].join('\n');
    const { events } = importText(trajectoryText([step('python f.py', observation)]));
    const [error] = ofKind(events, 'error');

    expect(error?.error.stack).toMatch(/^\[cut \d+ characters\] … /);
    expect(error?.error.stack).toMatch(/RecursionError: too deep$/);
    expect(Buffer.byteLength(JSON.stringify(error?.error.stack))).toBeLessThanOrEqual(131_072);
  });

  it('replaces an unpaired surrogate in copied text so the event stays valid', () => {
    const { events } = importText(trajectoryText([step('echo \ud800 done')]));

    expect(stepActivity(events, 0).activity.attributes?.['shell.command']).toBe('echo \ufffd done');
  });
});

describe('swe-agent importer on bad input', () => {
  it('refuses to import without an anchor time, saying why it needs one', () => {
    const error = thrownPanaceaError(() =>
      importSweAgentTrajectory(MARSHMALLOW_CONTENT, { sourceName: 'x.traj' }),
    );

    expect(error.code).toBe('IMPORT_INVALID');
    expect(error.context.field).toBe('start');
    expect(error.message).toMatch(
      /^a start time is required: SWE-agent trajectories record no wall-clock time/,
    );
  });

  it('refuses an invalid Date as anchor', () => {
    const error = thrownPanaceaError(() => importText('{}', { start: new Date(Number.NaN) }));

    expect(error.message).toMatch(/^start must be a valid Date/);
  });

  it('names line and column of text that is not JSON', () => {
    const content =
      '{\n  "trajectory": [\n    {"action": "ls", "observation": ""},\n' +
      '    {"action": "ls" "observation": ""}\n  ]\n}';

    const error = thrownPanaceaError(() => importText(content, { sourceName: 'broken.traj' }));

    expect(error.code).toBe('IMPORT_INVALID');
    expect(error.message).toBe(
      `broken.traj: is not valid JSON at line 4 column 21: expected ',' or '}' after a property ` +
        `value, got '"'`,
    );
    expect(error.context).toMatchObject({ line: 4, column: 21, partialRecovers: true });
  });

  it('says a cut file looks cut short, with the line and column where it ends', () => {
    const cut = MARSHMALLOW_CONTENT.slice(0, MARSHMALLOW_CONTENT.indexOf('"action": "open') + 10);

    const error = thrownPanaceaError(() => importText(cut, { sourceName: 'cut.traj' }));

    expect(error.message).toBe(
      'cut.traj: is not valid JSON at line 60 column 23: unexpected end of input (expected a ' +
        'value); the file looks cut short',
    );
  });

  it('refuses a file without a trajectory, or with one that is not an array', () => {
    const missing = thrownPanaceaError(() => importText('{"info": {"exit_status": "submitted"}}'));
    const notArray = thrownPanaceaError(() => importText('{"trajectory": {"action": "ls"}}'));

    expect(missing.message).toBe(
      'test.traj: trajectory: is missing: a SWE-agent .traj file holds its steps in a ' +
        '"trajectory" array',
    );
    expect(notArray.message).toBe(
      'test.traj: trajectory: expected an array of steps, got an object',
    );
    expect(notArray.context.field).toBe('trajectory');
  });

  it('refuses JSON that is not an object', () => {
    const error = thrownPanaceaError(() => importText('[{"action": "ls"}]'));

    expect(error.message).toBe(
      'test.traj: expected a JSON object with "trajectory" and "info" (a SWE-agent .traj file), ' +
        'got an array',
    );
  });

  it('names the path, the reason and the line of a step with an ill-typed execution_time', () => {
    const content = editedMarshmallow((document) => {
      stepsOf(document)[3]!.execution_time = 'abc';
    });

    const error = thrownPanaceaError(() => importText(content, { sourceName: 'edited.traj' }));

    expect(error.code).toBe('IMPORT_INVALID');
    expect(error.message).toBe(
      'edited.traj: trajectory[3].execution_time: expected a number of seconds ≥ 0, got "abc" ' +
        '(the step starts at line 37 column 5)',
    );
    expect(error.context).toMatchObject({
      field: 'trajectory[3].execution_time',
      step: 3,
      line: 37,
      column: 5,
    });
  });

  it('names each ill-typed or missing field by its path', () => {
    const cases: Array<[(document: Record<string, unknown>) => void, RegExp]> = [
      [
        (document) => delete stepsOf(document)[2]!.action,
        /: trajectory\[2\]\.action: is missing: expected the command the step ran as a string \(/,
      ],
      [
        (document) => (stepsOf(document)[0]!.observation = 42),
        /: trajectory\[0\]\.observation: expected what the step saw as a string, got number 42 \(/,
      ],
      [
        (document) => (stepsOf(document)[1]!.execution_time = -1),
        /: trajectory\[1\]\.execution_time: expected a number of seconds ≥ 0, got number -1 \(/,
      ],
      [
        (document) => (stepsOf(document)[4]!.state = 'n/a'),
        /: trajectory\[4\]\.state: expected an object or JSON text of one, got "n\/a" \(/,
      ],
      [
        (document) => (stepsOf(document)[4]!.state = { open_file: 7 }),
        /: trajectory\[4\]\.state\.open_file: expected a string, got number 7 \(/,
      ],
      [
        (document) => ((document.trajectory as unknown[])[5] = 'ls'),
        /: trajectory\[5\]: expected a step object, got "ls" \(/,
      ],
      [
        (document) => ((document.info as Record<string, unknown>).exit_status = 0),
        /: info\.exit_status: expected a string or null, got number 0 \(info starts at line \d+ /,
      ],
      [
        (document) =>
          ((
            (document.info as Record<string, unknown>).model_stats as Record<string, unknown>
          ).tokens_sent = '12'),
        /: info\.model_stats\.tokens_sent: expected an integer ≥ 0, got "12" \(/,
      ],
      [
        (document) => (document.environment = 3),
        /: environment: expected a string, got number 3 \(/,
      ],
      [
        (document) => (document.replay_config = 'not json'),
        /: replay_config: expected JSON text of an object; the text is not one \(/,
      ],
    ];

    for (const [edit, expected] of cases) {
      const error = thrownPanaceaError(() => importText(editedMarshmallow(edit)));
      expect(error.code).toBe('IMPORT_INVALID');
      expect(error.message).toMatch(expected);
    }
  });
});

describe('swe-agent importer with partial', () => {
  it('imports the steps before the first bad one and reports the rest as skipped', () => {
    const content = editedMarshmallow((document) => {
      stepsOf(document)[3]!.execution_time = 'abc';
      stepsOf(document)[8]!.action = null;
    });

    const { events, importedStepCount, skipped } = importText(content, {
      sourceName: 'edited.traj',
      partial: true,
    });

    expect(importedStepCount).toBe(3);
    expect(skipped).toEqual([
      {
        part: 'trajectory[3..10]',
        stepCount: 8,
        reason:
          'edited.traj: trajectory[3].execution_time: expected a number of seconds ≥ 0, got ' +
          '"abc" (the step starts at line 37 column 5)',
      },
    ]);
    expect(
      ofKind(events, 'activity').map((event) => event.eventId.split(':').slice(2).join(':')),
    ).toEqual(['run:started', 'step:0', 'step:1', 'step:2', 'run:ended']);
    expect(runEnd(events)?.activity.attributes).toMatchObject({
      'swe.steps': 3,
      'swe.import_partial': true,
      'swe.steps_skipped': 8,
    });
  });

  it('keeps the complete steps of a cut file; its outcome, after the cut, is unknown', () => {
    const cut = MARSHMALLOW_CONTENT.slice(0, MARSHMALLOW_CONTENT.indexOf('"action": "open') + 10);

    const { events, importedStepCount, skipped } = importText(cut, {
      sourceName: 'cut.traj',
      partial: true,
    });

    expect(importedStepCount).toBe(5);
    expect(skipped).toEqual([
      {
        part: "trajectory[5] onwards, info (the run's outcome)",
        reason:
          'cut.traj: is not valid JSON at line 60 column 23: unexpected end of input (expected ' +
          'a value); the file looks cut short',
      },
    ]);
    expect(events).toHaveLength(6);
    expect(runEnd(events)).toBeUndefined();
    expect((events[0] as ActivityEvent).activity.attributes).toMatchObject({
      'swe.import_partial': true,
    });
    expect((events[0] as ActivityEvent).activity.attributes).not.toHaveProperty(
      'swe.steps_skipped',
    );
  });

  it('keeps the outcome of a file cut after its steps and info', () => {
    const document = {
      trajectory: [step('ls'), step('submit')],
      info: { exit_status: 'submitted' },
      history: [],
    };
    const text = JSON.stringify(document);
    const cut = text.slice(0, text.length - 3);

    const { events, skipped } = importText(cut, { partial: true });

    expect(runEnd(events)?.activity.status).toBe('succeeded');
    expect(skipped).toEqual([
      expect.objectContaining({
        part: `the rest of the file from line 1 column ${cut.length + 1}`,
        stepCount: 0,
      }),
    ]);
  });

  it('still refuses a file broken before any step', () => {
    const error = thrownPanaceaError(() =>
      importText('{"environment": "main", "traj', { partial: true }),
    );

    expect(error.message).toBe(
      'test.traj: is not valid JSON at line 1 column 30: unexpected end of input (inside a ' +
        'string); the file looks cut short; no trajectory step precedes it, so nothing can be ' +
        'imported',
    );
  });

  it('leaves out the run end for a bad info, and labels for a bad replay_config', () => {
    const content = editedMarshmallow((document) => {
      (document.info as Record<string, unknown>).model_stats = [];
      document.replay_config = 12;
    });

    const { events, skipped } = importText(content, { partial: true });

    expect(skipped.map((part) => part.part)).toEqual(['info', 'replay_config']);
    expect(skipped[0]?.reason).toMatch(/: info\.model_stats: expected an object, got an array \(/);
    expect(runEnd(events)).toBeUndefined();
    expect(ofKind(events, 'activity')).toHaveLength(12);
    expect((events[0] as ActivityEvent).activity.attributes).toEqual({
      'swe.import_partial': true,
    });
  });

  it('changes nothing for a valid file', () => {
    const partial = importMarshmallow({ partial: true });

    expect(partial.skipped).toEqual([]);
    expect(partial.events).toEqual(importMarshmallow().events);
  });
});

describe('swe-agent importer anchor time', () => {
  it('refuses a --start so late that the run would end past the last accepted instant, naming it', () => {
    const error = thrownPanaceaError(() =>
      importMarshmallow({ start: new Date('9999-12-31T23:59:59.000Z') }),
    );

    expect(error.code).toBe('IMPORT_INVALID');
    expect(error.context.field).toBe('start');
    expect(error.message).toContain('--start 9999-12-31T23:59:59.000Z');
    expect(error.message).toContain('give an earlier --start');
  });
});
