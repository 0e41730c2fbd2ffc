export { LockArena, FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS } from './arena.js';
export type { ArenaCapacity, LockStatLevel, ThreadKind, ThreadInfo, LockInfo } from './arena.js';
export { Mutex, type LockResult } from './mutex.js';
export { ThreadContext, type LockObserver } from './thread.js';
export { lockStats, type LockClassStats } from './lock-stat.js';
export * from './classes.js';
export { composeObservers } from './observers.js';
export {
  Schedule, ScheduleEnded, activeSchedule, threadKey, keyName, POINTS,
  KEY_VMM, KEY_VCPU, KEY_ACTOR_HOST, KEY_INJECTOR, KEY_OTHER,
  type ScheduleConfig, type ScheduleStrategyName, type ScheduleSummary, type ScheduleDecision, type ScheduleEnd, type PointName,
} from './schedule.js';
export * from './operations.js';
