/**
 * The lock-order validator's graph logic, on one thread: declared-hierarchy
 * checks for every ordered pair of each documented order, cycles (2 and 3
 * classes), trylock adding no edge, same-class nesting, recursion,
 * unlock-of-unheld, deduplication, overflow, and the text report.
 */
import { describe, expect, it } from 'vitest';
import { LOCK_ORDER_2017, LOCK_ORDER_UPSTREAM, LockArena, ThreadContext } from '../dist/src/sync/index.js';
import { Validator, formatFinding, type ValidatorOptions } from '../dist/src/sync/validator.js';

function setup(classes: string[], options: ValidatorOptions = {}) {
  const arena = LockArena.create({ classes: 16, threads: 8, locks: 64 }, 'off');
  const v = new Validator(Validator.create(arena, options), arena);
  const ctx = ThreadContext.register(arena, 'vmm', 0, 'main');
  v.observe(ctx);
  const locks = new Map<string, number>();
  for (const c of classes) locks.set(c, arena.allocLock(c));
  const m = (c: string) => ctx.mutex(locks.get(c)!);
  return { arena, v, ctx, locks, m };
}

const HIERARCHIES: [string, readonly string[]][] = [['upstream', LOCK_ORDER_UPSTREAM], ['2017', LOCK_ORDER_2017]];

for (const [name, order] of HIERARCHIES) {
  describe(`declared hierarchy ${name}: ${order.join(' > ')}`, () => {
    for (let i = 0; i < order.length; i++) {
      for (let j = i + 1; j < order.length; j++) {
        const a = order[i]!, b = order[j]!;
        it(`${a} then ${b} is kept; ${b} then ${a} is reported (lock and trylock)`, () => {
          const kept = setup([a, b], { hierarchy: order });
          expect(kept.m(a).lock()).toBe(0);
          expect(kept.m(b).lock()).toBe(0);
          kept.m(b).unlock(); kept.m(a).unlock();
          expect(kept.v.findings()).toEqual([]);

          for (const how of ['lock', 'trylock'] as const) {
            const inv = setup([a, b], { hierarchy: order });
            expect(inv.m(b).lock()).toBe(0);
            expect(how === 'lock' ? inv.m(a).lock() : inv.m(a).tryLock()).toBe(0);
            inv.m(a).unlock(); inv.m(b).unlock();
            const f = inv.v.findings();
            expect(f).toHaveLength(1);
            expect(f[0]).toMatchObject({ kind: 'hierarchy', classes: [b, a], how, thread: 'main', lock: `${a}#0`, held: `${b}#0`, hierarchy: name });
            expect(formatFinding(f[0]!)).toContain(`hierarchy: ${a} acquired while holding ${b}`);
          }
        });
      }
    }
  });
}

