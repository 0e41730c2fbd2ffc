/**
 * Guest-side GICv3 distributor/redistributor driver for LPIs: allocates the
 * LPI property table and one pending table per vCPU in guest RAM, writes LPI
 * config bytes, programs GICR_PROPBASER/PENDBASER, sets GICR_CTLR.EnableLPIs
 * and GICD_CTLR (EnableGrp1A | ARE). Every register write that matters is
 * read back; a surprising value is an error result (negative errno + `error`),
 * never an exception.
 *
 * Mirrors the LPI part of a guest OS GIC driver (Linux irq-gic-v3.c /
 * irq-gic-v3-its.c: allocate the property and pending tables, program the
 * redistributor, enable LPIs; and the selftests' lib/arm64/gic_v3_its.c).
 */
import type { Guest } from '../kvm/guest-api.js';
import { EBUSY, EFAULT, EINVAL, ENODEV, ETIMEDOUT } from '../uapi/errno.js';
import {
  GIC_LPI_OFFSET, GICR_CTLR, GICR_CTLR_ENABLE_LPIS, GICR_CTLR_RWP, GICR_PENDBASER, GICR_PROPBASER, GICR_TYPER,
  GICR_TYPER_PLPIS, gicrPendbaserAddress, gicrPropbaserAddress, gicrPropbaserIdBits, gicrTyperProcessorNumber,
  makeGicrPendbaser, makeGicrPropbaser, makeLpiProp,
} from '../uapi/gic-fields.js';
import { GICD_BASE, GICR_BASE, GICR_STRIDE } from '../vgic/layout.js';
import type { GpaAllocator } from './alloc.js';
import { DriverBase, fillGuest, hex, pollRelax } from './driver-util.js';

// The distributor registers the guest touches, under the names guest drivers use (EnableGrp1A is GICD_CTLR bit 1).
export {
  GICD_CTLR, GICD_TYPER, GICD_CTLR_ENABLE_G1 as GICD_CTLR_ENABLE_GRP1A, GICD_CTLR_ARE_NS, GICD_CTLR_RWP, GICD_TYPER_LPIS,
  GICD_TYPER_IDBITS_SHIFT,
} from '../uapi/gic-fields.js';
import {
  GICD_CTLR, GICD_CTLR_ARE_NS, GICD_CTLR_ENABLE_G1 as GICD_CTLR_ENABLE_GRP1A, GICD_CTLR_RWP, GICD_TYPER, GICD_TYPER_IDBITS_SHIFT,
  GICD_TYPER_LPIS,
} from '../uapi/gic-fields.js';

/** Priority Linux gives LPIs by default (config byte 0xa2 with Group1, disabled). */
export const LPI_DEFAULT_PRIORITY = 0xa0;
/** INTID widths this driver can build tables for (KVM honours at most 16). */
export const LPI_MIN_ID_BITS = 14;
/** The widest INTID the tables can be built for. */
export const LPI_MAX_ID_BITS = 20;

const SZ_64K = 0x1_0000;

/** Where the LPI tables live. */
export interface LpiTables {
  /** INTID bits (PROPBASER.IDbits + 1): LPIs are 8192 .. 2^idBits - 1. */
  idBits: number;
  /** Property table GPA (config byte of INTID n at propGpa + n - 8192) and its meaningful size. */
  propGpa: number;
  /** Property table bytes that matter (one per LPI). */
  propBytes: number;
  /** Pending table GPA per vCPU (64 KiB aligned), each pendBytes long. */
  pendGpa: number[];
  /** Size of each pending table. */
  pendBytes: number;
}

/** Where the GIC frames are; the defaults are the VM's layout. */
export interface GicDriverOptions {
  /** Distributor frame GPA. Default the VM's (0x0800_0000). */
  gicdBase?: number;
  /** Redistributor n's RD_base is gicrBase + n * gicrStride. */
  gicrBase?: number;
  /** Distance between two redistributors. Default 128 KiB (RD_base + SGI_base frames). */
  gicrStride?: number;
  /** Register reads per bounded poll (RWP). Default 100000. */
  pollLimit?: number;
}

