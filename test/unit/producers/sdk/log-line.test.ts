import { describe, expect, it } from 'vitest';

import {
  DROPPED_ATTRIBUTES_KEY,
  eventFromLogLine,
  flattenAttributes,
  type MappedLogLine,
} from '../../../../producers/sdk/log-line.js';
import { validateEvent } from '../../../../schemas/contract.js';
import { CONTRACT_LIMITS } from '../../../../schemas/contract.js';

const TIME_MS = Date.UTC(2026, 11, 4, 12, 0, 0, 5);
const BASE = { time: TIME_MS, pid: 4242, hostname: 'agent-host' };

/** The event the mapped line makes once the publisher adds its agent, checked by the contract. */
function contractEvent(mapped: MappedLogLine) {
  const { timestamp, ...correlation } = mapped.context;
  const result = validateEvent({
    kind: mapped.kind,
    ...correlation,
    timestamp,
    agent: { id: 'agent-1' },
    [mapped.kind]: mapped.body,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.event;
}

describe('pino log line mapping', () => {
  it('makes an info line an activity: msg as action, status succeeded, fields as attributes', () => {
    const mapped = eventFromLogLine({
      ...BASE,
      level: 30,
      msg: 'tool call finished',
      tool: 'search',
      tokens: 812,
      cached: false,
    });

    expect(mapped).toEqual({
      kind: 'activity',
      body: {
        action: 'tool call finished',
        status: 'succeeded',
        attributes: {
          'log.level': 'info',
          pid: 4242,
          hostname: 'agent-host',
          tool: 'search',
          tokens: 812,
          cached: false,
        },
      },
      context: { timestamp: TIME_MS },
    });
    expect(contractEvent(mapped).timestamp).toBe(TIME_MS);
  });

  it('takes an action field before msg, keeps msg as an attribute, and a durationMs field', () => {
    const mapped = eventFromLogLine({
      ...BASE,
      level: 40,
      msg: 'slow search',
      action: 'tool.search',
      durationMs: 1234.5,
    });

    expect(mapped.kind).toBe('activity');
    expect(mapped.body).toMatchObject({
      action: 'tool.search',
      status: 'succeeded',
      durationMs: 1234.5,
      attributes: { 'log.level': 'warn', 'log.message': 'slow search' },
    });
    contractEvent(mapped);
  });

  it('makes an error line with err an error event with type, message, stack and severity error', () => {
    const mapped = eventFromLogLine({
      ...BASE,
      level: 50,
      msg: 'search failed',
      err: {
        type: 'ToolTimeout',
        message: 'no answer in 30 s',
        stack: 'ToolTimeout: no answer in 30 s\n    at search (agent.js:1:1)',
        code: 'ETIMEDOUT',
      },
      requestId: 'r-1',
    });

    expect(mapped).toEqual({
      kind: 'error',
      body: {
        type: 'ToolTimeout',
        message: 'no answer in 30 s',
        stack: 'ToolTimeout: no answer in 30 s\n    at search (agent.js:1:1)',
        severity: 'error',
        attributes: {
          'log.level': 'error',
          'log.message': 'search failed',
          'err.code': 'ETIMEDOUT',
          pid: 4242,
          hostname: 'agent-host',
          requestId: 'r-1',
        },
      },
      context: { timestamp: TIME_MS },
    });
    contractEvent(mapped);
  });

  it('makes fatal critical, and an error line without err a log.<level> error with msg as message', () => {
    const fatal = eventFromLogLine({ ...BASE, level: 60, msg: 'out of memory' });

    expect(fatal.body).toMatchObject({
      type: 'log.fatal',
      message: 'out of memory',
      severity: 'critical',
    });
    expect(fatal.body).not.toHaveProperty('stack');
    contractEvent(fatal);
  });

  it('flattens nested bindings into dotted keys and writes arrays as JSON, leaving null out', () => {
    const attributes = flattenAttributes({
      req: { method: 'POST', url: '/run', headers: { 'x-id': 'abc' } },
      tags: ['a', 'b'],
      nothing: null,
      deep: { a: { b: { c: { d: 1 } } } },
    });

    expect(attributes).toEqual({
      'req.method': 'POST',
      'req.url': '/run',
      'req.headers.x-id': 'abc',
      tags: '["a","b"]',
      'deep.a.b.c': '{"d":1}',
    });
  });

  it('cuts long values and many keys to the contract limits and counts what it left out', () => {
    const many = Object.fromEntries(
      Array.from({ length: 300 }, (_, index) => [`k${index}`, index]),
    );
    const long = 'x'.repeat(CONTRACT_LIMITS.attributeValueChars + 500);

    const attributes = flattenAttributes({ long, ...many });

    expect(Object.keys(attributes)).toHaveLength(CONTRACT_LIMITS.attributeCount);
    expect((attributes.long as string).length).toBe(CONTRACT_LIMITS.attributeValueChars);
    expect((attributes.long as string).endsWith('…')).toBe(true);
    expect(attributes[DROPPED_ATTRIBUTES_KEY]).toBe(300 - (CONTRACT_LIMITS.attributeCount - 2));
    const mapped = eventFromLogLine({ ...BASE, level: 30, msg: 'm', long, ...many });
    contractEvent(mapped);
  });

  it('keeps a line of oversized text within the contract: every field cut, the event accepted', () => {
    const huge = '語'.repeat(200_000);
    const mapped = eventFromLogLine({
      ...BASE,
      level: 50,
      msg: huge,
      err: { type: huge, message: huge, stack: huge },
      a: huge,
      b: huge,
      c: huge,
    });

    const event = contractEvent(mapped);
    expect(Buffer.byteLength(JSON.stringify(event))).toBeLessThanOrEqual(
      CONTRACT_LIMITS.eventBytes,
    );
  });

  it('moves correlation ids to the envelope, OpenTelemetry spelling included', () => {
    const mapped = eventFromLogLine({
      ...BASE,
      level: 30,
      msg: 'step',
      workflowId: 'wf-1',
      taskId: 'task-1',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      span_id: '00f067aa0ba902b7',
    });

    expect(mapped.context).toEqual({
      timestamp: TIME_MS,
      workflowId: 'wf-1',
      taskId: 'task-1',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
    });
    expect(mapped.body).not.toHaveProperty('attributes.trace_id');
  });

  it('reads time as epoch milliseconds, epoch seconds or RFC 3339 text', () => {
    const seconds = eventFromLogLine({ level: 30, msg: 'm', time: 1_796_400_000 });
    const text = eventFromLogLine({ level: 30, msg: 'm', time: '2026-12-04T12:00:00.005Z' });

    expect(contractEvent(seconds).timestamp).toBe(1_796_400_000_000);
    expect(contractEvent(text).timestamp).toBe(TIME_MS);
  });

  it('honours a custom message key, error key and level labels', () => {
    const mapped = eventFromLogLine(
      { level: 55, time: TIME_MS, message: 'boom', error: { type: 'E', message: 'bad' } },
      { messageKey: 'message', errorKey: 'error', levelLabels: { 55: 'alarm' } },
    );

    expect(mapped.body).toMatchObject({
      type: 'E',
      message: 'bad',
      severity: 'error',
      attributes: { 'log.level': 'alarm', 'log.message': 'boom' },
    });
  });

  it('turns keys the contract refuses into keys it accepts, and text with lone surrogates into valid text', () => {
    const line = JSON.parse('{"level":30,"msg":"a\\ud800b","__proto__":"x","tab\\tkey":"\\udc00"}');

    const mapped = eventFromLogLine(line as Record<string, unknown>);

    expect(mapped.body).toMatchObject({
      action: 'a\uFFFDb',
      attributes: { _proto_: 'x', tab_key: '\uFFFD' },
    });
    contractEvent({ ...mapped, context: { timestamp: TIME_MS } });
  });

  it('keeps a line whose own time field is no time: read now, the value kept as an attribute', () => {
    for (const time of ['yesterday', 5.5, -3, { at: 1 }]) {
      const mapped = eventFromLogLine({ level: 30, msg: 'tick', time });

      expect(mapped.context.timestamp).toBeUndefined();
      expect(
        contractEvent({ ...mapped, context: { ...mapped.context, timestamp: TIME_MS } }),
      ).toBeTruthy();
      expect(JSON.stringify(mapped.body)).toContain('log.time');
    }
  });

  it('does not let a field of the line replace the level the mapping records', () => {
    const mapped = eventFromLogLine({ ...BASE, level: 40, msg: 'slow', log: { level: 'fake' } });

    const attributes = (mapped.body as { attributes: Record<string, unknown> }).attributes;
    expect(attributes['log.level']).toBe('warn');
    expect(attributes['field.log.level']).toBe('fake');
  });
});
