/**
 * The link the publisher holds: the kafkajs client runs in a worker thread of its own
 * (kafka-worker.ts), and this forwards connect, send and disconnect to it as messages, each
 * batch packed into one transferred buffer. The publishing thread keeps validation, encoding and
 * all of the bookkeeping (the buffer bound, batching, promises); the worker does kafkajs's share.
 *
 * The worker starts at the first connect, not at construction. It holds the process open while it
 * runs, as a connected Kafka client does; `disconnect` (which `close()` calls) terminates it, so
 * nothing of it holds the process after close. Should it die (an uncaught error, an exit), whatever it was asked and had not
 * answered fails with PUBLISHER_WORKER_FAILED, the failure is logged and counted, and the next
 * connect starts a new one: the agent goes on, and the publisher sends the batches again.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

import { PanaceaError, messageOf } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { packageRoot } from '../../core/package-root.js';
import type { Connection, KafkaLink, LinkSettings } from './kafka-link.js';
import {
  deserializeError,
  packRecords,
  type FromWorker,
  type ToWorker,
  type WorkerSettings,
} from './worker-protocol.js';

/** How long `disconnect` lets the worker close its connections before terminating it. */
const WORKER_DISCONNECT_GRACE_MS = 2_000;

export interface WorkerLink extends KafkaLink {
  /** Times the worker stopped without being asked to (each was logged). */
  readonly workerFailures: number;
  /** Whether a worker thread is running now. */
  readonly workerRunning: boolean;
}

export interface WorkerLinkOptions {
  logger: Logger;
  /** The worker's script; tests give one that fails on purpose. Default kafka-worker.js. */
  workerUrl?: URL;
}

type Reply = Exclude<FromWorker, { type: 'failed' }>;

interface Request {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

/** One worker thread and the requests it has not answered. */
interface RunningWorker {
  worker: Worker;
  requests: Map<number, Request>;
  /** Set when we terminate it: its exit is then no failure. */
  stopping: boolean;
  /** Set at its exit, after which nothing it is asked would ever be answered. */
  exited: boolean;
  /** The uncaught error it died of, reported before its exit. */
  crash: Error | undefined;
}

export function createWorkerLink(settings: LinkSettings, options: WorkerLinkOptions): WorkerLink {
  const workerUrl = options.workerUrl ?? kafkaWorkerUrl();
  const workerSettings: WorkerSettings = { ...settings };
  const logger = options.logger;
  let running: RunningWorker | undefined;
  let nextRequestId = 1;
  // Sends carry the generation they were made in; a failure ends it (see kafka-worker.ts).
  let generation = 0;
  let failures = 0;

  const start = (): RunningWorker => {
    const worker = new Worker(workerUrl, { workerData: workerSettings });
    const state: RunningWorker = {
      worker,
      requests: new Map(),
      stopping: false,
      exited: false,
      crash: undefined,
    };

    worker.on('message', (message: FromWorker) => {
      const request = state.requests.get(message.requestId);
      if (request === undefined) return;
      state.requests.delete(message.requestId);
      if (message.type === 'failed') request.reject(deserializeError(message.error));
      else request.resolve(message);
    });
    // Without these listeners an error in the worker would be thrown in the agent's thread.
    worker.on('error', (error: Error) => {
      state.crash = error;
    });
    worker.on('messageerror', (error: Error) => {
      state.crash = error;
    });
    worker.on('exit', (exitCode: number) => {
      state.exited = true;
      if (running === state) running = undefined;
      const error = state.stopping
        ? new PanaceaError('KAFKA_UNAVAILABLE', 'the connection to Kafka was closed')
        : workerFailed(exitCode, state.crash);
      if (!state.stopping) {
        failures += 1;
        logger.error(
          { err: error, exitCode, workerFailures: failures, unanswered: state.requests.size },
          'the Kafka worker thread stopped; a new one starts at the next connect',
        );
      }
      for (const request of state.requests.values()) request.reject(error);
      state.requests.clear();
    });
    return state;
  };

  const ask = (state: RunningWorker, message: ToWorker, transfer: ArrayBuffer[] = []) =>
    new Promise<Reply>((resolve, reject) => {
      if (state.exited) {
        reject(new PanaceaError('PUBLISHER_WORKER_FAILED', 'the Kafka worker thread has stopped'));
        return;
      }
      state.requests.set(message.requestId, { resolve, reject });
      state.worker.postMessage(message, transfer);
    });

  return {
    get workerFailures() {
      return failures;
    },

    get workerRunning() {
      return running !== undefined;
    },

    async connect(): Promise<Connection> {
      running ??= start();
      const reply = await ask(running, { type: 'connect', requestId: nextRequestId++ });
      if (reply.type !== 'connected') throw new Error(`unexpected reply ${reply.type} to connect`);
      return { limit: reply.limit, writerIds: reply.writerIds };
    },

    async send(records): Promise<void> {
      if (running === undefined) {
        throw new PanaceaError('PUBLISHER_WORKER_FAILED', 'the Kafka worker thread is not running');
      }
      const { batch, transfer } = packRecords(records);
      const sentIn = generation;
      try {
        await ask(
          running,
          { type: 'send', requestId: nextRequestId++, generation: sentIn, batch },
          transfer,
        );
      } catch (error) {
        // Sends made from now on come after the publisher saw this failure: they go out.
        if (sentIn === generation) generation += 1;
        throw error;
      }
    },

    async disconnect(): Promise<void> {
      const state = running;
      if (state === undefined) return;
      running = undefined;
      state.stopping = true;
      // Closing the producer inside gives the broker a clean goodbye; a worker that does not
      // answer in time is terminated all the same. The worker stays referenced until it is
      // terminated: an agent awaiting close must not see its process exit in the middle of it.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        ask(state, { type: 'disconnect', requestId: nextRequestId++ }).catch(() => undefined),
        new Promise((resolve) => {
          timer = setTimeout(resolve, WORKER_DISCONNECT_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      await state.worker.terminate();
    },
  };
}

function workerFailed(exitCode: number, crash: Error | undefined): PanaceaError {
  const why = crash === undefined ? `exit code ${exitCode}` : messageOf(crash);
  return new PanaceaError(
    'PUBLISHER_WORKER_FAILED',
    `the publisher's Kafka worker thread stopped (${why}); its unanswered batches are sent again`,
    { exitCode },
    crash,
  );
}

/**
 * kafka-worker.js beside this file. Run from the TypeScript sources (the tests), there is no
 * JavaScript beside it, and Node 20 cannot run TypeScript in a worker: the built one in dist/ is
 * used, so tests that start a real worker need `npm run build` first.
 */
function kafkaWorkerUrl(): URL {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL('./kafka-worker.js', here);
  return pathToFileURL(path.join(packageRoot(), 'dist', 'producers', 'sdk', 'kafka-worker.js'));
}
