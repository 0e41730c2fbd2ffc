/**
 * The lock-order validator's graph logic, on one thread: declared-hierarchy
 * checks for every ordered pair of each documented order, cycles (2 and 3
 * classes), trylock adding no edge, same-class nesting, recursion,
 * unlock-of-unheld, deduplication, overflow, and the text report; operation
 * names in provenance, the checked-stack memo, stopAtFirst, findingKey and
 * the JSON report.
 */
import { describe, expect, it } from 'vitest';
import { LOCK_ORDER_2017, LOCK_ORDER_UPSTREAM, LockArena, ThreadContext } from '../dist/src/sync/index.js';
import { Validator, findingKey, formatFinding, validatorReport, type ValidatorOptions } from '../dist/src/sync/validator.js';
import { operationId } from '../dist/src/sync/operations.js';

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

describe('operation names', () => {
  it('an edge and a finding carry the operation the thread was in; setOperation returns the previous one', () => {
    const { v, m, ctx } = setup(['A', 'B'], { hierarchy: 'none' });
    expect(ctx.setOperation(operationId('SAVE_TABLES'))).toBe(0);
    m('A').lock(); m('B').lock(); m('B').unlock(); m('A').unlock();
    expect(ctx.setOperation(operationId('CWRITER write'))).toBe(operationId('SAVE_TABLES'));
    m('B').lock(); m('A').lock(); m('A').unlock(); m('B').unlock();
    expect(v.edges().map((e) => [`${e.from}->${e.to}`, e.operation])).toEqual([['A->B', 'SAVE_TABLES'], ['B->A', 'CWRITER write']]);
    const [f] = v.findings();
    expect(f).toMatchObject({ kind: 'inversion', operation: 'CWRITER write' });
    const text = formatFinding(f!);
    expect(text).toContain('main in CWRITER write is trying to acquire A#0 while holding B#0');
    expect(text).toContain('-> #1 A -> B: main in SAVE_TABLES acquired B#0 while holding A#0');
  });

  it('a thread outside any named operation is reported without one', () => {
    const { v, m } = setup(['A', 'B'], { hierarchy: ['A', 'B'] });
    m('B').lock(); m('A').lock(); m('A').unlock(); m('B').unlock();
    const [f] = v.findings();
    expect(f!.operation).toBe('none');
    expect(formatFinding(f!)).toContain('  main locked A#0 while holding B#0');
  });
});

describe('checked-stack memo (a repeated acquisition is walked once)', () => {
  it('the same lock over a different held stack is checked again', () => {
    const { v, m } = setup(['A', 'B', 'C'], { hierarchy: 'none' });
    for (let i = 0; i < 3; i++) { m('A').lock(); m('B').lock(); m('B').unlock(); m('A').unlock(); }
    m('C').lock(); m('B').lock(); m('B').unlock(); m('C').unlock();
    expect(v.edges().map((e) => `${e.from}->${e.to}`).sort()).toEqual(['A->B', 'C->B']);
    // ... and deeper: A C then B under both, after A B was memoised at depth 1.
    m('A').lock(); m('C').lock(); m('B').lock(); m('B').unlock(); m('C').unlock(); m('A').unlock();
    expect(v.edges().map((e) => `${e.from}->${e.to}`).sort()).toEqual(['A->B', 'A->C', 'C->B']);
  });

  it('after an out-of-order release the stack is checked again', () => {
    const { v, m } = setup(['A', 'B', 'C', 'D'], { hierarchy: 'none' });
    m('A').lock(); m('B').lock(); m('D').lock(); m('D').unlock();
    m('A').unlock(); // out of order: the held stack is now [B]
    m('C').lock(); m('D').lock(); m('D').unlock(); m('C').unlock(); m('B').unlock();
    expect(v.edges().map((e) => `${e.from}->${e.to}`).sort()).toEqual(['A->B', 'A->D', 'B->C', 'B->D', 'C->D']);
    expect(v.findings()).toEqual([]);
  });

  it('a trylock, checked for the hierarchy only, does not stand for a lock at the same depth', () => {
    const { v, m } = setup(['A', 'B'], { hierarchy: 'none' });
    m('A').lock(); expect(m('B').tryLock()).toBe(0); m('B').unlock();
    expect(v.edgeCount()).toBe(0);
    m('B').lock(); m('B').unlock(); m('A').unlock();
    expect(v.edges().map((e) => `${e.from}->${e.to}`)).toEqual(['A->B']);
  });
});

