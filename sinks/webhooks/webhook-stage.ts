/**
 * The webhook sink: alert notifications from the alerts topic delivered to the destinations of
 * the destinations file (destinations-file.ts), signed, retried, and recorded in the delivery
 * ledger (delivery-ledger.ts).
 *
 * Each destination is a stage of its own (`sink-webhooks.<name>`, on core/stage-runner.ts) with
 * its own consumer group and its own p-queue of requests. A destination that is slow or down
 * holds back only its own group while its retries run (its input waits, nothing is buffered);
 * the other destinations' groups read on and deliver theirs at once.
 *
 * Steps of a batch: read the ledger to its end; read each record (a bad one is dead-lettered by
 * the first destination's stage and skipped by the others, as is a notification routed only to
 * names no destination has); skip what is silenced, routed elsewhere or already in the ledger; deliver the rest through the queue, one fingerprint's
 * notifications in their topic order (a resolution never overtakes its firing), each delivery
 * recorded in the ledger as soon as it is accepted; return what was refused or ran out of
 * attempts as dead letters, with the destination in a header. The runner commits after that.
 */
import { channel } from 'node:diagnostics_channel';
import { randomUUID } from 'node:crypto';

import PQueue from 'p-queue';

import type { DeadLetter } from '../../core/dead-letter.js';
import { PanaceaError } from '../../core/errors.js';
import { type Admin, createTopicsServed, type Kafka, type Producer } from '../../core/kafka.js';
import { componentLogger, type Logger } from '../../core/logger.js';
import { countWebhookDelivery } from '../../core/metrics-registry.js';
import type { Naming } from '../../core/naming.js';
import {
  deadLetterFor,
  startStage,
  type BatchContext,
  type BatchOutcome,
  type RunningStage,
  type StageDefinition,
  type StageRecord,
} from '../../core/stage-runner.js';
import type { AlertNotification } from '../../schemas/alert.js';
import { readAlertNotification } from './alert-record.js';
import type { Destination } from './destinations-file.js';
import { deliverWithRetries, type AttemptReport, type DeliveryResult } from './delivery.js';
import { DeliveryLedger, ensureLedgerTopic } from './delivery-ledger.js';
import { formatRequest } from './payloads.js';

export const WEBHOOK_STAGE = 'sink-webhooks';

/** The header of a dead letter that names the destination it was not delivered to. */
export const DESTINATION_HEADER = 'panacea.dlq.destination';

/**
 * Published once per attempt with an AttemptReport (`{ destination, notificationId, attempt,
 * outcome, status?, reason?, nextDelayMs?, durationMs }`), live, before any commit: for tests,
 * tracing and a destination's health, without parsing logs.
 */
export const attemptChannel = channel('panacea:webhooks:attempt');

export function webhookStageName(destination: string): string {
  return `${WEBHOOK_STAGE}.${destination}`;
}

// Alert topics when the alerts stage has not created them yet; the alerts stage owns their shape.
const ALERTS_TOPIC_PARTITIONS = 3;
const DAY_MS = 86_400_000;

export interface DestinationStageOptions {
  naming: Naming;
  destination: Destination;
  ledger: DeliveryLedger;
  /**
   * Whether this stage dead-letters what no destination can take (one stage does): records that
   * are not alert notifications, and notifications whose `notify` names no configured destination.
   */
  refusesForAll: boolean;
  /** The names of every configured destination, to tell a `notify` typo from a routing choice. */
  knownDestinations: ReadonlySet<string>;
  random?: () => number;
}

type Tallies = Record<string, Record<string, number>>;

