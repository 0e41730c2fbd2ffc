/**
 * The lock dependency graph as a picture-neutral value: lock classes (with
 * their rank in the declared order) and the edges between them, each with
 * the thread that made it and whether a finding blames it. The DOT and SVG
 * renderers (dot.ts, svg.ts) draw only this; the validator is one source.
 */
import type { EdgeProvenance, Finding } from '../../sync/validator.js';
import { LOCK_ORDER_UPSTREAM } from '../../sync/classes.js';

/** A lock dependency graph to draw: classes and the edges between them. */
export interface LockGraph {
  /** The picture's title. Default 'lock dependencies'. */
  title?: string;
  /** Every class drawn. */
  classes: {
    /** The lock class, e.g. 'its.cmd_lock'. */
    name: string;
    /** Its position in the declared order (0 = outermost); absent if undeclared. */
    rank?: number;
  }[];
  /** Every dependency edge. */
  edges: LockGraphEdge[];
}

/** One edge: `to` was taken while `from` was held. */
export interface LockGraphEdge {
  /** The class held. */
  from: string;
  /** The class taken. */
  to: string;
  /** The thread the edge is attributed to. */
  thread: string;
  /** The thread that took the lock, when it differs (an actor serving `thread`'s request). */
  actingThread?: string;
  /** What the thread was doing (e.g. 'SAVE_TABLES'), when the source knows. */
  operation?: string;
  /** Part of an inversion cycle or against the declared hierarchy. */
  offending: boolean;
  /** 'trylock': no dependency edge exists (a trylock adds none), drawn dashed; 'recursive': same-class nesting. */
  note?: string;
}

const key = (from: string, to: string): string => `${from}\u0000${to}`;

/**
 * The validator's graph (`Validator.edges()`) and findings (`Validator.findings()`)
 * as a LockGraph. Offending: every edge of an inversion cycle, and a hierarchy
 * finding's held -> acquired pair; a hierarchy finding made by a trylock has no
 * edge, so one is added, dashed, with note 'trylock'. A recursive finding is a
 * self-loop. `order` gives the ranks (default: today's upstream order).
 * Pass `vm.lockReport()`'s edges and findings.
 */
export function lockGraphFromValidator(edges: EdgeProvenance[], findings: Finding[],
  order: readonly string[] = LOCK_ORDER_UPSTREAM): LockGraph {
  const out = new Map<string, LockGraphEdge>();
  const add = (e: LockGraphEdge): LockGraphEdge => {
    const k = key(e.from, e.to);
    const seen = out.get(k);
    if (seen !== undefined) return seen;
    out.set(k, e);
    return e;
  };
  const fromProvenance = (p: EdgeProvenance): LockGraphEdge => {
    const e: LockGraphEdge = { from: p.from, to: p.to, thread: p.thread, offending: false };
    if (p.actingTid !== p.tid) e.actingThread = p.actingThread;
    return e;
  };
  const fromFinding = (f: Finding, from: string, to: string, note?: string): LockGraphEdge => {
    const e: LockGraphEdge = { from, to, thread: f.thread, offending: true };
    if (f.actingTid !== f.tid) e.actingThread = f.actingThread;
    if (note !== undefined) e.note = note;
    return e;
  };

  for (const p of edges) add(fromProvenance(p));
  for (const f of findings) {
    if (f.kind === 'inversion') {
      // The cycle's edges are in the graph (edges are never removed); a caller may pass a partial list.
      for (const p of f.edges) add(fromProvenance(p)).offending = true;
    } else if (f.kind === 'hierarchy') {
      const [held, acquired] = f.classes as [string, string];
      const existing = out.get(key(held, acquired));
      if (existing !== undefined) existing.offending = true;
      else add(fromFinding(f, held, acquired, f.how === 'trylock' ? 'trylock' : undefined));
    } else if (f.kind === 'recursive') {
      const [held, acquired] = f.classes as [string, string];
      const e = add(fromFinding(f, held, acquired, 'recursive'));
      e.offending = true;
    }
  }

  const names = new Set<string>();
  for (const e of out.values()) { names.add(e.from); names.add(e.to); }
  for (const f of findings) for (const c of f.classes) names.add(c);
  const rankOf = new Map(order.map((c, r) => [c, r]));
  // Declared classes in their order first, then the others by name: a stable picture.
  const classes = [...names].sort((a, b) => (rankOf.get(a) ?? Infinity) - (rankOf.get(b) ?? Infinity) || (a < b ? -1 : a > b ? 1 : 0))
    .map((name) => {
      const rank = rankOf.get(name);
      return rank === undefined ? { name } : { name, rank };
    });
  return { classes, edges: [...out.values()] };
}
