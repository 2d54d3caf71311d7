/**
 * The publisher's Kafka worker thread: holds the kafkajs client (kafka-link.ts) and does its work
 * (partitioning, record batch encoding, compression, the protocol) off the agent's thread, so
 * that the agent's calls (validation, Avro encoding) and kafkajs's work run at the same time.
 *
 * It answers each request of worker-link.ts with one reply. Sends run one at a time in the order
 * they came; after one fails, the sends behind it of the same generation are refused unsent, so
 * no batch overtakes one that the publisher will send again. It logs nothing: every failure goes
 * back as data and is logged by the publisher, with the agent's logger.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { DEFAULT_NAMESPACE } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import { createNaming } from '../../core/naming.js';
import { createKafkaLink } from './kafka-link.js';
import {
  serializeError,
  unpackRecords,
  type FromWorker,
  type ToWorker,
  type WorkerSettings,
} from './worker-protocol.js';

if (parentPort === null) {
  throw new Error('kafka-worker.js runs as a worker thread of the agent publisher only');
}
const port = parentPort;
const settings = workerData as WorkerSettings;
const link = createKafkaLink(
  settings,
  createNaming({ topicPrefix: settings.topicPrefix, namespace: DEFAULT_NAMESPACE }),
);

/** Sends of this generation or older are refused unsent: one of them failed. */
let refusedThroughGeneration = -1;
let queue: Promise<void> = Promise.resolve();

port.on('message', (request: ToWorker) => {
  // A disconnect does not wait behind sends that kafkajs may still be retrying: close gave up on
  // them, and disconnecting is what ends their retries.
  if (request.type === 'disconnect') {
    void link
      .disconnect()
      .then(() => reply({ type: 'disconnected', requestId: request.requestId }));
    return;
  }
  queue = queue.then(() => serve(request));
});

/** Answers one request; never rejects, so the queue goes on after a failure. */
async function serve(request: Exclude<ToWorker, { type: 'disconnect' }>): Promise<void> {
  const { requestId } = request;
  try {
    if (request.type === 'connect') {
      const { limit, writerIds } = await link.connect();
      reply({ type: 'connected', requestId, limit, writerIds });
      return;
    }

    if (request.generation <= refusedThroughGeneration) {
      const error = new PanaceaError(
        'KAFKA_UNAVAILABLE',
        'not sent: a batch ahead of it failed, and it must not overtake that batch',
      );
      reply({ type: 'failed', requestId, error: serializeError(error) });
      return;
    }
    try {
      await link.sendTopicMessages(unpackRecords(request.batch));
    } catch (error) {
      refusedThroughGeneration = request.generation;
      throw error;
    }
    reply({ type: 'sent', requestId });
  } catch (error) {
    reply({ type: 'failed', requestId, error: serializeError(error) });
  }
}

function reply(message: FromWorker): void {
  port.postMessage(message);
}
