import { describe, expect, it } from 'vitest';

import { isTransientBrokerAnswer } from '../../../core/kafka.js';

describe('kafkajs log lines', () => {
  it.each([
    "The coordinator is loading and hence can't process requests for this group",
    'Topic creation errors',
    'This server is not the leader for that topic-partition',
    'The group coordinator is not available',
    'Restarting the consumer in 300ms',
    'There is no leader for this topic-partition as we are in the middle of a leadership election',
    'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing',
  ])('treats "%s" as a transient answer kafkajs retries', (error) => {
    expect(isTransientBrokerAnswer({ error })).toBe(true);
  });

  it.each([
    'Connection timeout',
    'Connection error: connect ECONNREFUSED 127.0.0.1:9092',
    'The request included a message larger than the max message size the server will accept',
  ])('keeps "%s" a warning', (error) => {
    expect(isTransientBrokerAnswer({ error })).toBe(false);
  });

  it('keeps lines without an error text', () => {
    expect(isTransientBrokerAnswer({})).toBe(false);
  });
});
