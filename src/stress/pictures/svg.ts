/**
 * A LockGraph as a standalone SVG document: the DOT of dot.ts laid out by
 * Graphviz compiled to WebAssembly (@viz-js/viz), so no system binary is
 * needed. The module (about 1 MB of JavaScript and WebAssembly) is loaded on
 * the first call only, and its instance is kept.
 */
import type { Viz } from '@viz-js/viz';
import type { LockGraph } from './lock-graph.js';
import { lockGraphToDot } from './dot.js';

let viz: Promise<Viz> | undefined;

function graphviz(): Promise<Viz> {
  viz ??= import('@viz-js/viz').then((m) => m.instance());
  return viz;
}

/** Render DOT source to an SVG document (throws with Graphviz's message on invalid DOT). */
export async function dotToSvg(dot: string): Promise<string> {
  return (await graphviz()).renderString(dot, { format: 'svg', engine: 'dot' });
}

/** The graph laid out by Graphviz (WebAssembly, loaded on first use) as a standalone SVG document. */
export function lockGraphToSvg(g: LockGraph): Promise<string> {
  return dotToSvg(lockGraphToDot(g));
}