export function createDestinationStage(options: DestinationStageOptions): StageDefinition {
  const { destination, ledger } = options;
  const name = webhookStageName(destination.name);
  const logger = componentLogger(`stage.${name}`);
  const queue = new PQueue({ concurrency: destination.concurrency });

  const onAttempt = (report: AttemptReport): void => {
    if (attemptChannel.hasSubscribers) attemptChannel.publish(report);
    if (report.outcome === 'retriable' && report.nextDelayMs !== undefined) {
      logger.warn(
        {
          destination: destination.name,
          notificationId: report.notificationId,
          attempt: report.attempt,
          nextDelayMs: report.nextDelayMs,
          reason: report.reason,
        },
        'delivery failed; retrying',
      );
    }
  };

  return {
    name,
    inputTopics: [options.naming.alertsTopic()],
    summary: {
      destination: destination.name,
      type: destination.type,
      host: destination.url.host,
      signed: destination.secret !== undefined,
      timeoutMs: destination.timeoutMs,
      retry: destination.retry,
      concurrency: destination.concurrency,
      delivered: ledger.size,
    },

    async handleBatch(records: StageRecord[], context: BatchContext): Promise<BatchOutcome> {
      await ledger.catchUp();
      const tallies: Tallies = { delivered: {}, retries: {}, skipped: {} };
      const deadLetters: DeadLetter[] = [];
      const chains = routeBatch(records, options, tallies, deadLetters, logger);

      const settled = await Promise.allSettled(
        [...chains.values()].map((chain) =>
          queue.add(() => deliverChain(chain, options, context, onAttempt)),
        ),
      );
      if (context.signal.aborted) {
        throw new PanaceaError('STAGE_STOPPED', `${name} stopped during a batch`);
      }
      for (const result of settled) {
        if (result.status === 'rejected') throw result.reason;
        for (const { record, notification, outcome } of result.value) {
          count(tallies, 'retries', 'attempts', outcome.attempts - 1);
          for (let retry = 1; retry < outcome.attempts; retry += 1) {
            countWebhookDelivery(destination.name, 'retried');
          }
          if (outcome.delivered) {
            count(tallies, 'delivered', notification.state);
            countWebhookDelivery(destination.name, 'delivered');
            continue;
          }
          countWebhookDelivery(destination.name, 'dead_lettered');
          const deadLetter = deadLetterFor(record, outcome.error);
          deadLetter.headers = { ...record.headers, [DESTINATION_HEADER]: destination.name };
          deadLetters.push(deadLetter);
        }
      }
      return { deadLetters, tallies };
    },

    async close() {
      queue.clear();
      await ledger.close();
    },
  };
}

interface Routed {
  record: StageRecord;
  notification: AlertNotification;
}

/**
 * The notifications of the batch this destination must send, grouped by fingerprint in topic
 * order; everything else is counted (skipped) or dead-lettered here.
 */
function routeBatch(
  records: StageRecord[],
  options: DestinationStageOptions,
  tallies: Tallies,
  deadLetters: DeadLetter[],
  logger: Logger,
): Map<string, Routed[]> {
  const chains = new Map<string, Routed[]>();
  const inBatch = new Set<string>();
  for (const record of records) {
    let notification: AlertNotification;
    try {
      notification = readAlertNotification(record.value);
    } catch (error) {
      if (options.refusesForAll) deadLetters.push(deadLetterFor(record, error));
      else count(tallies, 'skipped', 'invalid');
      continue;
    }

    const { notificationId, silencedBy, notify } = notification;
    const unknown = notify.filter((name) => !options.knownDestinations.has(name));
    if (options.refusesForAll && unknown.length > 0) {
      logger.warn({ notificationId, unknown }, 'notification names destinations not configured');
    }
    if (silencedBy.length > 0) {
      count(tallies, 'skipped', 'silenced');
    } else if (notify.length > 0 && unknown.length === notify.length) {
      // Routed only to names nobody configured (a typo in a rule, a destination removed): it
      // would reach no one, so it is kept where a person looks, once.
      if (options.refusesForAll) deadLetters.push(deadLetterFor(record, unroutable(notify)));
      else count(tallies, 'skipped', 'not-routed');
    } else if (notify.length > 0 && !notify.includes(options.destination.name)) {
      count(tallies, 'skipped', 'not-routed');
    } else if (options.ledger.has(notificationId) || inBatch.has(notificationId)) {
      count(tallies, 'skipped', 'already-delivered');
    } else {
      inBatch.add(notificationId);
      const chain = chains.get(notification.fingerprint) ?? [];
      chain.push({ record, notification });
      chains.set(notification.fingerprint, chain);
    }
  }
  return chains;
}

interface Delivered extends Routed {
  outcome: DeliveryResult;
}

/**
 * One fingerprint's notifications, one after another; each accepted one goes to the ledger.
 * Known gap: retries are per notification; a destination-wide circuit breaker would dead-letter a
 * long outage faster (README, "Known limitations").
 */
async function deliverChain(
  chain: Routed[],
  options: DestinationStageOptions,
  context: BatchContext,
  onAttempt: (report: AttemptReport) => void,
): Promise<Delivered[]> {
  const { destination, ledger } = options;
  const results: Delivered[] = [];
  for (const routed of chain) {
    if (context.signal.aborted) throw new PanaceaError('STAGE_STOPPED', 'stopped');
    const { notification } = routed;
    const outcome = await deliverWithRetries({
      destination,
      notification,
      request: formatRequest(destination, notification),
      signal: context.signal,
      heartbeat: context.heartbeat,
      onAttempt,
      ...(options.random === undefined ? {} : { random: options.random }),
    });
    // A destination that answers slowly but well never waits for a retry, where the group's
    // heartbeat is otherwise sent: send it between deliveries too (kafkajs spaces them itself).
    await context.heartbeat().catch(() => undefined);
    if (outcome.delivered) {
      await ledger.record({
        destination: destination.name,
        notificationId: notification.notificationId,
        fingerprint: notification.fingerprint,
        state: notification.state,
        deliveredAt: new Date().toISOString(),
        attempts: outcome.attempts,
        status: outcome.status,
      });
    }
    results.push({ ...routed, outcome });
  }
  return results;
}

