/**
 * The ledger of delivered notifications: a compacted topic (`<prefix>panacea.alert-deliveries`)
 * with one record per notification a destination accepted, keyed `<destination>/<notificationId>`,
 * written durably right after the destination's 2xx and before the batch's offsets are committed.
 *
 * Each destination's stage reads the ledger to its end at start and again before each batch, and
 * sends nothing the ledger already holds for it. So a notification read again (a restart before
 * the commit, a rebalance, a replay of the topic, the alerts stage publishing the same
 * notification twice) is not delivered twice once its delivery is recorded. The one repeat left
 * is a crash between the destination's answer and the ledger write: that notification is sent
 * once more, with the same `Idempotency-Key`.
 */

import { CompactedTopicReader, DEFAULT_CATCH_UP_TIMEOUT_MS } from '../../core/compacted-topic.js';
import { messageOf, PanaceaError } from '../../core/errors.js';
import {
  type Admin,
  createTopicsServed,
  type Kafka,
  type Producer,
  sendDurably,
} from '../../core/kafka.js';
import type { Logger } from '../../core/logger.js';
import type { AlertNotification } from '../../schemas/alert.js';

/**
 * How long a ledger record is kept: well past the alerts topic's retention, so that a replay of
 * anything still on the alerts topic finds its deliveries.
 */
export const LEDGER_RETENTION_MS = 30 * 86_400_000;

export interface LedgerEntry {
  destination: string;
  notificationId: string;
  fingerprint: string;
  state: AlertNotification['state'];
  deliveredAt: string;
  attempts: number;
  status: number;
}

export interface DeliveryLedgerOptions {
  kafka: Kafka;
  brokers: string[];
  topic: string;
  /** Only this destination's entries are kept in memory. */
  destination: string;
  /** The reader's private consumer group, unique per process. */
  groupId: string;
  /** A durable producer for the ledger records (the stage's dead-letter producer will do). */
  producer: Producer;
  logger: Logger;
}

export class DeliveryLedger {
  readonly #options: DeliveryLedgerOptions;
  readonly #reader: CompactedTopicReader;
  // Known gap: every delivery of the ledger's retention is held here; fine for alert volumes, a
  // bounded store would be needed for millions (README, "Known limitations").
  readonly #delivered = new Set<string>();

  constructor(options: DeliveryLedgerOptions) {
    this.#options = options;
    const prefix = `${options.destination}/`;
    this.#reader = new CompactedTopicReader({
      kafka: options.kafka,
      brokers: options.brokers,
      topic: options.topic,
      groupId: options.groupId,
      logger: options.logger,
      catchUpTimeoutMs: DEFAULT_CATCH_UP_TIMEOUT_MS,
      unavailableCode: 'DELIVERY_LEDGER_UNAVAILABLE',
      label: 'the alert delivery ledger',
      apply: ({ key }) => {
        const text = key?.toString('utf8');
        if (text?.startsWith(prefix)) this.#delivered.add(text.slice(prefix.length));
      },
    });
  }

  /** Reads the ledger to its end. */
  async open(): Promise<void> {
    await this.#reader.start();
  }

  /** Waits until every entry written before the call (by any instance) is read. */
  catchUp(): Promise<void> {
    return this.#reader.catchUp();
  }

  has(notificationId: string): boolean {
    return this.#delivered.has(notificationId);
  }

  /** How many deliveries of this destination the ledger holds. */
  get size(): number {
    return this.#delivered.size;
  }

  /** Writes the entry durably; the notification counts as delivered from then on. */
  async record(entry: LedgerEntry): Promise<void> {
    try {
      await sendDurably(this.#options.producer, [
        {
          topic: this.#options.topic,
          messages: [
            {
              key: `${entry.destination}/${entry.notificationId}`,
              value: JSON.stringify(entry),
            },
          ],
        },
      ]);
    } catch (error) {
      throw new PanaceaError(
        'DELIVERY_LEDGER_UNAVAILABLE',
        `cannot record the delivery of ${entry.notificationId} to ${entry.destination}: ${messageOf(error)}`,
        { topic: this.#options.topic, destination: entry.destination },
        error,
      );
    }
    this.#delivered.add(entry.notificationId);
  }

  close(): Promise<void> {
    return this.#reader.close();
  }
}

/** Creates the ledger topic unless it exists: compacted, and expiring after LEDGER_RETENTION_MS. */
export async function ensureLedgerTopic(admin: Admin, topic: string): Promise<void> {
  if ((await admin.listTopics()).includes(topic)) return;
  await createTopicsServed(admin, [
    {
      topic,
      numPartitions: 1,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact,delete' },
        { name: 'retention.ms', value: String(LEDGER_RETENTION_MS) },
      ],
    },
  ]);
}
