/**
 * `panacea destinations check|test NAME`: the alert destinations file (`PANACEA_ALERT_DESTINATIONS`)
 * checked without starting anything, and a signed test notification sent to one destination.
 *
 *   panacea destinations check         one line per destination, or the first problem (exit 2)
 *   panacea destinations test NAME     one attempt, no retries: exit 0 when it was accepted, 1 not
 *
 * The test notification is an `info` alert of rule `panacea-destination-test`; to Alertmanager it
 * is sent already resolved, so Alertmanager takes it without notifying anyone.
 */
import { randomUUID } from 'node:crypto';

import type { PanaceaConfig } from '../../core/config.js';
import { PanaceaError } from '../../core/errors.js';
import type { AlertNotification } from '../../schemas/alert.js';
import { attemptOnce } from '../../sinks/webhooks/delivery.js';
import {
  loadDestinationsFile,
  type Destination,
  type DestinationsFile,
} from '../../sinks/webhooks/destinations-file.js';
import { formatRequest } from '../../sinks/webhooks/payloads.js';
import { EXIT_OK, EXIT_PARTIAL, parseCommandArgs, say } from '../command-line.js';

export const DESTINATIONS_USAGE = 'panacea destinations check | test NAME';

export async function destinationsCommand(args: string[], config: PanaceaConfig): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'check': {
      parseCommandArgs(rest, {});
      const file = readFile(config);
      for (const destination of file.destinations) say(describeDestination(destination));
      return EXIT_OK;
    }
    case 'test': {
      const { positionals } = parseCommandArgs(rest, {}, true);
      if (positionals.length !== 1) {
        throw new PanaceaError(
          'USAGE',
          `destinations test: expected one destination name, got ${positionals.length}`,
        );
      }
      const name = positionals[0] as string;
      const destination = readFile(config).destinations.find((entry) => entry.name === name);
      if (destination === undefined) {
        throw new PanaceaError('USAGE', `destinations test: no destination named "${name}"`);
      }
      return sendTestNotification(destination);
    }
    default:
      throw new PanaceaError(
        'USAGE',
        `destinations: expected check or test, got ${action === undefined ? 'nothing' : `"${action}"`}`,
      );
  }
}

export function describeDestination(destination: Destination): string {
  const { retry } = destination;
  return (
    `${destination.name}: ${destination.type} ${destination.url.origin}${destination.url.pathname}, ` +
    `${destination.secret === undefined ? 'unsigned' : 'signed'}, timeout ${destination.timeoutMs} ms, ` +
    `retry ${retry.initialDelayMs}–${retry.maxDelayMs} ms, at most ${retry.maxAttempts} attempts ` +
    `in ${retry.maxTotalMs} ms, ${destination.concurrency} in flight` +
    (destination.allowHosts === undefined
      ? ''
      : `, hosts allowed: ${destination.allowHosts.map((hosts) => hosts.join(' ')).join(' and ')}`)
  );
}

/** A test notification with ids of its own, so a receiver's de-duplication never hides it. */
export function testNotification(destination: Destination, now: Date): AlertNotification {
  const nowText = now.toISOString();
  const fingerprint = randomUUID().replaceAll('-', '');
  const resolved = destination.type === 'alertmanager';
  return {
    notificationId: `${fingerprint}:${nowText}:${resolved ? 'resolved' : 'firing'}:1`,
    fingerprint,
    rule: 'panacea-destination-test',
    state: resolved ? 'resolved' : 'firing',
    severity: 'info',
    labels: {
      alertname: 'panacea-destination-test',
      severity: 'info',
      destination: destination.name,
    },
    annotations: {
      summary: `Test notification from panacea to destination ${destination.name}`,
      description: 'Sent by `panacea destinations test`; nothing is wrong.',
    },
    activeSince: nowText,
    firedAt: nowText,
    ...(resolved ? { resolvedAt: nowText } : {}),
    notification: 1,
    silencedBy: [],
    notify: [destination.name],
    emittedAt: nowText,
  };
}

async function sendTestNotification(destination: Destination): Promise<number> {
  const notification = testNotification(destination, new Date());
  const startedAtMs = performance.now();
  const outcome = await attemptOnce(
    destination,
    formatRequest(destination, notification),
    notification.notificationId,
    new AbortController().signal,
  );
  const durationMs = Math.round(performance.now() - startedAtMs);
  if (outcome.kind === 'accepted') {
    say(`${destination.name}: accepted (HTTP ${outcome.status}) in ${durationMs} ms`);
    return EXIT_OK;
  }
  const verdict = outcome.kind === 'refused' ? 'refused' : 'failed (would be retried)';
  say(`${destination.name}: ${verdict} in ${durationMs} ms: ${outcome.reason}`);
  return EXIT_PARTIAL;
}

function readFile(config: PanaceaConfig): DestinationsFile {
  if (config.alertDestinationsFile === undefined) {
    throw new PanaceaError(
      'CONFIG_INVALID',
      'PANACEA_ALERT_DESTINATIONS: expected the path of a destinations file, got nothing',
      {
        field: 'PANACEA_ALERT_DESTINATIONS',
      },
    );
  }
  return loadDestinationsFile(config.alertDestinationsFile);
}