describe('dependency graph', () => {
  it('finds an ABBA inversion, once, with both edges and the unsafe-scenario table', () => {
    const { v, m, ctx } = setup(['A', 'B'], { hierarchy: 'none' });
    for (let round = 0; round < 3; round++) {
      m('A').lock(); m('B').lock(); m('B').unlock(); m('A').unlock();
      m('B').lock(); m('A').lock(); m('A').unlock(); m('B').unlock();
    }
    const f = v.findings();
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ kind: 'inversion', classes: ['B', 'A'], tid: ctx.tid, lock: 'A#0', held: 'B#0' });
    expect(f[0]!.edges.map((e) => [e.from, e.to, e.tid, e.fromLock, e.toLock])).toEqual([
      ['B', 'A', ctx.tid, 'B#0', 'A#0'], ['A', 'B', ctx.tid, 'A#0', 'B#0']]);
    const text = formatFinding(f[0]!);
    expect(text).toMatch(/CPU0 \(main\) +CPU1 \(main\)/);
    expect(text).toMatch(/^ {2}lock\(B\);\n {26}lock\(A\);\n {26}lock\(B\);\n {2}lock\(A\);$/m);
    expect(text).toContain('*** DEADLOCK ***');
    expect(JSON.parse(JSON.stringify(f))).toEqual(f);
  });

  it('finds a three-class cycle with its three edges', () => {
    const { v, m } = setup(['A', 'B', 'C'], { hierarchy: 'none' });
    const pair = (x: string, y: string) => { m(x).lock(); m(y).lock(); m(y).unlock(); m(x).unlock(); };
    pair('A', 'B'); pair('B', 'C');
    expect(v.findings()).toEqual([]);
    pair('C', 'A');
    const f = v.findings();
    expect(f).toHaveLength(1);
    expect(f[0]!.edges.map((e) => `${e.from}->${e.to}`)).toEqual(['C->A', 'A->B', 'B->C']);
  });

  it('a trylock is held but adds no edge', () => {
    const { v, m, locks } = setup(['A', 'B'], { hierarchy: 'none' });
    m('A').lock(); expect(m('B').tryLock()).toBe(0); m('B').unlock(); m('A').unlock();
    expect(v.edgeCount()).toBe(0);
    // ... but a trylocked lock, once held, is the source of later edges.
    expect(m('B').tryLock()).toBe(0); m('A').lock(); m('A').unlock(); m('B').unlock();
    expect(v.edges().map((e) => `${e.from}->${e.to}`)).toEqual(['B->A']);
    expect(v.findings()).toEqual([]);
    expect(locks.size).toBe(2);
  });

  it('same-class nesting: vcpu.mutex under kvm.lock is allowed, otherwise reported', () => {
    const { arena, v, ctx } = setup(['kvm.lock'], { hierarchy: 'upstream' });
    const kvm = ctx.mutex(arena.allocLock('kvm.lock'));
    const v0 = ctx.mutex(arena.allocLock('vcpu.mutex', 0)), v1 = ctx.mutex(arena.allocLock('vcpu.mutex', 1));
    kvm.lock(); v0.lock(); v1.lock(); v1.unlock(); v0.unlock(); kvm.unlock();
    expect(v.findings()).toEqual([]);
    v0.lock(); v1.lock(); v1.unlock(); v0.unlock();
    expect(v.findings()).toMatchObject([{ kind: 'recursive', classes: ['vcpu.mutex', 'vcpu.mutex'], lock: 'vcpu.mutex#1', held: 'vcpu.mutex#0' }]);
    expect(v.edges().map((e) => `${e.from}->${e.to}`)).toEqual(['kvm.lock->vcpu.mutex']); // no self edge
  });

  it('nestable: [] reports vcpu.mutex nesting even under kvm.lock; a plain class name allows it anywhere', () => {
    for (const [nestable, expected] of [[[], 1], [['vcpu.mutex'], 0]] as const) {
      const { arena, v, ctx } = setup([], { nestable: [...nestable] });
      const kvm = ctx.mutex(arena.allocLock('kvm.lock'));
      const v0 = ctx.mutex(arena.allocLock('vcpu.mutex', 0)), v1 = ctx.mutex(arena.allocLock('vcpu.mutex', 1));
      kvm.lock(); v0.lock(); v1.lock(); v1.unlock(); v0.unlock(); kvm.unlock();
      expect(v.findings()).toHaveLength(expected);
    }
  });

  it('recursive locking is reported before the mutex refuses it', () => {
    const { v, m } = setup(['A'], { hierarchy: 'none' });
    m('A').lock();
    expect(() => m('A').lock()).toThrow(/recursive locking/);
    expect(v.findings()).toMatchObject([{ kind: 'recursive', lock: 'A#0', held: 'A#0' }]);
    expect(formatFinding(v.findings()[0]!)).toContain('which it already holds');
  });

  it('a release of a lock not on the held stack is reported (stack desync)', () => {
    const { v, ctx, locks } = setup(['A'], { hierarchy: 'none' });
    ctx.observer!.released(locks.get('A')!);
    expect(v.findings()).toMatchObject([{ kind: 'unlock-unheld', classes: ['A'], lock: 'A#0', how: 'unlock' }]);
  });

  it('counts findings past the capacity instead of dropping them silently', () => {
    const { v, m } = setup(['A', 'B', 'C'], { hierarchy: ['A', 'B', 'C'], maxFindings: 1 });
    m('C').lock(); m('B').lock(); m('A').lock(); m('A').unlock(); m('B').unlock(); m('C').unlock();
    expect(v.findings()).toHaveLength(1);
    expect(v.overflow()).toBe(2);
  });
});
