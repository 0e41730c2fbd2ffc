/**
 * The timeline recorder: one SharedArrayBuffer with a bounded ring of events
 * per thread slot. Each ring has a single writer (the thread that owns the
 * slot), so recording takes no lock and no read-modify-write: a few plain
 * stores and one Atomics.store that publishes the event. A full ring keeps
 * the newest events (a flight recorder: the end of a run is what explains a
 * finding) and counts every event it overwrote.
 *
 * Timestamps are milliseconds since the timeline's base (set at create, on
 * the epoch clock): each writer converts its own performance.now() with its
 * own timeOrigin, so threads agree to within the clocks' precision.
 *
 * Layout. Int32 words: header[16] | per slot [16] (one cache line: writers do
 * not share lines) | per event [kind | nargs << 8, category, name].
 * Float64 (8-aligned, after): per slot [total written, ...7 spare] | per event
 * [timestamp, arg0, arg1].
 */
import { TIMELINE_CATEGORIES, TIMELINE_EVENTS, timelineEventId, type TimelineEventName } from './events.js';

const MAGIC = 0x746c696e; // 'tlin'
const H_MAGIC = 0, H_SLOTS = 1, H_CAPACITY = 2, H_BASE_F64 = 0;
const HEADER_WORDS = 16;
/** Per-slot Int32 words: published write count (mod 2^32), slot in use. */
const S_SEQ = 0, S_USED = 1;
const SLOT_WORDS = 16;
/** Per-slot Float64 words: events ever written (exact; the overflow count derives from it). */
const SF_TOTAL = 0;
const SLOT_F64 = 8;
const EV_I32 = 3, EV_F64 = 3;
const HEADER_F64 = 2;

/** Each event's category id, by event id (the table is fixed, so this is looked up once). */
const EVENT_CATEGORY: readonly number[] = TIMELINE_EVENTS.map((e) => TIMELINE_CATEGORIES.indexOf(e.cat));

export const PH_BEGIN = 1, PH_END = 2, PH_INSTANT = 3;

export interface TimelineOptions {
  /** Thread slots (one per thread that records). */
  slots: number;
  /** Events kept per slot (default 16384). */
  capacity?: number;
}

interface Layout {
  slots: number;
  capacity: number;
  slotBase: number;
  eventBase: number;
  f64Offset: number;
  slotF64Base: number;
  eventF64Base: number;
}

function layout(slots: number, capacity: number): Layout & { bytes: number } {
  const slotBase = HEADER_WORDS;
  const eventBase = slotBase + slots * SLOT_WORDS;
  const i32Words = eventBase + slots * capacity * EV_I32;
  const f64Offset = Math.ceil((i32Words * 4) / 64) * 64;
  const slotF64Base = HEADER_F64;
  const eventF64Base = slotF64Base + slots * SLOT_F64;
  const bytes = f64Offset + (eventF64Base + slots * capacity * EV_F64) * 8;
  return { slots, capacity, slotBase, eventBase, f64Offset, slotF64Base, eventF64Base, bytes };
}

function attach(buffer: SharedArrayBuffer): { i32: Int32Array; f64: Float64Array; l: Layout } {
  const i32 = new Int32Array(buffer);
  if (i32[H_MAGIC] !== MAGIC) throw new TypeError('not a vgic-lab timeline buffer');
  const l = layout(i32[H_SLOTS]!, i32[H_CAPACITY]!);
  return { i32, f64: new Float64Array(buffer, l.f64Offset), l };
}

/** Create a timeline buffer; hand it to every thread that records or reads. */
export function createTimeline(options: TimelineOptions): SharedArrayBuffer {
  const slots = options.slots, capacity = options.capacity ?? 16384;
  if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`timeline slots must be a positive integer, got ${slots}`);
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`timeline capacity must be a positive integer, got ${capacity}`);
  const l = layout(slots, capacity);
  const buffer = new SharedArrayBuffer(l.bytes);
  const i32 = new Int32Array(buffer);
  new Float64Array(buffer, l.f64Offset)[H_BASE_F64] = performance.timeOrigin + performance.now();
  i32[H_SLOTS] = slots;
  i32[H_CAPACITY] = capacity;
  Atomics.store(i32, H_MAGIC, MAGIC);
  return buffer;
}

/** Thread slots of a timeline buffer. */
export function timelineSlots(buffer: SharedArrayBuffer): number {
  return attach(buffer).l.slots;
}

/** Epoch milliseconds of the timeline's time 0. */
export function timelineBase(buffer: SharedArrayBuffer): number {
  return attach(buffer).f64[H_BASE_F64]!;
}

/** Records into one slot's ring. Only one thread may write a slot. */
export class TimelineWriter {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly capacity: number;
  private readonly seq: number;
  private readonly totalAt: number;
  private readonly events: number;
  private readonly eventsF64: number;
  /** performance.now() + shift = ms since the timeline's base, computed once per thread. */
  private readonly shift: number;
  private total: number;

