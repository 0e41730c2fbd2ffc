/**
 * Text rendering of validator findings, in the spirit of lockdep's reports:
 * the edges of a cycle with the chain that created each, and the two-column
 * (one column per edge for longer cycles) "unsafe scenario" table.
 * JSON is the Finding objects themselves.
 */
import type { EdgeProvenance, Finding } from './validator.js';

function who(e: { thread: string; actingThread: string; tid: number; actingTid: number }): string {
  return e.tid === e.actingTid ? e.thread : `${e.thread} (via ${e.actingThread} serving its request)`;
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
