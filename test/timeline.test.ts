/**
 * The timeline recorder and its Chrome Trace export: two real worker threads
 * contend for a real arena lock and record their spans; the trace names both
 * threads, balances B/E on each, and shows the wait on the contended thread.
 * Then, on one thread: ring overflow is counted and drawn, spans released out
 * of order stay nested, a begin never ended is closed at the last timestamp,
 * and composeObservers calls every observer.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { LockArena, ThreadContext, composeObservers, type LockObserver } from '../dist/src/sync/index.js';
import {
  createTimeline, readTimeline, timelineEventId, timelineLockObserver, toChromeTrace, TimelineWriter,
  type ChromeTrace, type ChromeTraceEvent,
} from '../dist/src/stress/index.js';
import { T_DONE, T_WORDS } from './fixtures/timeline-ctl.mjs';
import { waitForWord, within } from './helpers/wait.js';

const WORKER = new URL('./fixtures/timeline-worker.mjs', import.meta.url);

function lockNamer(arena: LockArena) {
  return (lock: number) => {
    const info = arena.lockInfo(lock);
    return `${info.className}#${info.instance}`;
  };
}

/** The events of trace thread `tid`, without metadata. */
const ofThread = (t: ChromeTrace, tid: number) => t.traceEvents.filter((e) => e.tid === tid && e.ph !== 'M');

/** B/E pairs on `tid` nest: every E closes the innermost open B of the same name; none stays open. */
function expectBalanced(t: ChromeTrace, tid: number): void {
  const stack: string[] = [];
  let last = -Infinity;
  for (const e of ofThread(t, tid)) {
    expect(e.ts!).toBeGreaterThanOrEqual(last);
    last = e.ts!;
    if (e.ph === 'B') stack.push(e.name);
    else if (e.ph === 'E') expect(stack.pop(), `E ${e.name} at ${e.ts}`).toBe(e.name);
  }
  expect(stack).toEqual([]);
}

function threadNames(t: ChromeTrace): Map<number, string> {
  return new Map(t.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name')
    .map((e) => [e.tid, (e.args as { name: string }).name]));
}

const spans = (t: ChromeTrace, tid: number, name: string): ChromeTraceEvent[] =>
  ofThread(t, tid).filter((e) => e.name === name && e.ph === 'B');

describe('timeline: two worker threads on one lock', () => {
  it('records both threads, balanced spans, and the lock wait on the contended thread', async () => {
    const arena = LockArena.create({ locks: 8, threads: 16 }, 'off');
    const lock = arena.allocLock('test.timeline');
    const timeline = createTimeline({ slots: 2, capacity: 256 });
    const ctl = new Int32Array(new SharedArrayBuffer(T_WORDS * 4));
    const names = ['vcpu 0 (holder)', 'vcpu 1 (contender)'];
    const workers = (['holder', 'contender'] as const).map((role, slot) => new Worker(WORKER, {
      workerData: { arena: arena.buffer, lock, timeline, slot, name: names[slot], role, ctl: ctl.buffer },
    }));
    const exits = workers.map((w) => new Promise<number>((resolve, reject) => {
      w.once('error', reject);
      w.once('exit', resolve);
    }));
    await waitForWord(ctl, T_DONE, (v) => v === 2, 'both workers to finish recording');
    expect(await within(Promise.all(exits), 'both workers to exit')).toEqual([0, 0]);

    const t = toChromeTrace(timeline, { threadName: (s) => names[s]!, lockName: lockNamer(arena) });
    expect(t.displayTimeUnit).toBe('ns');
    expect(JSON.parse(JSON.stringify(t))).toEqual(t); // plain JSON
    const threads = threadNames(t);
    expect([...threads.values()].sort()).toEqual([...names].sort());
    const tidOf = (name: string) => [...threads].find(([, n]) => n === name)![0];
    const holder = tidOf(names[0]!), contender = tidOf(names[1]!);
    expectBalanced(t, holder);
    expectBalanced(t, contender);

    for (const tid of [holder, contender]) {
      expect(spans(t, tid, 'KVM_RUN')).toHaveLength(1);
      expect(spans(t, tid, 'lock held').map((e) => e.args)).toEqual([{ lock: 'test.timeline#0', trylock: 0 }]);
    }
    expect(spans(t, holder, 'lock wait')).toEqual([]);
    const wait = spans(t, contender, 'lock wait');
    expect(wait.map((e) => ({ cat: e.cat, args: e.args }))).toEqual([{ cat: 'lock', args: { lock: 'test.timeline#0' } }]);
    expect(ofThread(t, holder).filter((e) => e.ph === 'i').map((e) => e.name)).toEqual(['kick']);

    // The threads' clocks agree: the holder released inside the contender's wait (to clock precision).
    const end = (tid: number, name: string) => ofThread(t, tid).find((e) => e.ph === 'E' && e.name === name)!.ts!;
    const released = end(holder, 'lock held');
    const slackUs = 1000;
    expect(wait[0]!.ts!).toBeLessThan(released + slackUs);
    expect(end(contender, 'lock wait')).toBeGreaterThan(released - slackUs);
    expect(t.otherData.overflow).toEqual({});
  });
});

