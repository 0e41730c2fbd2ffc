/**
 * The stress engine's pictures: the lock dependency graph (DOT, SVG) and the
 * timeline recorder with its Chrome Trace Event export.
 */
export { lockGraphFromValidator, type LockGraph, type LockGraphEdge } from './pictures/lock-graph.js';
export { lockGraphToDot, dotString } from './pictures/dot.js';
export { lockGraphToSvg, dotToSvg } from './pictures/svg.js';
export {
  createTimeline, readTimeline, timelineBase, TimelineWriter,
  type TimelineOptions, type TimelineEvent, type TimelineSlot,
} from '../trace/timeline.js';
export {
  TIMELINE_CATEGORIES, TIMELINE_EVENTS, timelineEventId, EV_KVM_RUN, EV_LOCK_HELD, EV_LOCK_WAIT,
  type TimelineCategory, type TimelineEventDef, type TimelineEventName,
} from '../trace/events.js';
export { timelineLockObserver } from '../trace/lock-observer.js';
export { toChromeTrace, type ChromeTrace, type ChromeTraceEvent, type TimelineNames } from '../trace/chrome-trace.js';
export { composeObservers } from '../sync/observers.js';
