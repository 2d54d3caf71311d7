/**
 * One queue of work per partition: work for a partition starts after the work queued for it
 * before has ended (failed or not), while different partitions run side by side. The stages that
 * keep state per partition use it so that a batch, the timer's work and a stop's last commit
 * never touch one partition's state at the same time.
 */
export class PartitionLocks {
  readonly #tails = new Map<number, Promise<unknown>>();

  /** Runs `work` once the partition's earlier work has ended; its outcome is the caller's. */
  run<T>(partition: number, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(partition) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.#tails.set(
      partition,
      next.catch(() => undefined),
    );
    return next;
  }

  /**
   * A stop's last work: waits for what is queued, then runs `work` on each partition held then
   * (`partitions` is asked after the wait), and resolves once all of it has ended, failures
   * included, as a stop cannot do better.
   */
  async finishEach(
    partitions: () => Iterable<number>,
    work: (partition: number) => Promise<unknown>,
  ): Promise<void> {
    await this.settled();
    await Promise.allSettled(
      [...partitions()].map((partition) => this.run(partition, () => work(partition))),
    );
  }

  /** Resolves once the work queued so far, on every partition, has ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#tails.values()]);
  }
}
