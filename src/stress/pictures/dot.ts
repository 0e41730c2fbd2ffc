/**
 * A LockGraph as Graphviz DOT. Declared classes are stacked top to bottom in
 * their order (invisible edges between consecutive ranks), so an edge that
 * points upwards goes against the hierarchy at a glance. Offending edges are
 * red and bold; trylock edges (no real dependency) are dashed.
 */
import type { LockGraph, LockGraphEdge } from './lock-graph.js';

export const OFFENDING_COLOR = 'red';
const EDGE_COLOR = 'gray35';

/** A DOT double-quoted string: backslash, quote and line breaks escaped. */
export function dotString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}

function edgeLabel(e: LockGraphEdge): string {
  const who = e.actingThread !== undefined ? `${e.thread} via ${e.actingThread}` : e.thread;
  const head = e.operation !== undefined ? `${who} · ${e.operation}` : who;
  return e.note !== undefined ? `${head}\n(${e.note})` : head;
}

function attrs(list: [string, string][]): string {
  return `[${list.map(([k, v]) => `${k}=${v}`).join(', ')}]`;
}

/** The graph as Graphviz DOT: the declared order top to bottom, offending edges red and bold. */
export function lockGraphToDot(g: LockGraph): string {
  const lines: string[] = [];
  lines.push(`digraph ${dotString(g.title ?? 'lock dependencies')} {`);
  const graph: [string, string][] = [['rankdir', 'TB'], ['fontname', '"Helvetica"'], ['nodesep', '0.6'], ['ranksep', '0.7']];
  if (g.title !== undefined) graph.push(['label', dotString(g.title)], ['labelloc', 't']);
  lines.push(`  graph ${attrs(graph)};`);
  lines.push(`  node ${attrs([['shape', 'box'], ['style', '"rounded,filled"'], ['fillcolor', '"#f4f4f4"'], ['fontname', '"Helvetica"']])};`);
  lines.push(`  edge ${attrs([['fontname', '"Helvetica"'], ['fontsize', '10']])};`);

  for (const c of g.classes) {
    const label = c.rank === undefined ? c.name : `${c.name}\nrank ${c.rank}`;
    lines.push(`  ${dotString(c.name)} ${attrs([['label', dotString(label)]])};`);
  }

  // The declared order as the vertical axis.
  const ranked = g.classes.filter((c) => c.rank !== undefined).sort((a, b) => a.rank! - b.rank!);
  for (let i = 1; i < ranked.length; i++) {
    lines.push(`  ${dotString(ranked[i - 1]!.name)} -> ${dotString(ranked[i]!.name)} ${attrs([['style', 'invis'], ['weight', '10']])};`);
  }

  for (const e of g.edges) {
    const a: [string, string][] = [['label', dotString(edgeLabel(e))]];
    const style: string[] = [];
    if (e.note === 'trylock') style.push('dashed');
    if (e.offending) {
      style.push('bold');
      a.push(['color', OFFENDING_COLOR], ['fontcolor', OFFENDING_COLOR], ['penwidth', '2']);
    } else {
      a.push(['color', EDGE_COLOR]);
    }
    if (style.length > 0) a.push(['style', dotString(style.join(','))]);
    // An edge against the order must not pull its head above its tail: leave the ranks to the declared order.
    const fromRank = g.classes.find((c) => c.name === e.from)?.rank;
    const toRank = g.classes.find((c) => c.name === e.to)?.rank;
    if (fromRank !== undefined && toRank !== undefined && toRank < fromRank) a.push(['constraint', 'false']);
    lines.push(`  ${dotString(e.from)} -> ${dotString(e.to)} ${attrs(a)};`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
