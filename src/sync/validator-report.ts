/**
 * Text rendering of validator findings, in the spirit of lockdep's reports:
 * the edges of a cycle with the chain that created each, and the two-column
 * (one column per edge for longer cycles) "unsafe scenario" table; and
 * the JSON report (plain objects) with a key per finding that identifies it
 * across runs.
 */
import type { EdgeProvenance, Finding, HierarchyName, Validator } from './validator.js';

/** "vCPU 0 (via ITS 0 serving its request) in CWRITER write": who acted, and in which operation. */
function who(e: { thread: string; actingThread: string; tid: number; actingTid: number; operation: string }): string {
  const t = e.tid === e.actingTid ? e.thread : `${e.thread} (via ${e.actingThread} serving its request)`;
  return e.operation === 'none' ? t : `${t} in ${e.operation}`;
}

function edgeLine(e: EdgeProvenance, i: number): string {
  return `  -> #${i} ${e.from} -> ${e.to}: ${who(e)} acquired ${e.toLock} while holding ${e.fromLock}`;
}

/** The "Possible unsafe locking scenario" table: thread i holds edge i's source, then wants its target. */
export function unsafeScenario(edges: EdgeProvenance[]): string {
  const cols = edges.map((e, i) => `CPU${i} (${e.thread})`);
  const width = Math.max(24, ...cols.map((c) => c.length + 2), ...edges.map((e) => Math.max(e.from.length, e.to.length) + 9));
  const row = (col: number, text: string): string => `  ${' '.repeat(col * width)}${text}`.trimEnd();
  const out = [' Possible unsafe locking scenario:', ''];
  out.push(`  ${cols.map((c) => c.padEnd(width)).join('')}`.trimEnd());
  out.push(`  ${cols.map(() => '----'.padEnd(width)).join('')}`.trimEnd());
  edges.forEach((e, i) => out.push(row(i, `lock(${e.from});`)));
  for (let i = edges.length - 1; i >= 0; i--) out.push(row(i, `lock(${edges[i]!.to});`));
  out.push('', ' *** DEADLOCK ***');
  return out.join('\n');
}

/** A finding as text a person can read. */
export function formatFinding(f: Finding): string {
  switch (f.kind) {
    case 'inversion':
      return [
        `inversion: possible circular locking dependency among ${f.classes.join(', ')}`,
        `${who(f)} is trying to acquire ${f.lock} while holding ${f.held ?? '?'},`,
        'which closes the cycle (each edge with the chain that created it):',
        ...f.edges.map(edgeLine),
        ...(f.truncated ? ['  ... (cycle truncated)'] : []),
        '',
        unsafeScenario(f.edges),
      ].join('\n');
    case 'hierarchy':
      return [
        `hierarchy: ${f.classes[1]} acquired while holding ${f.classes[0]}, against the declared order (${f.hierarchy ?? 'custom'}: ${f.classes[0]} nests inside ${f.classes[1]})`,
        `  ${who(f)} ${f.how === 'trylock' ? 'trylocked' : 'locked'} ${f.lock} while holding ${f.held ?? '?'}`,
      ].join('\n');
    case 'recursive':
      return f.held === f.lock
        ? `recursive: ${who(f)} tries to acquire ${f.lock}, which it already holds`
        : `recursive: ${who(f)} acquires ${f.lock} while holding ${f.held ?? '?'} of the same class, without a nesting annotation`;
    case 'unlock-unheld':
      return `unlock-unheld: ${who(f)} releases ${f.lock}, which is not on its held stack`;
  }
}

/**
 * A finding's identity across runs, for deduplicating a stress campaign:
 * no thread names, tids or lock instances. An inversion is its cycle of
 * classes rotated to start at the smallest name (the same cycle closed from
 * another thread, or at another edge, has the same key); a hierarchy finding
 * is the held class, the acquired class and how; the others their classes.
 */
export function findingKey(f: Finding): string {
  switch (f.kind) {
    case 'inversion': {
      const c = f.classes;
      let start = 0;
      for (let i = 1; i < c.length; i++) if (c[i]! < c[start]!) start = i;
      const cycle = [...c.slice(start), ...c.slice(0, start)];
      return `inversion: ${[...cycle, cycle[0]].join(' -> ')}${f.truncated ? ' ...' : ''}`;
    }
    case 'hierarchy':
      return `hierarchy: ${f.classes[0]} > ${f.classes[1]} by ${f.how}`;
    case 'recursive':
      return `recursive: ${f.classes[0]} > ${f.classes[1]}${f.held === f.lock ? ' (same lock)' : ''}`;
    case 'unlock-unheld':
      return `unlock-unheld: ${f.classes[0]}`;
  }
}

/** What validatorReport returns: plain data (JSON.stringify / parse round-trip it unchanged). */
export interface ValidatorReport {
  /** Every finding recorded, each with its findingKey. */
  findings: (Finding & {
    /** findingKey(finding). */
    key: string;
  })[];
  /** Findings not recorded (capacity, or after the first with stopAtFirst). */
  overflow: number;
  /** stopAtFirst raised its flag. */
  stopped: boolean;
  /** Every edge of the dependency graph with its provenance. */
  edges: EdgeProvenance[];
  /** The declared order the findings were checked against. */
  hierarchy: {
    /** Its name. */
    name: HierarchyName;
    /** The classes, outermost first. */
    order: string[];
  };
}

/** The validator's state as a JSON-safe object. */
export function validatorReport(v: Validator): ValidatorReport {
  return {
    findings: v.findings().map((f) => ({ ...f, key: findingKey(f) })),
    overflow: v.overflow(),
    stopped: v.stopped,
    edges: v.edges(),
    hierarchy: v.declaredOrder(),
  };
}
