/**
 * Linux errno values (positive, as in <asm-generic/errno-base.h>). Ioctl-shaped
 * calls in vgic-lab return `0`/positive on success and `-errno` on failure,
 * exactly like the kernel, so numbers cross threads losslessly.
 */
/** EPERM: Operation not permitted (e.g. unlocking a lock another thread holds). */
export const EPERM = 1;
/** ENOENT: No such entry. */
export const ENOENT = 2;
/** EINTR: Interrupted. */
export const EINTR = 4;
/** ENXIO: No such device attribute (unknown group or attribute). */
export const ENXIO = 6;
/** E2BIG: A base address beyond the guest IPA space. */
export const E2BIG = 7;
/** EAGAIN: Try again. */
export const EAGAIN = 11;
/** ENOMEM: Out of memory. */
export const ENOMEM = 12;
/** EACCES: Permission denied. */
export const EACCES = 13;
/** EFAULT: Guest-physical address outside memory (or an actor handler that threw). */
export const EFAULT = 14;
/** EBUSY: Busy: a vCPU is running, a register is frozen, the base is being set. */
export const EBUSY = 16;
/** EEXIST: Already set (an ITS base). */
export const EEXIST = 17;
/** ENODEV: No such device (no ITS, an actor that died). */
export const ENODEV = 19;
/** EINVAL: Invalid argument, or a request illegal in the current state. */
export const EINVAL = 22;
/** ENOSPC: No space left. */
export const ENOSPC = 28;
/** ETIMEDOUT: Timed out (pause, waits). */
export const ETIMEDOUT = 110;
/** EOWNERDEAD: Acquired a lock whose previous owner died while holding it. */
export const EOWNERDEAD = 130;

const NAMES: Record<number, string> = {
  [EPERM]: 'EPERM', [ENOENT]: 'ENOENT', [EINTR]: 'EINTR', [ENXIO]: 'ENXIO', [E2BIG]: 'E2BIG',
  [EAGAIN]: 'EAGAIN', [ENOMEM]: 'ENOMEM', [EACCES]: 'EACCES', [EFAULT]: 'EFAULT', [EBUSY]: 'EBUSY',
  [EEXIST]: 'EEXIST', [ENODEV]: 'ENODEV', [EINVAL]: 'EINVAL', [ENOSPC]: 'ENOSPC',
  [ETIMEDOUT]: 'ETIMEDOUT', [EOWNERDEAD]: 'EOWNERDEAD',
};

/** `errnoName(-16)` and `errnoName(16)` are both 'EBUSY'; unknown values print as numbers. */
export function errnoName(n: number): string {
  const name = NAMES[Math.abs(n)];
  return name === undefined ? String(n) : (n < 0 ? `-${name}` : name);
}
