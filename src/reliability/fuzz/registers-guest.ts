/**
 * Guest program of the register fuzzer (registers.ts). vCPU 0 serves the
 * fuzzer's batches on the guest-RAM channel: each batch is a list of
 * accesses (any offset in an ITS frame, any width, load or store); after
 * every access it reads the frame's registers back with their proper widths
 * (a dump) so the fuzzer can check the access against the spec's rules.
 * Every other vCPU idles in WFI (it holds its vcpu.mutex while it runs,
 * which is what makes userspace calls -EBUSY).
 */
import type { Guest, GuestMain } from '../../kvm/guest-api.js';
import { EFAULT } from '../../uapi/errno.js';
import { GuestChannel, GUEST_READY } from './channel.js';

export interface RegAccess { off: number; size: 1 | 2 | 4 | 8; write: boolean; value: bigint }
export interface RegBatch { base: number; accesses: RegAccess[] }

/** The frame as loads of each register's width see it (the same fields a userspace dump has). */
export interface RegDump {
  ctlr: bigint; iidr: bigint; typer: bigint; cbaser: bigint; cwriter: bigint; creadr: bigint;
  baser: bigint[]; idregs: bigint[];
  /** Offsets with no register (GITS_MPIDR, GITS_TRANSLATER): guests read 0. */
  holes?: bigint[];
}
export interface RegBatchReply { before: RegDump; after: { read?: bigint; dump: RegDump }[] }

export const ID_OFFSETS: readonly number[] = Array.from({ length: 12 }, (_, i) => 0xffd0 + 4 * i);
export const HOLE_OFFSETS: readonly number[] = [0x18, 0x10040];

export function guestDump(guest: Guest, base: number): RegDump {
  const r32 = (off: number) => BigInt(guest.mmioRead32(base + off) >>> 0);
  const r64 = (off: number) => guest.mmioRead64(base + off);
  return {
    ctlr: r32(0), iidr: r32(4), typer: r64(8), cbaser: r64(0x80), cwriter: r64(0x88), creadr: r64(0x90),
    baser: Array.from({ length: 8 }, (_, n) => r64(0x100 + 8 * n)),
    idregs: ID_OFFSETS.map(r32),
    holes: [r64(0x18), r32(0x10040)],
  };
}

const registersGuest: GuestMain<{ channel: number }> = (guest, args) => {
  if (guest.vcpuId !== 0) for (;;) guest.wfi();
  const ch = GuestChannel.open(guest, args.channel);
  if (ch === undefined) return { ok: false, errno: -EFAULT };
  ch.setState(GUEST_READY);
  for (;;) {
    const b = ch.next<RegBatch>(() => {});
    const before = guestDump(guest, b.base);
    const after = b.accesses.map((a) => {
      const gpa = b.base + a.off;
      let read: bigint | undefined;
      if (a.write) guest.mmioWrite(gpa, a.size, BigInt.asUintN(a.size * 8, a.value));
      else read = guest.mmioRead(gpa, a.size);
      return { ...(read !== undefined ? { read } : {}), dump: guestDump(guest, b.base) };
    });
    ch.reply({ before, after } satisfies RegBatchReply);
  }
};
export default registersGuest;
