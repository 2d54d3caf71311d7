/**
 * What every benchmark shares to read its options and print its figures: integer options with a
 * range, rounding, numbers with thousands separators, the machine's load, lines on stdout, the
 * frame of a run (report or fail, then clean up) and the clean-up of a run's Kafka topics.
 */
import os from 'node:os';

import type { Admin, Kafka } from 'kafkajs';

import type { PanaceaConfig } from '../core/config.js';
import { createKafka } from '../core/kafka.js';

/** An integer option within [min, max], or the fallback when it is not given. */
export function parseInteger(
  option: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${option}: expected an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

export function round(value: number, decimals = 0): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

export function formatNumber(value: number): string {
  return value.toLocaleString('en-US');
}

/** The 1-minute load average: how busy the machine was while the figures were taken. */
export function loadAverage1m(): number {
  return round(os.loadavg()[0] ?? 0, 2);
}

export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** A measurement that came out wrong (records missing, a stage died): no figure to use. */
export class BenchFailure extends Error {
  override readonly name = 'BenchFailure';
}

/**
 * The frame of every benchmark's run: measures, prints the report and its JSON line, and cleans
 * up whatever happened. A BenchFailure prints `FAILED: <why>` and gives exit code 1; any other
 * error is a bug and is thrown after the clean-up.
 */
export async function reportOrFail<Result>(steps: {
  measure: () => Promise<Result>;
  printReport: (result: Result) => void;
  cleanUp: () => Promise<void>;
}): Promise<number> {
  try {
    const result = await steps.measure();
    steps.printReport(result);
    say(JSON.stringify(result));
    return 0;
  } catch (error) {
    if (!(error instanceof BenchFailure)) throw error;
    say(`FAILED: ${error.message}`);
    return 1;
  } finally {
    await steps.cleanUp();
  }
}

/** Deletes the Kafka topics and consumer groups of one run, all named with its prefix. */
export async function deleteRunTopicsAndGroups(admin: Admin, runPrefix: string): Promise<void> {
  const { groups } = await admin.listGroups();
  const groupIds = groups.map((group) => group.groupId).filter((id) => id.startsWith(runPrefix));
  if (groupIds.length > 0) await admin.deleteGroups(groupIds).catch(() => undefined);
  const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(runPrefix));
  if (topics.length > 0) await admin.deleteTopics({ topics });
  say(`cleanup: deleted ${topics.length} Kafka topics and ${groupIds.length} consumer groups`);
}

/**
 * The frame of a benchmark on Kafka alone: a client and a connected admin for `measure`, then the
 * report (see reportOrFail) and the deletion of every topic and group named with `runPrefix`.
 */
export async function runKafkaBenchmark<Result>(steps: {
  config: PanaceaConfig;
  clientId: string;
  runPrefix: string;
  measure: (kafka: Kafka, admin: Admin) => Promise<Result>;
  printReport: (result: Result) => void;
}): Promise<number> {
  const kafka = createKafka(steps.config, steps.clientId);
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await reportOrFail({
      measure: () => steps.measure(kafka, admin),
      printReport: steps.printReport,
      cleanUp: () => deleteRunTopicsAndGroups(admin, steps.runPrefix),
    });
  } finally {
    await admin.disconnect();
  }
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

/** What every report says about the machine it ran on, with the load at start and now. */
export function machineFacts(loadAtStart: number): {
  cpuCount: number;
  cpuModel: string;
  totalMemoryGiB: number;
  loadAverage1m: { start: number; end: number };
  nodeVersion: string;
} {
  const cpus = os.cpus();
  return {
    cpuCount: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemoryGiB: round(os.totalmem() / 1024 ** 3, 1),
    loadAverage1m: { start: loadAtStart, end: loadAverage1m() },
    nodeVersion: process.version,
  };
}
