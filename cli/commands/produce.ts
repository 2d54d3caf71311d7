/**
 * `panacea produce --file FILE|-`: publishes NDJSON contract events. Each rejected line is named
 * on stderr with its number and reason; the valid lines are published anyway. Exit 0 when all were
 * published, 1 when some were rejected, 2 on a usage or connection error.
 */
import type { PanaceaConfig } from '../../core/config.js';
import { messageOf, PanaceaError, toPanaceaError } from '../../core/errors.js';
import { createNaming } from '../../core/naming.js';
import { assertReadable, parseJsonLine, readNumberedLines } from '../../producers/ndjson-lines.js';
import { describeProblems, validateEvent } from '../../schemas/contract.js';
import { EXIT_OK, EXIT_PARTIAL, parseCommandArgs, say } from '../command-line.js';
import type { EncodedEvent, EventPublisher } from '../../producers/event-publisher.js';
import { openPublisher } from '../publishing.js';

/** Events sent per Kafka request; large enough to amortise a round trip, small enough for memory. */
const PUBLISH_BATCH_SIZE = 500;

export async function produceCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const { values } = parseCommandArgs(args, { file: { type: 'string', short: 'f' } });
  const source = values.file;
  if (source === undefined)
    throw new PanaceaError('USAGE', '--file is required (a path, or - for standard input)');

  await assertReadable(source);
  const publisher = await openPublisher(config, createNaming(config));
  let published = 0;
  let rejected = 0;
  let batch: EncodedEvent[] = [];
  const flush = async (): Promise<void> => {
    try {
      await publisher.publishEncoded(batch);
    } catch (error) {
      throw new PanaceaError(
        'KAFKA_UNAVAILABLE',
        `publishing failed after ${published} events were published: ${messageOf(error)}`,
        {},
        error,
      );
    }
    published += batch.length;
    batch = [];
  };

  try {
    for await (const line of readNumberedLines(source)) {
      const problem = checkLine(line, publisher);
      if (typeof problem === 'string') {
        rejected += 1;
        process.stderr.write(`line ${line.lineNumber}: ${problem}\n`);
        continue;
      }
      batch.push(problem);
      if (batch.length >= PUBLISH_BATCH_SIZE) await flush();
    }
    await flush();
  } finally {
    // The original error, if any, matters more than one from closing the connection.
    await publisher.close().catch(() => undefined);
  }
  say(`published ${published}, rejected ${rejected}`);
  return rejected === 0 ? EXIT_OK : EXIT_PARTIAL;
}

/** The validated event, or the reason the line was rejected. */
/** The line's event ready to send, or the reason the line was rejected. */
function checkLine(
  line: { lineNumber: number; text: string },
  publisher: EventPublisher,
): EncodedEvent | string {
  let input: unknown;
  try {
    input = parseJsonLine(line);
  } catch (error) {
    return (error as PanaceaError).reason;
  }
  const result = validateEvent(input);
  if (!result.ok) return `CONTRACT_VIOLATION: ${describeProblems(result.problems)}`;
  try {
    // The contract's limits keep events encodable; this catches what they might still miss, so
    // one odd line is rejected instead of failing the batch it would be sent in.
    return publisher.encode(result.event);
  } catch (error) {
    return toPanaceaError(error, 'ENCODE_FAILED').reason;
  }
}
