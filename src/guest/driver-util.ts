/**
 * Plumbing shared by the guest drivers (gic-driver.ts, its-driver.ts): the
 * error record a driver keeps instead of throwing, hex formatting for
 * structured-cloneable summaries, filling guest RAM, and bounded polling.
 * Guest drivers never throw on a device's answer: every failure becomes a
 * negative errno return plus a DriverError describing it.
 */
import type { Guest } from '../kvm/guest-api.js';
import { errnoName } from '../uapi/errno.js';

/** Why a driver operation failed. `errno` is negative, as returned. */
export interface DriverError {
  /** The negative errno the failing call returned. */
  errno: number;
  /** errnoName(errno), e.g. '-ETIMEDOUT'. */
  name: string;
  /** Operation, e.g. 'ITS0 BASER0' or 'GICR1 PROPBASER'. */
  where: string;
  /** What was wrong, e.g. the value written and the one read back. */
  detail: string;
}

/** First-error bookkeeping: drivers extend this. */
export class DriverBase {
  /** The first failure since construction (or clearError()). */
  error: DriverError | undefined;

  constructor(
    /** The vCPU's guest API the driver runs on. */
    protected readonly guest: Guest,
  ) {}

  /** Record a failure (the first one sticks) and return `errno` (negative). */
  protected fail(errno: number, where: string, detail: string): number {
    this.error ??= { errno, name: errnoName(errno), where, detail };
    return errno;
  }

  /** Forget the recorded failure. */
  clearError(): void {
    this.error = undefined;
  }
}

/** '0x…' for a register value or address (summaries stay JSON-friendly). */
export function hex(v: bigint | number): string {
  return `0x${(typeof v === 'bigint' ? BigInt.asUintN(64, v) : v).toString(16)}`;
}

const CHUNK = 0x1_0000;
const ZERO = new Uint8Array(CHUNK);

/** Fill [gpa, gpa+len) of guest RAM with `byte`: 0 or -EFAULT. */
export function fillGuest(guest: Guest, gpa: number, len: number, byte = 0): number {
  const buf = byte === 0 ? ZERO : new Uint8Array(Math.min(CHUNK, len)).fill(byte);
  for (let at = 0; at < len; at += CHUNK) {
    const n = Math.min(CHUNK, len - at);
    const r = guest.writeBytes(gpa + at, n === buf.length ? buf : buf.subarray(0, n));
    if (r !== 0) return r;
  }
  return 0;
}

/**
 * Call `probe` up to `limit` times with guest.relax() between calls until it
 * returns true. Returns the number of calls made, or -1 if it never did.
 */
export function pollRelax(guest: Guest, limit: number, probe: () => boolean): number {
  for (let i = 1; i <= limit; i++) {
    if (probe()) return i;
    guest.relax();
  }
  return -1;
}

/** ceil(log2(n)) for n >= 1 (bits needed to hold values 0..n-1), at least 1. */
export function bitsFor(count: number): number {
  let b = 1;
  while (2 ** b < count) b++;
  return b;
}
