/**
 * Progress of a long command on stderr: on a terminal, a bar redrawn in place with what is done,
 * the rate and the time left; elsewhere (a log file, CI) a plain line every few seconds, so the
 * output stays readable. Results go to stdout, never here.
 */

export interface ProgressReportOptions {
  /** Shown first on each line, e.g. `replay`. */
  label: string;
  /** What is counted, plural, e.g. `records`. */
  unit: string;
  /** Plain lines at most this often, ms. Default 5 000. */
  lineIntervalMs?: number;
  now?: () => number;
}

export interface ProgressReport {
  /** `done` of `total` so far; `detail` is appended to the line. */
  update(done: number, total: number, detail?: string): void;
  /** Ends the bar's line, or writes a last plain line if one was written before. */
  end(): void;
}

const BAR_WIDTH = 30;

export function createProgressReport(
  stderr: Pick<NodeJS.WriteStream, 'isTTY' | 'write'>,
  options: ProgressReportOptions,
): ProgressReport {
  const now = options.now ?? Date.now;
  const lineIntervalMs = options.lineIntervalMs ?? 5_000;
  const startedAtMs = now();
  let lastLineAtMs = startedAtMs;
  let lastText: string | undefined;
  let plainLines = 0;
  let drawn = false;

  const describe = (done: number, total: number, detail?: string): string => {
    const elapsedS = Math.max((now() - startedAtMs) / 1_000, 0.001);
    const rate = done / elapsedS;
    const left = rate > 0 && total > done ? formatDuration((total - done) / rate) : '-';
    const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
    const text = `${String(percent).padStart(3)}% ${done}/${total} ${options.unit}, ${Math.round(rate)}/s, ${left} left`;
    return detail === undefined ? text : `${text}, ${detail}`;
  };

  return {
    update(done, total, detail) {
      lastText = describe(done, total, detail);
      if (stderr.isTTY) {
        const fraction = total === 0 ? 1 : Math.min(done / total, 1);
        const filled = Math.round(fraction * BAR_WIDTH);
        const bar = `${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}`;
        // Cleared to the end of the line: a shorter line must not leave the tail of a longer one.
        stderr.write(`\r${options.label} [${bar}] ${lastText}\x1b[K`);
        drawn = true;
        return;
      }
      if (now() - lastLineAtMs < lineIntervalMs) return;
      lastLineAtMs = now();
      plainLines += 1;
      stderr.write(`${options.label}: ${lastText}\n`);
    },
    end() {
      if (drawn) stderr.write('\n');
      else if (plainLines > 0 && lastText !== undefined) {
        stderr.write(`${options.label}: ${lastText}\n`);
      }
    },
  };
}

/** `42s`, `3m05s`, `2h07m`. */
export function formatDuration(seconds: number): string {
  const total = Math.ceil(seconds);
  if (total < 60) return `${total}s`;
  if (total < 3_600) return `${Math.floor(total / 60)}m${String(total % 60).padStart(2, '0')}s`;
  return `${Math.floor(total / 3_600)}h${String(Math.floor((total % 3_600) / 60)).padStart(2, '0')}m`;
}
