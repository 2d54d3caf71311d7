/**
 * Readiness checks: a server counts as up when a real client call succeeds, not when a port opens.
 */
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { logLevel, Kafka } from '../../core/kafka.js';

export async function kafkaAnswers(brokers: string[], timeoutMs = 3_000): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'panacea-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: timeoutMs,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.describeCluster();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function elasticsearchAnswers(url: string, timeoutMs = 3_000): Promise<boolean> {
  try {
    const response = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=1s`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) return false;
    const health = (await response.json()) as { status?: string };
    return health.status === 'green' || health.status === 'yellow';
  } catch {
    return false;
  }
}

/** True when something accepts TCP connections on the port, whatever it is. */
export function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface WaitOptions {
  timeoutMs: number;
  /** Checked between attempts; returning a reason stops the wait early (a process that died). */
  failFast?: () => string | undefined;
}

export async function waitUntil(
  check: () => Promise<boolean>,
  options: WaitOptions,
): Promise<'ready' | string> {
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return 'ready';
    const failure = options.failFast?.();
    if (failure !== undefined) return failure;
    await sleep(1_000);
  }
  return `not ready after ${Math.round(options.timeoutMs / 1000)} s`;
}
