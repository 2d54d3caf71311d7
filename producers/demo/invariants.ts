/**
 * Checks on the simulated fleet's own state. A failing check is a bug in producers/demo, never a
 * problem with input, so it throws a plain Error and no project error code.
 */

/** Indexing that insists the index is in range. */
export function at<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`simulated fleet: no item at index ${index}`);
  return item;
}

/** A value the state machine guarantees at this point, e.g. the workflow a task runs in. */
export function required<T>(value: T | undefined, expectation: string): T {
  if (value === undefined) throw new Error(`simulated fleet: broken state, ${expectation}`);
  return value;
}