/**
 * The distributor and redistributors, for LPIs: allocate and program the LPI
 * tables, write config bytes, enable LPIs per redistributor, enable the
 * distributor. Methods return 0 (or a value) or a negative errno; `error`
 * keeps the first failure.
 */
export class GicDriver extends DriverBase {
  /** Distributor frame GPA. */
  readonly gicdBase: number;
  /** Redistributor 0's RD_base. */
  readonly gicrBase: number;
  /** Distance between two redistributors. */
  readonly gicrStride: number;
  /** Register reads per bounded poll. */
  readonly pollLimit: number;
  /** The LPI tables, once allocLpiTables() (or useLpiTables()) ran. */
  tables: LpiTables | undefined;

  constructor(guest: Guest, opts: GicDriverOptions = {}) {
    super(guest);
    this.gicdBase = opts.gicdBase ?? GICD_BASE;
    this.gicrBase = opts.gicrBase ?? GICR_BASE;
    this.gicrStride = opts.gicrStride ?? GICR_STRIDE;
    this.pollLimit = opts.pollLimit ?? 100_000;
  }

  /** RD_base of vCPU `vcpu`'s redistributor. */
  rdBase(vcpu: number): number {
    return this.gicrBase + vcpu * this.gicrStride;
  }

  /** GICD_TYPER: LPI support and INTID bits. */
  probeDist(): {
    /** GICD_TYPER.LPIS: the distributor supports LPIs. */
    lpis: boolean;
    /** INTID bits (GICD_TYPER.IDbits + 1). */
    idBits: number;
    /** GICD_TYPER as read. */
    typer: number;
  } {
    const typer = this.guest.mmioRead32(this.gicdBase + GICD_TYPER);
    return { lpis: (typer & GICD_TYPER_LPIS) !== 0, idBits: ((typer >>> GICD_TYPER_IDBITS_SHIFT) & 0x1f) + 1, typer };
  }

  /**
   * GICR_TYPER.Processor_Number of `vcpu`'s redistributor (the ITS target
   * when GITS_TYPER.PTA = 0), or -ENODEV if it does not advertise PLPIS.
   */
  processorNumber(vcpu: number): number {
    const typer = this.guest.mmioRead64(this.rdBase(vcpu) + GICR_TYPER);
    if ((typer & GICR_TYPER_PLPIS) === 0n) {
      return this.fail(-ENODEV, `GICR${vcpu} TYPER`, `PLPIS=0 (${hex(typer)}): no LPI support on this redistributor`);
    }
    return gicrTyperProcessorNumber(typer);
  }

  /**
   * Allocate (64 KiB aligned) and initialise the property table (every LPI
   * disabled at `defaultPriority`) and `nrVcpus` zeroed pending tables.
   */
  allocLpiTables(alloc: GpaAllocator, idBits: number, nrVcpus: number, defaultPriority = LPI_DEFAULT_PRIORITY): number {
    if (!Number.isInteger(idBits) || idBits < LPI_MIN_ID_BITS || idBits > LPI_MAX_ID_BITS) {
      return this.fail(-EINVAL, 'LPI tables', `idBits ${idBits} not in ${LPI_MIN_ID_BITS}..${LPI_MAX_ID_BITS}`);
    }
    const propBytes = 2 ** idBits - GIC_LPI_OFFSET;
    const propGpa = alloc.alloc(roundUp(propBytes, SZ_64K), SZ_64K);
    if (propGpa < 0) return this.fail(propGpa, 'LPI property table', `cannot allocate ${propBytes} bytes`);
    if (fillGuest(this.guest, propGpa, propBytes, makeLpiProp(defaultPriority, false)) !== 0) {
      return this.fail(-EFAULT, 'LPI property table', `${hex(propGpa)} is not guest RAM`);
    }
    const pendBytes = roundUp(2 ** idBits / 8, SZ_64K);
    const pendGpa: number[] = [];
    for (let v = 0; v < nrVcpus; v++) {
      const gpa = alloc.alloc(pendBytes, SZ_64K);
      if (gpa < 0) return this.fail(gpa, `GICR${v} pending table`, `cannot allocate ${pendBytes} bytes`);
      if (fillGuest(this.guest, gpa, pendBytes) !== 0) {
        return this.fail(-EFAULT, `GICR${v} pending table`, `${hex(gpa)} is not guest RAM`);
      }
      pendGpa.push(gpa);
    }
    this.tables = { idBits, propGpa, propBytes, pendGpa, pendBytes };
    return 0;
  }