describe('stopAtFirst', () => {
  it('records exactly one finding, raises stopped, and counts later ones in overflow', async () => {
    const { v, m } = setup(['A', 'B', 'C'], { hierarchy: ['A', 'B', 'C'], stopAtFirst: true });
    expect(v.stopped).toBe(false);
    expect(await v.waitStopped(0)).toBe(false);
    m('C').lock(); m('B').lock(); m('A').lock(); m('A').unlock(); m('B').unlock(); m('C').unlock();
    expect(v.findings()).toHaveLength(1);
    expect(v.findings()[0]).toMatchObject({ kind: 'hierarchy', classes: ['C', 'B'] });
    expect(v.stopped).toBe(true);
    expect(await v.waitStopped()).toBe(true);
    expect(v.overflow()).toBe(2);
  });

  it('without it, no flag is raised', () => {
    const { v, m } = setup(['A', 'B'], { hierarchy: ['A', 'B'] });
    m('B').lock(); m('A').lock(); m('A').unlock(); m('B').unlock();
    expect(v.findings()).toHaveLength(1);
    expect(v.stopped).toBe(false);
  });
});

describe('findingKey and the JSON report', () => {
  /** Close the cycle A -> B -> C -> A by taking the pairs in `order`, on a thread called `name`. */
  function cycle(order: [string, string][], name: string, instance = 0) {
    const arena = LockArena.create({ classes: 16, threads: 8, locks: 64 }, 'off');
    const v = new Validator(Validator.create(arena, { hierarchy: 'none' }), arena);
    const ctx = ThreadContext.register(arena, 'vcpu', 0, name);
    v.observe(ctx);
    const locks = new Map(['A', 'B', 'C'].map((c) => [c, ctx.mutex(arena.allocLock(c, instance))]));
    for (const [x, y] of order) { locks.get(x)!.lock(); locks.get(y)!.lock(); locks.get(y)!.unlock(); locks.get(x)!.unlock(); }
    const f = v.findings();
    expect(f).toHaveLength(1);
    return { f: f[0]!, v };
  }

  it('an inversion\'s key is its cycle from the smallest class: the same for another closing edge, thread or instance', () => {
    const a = cycle([['A', 'B'], ['B', 'C'], ['C', 'A']], 'vCPU 0');
    const b = cycle([['B', 'C'], ['C', 'A'], ['A', 'B']], 'VMM', 3);
    expect(a.f.classes).not.toEqual(b.f.classes); // found at different edges: different rotations
    expect(findingKey(a.f)).toBe('inversion: A -> B -> C -> A');
    expect(findingKey(b.f)).toBe(findingKey(a.f));
    const reverse = cycle([['A', 'C'], ['C', 'B'], ['B', 'A']], 'vCPU 0');
    expect(findingKey(reverse.f)).toBe('inversion: A -> C -> B -> A');
  });

  it('a hierarchy finding\'s key is the held class, the acquired class and how, without threads or instances', () => {
    const key = (thread: string, instance: number, how: 'lock' | 'trylock') => {
      const arena = LockArena.create({ classes: 16, threads: 8, locks: 64 }, 'off');
      const v = new Validator(Validator.create(arena, { hierarchy: ['A', 'B'] }), arena);
      const ctx = ThreadContext.register(arena, 'vcpu', instance, thread);
      v.observe(ctx);
      const a = ctx.mutex(arena.allocLock('A', instance)), b = ctx.mutex(arena.allocLock('B', instance));
      b.lock(); expect(how === 'lock' ? a.lock() : a.tryLock()).toBe(0); a.unlock(); b.unlock();
      const [f] = v.findings();
      expect(f!.thread).toBe(thread);
      return findingKey(f!);
    };
    expect(key('vCPU 0', 0, 'lock')).toBe('hierarchy: B > A by lock');
    expect(key('ITS 1', 7, 'lock')).toBe('hierarchy: B > A by lock');
    expect(key('vCPU 0', 0, 'trylock')).toBe('hierarchy: B > A by trylock');
  });

  it('the report is plain data: JSON.stringify / parse give it back unchanged', () => {
    const { v } = cycle([['A', 'B'], ['B', 'C'], ['C', 'A']], 'vCPU 0');
    const r = validatorReport(v);
    expect(r.findings[0]!.key).toBe('inversion: A -> B -> C -> A');
    expect(r.edges).toHaveLength(3);
    expect(r).toMatchObject({ overflow: 0, stopped: false, hierarchy: { name: 'none', order: [] } });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    const up = setup([], {});
    expect(validatorReport(up.v).hierarchy).toEqual({ name: 'upstream', order: [...LOCK_ORDER_UPSTREAM] });
  });
});
