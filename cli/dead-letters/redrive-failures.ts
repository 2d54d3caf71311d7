/**
 * How a `dlq replay` ends when it cannot go on: a batch whose target keeps refusing is given up
 * after a bound instead of retried for ever (the sinks' writers retry until their signal aborts,
 * which suits a running stage, not a person waiting), a replay fenced by a second one says so, and
 * kafkajs's own failures become KAFKA_UNAVAILABLE instead of a stack trace.
 */
import { withDeadline } from '../../core/deadline.js';
import { messageOf, PanaceaError, type ErrorCode } from '../../core/errors.js';
import { hasKafkaErrorType } from '../../core/kafka.js';
import type { RedriveMode } from './redrive-policy.js';

/** How long one batch of one stage's dead letters may take to re-drive, retries included. */
export const BATCH_REDRIVE_TIMEOUT_MS = 120_000;

/** What a re-drive that ran out of time could not reach, by the kind of stage. */
const UNREACHED: Record<Exclude<RedriveMode, { kind: 'refused' }>['kind'], [ErrorCode, string]> = {
  sink: ['ELASTICSEARCH_UNAVAILABLE', 'Elasticsearch kept refusing or did not answer'],
  webhook: ['DELIVERY_FAILED', 'the destination kept refusing or did not answer'],
  enrich: ['KAFKA_UNAVAILABLE', 'the enrichment did not finish'],
};

export interface BoundedRedrive {
  mode: Exclude<RedriveMode, { kind: 'refused' }>;
  /** The batch as a person names it: `3 dead letters of sink-elasticsearch from T partition 0 …`. */
  batch: string;
  /** Where the target is, for the message (an Elasticsearch URL without credentials). */
  target?: string;
  /** The replay's own stop (SIGINT, SIGTERM): a stop is not a time-out. */
  signal: AbortSignal;
  timeoutMs?: number;
}

/**
 * Runs `work` with a signal that aborts at the replay's stop or after the bound; a bound reached
 * ends in the error code of what was not reached, naming the batch, the stop's own error kept.
 */
export async function redriveWithin<T>(
  bounded: BoundedRedrive,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeoutMs = bounded.timeoutMs ?? BATCH_REDRIVE_TIMEOUT_MS;
  return withDeadline(bounded.signal, timeoutMs, work, (error) => {
    const [code, why] = UNREACHED[bounded.mode.kind];
    const where = bounded.target === undefined ? '' : ` at ${bounded.target}`;
    return new PanaceaError(
      code,
      `${bounded.batch} could not be re-driven in ${timeoutMs / 1_000} s: ${why}${where} (see the log); nothing of that batch was recorded, the next replay re-drives it`,
      {},
      error,
    );
  });
}

const FENCED_ERROR_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);

/** Whether a second replay under the same transactional id took over this one's producer. */
export function isFenced(error: unknown): boolean {
  return (
    hasKafkaErrorType(error, FENCED_ERROR_TYPES) ||
    messageOf(error).includes('Producer attempted an operation with an old epoch')
  );
}

/**
 * A failure as the person running the replay should read it: fenced, kafkajs's own errors as
 * KAFKA_UNAVAILABLE, PanaceaErrors as they are.
 */
export function asRedriveFailure(error: unknown): unknown {
  if (isFenced(error)) {
    return new PanaceaError(
      'STAGE_STOPPED',
      'another dlq replay took over (fenced); the batch in hand was not recorded and goes with the next replay, what was recorded before stays',
      {},
      error,
    );
  }
  if (error instanceof PanaceaError) return error;
  const name = error instanceof Error ? error.name : '';
  if (name.startsWith('KafkaJS') || /broker/i.test(messageOf(error))) {
    return new PanaceaError('KAFKA_UNAVAILABLE', `Kafka failed: ${messageOf(error)}`, {}, error);
  }
  return error;
}