  /** Adopt tables allocated elsewhere (e.g. by the boot vCPU). */
  useLpiTables(t: LpiTables): void {
    this.tables = t;
  }

  /** Write INTID `intid`'s config byte: priority (bits 7:2), Group1, enable. */
  setLpiConfig(intid: number, priority: number, enabled: boolean): number {
    const t = this.tables;
    if (t === undefined) return this.fail(-EINVAL, 'LPI config', 'no LPI tables');
    if (!Number.isInteger(intid) || intid < GIC_LPI_OFFSET || intid >= 2 ** t.idBits) {
      return this.fail(-EINVAL, 'LPI config', `INTID ${intid} outside 8192..${2 ** t.idBits - 1}`);
    }
    if (this.guest.write8(t.propGpa + intid - GIC_LPI_OFFSET, makeLpiProp(priority, enabled)) !== 0) {
      return this.fail(-EFAULT, 'LPI config', `property table byte of ${intid} is not guest RAM`);
    }
    return 0;
  }

  /** The config byte of `intid`, or a negative errno. */
  lpiConfig(intid: number): number {
    const t = this.tables;
    if (t === undefined || intid < GIC_LPI_OFFSET || intid >= 2 ** t.idBits) return -EINVAL;
    return this.guest.read8(t.propGpa + intid - GIC_LPI_OFFSET);
  }

  /** The GICR_PROPBASER value for these tables. */
  propbaserValue(): bigint {
    const t = this.tables!;
    return makeGicrPropbaser({ address: t.propGpa, idBits: t.idBits - 1 });
  }

  /** The GICR_PENDBASER value for `vcpu`'s pending table (PTZ: the table is known to be zero). */
  pendbaserValue(vcpu: number, ptz = false): bigint {
    return makeGicrPendbaser({ address: this.tables!.pendGpa[vcpu]!, ptz });
  }

  /**
   * Program `vcpu`'s GICR_PROPBASER and GICR_PENDBASER (any vCPU may do this
   * for any redistributor) and check they read back. If LPIs are already
   * enabled there the registers are frozen: fine if they hold our tables,
   * -EBUSY otherwise.
   */
  programRedist(vcpu: number, ptz = false): number {
    const t = this.tables;
    const where = `GICR${vcpu}`;
    if (t === undefined || t.pendGpa[vcpu] === undefined) return this.fail(-EINVAL, where, 'no LPI tables for this vCPU');
    const rd = this.rdBase(vcpu);
    const pend = t.pendGpa[vcpu]!;
    const propOk = (v: bigint) => gicrPropbaserAddress(v) === t.propGpa && gicrPropbaserIdBits(v) === t.idBits - 1;
    const pendOk = (v: bigint) => gicrPendbaserAddress(v) === pend;
    if ((this.guest.mmioRead32(rd + GICR_CTLR) & GICR_CTLR_ENABLE_LPIS) !== 0) {
      const p = this.guest.mmioRead64(rd + GICR_PROPBASER);
      const q = this.guest.mmioRead64(rd + GICR_PENDBASER);
      if (propOk(p) && pendOk(q)) return 0;
      return this.fail(-EBUSY, where, `LPIs already enabled with other tables (PROPBASER ${hex(p)}, PENDBASER ${hex(q)})`);
    }
    const prop = this.propbaserValue();
    this.guest.mmioWrite64(rd + GICR_PROPBASER, prop);
    const p = this.guest.mmioRead64(rd + GICR_PROPBASER);
    if (!propOk(p)) return this.fail(-EINVAL, `${where} PROPBASER`, `wrote ${hex(prop)}, read back ${hex(p)}`);
    const pb = this.pendbaserValue(vcpu, ptz);
    this.guest.mmioWrite64(rd + GICR_PENDBASER, pb);
    const q = this.guest.mmioRead64(rd + GICR_PENDBASER);
    if (!pendOk(q)) return this.fail(-EINVAL, `${where} PENDBASER`, `wrote ${hex(pb)}, read back ${hex(q)}`);
    return 0;
  }

