/**
 * One place that turns a failed request of setup, status or retention into a PanaceaError: a
 * refusal (4xx other than 429) will fail again the same way and is not retried; anything else
 * (no answer, 429, 5xx) may pass later.
 */
import { errors } from '@elastic/elasticsearch';

import { messageOf, PanaceaError, type ErrorContext } from '../../core/errors.js';

export function elasticsearchFailure(
  error: unknown,
  action: string,
  context: ErrorContext = {},
): PanaceaError {
  if (error instanceof PanaceaError) return error;
  const status = error instanceof errors.ResponseError ? error.statusCode : undefined;
  const refused = status !== undefined && status >= 400 && status < 500 && status !== 429;
  return new PanaceaError(
    refused ? 'ELASTICSEARCH_REFUSED' : 'ELASTICSEARCH_UNAVAILABLE',
    `${action}: ${messageOf(error)}`,
    { ...context, ...(status === undefined ? {} : { status }) },
    error,
  );
}