  constructor(buffer: SharedArrayBuffer, readonly slot: number) {
    const { i32, f64, l } = attach(buffer);
    if (!Number.isInteger(slot) || slot < 0 || slot >= l.slots) throw new RangeError(`no timeline slot ${slot} (slots: ${l.slots})`);
    this.i32 = i32;
    this.f64 = f64;
    this.capacity = l.capacity;
    this.seq = l.slotBase + slot * SLOT_WORDS + S_SEQ;
    this.totalAt = l.slotF64Base + slot * SLOT_F64 + SF_TOTAL;
    this.events = l.eventBase + slot * l.capacity * EV_I32;
    this.eventsF64 = l.eventF64Base + slot * l.capacity * EV_F64;
    this.shift = performance.timeOrigin - f64[H_BASE_F64]!;
    this.total = f64[this.totalAt]!; // a slot handed on to a new writer continues its ring
    Atomics.store(i32, l.slotBase + slot * SLOT_WORDS + S_USED, 1);
  }

  begin(name: TimelineEventName | number, arg0?: number, arg1?: number): void {
    this.write(PH_BEGIN, name, arg0, arg1);
  }

  /** End the innermost open span with this name (and arg0, when given). */
  end(name: TimelineEventName | number, arg0?: number, arg1?: number): void {
    this.write(PH_END, name, arg0, arg1);
  }

  instant(name: TimelineEventName | number, arg0?: number, arg1?: number): void {
    this.write(PH_INSTANT, name, arg0, arg1);
  }

  /** Events overwritten so far because the ring was full. */
  get overflow(): number {
    return Math.max(0, this.total - this.capacity);
  }

  private write(ph: number, name: TimelineEventName | number, arg0: number | undefined, arg1: number | undefined): void {
    const id = typeof name === 'number' ? name : timelineEventId(name);
    const nargs = arg1 !== undefined ? 2 : arg0 !== undefined ? 1 : 0;
    const at = this.total % this.capacity;
    const f = this.eventsF64 + at * EV_F64;
    this.f64[f] = performance.now() + this.shift;
    this.f64[f + 1] = arg0 ?? 0;
    this.f64[f + 2] = arg1 ?? 0;
    const e = this.events + at * EV_I32;
    this.i32[e] = ph | (nargs << 8);
    this.i32[e + 1] = EVENT_CATEGORY[id] ?? -1;
    this.i32[e + 2] = id;
    this.total++;
    this.f64[this.totalAt] = this.total;
    // Publishes the event (and the total) to readers that load the sequence word.
    Atomics.store(this.i32, this.seq, this.total | 0);
  }
}

export interface TimelineEvent {
  ph: 'B' | 'E' | 'i';
  /** Milliseconds since the timeline's base. */
  ts: number;
  cat: number;
  name: number;
  args: number[];
}

export interface TimelineSlot {
  slot: number;
  /** A writer attached to this slot. */
  used: boolean;
  /** The events still in the ring, oldest first. */
  events: TimelineEvent[];
  /** Events lost: overwritten in the full ring (and, when read while writing, those overwritten during the read). */
  overflow: number;
}

const PHASES = [undefined, 'B', 'E', 'i'] as const;

/**
 * Read every slot. Exact once the writers have stopped; while they write, an
 * event that may have been overwritten during the copy is dropped and counted.
 */
export function readTimeline(buffer: SharedArrayBuffer): TimelineSlot[] {
  const { i32, f64, l } = attach(buffer);
  const out: TimelineSlot[] = [];
  for (let slot = 0; slot < l.slots; slot++) {
    const seqAt = l.slotBase + slot * SLOT_WORDS + S_SEQ;
    const used = Atomics.load(i32, l.slotBase + slot * SLOT_WORDS + S_USED) === 1;
    // A total that matches the published sequence belongs to a published state.
    let s1 = 0, total = 0;
    for (let tries = 0; ; tries++) {
      s1 = Atomics.load(i32, seqAt);
      total = f64[l.slotF64Base + slot * SLOT_F64 + SF_TOTAL]!;
      if ((total | 0) === s1 || tries > 1000) break;
    }
    const n = Math.min(total, l.capacity);
    const first = total - n;
    const events: TimelineEvent[] = [];
    for (let k = 0; k < n; k++) {
      const at = (first + k) % l.capacity;
      const e = l.eventBase + (slot * l.capacity + at) * EV_I32;
      const f = l.eventF64Base + (slot * l.capacity + at) * EV_F64;
      const word = i32[e]!;
      const nargs = (word >> 8) & 3;
      const args = nargs === 0 ? [] : nargs === 1 ? [f64[f + 1]!] : [f64[f + 1]!, f64[f + 2]!];
      events.push({ ph: PHASES[word & 0xff] ?? 'i', ts: f64[f]!, cat: i32[e + 1]!, name: i32[e + 2]!, args });
    }
    const during = (Atomics.load(i32, seqAt) - s1) | 0;
    const clobbered = Math.min(n, Math.max(0, n + during - l.capacity));
    out.push({ slot, used, events: events.slice(clobbered), overflow: first + clobbered });
  }
  return out;
}
