export { GuestMemory, allocateMemslots, PAGE_SIZE, PAGE_SHIFT, MAX_GPA } from './guest-memory.js';
export type { Memslot, MemslotSpec } from './guest-memory.js';
