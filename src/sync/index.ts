export { LockArena, FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS } from './arena.js';
export type { ArenaCapacity, LockStatLevel, ThreadKind, ThreadInfo, LockInfo } from './arena.js';
export { Mutex, type LockResult } from './mutex.js';
export { ThreadContext, type LockObserver } from './thread.js';
export { lockStats, type LockClassStats } from './lock-stat.js';
export * from './classes.js';
export * from './operations.js';