function unroutable(notify: string[]): PanaceaError {
  return new PanaceaError(
    'DELIVERY_REFUSED',
    `notify names no configured destination (${notify.join(', ')})`,
    { field: 'notify' },
  );
}

function count(tallies: Tallies, group: string, name: string, amount = 1): void {
  if (amount === 0) return;
  const counts = (tallies[group] ??= {});
  counts[name] = (counts[name] ?? 0) + amount;
}

export interface WebhookSinkOptions {
  kafka: Kafka;
  admin: Admin;
  brokers: string[];
  naming: Naming;
  /** Prefix of the ledger readers' private consumer groups, like every group of the pipeline. */
  groupPrefix: string;
  destinations: Destination[];
  /** A durable producer for dead letters and ledger records. */
  deadLetterProducer: Producer;
  random?: () => number;
}

/**
 * Starts one stage per destination, after creating the topics it needs (the alerts topic when
 * the alerts stage has not yet, its dead-letter topic and the ledger). On a failure half-way it
 * stops what it started.
 */
export async function startWebhookSink(options: WebhookSinkOptions): Promise<RunningStage[]> {
  const { naming, admin } = options;
  await ensureWebhookTopics(admin, naming);
  const logger = componentLogger(WEBHOOK_STAGE);
  for (const destination of options.destinations) {
    if (destination.url.protocol === 'http:' && !isLoopback(destination.url.hostname)) {
      // Allowed (an internal Alertmanager often has no TLS), but said: the signature proves who
      // sent the body, it does not hide it.
      logger.warn(
        { destination: destination.name, host: destination.url.host },
        'destination is reached over plain http: notifications travel unencrypted',
      );
    }
  }
  const ledgers = options.destinations.map(
    (destination) =>
      new DeliveryLedger({
        kafka: options.kafka,
        brokers: options.brokers,
        topic: naming.alertDeliveriesTopic(),
        destination: destination.name,
        groupId: `${options.groupPrefix}panacea.alert-deliveries.${randomUUID()}`,
        producer: options.deadLetterProducer,
        logger,
      }),
  );
  const knownDestinations = new Set(options.destinations.map((destination) => destination.name));
  const stages: RunningStage[] = [];

  try {
    // Side by side: each reads the whole ledger, which takes a consumer group join apiece.
    const opened = await Promise.allSettled(ledgers.map((ledger) => ledger.open()));
    const failure = opened.find((result) => result.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
    for (const [index, destination] of options.destinations.entries()) {
      const definition = createDestinationStage({
        naming,
        destination,
        ledger: ledgers[index] as DeliveryLedger,
        refusesForAll: index === 0,
        knownDestinations,
        ...(options.random === undefined ? {} : { random: options.random }),
      });
      stages.push(
        await startStage(definition, {
          kafka: options.kafka,
          naming,
          deadLetterProducer: options.deadLetterProducer,
        }),
      );
    }
  } catch (error) {
    // A started stage closes its ledger when it stops; the others are closed here.
    await Promise.allSettled(stages.map((stage) => stage.stop()));
    await Promise.allSettled(ledgers.slice(stages.length).map((ledger) => ledger.close()));
    throw error;
  }
  return stages;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname.startsWith('127.');
}

export async function ensureWebhookTopics(admin: Admin, naming: Naming): Promise<void> {
  const alertsTopic = naming.alertsTopic();
  const existing = new Set(await admin.listTopics());
  const retained = (topic: string, partitions: number, retentionMs: number) => ({
    topic,
    numPartitions: partitions,
    configEntries: [{ name: 'retention.ms', value: String(retentionMs) }],
  });
  const missing = [
    retained(alertsTopic, ALERTS_TOPIC_PARTITIONS, 7 * DAY_MS),
    retained(naming.deadLetterTopic(alertsTopic), 1, 30 * DAY_MS),
  ].filter((definition) => !existing.has(definition.topic));
  if (missing.length > 0) await createTopicsServed(admin, missing);
  await ensureLedgerTopic(admin, naming.alertDeliveriesTopic());
}
