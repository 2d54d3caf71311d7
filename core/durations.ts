/**
 * Durations as people write them in settings (`15m`, `12h`, `30d`) and as Elasticsearch takes
 * them. Config stores milliseconds; this file is the one place that converts either way.
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type DurationUnit = keyof typeof UNIT_MS;

const DURATION_PATTERN = /^(\d{1,9})(ms|s|m|h|d)$/;

/** Whole milliseconds of `30d`, `12h`, `15m`, `45s` or `500ms`; undefined when not of that form. */
export function parseDurationMs(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (match === null) return undefined;
  const [, amount, unit] = match as unknown as [string, string, DurationUnit];
  return Number(amount) * UNIT_MS[unit];
}

/**
 * The shortest exact form Elasticsearch's time values accept (`30d`, `90m`, `1500ms`), so a
 * template written from a setting reads back as the same text.
 */
export function formatDuration(durationMs: number): string {
  const units: DurationUnit[] = ['d', 'h', 'm', 's'];
  for (const unit of units) {
    if (durationMs >= UNIT_MS[unit] && durationMs % UNIT_MS[unit] === 0)
      return `${durationMs / UNIT_MS[unit]}${unit}`;
  }
  return `${durationMs}ms`;
}
