/**
 * The stress engine's pictures: the lock dependency graph (DOT, SVG) and the
 * timeline recorder with its Chrome Trace Event export.
 */
export { lockGraphFromValidator, type LockGraph, type LockGraphEdge } from './pictures/lock-graph.js';
export { lockGraphToDot, dotString } from './pictures/dot.js';
export { lockGraphToSvg, dotToSvg } from './pictures/svg.js';
