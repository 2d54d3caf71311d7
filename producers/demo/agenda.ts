/**
 * The simulated fleet's agenda: what happens next, and when. Entries come off in (time, insertion)
 * order, so two entries at the same instant run in the order they were added, whatever the layout
 * of the heap that holds them.
 */
import { at } from './invariants.js';

export interface AgendaEntry<Item> {
  atMs: number;
  /** Insertion counter: breaks ties in time, so the order never depends on the heap's layout. */
  order: number;
  item: Item;
}

/** A binary min-heap of entries by (atMs, order). */
export class Agenda<Item> {
  readonly #entries: AgendaEntry<Item>[] = [];
  #insertions = 0;

  add(atMs: number, item: Item): void {
    this.#insertions += 1;
    this.#entries.push({ atMs, order: this.#insertions, item });

    this.#siftUp(this.#entries.length - 1);
  }

  /** The earliest entry at or before `nowMs`, taken off the agenda; undefined if there is none. */
  takeDue(nowMs: number): AgendaEntry<Item> | undefined {
    const first = this.#entries[0];
    if (first === undefined || first.atMs > nowMs) return undefined;

    const last = at(this.#entries, this.#entries.length - 1);
    this.#entries.pop();
    if (this.#entries.length === 0) return first;

    this.#entries[0] = last;
    this.#siftDown(0);
    return first;
  }

  /** Moves a new entry up until its parent comes before it. */
  #siftUp(start: number): void {
    let index = start;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.#before(index, parent)) return;
      this.#swap(index, parent);
      index = parent;
    }
  }

  /** Moves an entry down until both of its children come after it. */
  #siftDown(start: number): void {
    let index = start;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < this.#entries.length && this.#before(left, smallest)) smallest = left;
      if (right < this.#entries.length && this.#before(right, smallest)) smallest = right;
      if (smallest === index) return;
      this.#swap(index, smallest);
      index = smallest;
    }
  }

  #before(left: number, right: number): boolean {
    const a = at(this.#entries, left);
    const b = at(this.#entries, right);
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.order < b.order);
  }

  #swap(left: number, right: number): void {
    const a = at(this.#entries, left);
    this.#entries[left] = at(this.#entries, right);
    this.#entries[right] = a;
  }
}