describe('timeline on one thread', () => {
  it('counts ring overflow, keeps the newest events, and still balances the trace', () => {
    const timeline = createTimeline({ slots: 1, capacity: 8 });
    const w = new TimelineWriter(timeline, 0);
    w.begin('KVM_RUN', 0);
    for (let i = 0; i < 10; i++) { w.begin('lock held', 3); w.end('lock held', 3); }
    w.end('KVM_RUN', 0);
    expect(w.overflow).toBe(22 - 8);
    const [slot] = readTimeline(timeline);
    expect(slot!.overflow).toBe(14);
    expect(slot!.events).toHaveLength(8);
    expect(slot!.events.at(-1)).toMatchObject({ ph: 'E', name: timelineEventId('KVM_RUN'), args: [0] });

    const t = toChromeTrace(timeline, { threadName: () => 'main', lockName: (l) => `lock ${l}` });
    expect(t.otherData.overflow).toEqual({ main: 14 });
    expect(ofThread(t, 1).find((e) => e.name === 'ring overflow')).toMatchObject({ ph: 'i', args: { lost: 14 } });
    expectBalanced(t, 1);
    // The KVM_RUN begin was overwritten: it starts at the first kept event, marked truncated.
    const run = spans(t, 1, 'KVM_RUN');
    expect(run).toHaveLength(1);
    expect(run[0]!.args).toMatchObject({ vcpu: 0, truncated: true });
    expect(run[0]!.ts).toBe(0);
  });

  it('keeps locks released out of order nested, and closes an open span at the last timestamp', () => {
    const arena = LockArena.create({ locks: 8, threads: 8 }, 'off');
    const [a, b] = [arena.allocLock('A'), arena.allocLock('B')];
    const timeline = createTimeline({ slots: 2 });
    const ctx = ThreadContext.register(arena, 'vmm', 0, 'main');
    const seen: string[] = [];
    const spy: LockObserver = { acquired: (l) => seen.push(`+${l}`), released: (l) => seen.push(`-${l}`) };
    ctx.observer = composeObservers(null, timelineLockObserver(new TimelineWriter(timeline, 0)), undefined, spy);
    const other = new TimelineWriter(timeline, 1);
    other.begin('WFI');
    // Uncontended lock() never blocks, so the main thread may use it here.
    expect(ctx.mutex(a).lock()).toBe(0);
    expect(ctx.mutex(b).lock()).toBe(0);
    expect(ctx.mutex(a).unlock()).toBe(0); // hand-over-hand: A goes first
    expect(ctx.mutex(b).unlock()).toBe(0);
    other.instant('scenario step', 1);
    expect(seen).toEqual([`+${a}`, `+${b}`, `-${a}`, `-${b}`]);

    const t = toChromeTrace(timeline, { threadName: (s) => `slot ${s}`, lockName: (l) => (l === a ? 'A' : 'B') });
    expectBalanced(t, 1);
    expectBalanced(t, 2);
    const held = ofThread(t, 1).map((e) => `${e.ph} ${(e.args as { lock?: string } | undefined)?.lock ?? ''}`.trim());
    // B is closed around A's end and reopened, marked continued.
    expect(held).toEqual(['B A', 'B B', 'E', 'E', 'B B', 'E']);
    expect(spans(t, 1, 'lock held')[2]!.args).toMatchObject({ lock: 'B', continued: true });
    // WFI never ended: it is closed at the last timestamp of the whole timeline.
    const last = Math.max(...t.traceEvents.filter((e) => e.ts !== undefined).map((e) => e.ts!));
    const wfiEnd = ofThread(t, 2).find((e) => e.ph === 'E' && e.name === 'WFI')!;
    expect(wfiEnd.ts).toBe(last);
  });
});

describe('composeObservers', () => {
  it('is null for none, the observer itself for one, and calls all in order for several', () => {
    expect(composeObservers()).toBeNull();
    expect(composeObservers(null, undefined)).toBeNull();
    const calls: string[] = [];
    const mk = (n: string, withWaiting: boolean): LockObserver => ({
      acquired: (l, how) => calls.push(`${n} acquired ${l} ${how}`),
      released: (l) => calls.push(`${n} released ${l}`),
      ...(withWaiting ? { waiting: (l: number) => calls.push(`${n} waiting ${l}`) } : {}),
    });
    const one = mk('one', false);
    expect(composeObservers(null, one)).toBe(one);
    expect(composeObservers(one, mk('two', false))!.waiting).toBeUndefined();
    const c = composeObservers(mk('a', true), null, mk('b', false))!;
    c.waiting!(4, 'lock');
    c.acquired(4, 'trylock');
    c.released(4);
    expect(calls).toEqual(['a waiting 4', 'a acquired 4 trylock', 'b acquired 4 trylock', 'a released 4', 'b released 4']);
  });
});
