/**
 * A pino transport that publishes every log line as a Panacea event:
 *
 *   const transport = pino.transport({
 *     target: 'panacea/pino',
 *     options: { brokers: '127.0.0.1:9092', agent: { id: 'triage-bot-1' } },
 *   });
 *   const logger = pino(transport);
 *
 * pino runs it in a worker thread; the options are any of the agent publisher's that survive
 * being copied to a worker (everything but `onDrop`, `logger` and `encoder`). The mapping:
 *
 * | pino line                                 | event                                         |
 * | ----------------------------------------- | --------------------------------------------- |
 * | level ≥ 50 (error, fatal)                 | error event; fatal → severity `critical`,     |
 * |                                           | error → `error`                               |
 * | `err.type` (else `err.name`)              | error.type; `log.<level>` without an err      |
 * | `err.message` (else `msg`)                | error.message                                 |
 * | `err.stack`                               | error.stack                                   |
 * | `err`'s other fields (code, errno, …)     | error.attributes `err.code`, …                |
 * | level < 50 (trace … warn)                 | activity event, status `succeeded`            |
 * | `action` field, else `msg`, else          | activity.action                               |
 * | `log.<level>`                             |                                               |
 * | `durationMs` field (a number ≥ 0)         | activity.durationMs                           |
 * | `time` (epoch ms, epoch s or RFC 3339)    | timestamp                                     |
 * | `workflowId`, `taskId`, `traceId` or      | the envelope's correlation ids                |
 * | `trace_id`, `spanId` or `span_id`         |                                               |
 * | the level's label                         | attribute `log.level`                         |
 * | `msg` when not the action or the message  | attribute `log.message`                       |
 * | every other field and binding (`pid`,     | attributes: nested objects as dotted keys,    |
 * | `hostname`, `req.method`, …)              | arrays and deep objects as JSON text, null    |
 * |                                           | left out, all cut to the contract's limits    |
 *
 * Custom `messageKey` and `errorKey` of the logger are honoured (pino sends them to the
 * transport). Each line gets a random event id. A line the contract still refuses, and lines
 * refused while the buffer is full, are counted and logged by the publisher, never thrown.
 *
 * `logger.flush(cb)` waits until Kafka has every line written so far. When the logger's stream
 * ends (pino ends it when the process exits), the transport closes the publisher: it delivers
 * what is buffered for up to `closeTimeoutMs` (default here 8 000 ms, because pino's worker
 * stream gives its worker 10 s to finish) and reports what it could not deliver on stderr.
 */
import build from 'pino-abstract-transport';

import { PanaceaError } from '../../core/errors.js';
import { componentLogger, LOG_LEVELS } from '../../core/logger.js';
import { createAgentPublisher } from './agent-publisher.js';
import { eventFromLogLine, PINO_DEFAULT_FORMAT, type LogLineFormat } from './log-line.js';
import type { AgentPublisherOptions } from './options.js';
import type { AgentPublisher } from './types.js';

export type PinoTransportOptions = Omit<AgentPublisherOptions, 'onDrop' | 'logger' | 'encoder'> & {
  /**
   * The level of the transport's own lines on the agent's stderr (connects, retries, refusals).
   * Default `warn`: an agent that logs through pino sees the transport only when something is wrong.
   */
  logLevel?: string;
};

/** Under the 10 s that pino's worker stream waits for a transport to finish at exit. */
export const TRANSPORT_CLOSE_TIMEOUT_MS = 8_000;

export default async function panaceaPinoTransport(options: PinoTransportOptions) {
  // pino adds keys of its own to a transport's options (`$context`, `pinoWillSendConfig`); they
  // are pino's, not the publisher's.
  const {
    logLevel = 'warn',
    $context: _context,
    pinoWillSendConfig: _pinoWillSendConfig,
    ...publisherOptions
  } = options as PinoTransportOptions & { $context?: unknown; pinoWillSendConfig?: unknown };
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new PanaceaError(
      'CONFIG_INVALID',
      `pino transport option logLevel: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`,
      { field: 'logLevel' },
    );
  }
  const publisher = createAgentPublisher({
    closeTimeoutMs: TRANSPORT_CLOSE_TIMEOUT_MS,
    ...publisherOptions,
    logger: componentLogger('pino-transport').child({}, { level: logLevel }),
  });

  const stream = await build(
    async (source) => {
      const format = formatOf(source);
      for await (const line of source as AsyncIterable<unknown>) {
        if (typeof line !== 'object' || line === null) continue;
        publishLine(publisher, line as Record<string, unknown>, format);
      }
    },
    {
      expectPinoConfig: true,
      close: async () => {
        await publisher.close();
      },
    },
  );

  // thread-stream calls the destination's `flush` for `logger.flush()`.
  return Object.assign(stream, {
    flush: async (): Promise<void> => {
      await publisher.flush();
    },
  });
}

/** Publishes one line without waiting: failures are counted and logged by the publisher. */
function publishLine(
  publisher: AgentPublisher,
  line: Record<string, unknown>,
  format: LogLineFormat,
): void {
  const mapped = eventFromLogLine(line, format);
  if (mapped.kind === 'error') void publisher.error(mapped.body, mapped.context);
  else void publisher.activity(mapped.body, mapped.context);
}

/** The logger's message and error keys and level labels, as pino sent them to the transport. */
function formatOf(source: object): LogLineFormat {
  const sent = source as {
    messageKey?: unknown;
    errorKey?: unknown;
    levels?: { labels?: Record<number, string> };
  };
  return {
    messageKey:
      typeof sent.messageKey === 'string' ? sent.messageKey : PINO_DEFAULT_FORMAT.messageKey,
    errorKey: typeof sent.errorKey === 'string' ? sent.errorKey : PINO_DEFAULT_FORMAT.errorKey,
    levelLabels: sent.levels?.labels ?? PINO_DEFAULT_FORMAT.levelLabels,
  };
}
