/**
 * A timeline as a Chrome Trace Event document (JSON object format), which
 * Perfetto and chrome://tracing open. One trace thread per timeline slot,
 * named by the caller; spans are 'B'/'E' pairs in microseconds, instants 'i'.
 *
 * B/E pairs must nest on a thread, but recorded spans need not: locks may be
 * released out of order, and a full ring loses the oldest begins. So each
 * thread's events are replayed against a stack: an end closes its own begin
 * (same name, and same first arg when the end has one); spans opened above
 * it are closed and reopened (args.continued) around it. An end whose begin
 * was overwritten begins at the thread's first kept event (args.truncated);
 * a begin never ended is closed at the timeline's last timestamp.
 */
import { TIMELINE_CATEGORIES, TIMELINE_EVENTS } from './events.js';
import { readTimeline, type TimelineEvent } from './timeline.js';

export interface TimelineNames {
  threadName(slot: number): string;
  lockName(lock: number): string;
}

/** One Trace Event Format event. */
export interface ChromeTraceEvent {
  /** The event's name ('KVM_RUN', 'lock wait', ...). */
  name: string;
  /** Phase: begin, end, instant or metadata. */
  ph: 'B' | 'E' | 'i' | 'M';
  /** Microseconds since the first recorded event. */
  ts?: number;
  /** Always 1 (one VM). */
  pid: number;
  /** The VM thread's id. */
  tid: number;
  /** Category ('kvm', 'lock', 'actor', ...). */
  cat?: string;
  /** Instant scope: 't' (thread). */
  s?: 't';
  /** Event arguments (lock names, INTIDs, ...). */
  args?: Record<string, unknown>;
}

/** A Chrome Trace Event Format document (`vm.chromeTrace()`): write it as JSON and open it in Perfetto. */
export interface ChromeTrace {
  /** The events, nested per thread. */
  traceEvents: ChromeTraceEvent[];
  /** How viewers print times. */
  displayTimeUnit: 'ns';
  /** Events lost to full rings, by thread name (also drawn as a 'ring overflow' instant). */
  otherData: {
    /** Lost events per thread name. */
    overflow: Record<string, number>;
  };
}

const PID = 1;

interface Open {
  ev: TimelineEvent;
  args: Record<string, unknown>;
}

export function toChromeTrace(buffer: SharedArrayBuffer, names: TimelineNames): ChromeTrace {
  const slots = readTimeline(buffer);
  let t0 = Infinity, tEnd = -Infinity;
  for (const s of slots) {
    // Stable: a ring is in write order already, this only guards clock oddities.
    s.events.sort((a, b) => a.ts - b.ts);
    if (s.events.length > 0) {
      t0 = Math.min(t0, s.events[0]!.ts);
      tEnd = Math.max(tEnd, s.events[s.events.length - 1]!.ts);
    }
  }
  const us = (ms: number): number => Math.round((ms - t0) * 1e6) / 1e3;

  const traceEvents: ChromeTraceEvent[] = [
    { name: 'process_name', ph: 'M', pid: PID, tid: 0, args: { name: 'vgic-lab' } },
  ];
  const overflow: Record<string, number> = {};
  const body: ChromeTraceEvent[] = [];
  for (const s of slots) {
    if (!s.used && s.events.length === 0) continue;
    const tid = s.slot + 1;
    const thread = names.threadName(s.slot);
    traceEvents.push({ name: 'thread_name', ph: 'M', pid: PID, tid, args: { name: thread } });
    traceEvents.push({ name: 'thread_sort_index', ph: 'M', pid: PID, tid, args: { sort_index: s.slot } });
    if (s.overflow > 0) {
      overflow[thread] = s.overflow;
      const at = s.events[0]?.ts ?? t0;
      body.push({ name: 'ring overflow', ph: 'i', s: 't', cat: 'timeline', ts: us(at), pid: PID, tid, args: { lost: s.overflow } });
    }
    replay(s.events, tEnd, names, (ph, ev, ts, extra) => {
      const e: ChromeTraceEvent = { name: eventName(ev.name), ph, cat: categoryName(ev.cat), ts: us(ts), pid: PID, tid };
      if (ph === 'i') e.s = 't';
      if (extra !== undefined) e.args = extra;
      body.push(e);
    });
  }
  traceEvents.push(...body);
  return { traceEvents, displayTimeUnit: 'ns', otherData: { overflow } };
}

function eventName(id: number): string {
  return TIMELINE_EVENTS[id]?.name ?? `event ${id}`;
}

function categoryName(id: number): string {
  return TIMELINE_CATEGORIES[id] ?? 'other';
}

function argsOf(ev: TimelineEvent, names: TimelineNames): Record<string, unknown> {
  const labels: readonly string[] = TIMELINE_EVENTS[ev.name]?.args ?? [];
  const out: Record<string, unknown> = {};
  ev.args.forEach((v, i) => {
    const label = labels[i] ?? `arg${i}`;
    out[label] = label === 'lock' ? names.lockName(v) : v;
  });
  return out;
}

/** Does end `e` close begin `b`? */
function closes(e: TimelineEvent, b: TimelineEvent): boolean {
  return b.name === e.name && (e.args.length === 0 || b.args[0] === e.args[0]);
}

type Emit = (ph: 'B' | 'E' | 'i', ev: TimelineEvent, ts: number, args?: Record<string, unknown>) => void;

/** One thread's events as properly nested B/E pairs and instants (see the file comment). */
function replay(events: TimelineEvent[], tEnd: number, names: TimelineNames, emit: Emit): void {
  // Ends whose begin is gone: open them first, the one that ends last outermost.
  const open: TimelineEvent[] = [];
  const orphans: TimelineEvent[] = [];
  for (const ev of events) {
    if (ev.ph === 'B') open.push(ev);
    else if (ev.ph === 'E') {
      const j = findLast(open, (b) => closes(ev, b));
      if (j < 0) orphans.push(ev);
      else open.splice(j, 1);
    }
  }
  const stack: Open[] = [];
  const first = events[0]?.ts ?? tEnd;
  for (const ev of orphans.reverse()) {
    const args = { ...argsOf(ev, names), truncated: true };
    stack.push({ ev, args });
    emit('B', ev, first, args);
  }

  for (const ev of events) {
    if (ev.ph === 'i') { emit('i', ev, ev.ts, argsOf(ev, names)); continue; }
    if (ev.ph === 'B') {
      const args = argsOf(ev, names);
      stack.push({ ev, args });
      emit('B', ev, ev.ts, args);
      continue;
    }
    const j = findLast(stack, (o) => closes(ev, o.ev));
    if (j < 0) continue; // cannot happen: the orphans were opened above
    const above = stack.splice(j + 1);
    for (let k = above.length - 1; k >= 0; k--) emit('E', above[k]!.ev, ev.ts);
    emit('E', stack.pop()!.ev, ev.ts);
    for (const o of above) {
      o.args = { ...o.args, continued: true };
      stack.push(o);
      emit('B', o.ev, ev.ts, o.args);
    }
  }
  for (let k = stack.length - 1; k >= 0; k--) emit('E', stack[k]!.ev, tEnd);
}

function findLast<T>(list: T[], pred: (x: T) => boolean): number {
  for (let i = list.length - 1; i >= 0; i--) if (pred(list[i]!)) return i;
  return -1;
}
