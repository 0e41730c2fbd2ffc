/**
 * The guest side of one ITS command queue: writes each 32-byte command
 * (uapi encodeItsCommand) at the CWRITER offset of the queue in guest RAM,
 * advances CWRITER with wrap at the queue size, publishes it through
 * GITS_CWRITER (at once, or at flush() when batching), and waits for the ITS
 * by polling GITS_CREADR, bounded, with guest.relax() between reads. A full
 * queue is waited for the same way. Never throws: failures return a negative
 * errno and are reported through the owner's `fail`.
 *
 * Mirrors its_allocate_entry / its_post_commands / its_wait_for_range_completion
 * of Linux irq-gic-v3-its.c (KVM drains synchronously, but nothing here relies on it).
 */
import type { Guest } from '../kvm/guest-api.js';
import { EFAULT, EINVAL, ETIMEDOUT } from '../uapi/errno.js';
import { GITS_CBASER, GITS_CREADR, GITS_CWRITER } from '../uapi/gits.js';
import { ITS_CMD_BYTES, encodeItsCommand, itsCmdName, type ItsCommand } from '../uapi/its-cmd.js';
import { GITS_CREADR_STALLED, gitsCbaserAddress, itsCmdBufferSize, itsCmdOffset } from '../uapi/gic-fields.js';
import { hex, pollRelax } from './driver-util.js';

export type FailFn = (errno: number, where: string, detail: string) => number;

/**
 * One command with no queue state of our own: written at the CWRITER the ITS
 * reports, published, waited for on CREADR (at most `polls` reads): 0 or
 * -errno. Reading CBASER and CWRITER each time is what lets a guest carry on
 * across a save/restore or a migration of the ITS under it.
 */
export function itsCommandOnce(guest: Guest, base: number, cmd: ItsCommand, buf: Uint8Array, polls = 1_000_000): number {
  const cbaser = guest.mmioRead64(base + GITS_CBASER);
  const bytes = itsCmdBufferSize(cbaser);
  const at = itsCmdOffset(guest.mmioRead64(base + GITS_CWRITER));
  encodeItsCommand(cmd, buf, 0);
  if (guest.writeBytes(gitsCbaserAddress(cbaser) + at, buf) !== 0) return -EFAULT;
  const next = (at + ITS_CMD_BYTES) % bytes;
  guest.mmioWrite64(base + GITS_CWRITER, BigInt(next));
  for (let i = 0; i < polls; i++) {
    if (itsCmdOffset(guest.mmioRead64(base + GITS_CREADR)) === next) return 0;
    guest.relax();
  }
  return -ETIMEDOUT;
}

export class ItsCmdQueue {
  /** Our CWRITER (next free slot offset). */
  private cwriter = 0;
  /** Last CREADR read from the ITS. */
  private creadr = 0;
  /** Commands written to RAM but not yet published through GITS_CWRITER. */
  private unpublished = false;
  private batching = false;
  private readonly scratch = new Uint8Array(ITS_CMD_BYTES);
  /** Commands written so far. */
  commands = 0;
  /** GITS_CWRITER writes so far. */
  cwriterWrites = 0;

  constructor(
    private readonly guest: Guest,
    /** ITS control frame base. */
    readonly itsBase: number,
    /** Queue GPA (64 KiB aligned) and size in bytes (multiple of 4 KiB, <= 1 MiB). */
    readonly gpa: number,
    readonly bytes: number,
    readonly pollLimit: number,
    private readonly fail: FailFn,
    private readonly name: string,
  ) {}

  /** CWRITER offset the next command goes to. */
  get writeOffset(): number {
    return this.cwriter;
  }

  /** Start over at offset 0 (after a CBASER write, which resets CREADR/CWRITER). */
  reset(): void {
    this.cwriter = 0;
    this.creadr = 0;
    this.unpublished = false;
  }

  /** Hold GITS_CWRITER writes until flush(). */
  begin(): void {
    this.batching = true;
  }

  /** Publish pending commands (one GITS_CWRITER write) and stop batching. */
  flush(): void {
    this.batching = false;
    if (this.unpublished) this.publish();
  }

  /** Current GITS_CREADR offset, or a negative errno if it reads back nonsense. */
  readCreadr(): number {
    const v = this.guest.mmioRead64(this.itsBase + GITS_CREADR);
    const off = itsCmdOffset(v);
    if ((v & GITS_CREADR_STALLED) !== 0n) return this.fail(-EINVAL, `${this.name} CREADR`, `Stalled set (${hex(v)})`);
    if (off >= this.bytes || v !== BigInt(off)) {
      return this.fail(-EINVAL, `${this.name} CREADR`, `${hex(v)} is not an offset inside the ${this.bytes}-byte queue`);
    }
    return off;
  }

  /** Write `cmd` at CWRITER and advance (publishing unless batching): 0 or a negative errno. */
  send(cmd: ItsCommand): number {
    const next = (this.cwriter + ITS_CMD_BYTES) % this.bytes;
    if (next === this.creadr) {
      // Full as far as we know: let the ITS see what is queued, then wait for a free slot.
      if (this.unpublished) this.publish();
      const r = this.pollCreadr((off) => off !== next);
      if (r < 0) {
        return r === -ETIMEDOUT
          ? this.fail(r, `${this.name} queue`, `full: CREADR stuck at ${hex(this.creadr)} for ${this.pollLimit} reads`)
          : r;
      }
    }
    encodeItsCommand(cmd, this.scratch, 0);
    if (this.guest.writeBytes(this.gpa + this.cwriter, this.scratch) !== 0) {
      return this.fail(-EFAULT, `${this.name} ${itsCmdName(this.scratch[0]!)}`, `queue slot ${hex(this.gpa + this.cwriter)} is not guest RAM`);
    }
    this.cwriter = next;
    this.commands++;
    this.unpublished = true;
    if (!this.batching) this.publish();
    return 0;
  }

  /** Publish, then poll GITS_CREADR until it equals CWRITER: 0, or -ETIMEDOUT / -EINVAL. */
  wait(): number {
    if (this.unpublished) this.publish();
    const r = this.pollCreadr((off) => off === this.cwriter);
    if (r === -ETIMEDOUT) {
      return this.fail(r, `${this.name} wait`, `CREADR ${hex(this.creadr)} != CWRITER ${hex(this.cwriter)} after ${this.pollLimit} reads`);
    }
    return r < 0 ? r : 0;
  }

  private publish(): void {
    this.guest.mmioWrite64(this.itsBase + GITS_CWRITER, BigInt(this.cwriter));
    this.cwriterWrites++;
    this.unpublished = false;
  }

  /** Poll CREADR until `done(offset)`: reads made, -ETIMEDOUT, or the readCreadr errno. */
  private pollCreadr(done: (off: number) => boolean): number {
    let err = 0;
    const n = pollRelax(this.guest, this.pollLimit, () => {
      const off = this.readCreadr();
      if (off < 0) {
        err = off;
        return true;
      }
      this.creadr = off;
      return done(off);
    });
    if (err < 0) return err;
    return n < 0 ? -ETIMEDOUT : n;
  }
}