  /** GICR_CTLR.EnableLPIs of `vcpu`'s redistributor. */
  lpisEnabled(vcpu: number): boolean {
    return (this.guest.mmioRead32(this.rdBase(vcpu) + GICR_CTLR) & GICR_CTLR_ENABLE_LPIS) !== 0;
  }

  /** Set GICR_CTLR.EnableLPIs of `vcpu` (after programRedist) and check it reads back set. */
  enableLpis(vcpu: number): number {
    const rd = this.rdBase(vcpu);
    const ctlr = this.guest.mmioRead32(rd + GICR_CTLR);
    if ((ctlr & GICR_CTLR_ENABLE_LPIS) !== 0) return 0;
    this.guest.mmioWrite32(rd + GICR_CTLR, (ctlr | GICR_CTLR_ENABLE_LPIS) & ~GICR_CTLR_RWP);
    const back = this.guest.mmioRead32(rd + GICR_CTLR);
    if ((back & GICR_CTLR_ENABLE_LPIS) === 0) {
      return this.fail(-EINVAL, `GICR${vcpu} CTLR`, `EnableLPIs reads 0 after enabling (${hex(back)}): VM without ITS?`);
    }
    return 0;
  }

  /** Clear GICR_CTLR.EnableLPIs of `vcpu` and wait (bounded) until RWP and EnableLPIs read 0. */
  disableLpis(vcpu: number): number {
    const rd = this.rdBase(vcpu);
    const ctlr = this.guest.mmioRead32(rd + GICR_CTLR);
    this.guest.mmioWrite32(rd + GICR_CTLR, ctlr & ~(GICR_CTLR_ENABLE_LPIS | GICR_CTLR_RWP));
    let last = 0;
    const n = pollRelax(this.guest, this.pollLimit, () => {
      last = this.guest.mmioRead32(rd + GICR_CTLR);
      return (last & (GICR_CTLR_ENABLE_LPIS | GICR_CTLR_RWP)) === 0;
    });
    return n < 0 ? this.fail(-ETIMEDOUT, `GICR${vcpu} CTLR`, `EnableLPIs/RWP still set (${hex(last)})`) : 0;
  }

  /** GICD_CTLR |= EnableGrp1A | ARE; wait (bounded) for RWP; check EnableGrp1A reads back. */
  enableDist(): number {
    const at = this.gicdBase + GICD_CTLR;
    const ctlr = this.guest.mmioRead32(at);
    this.guest.mmioWrite32(at, ((ctlr | GICD_CTLR_ENABLE_GRP1A | GICD_CTLR_ARE_NS) & ~GICD_CTLR_RWP) >>> 0);
    let back = 0;
    const n = pollRelax(this.guest, this.pollLimit, () => ((back = this.guest.mmioRead32(at)) & GICD_CTLR_RWP) === 0);
    if (n < 0) return this.fail(-ETIMEDOUT, 'GICD CTLR', `RWP still set (${hex(back)})`);
    if ((back & GICD_CTLR_ENABLE_GRP1A) === 0) return this.fail(-EINVAL, 'GICD CTLR', `EnableGrp1A reads 0 (${hex(back)})`);
    return 0;
  }
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
