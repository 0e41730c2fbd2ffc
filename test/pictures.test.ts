/**
 * Pictures of the lock dependency graph: a real validator (one thread) makes
 * an ABBA inversion, a trylock against the hierarchy and a hierarchy edge;
 * the LockGraph marks the right edges offending, the DOT has every class as
 * a node and the offending edges red, and the SVG (Graphviz in WebAssembly)
 * is a standalone document naming every class.
 */
import { describe, expect, it } from 'vitest';
import {
  ITS_CMD_LOCK, ITS_ITS_LOCK, KVM_LOCK, LOCK_ORDER_UPSTREAM, LockArena, ThreadContext, VCPU_MUTEX,
} from '../dist/src/sync/index.js';
import { Validator } from '../dist/src/sync/validator.js';
import {
  lockGraphFromValidator, lockGraphToDot, lockGraphToSvg, type LockGraph,
} from '../dist/src/stress/index.js';

/** One thread, the upstream hierarchy plus two undeclared classes A and B. */
function scene(): LockGraph {
  const arena = LockArena.create({ classes: 16, threads: 8, locks: 64 }, 'off');
  const v = new Validator(Validator.create(arena), arena);
  const ctx = ThreadContext.register(arena, 'vcpu', 0, 'vcpu "0"');
  v.observe(ctx);
  const lock = new Map<string, number>();
  for (const c of [KVM_LOCK, VCPU_MUTEX, ITS_CMD_LOCK, ITS_ITS_LOCK, 'A', 'B']) lock.set(c, arena.allocLock(c));
  const m = (c: string) => ctx.mutex(lock.get(c)!);
  const pair = (outer: string, inner: string, how: 'lock' | 'trylock' = 'lock') => {
    expect(m(outer).lock()).toBe(0);
    expect(how === 'lock' ? m(inner).lock() : m(inner).tryLock()).toBe(0);
    m(inner).unlock(); m(outer).unlock();
  };
  pair(KVM_LOCK, VCPU_MUTEX); // in order
  pair(ITS_CMD_LOCK, ITS_ITS_LOCK); // in order
  pair('A', 'B'); pair('B', 'A'); // ABBA: an inversion cycle
  pair(ITS_ITS_LOCK, VCPU_MUTEX, 'trylock'); // against the order, no edge (the v7-2017 save path)
  pair(ITS_CMD_LOCK, KVM_LOCK); // against the order, with an edge
  const g = lockGraphFromValidator(v.edges(), v.findings(), LOCK_ORDER_UPSTREAM);
  g.title = 'upstream "test" run';
  return g;
}

const edge = (g: LockGraph, from: string, to: string) => g.edges.find((e) => e.from === from && e.to === to);

/** The statements of a DOT body: node ids and edges with their attribute lists. */
function parseDot(dot: string) {
  const nodes = new Set<string>();
  const edges: { from: string; to: string; attrs: string }[] = [];
  const id = '"((?:[^"\\\\]|\\\\.)*)"';
  for (const line of dot.split('\n')) {
    const e = new RegExp(`^\\s*${id} -> ${id} \\[(.*)\\];$`).exec(line);
    if (e !== null) { edges.push({ from: e[1]!, to: e[2]!, attrs: e[3]! }); continue; }
    const n = new RegExp(`^\\s*${id} \\[(.*)\\];$`).exec(line);
    if (n !== null) nodes.add(n[1]!);
  }
  return { nodes, edges };
}

describe('lock graph from the validator', () => {
  it('marks the inversion cycle and the hierarchy pairs offending, a trylock pair dashed', () => {
    const g = scene();
    expect(g.classes.map((c) => c.name)).toEqual([KVM_LOCK, VCPU_MUTEX, ITS_CMD_LOCK, ITS_ITS_LOCK, 'A', 'B']);
    expect(g.classes.find((c) => c.name === ITS_ITS_LOCK)?.rank).toBe(LOCK_ORDER_UPSTREAM.indexOf(ITS_ITS_LOCK));
    expect(g.classes.find((c) => c.name === 'A')?.rank).toBeUndefined();
    expect(edge(g, 'A', 'B')).toMatchObject({ offending: true, thread: 'vcpu "0"' });
    expect(edge(g, 'B', 'A')).toMatchObject({ offending: true });
    expect(edge(g, ITS_CMD_LOCK, KVM_LOCK)).toMatchObject({ offending: true });
    expect(edge(g, ITS_ITS_LOCK, VCPU_MUTEX)).toMatchObject({ offending: true, note: 'trylock' });
    expect(edge(g, KVM_LOCK, VCPU_MUTEX)).toMatchObject({ offending: false });
    expect(edge(g, ITS_CMD_LOCK, ITS_ITS_LOCK)).toMatchObject({ offending: false });
    expect(g.edges.filter((e) => e.note === 'trylock')).toHaveLength(1);
  });
});

describe('DOT', () => {
  it('has every class as a node, offending edges red and bold, trylock dashed, quotes escaped', () => {
    const g = scene();
    const dot = lockGraphToDot(g);
    expect(dot).toMatch(/^digraph "upstream \\"test\\" run" \{\n/);
    expect(dot.trimEnd().endsWith('}')).toBe(true);
    const { nodes, edges } = parseDot(dot);
    for (const c of g.classes) expect(nodes.has(c.name)).toBe(true);
    const drawn = edges.filter((e) => !e.attrs.includes('style=invis'));
    expect(drawn).toHaveLength(g.edges.length);
    for (const e of g.edges) {
      const d = drawn.find((x) => x.from === e.from && x.to === e.to)!;
      expect(d, `${e.from} -> ${e.to}`).toBeDefined();
      expect(d.attrs.includes('color=red')).toBe(e.offending);
      if (e.offending) expect(d.attrs).toMatch(/style="[^"]*bold/);
      expect(d.attrs).toContain('label="vcpu \\"0\\"');
    }
    expect(drawn.find((x) => x.from === ITS_ITS_LOCK && x.to === VCPU_MUTEX)!.attrs).toMatch(/style="dashed,bold"/);
  });

  it('labels an edge "thread · operation", naming the acting thread', () => {
    const dot = lockGraphToDot({
      classes: [{ name: 'x' }, { name: 'y' }],
      edges: [{ from: 'x', to: 'y', thread: 'vcpu 1', actingThread: 'its 0', operation: 'SAVE_TABLES', offending: false }],
    });
    expect(dot).toContain('"x" -> "y" [label="vcpu 1 via its 0 · SAVE_TABLES"');
  });
});

describe('SVG', () => {
  it('is a standalone SVG document with every class and the offending colour', async () => {
    const g = scene();
    const svg = await lockGraphToSvg(g);
    expect(svg.startsWith('<?xml') || svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    for (const c of g.classes) expect(svg).toContain(`>${c.name}</text>`);
    expect(svg).toContain('stroke="red"');
    // Well-formed enough for an XML reader: the tags balance.
    const body = svg.slice(svg.indexOf('<svg')).replace(/<!--[\s\S]*?-->/g, '');
    const stack: string[] = [];
    for (const m of body.matchAll(/<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g)) {
      if (m[3] === '/') continue;
      if (m[1] === '/') expect(stack.pop()).toBe(m[2]);
      else stack.push(m[2]!);
    }
    expect(stack).toEqual([]);
  });
});
