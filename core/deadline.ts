/**
 * Work bounded in time: it gets a signal that aborts when the caller's own signal does (a stop
 * request) or when the time is up, and a time-out is reported through `onTimeout` so the caller
 * can say what was not reached. A timer, not `AbortSignal.timeout`: on Node 20 a timeout signal
 * that only `AbortSignal.any` refers to can be garbage-collected and never fire.
 */
export async function withDeadline<T>(
  stop: AbortSignal,
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<T>,
  onTimeout: (error: unknown) => Error,
): Promise<T> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`no result within ${timeoutMs} ms`));
  }, timeoutMs);
  const onStop = (): void => controller.abort(stop.reason);
  if (stop.aborted) onStop();
  else stop.addEventListener('abort', onStop, { once: true });
  try {
    return await work(controller.signal);
  } catch (error) {
    if (timedOut && !stop.aborted) throw onTimeout(error);
    throw error;
  } finally {
    clearTimeout(timer);
    stop.removeEventListener('abort', onStop);
  }
}
