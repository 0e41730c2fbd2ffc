/**
 * Linux errno values (positive, as in <asm-generic/errno-base.h>). Ioctl-shaped
 * calls in vgic-lab return `0`/positive on success and `-errno` on failure,
 * exactly like the kernel, so numbers cross threads losslessly.
 */
export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const ENXIO = 6;
export const E2BIG = 7;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENOSPC = 28;
export const ETIMEDOUT = 110;
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
