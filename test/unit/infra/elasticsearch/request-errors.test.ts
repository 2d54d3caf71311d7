import { errors } from '@elastic/elasticsearch';
import { describe, expect, it } from 'vitest';

import { PanaceaError } from '../../../../core/errors.js';
import { elasticsearchFailure } from '../../../../infra/elasticsearch/request-errors.js';

function responseError(statusCode: number): errors.ResponseError {
  return new errors.ResponseError({
    body: { error: { type: 'illegal_argument_exception', reason: 'nope' }, status: statusCode },
    statusCode,
    headers: {},
    warnings: null,
    meta: {} as never,
  });
}

describe('Elasticsearch request errors', () => {
  it('calls a 400 a refusal that is not retried, with the status in its context', () => {
    const error = elasticsearchFailure(responseError(400), 'es setup');

    expect(error.code).toBe('ELASTICSEARCH_REFUSED');
    expect(error.retriable).toBe(false);
    expect(error.context.status).toBe(400);
    expect(error.message).toMatch(/^es setup: /);
  });

  it.each([429, 503])('calls a %d a server that may answer later', (status) => {
    expect(elasticsearchFailure(responseError(status), 'x').code).toBe('ELASTICSEARCH_UNAVAILABLE');
  });

  it('calls a request without an answer unavailable, and keeps the cause', () => {
    const cause = new errors.ConnectionError('connect ECONNREFUSED');
    const error = elasticsearchFailure(cause, 'es status');

    expect(error.code).toBe('ELASTICSEARCH_UNAVAILABLE');
    expect(error.cause).toBe(cause);
  });

  it('passes a PanaceaError through unchanged', () => {
    const original = new PanaceaError('CONFIG_INVALID', 'x');

    expect(elasticsearchFailure(original, 'y')).toBe(original);
  });
});
