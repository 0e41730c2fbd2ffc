/**
 * The ITEs of one ITS device, in ascending EventID order: three parallel
 * Int32Arrays (EventID, pINTID, ICID) with `size` entries in use, instead of
 * a Map of objects. Lookups are binary searches; SAVE_TABLES writes the ITT
 * in one linear pass over the arrays, and RESTORE_TABLES (which meets the
 * EventIDs in ascending order) appends.
 *
 * An insert or a removal in the middle shifts the entries after it: O(n)
 * for n ITEs (at most 2^16 per device), as KVM's find_ite walks the device's
 * ITE list. Iteration is in EventID order, which is the order of KVM's list
 * after a save (vgic_its_save_itt list_sort()s it); before the first save
 * KVM walks its list in insertion order. No outcome of the model depends on
 * that order (snapshots and saves are sorted; MAPC remap and device teardown
 * do the same per-LPI work in any order).
 *
 * Owned by the ITS actor's thread, changed with its_lock held, like the rest
 * of ItsTranslation. Outside this file the arrays are read-only.
 */

/** An ITE as the commands see it: a copy, never a live view. */
export interface ItsIte {
  /** Collection ICID, or null when the collection was removed under it. */
  readonly icid: number | null;
  /** The pINTID; the ITE holds one reference on that LPI. */
  readonly intid: number;
}

/** The ICID word of an ITE whose collection was removed (ICIDs are 16-bit). */
export const ICID_NULL = -1;

const MIN_CAPACITY = 8;

export class ItsIteStore implements Iterable<[number, ItsIte]> {
  /** EventIDs, strictly ascending in [0, size). */
  eventIds: Int32Array = new Int32Array(MIN_CAPACITY);
  /** pINTIDs, parallel to eventIds. */
  intids: Int32Array = new Int32Array(MIN_CAPACITY);
  /** ICIDs, or ICID_NULL, parallel to eventIds. */
  icids: Int32Array = new Int32Array(MIN_CAPACITY);
  private n = 0;

  /** Number of ITEs. */
  get size(): number {
    return this.n;
  }

  /** The index of `eventId`, or -(insertion point) - 1 when it has no ITE. */
  indexOf(eventId: number): number {
    const ev = this.eventIds;
    let lo = 0, hi = this.n - 1;
    // Appending (MAPTIs in EventID order, restore) is the common case.
    if (hi < 0 || ev[hi]! < eventId) return -this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const e = ev[mid]!;
      if (e < eventId) lo = mid + 1;
      else if (e === eventId) return mid;
      else hi = mid - 1; // also for NaN: no ITE
    }
    return -lo - 1;
  }

  has(eventId: number): boolean {
    return this.indexOf(eventId) >= 0;
  }

  /** A copy of the ITE of `eventId`, or undefined. */
  get(eventId: number): ItsIte | undefined {
    const i = this.indexOf(eventId);
    return i < 0 ? undefined : this.at(i);
  }

  /** A copy of the ITE at index `i` (0 <= i < size). */
  at(i: number): ItsIte {
    return { icid: this.icidAt(i), intid: this.intids[i]! };
  }

  eventIdAt(i: number): number {
    return this.eventIds[i]!;
  }

  intidAt(i: number): number {
    return this.intids[i]!;
  }

  icidAt(i: number): number | null {
    const c = this.icids[i]!;
    return c === ICID_NULL ? null : c;
  }

  setIcidAt(i: number, icid: number | null): void {
    this.icids[i] = icid === null ? ICID_NULL : icid;
  }

  /**
   * Add the ITE of `eventId` (an integer 0..65535 with no ITE yet; the
   * callers have checked both), keeping EventID order. Returns its index.
   */
  add(eventId: number, icid: number | null, intid: number): number {
    const at = this.indexOf(eventId);
    if (at >= 0) throw new RangeError(`ITE store: EventID ${eventId} is present`);
    const i = -at - 1;
    const n = this.n;
    if (n === this.eventIds.length) this.resize(n * 2);
    if (i < n) {
      this.eventIds.copyWithin(i + 1, i, n);
      this.intids.copyWithin(i + 1, i, n);
      this.icids.copyWithin(i + 1, i, n);
    }
    this.eventIds[i] = eventId;
    this.intids[i] = intid;
    this.icids[i] = icid === null ? ICID_NULL : icid;
    this.n = n + 1;
    return i;
  }

  /**
   * Append `n` ITEs given as parallel arrays, EventIDs strictly ascending and
   * above every EventID present (RESTORE_TABLES links an ITT's ITEs so),
   * in one copy. The arrays are not kept.
   */
  appendRun(eventIds: Int32Array, intids: Int32Array, icids: Int32Array, n: number): void {
    if (n === 0) return;
    const at = this.n;
    if (at > 0 && eventIds[0]! <= this.eventIds[at - 1]!) throw new RangeError('ITE store: appended EventIDs must be above those present');
    if (at + n > this.eventIds.length) this.resize(at + n);
    this.eventIds.set(eventIds.subarray(0, n), at);
    this.intids.set(intids.subarray(0, n), at);
    this.icids.set(icids.subarray(0, n), at);
    this.n = at + n;
  }

  /** Remove the ITE at index `i` (0 <= i < size). */
  removeAt(i: number): void {
    const n = this.n - 1;
    if (i < n) {
      this.eventIds.copyWithin(i, i + 1, n + 1);
      this.intids.copyWithin(i, i + 1, n + 1);
      this.icids.copyWithin(i, i + 1, n + 1);
    }
    this.n = n;
    // Memory stays proportional to the ITEs (KVM frees each ITE).
    if (n <= this.eventIds.length / 4 && this.eventIds.length > MIN_CAPACITY) this.resize(this.eventIds.length / 2);
  }

  /** Remove the ITE of `eventId`; true if there was one. */
  delete(eventId: number): boolean {
    const i = this.indexOf(eventId);
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  clear(): void {
    this.n = 0;
    if (this.eventIds.length > MIN_CAPACITY) this.resize(MIN_CAPACITY);
  }

  /** EventIDs, ascending. */
  *keys(): IterableIterator<number> {
    for (let i = 0; i < this.n; i++) yield this.eventIds[i]!;
  }

  /** Copies of the ITEs, by ascending EventID. */
  *values(): IterableIterator<ItsIte> {
    for (let i = 0; i < this.n; i++) yield this.at(i);
  }

  /** [EventID, copy of the ITE], ascending. */
  *entries(): IterableIterator<[number, ItsIte]> {
    for (let i = 0; i < this.n; i++) yield [this.eventIds[i]!, this.at(i)];
  }

  [Symbol.iterator](): IterableIterator<[number, ItsIte]> {
    return this.entries();
  }

  /** Reallocate to `capacity` entries (at least MIN_CAPACITY): one buffer holds the three arrays. */
  private resize(capacity: number): void {
    const cap = Math.max(MIN_CAPACITY, capacity);
    const buf = new ArrayBuffer(cap * 12);
    const eventIds = new Int32Array(buf, 0, cap);
    const intids = new Int32Array(buf, cap * 4, cap);
    const icids = new Int32Array(buf, cap * 8, cap);
    const n = this.n;
    eventIds.set(this.eventIds.subarray(0, n));
    intids.set(this.intids.subarray(0, n));
    icids.set(this.icids.subarray(0, n));
    this.eventIds = eventIds;
    this.intids = intids;
    this.icids = icids;
  }
}
