/**
 * Arguments of the its-setup guest program: their documented shape, defaults,
 * and validation into a resolved form. Validation returns a message instead
 * of throwing (guest code reports, it does not fault).
 */
import { defaultItsBase } from '../vgic/layout.js';
import { DEFAULT_GIC_REGION, type GpaRegion, SETUP_MAILBOX_GPA } from './alloc.js';
import { bitsFor } from './driver-util.js';
import { LPI_DEFAULT_PRIORITY, LPI_MAX_ID_BITS, LPI_MIN_ID_BITS } from './gic-driver.js';

/** One event of a device: what MAPTI (or MAPI) maps. */
export interface ItsSetupEvent {
  /** The EventID (the MSI's data). */
  eventId: number;
  /** The LPI (pINTID, >= 8192) the event translates to. */
  intid: number;
  /** The collection (by default collection n targets vCPU n). */
  icid: number;
  /** Config byte: priority (default args.priority) and enable (default true). */
  priority?: number;
  /** Config byte Enable. Default true. */
  enabled?: boolean;
  /** Map with MAPI (pINTID = EventID; intid must equal eventId) instead of MAPTI. */
  mapi?: boolean;
}

/** A device to map (MAPD) with its events. */
export interface ItsSetupDevice {
  /** Position in args.its (default 0). */
  its?: number;
  /** The DeviceID (the MSI's devid). */
  deviceId: number;
  /** EventID bits of the ITT (MAPD Size + 1). Default: enough for the largest eventId. */
  eventIdBits?: number;
  /** Its events. */
  events: ItsSetupEvent[];
}

/** A collection to map (MAPC). */
export interface ItsSetupCollection {
  /** Position in args.its (default 0). */
  its?: number;
  /** The collection ID. */
  icid: number;
  /** Target vCPU (MAPC RDbase = its GICR_TYPER.Processor_Number when PTA=0). */
  vcpu: number;
}

/** What runItsSetup (and the built-in 'its-setup' program) brings up; every field has a default. */
export interface ItsSetupArgs {
  /** ITS frames: n < 256 means defaultItsBase(n), anything else is a frame GPA. Default [0]. */
  its?: number[];
  /** Devices to map with their events. Default none. */
  devices?: ItsSetupDevice[];
  /** Default: one collection per vCPU on every ITS, icid = vcpu. */
  collections?: ItsSetupCollection[];
  /** Two-level device tables. Default false. */
  twoLevel?: boolean;
  /** INTID bits (PROPBASER.IDbits + 1), 14..20, capped by GICD_TYPER.IDbits. Default 16. */
  idBits?: number;
  /** DeviceID bits the device tables cover. Default GITS_TYPER.Devbits + 1. */
  deviceIdBits?: number;
  /** Command queue bytes per ITS. Default 64 KiB. */
  queueBytes?: number;
  /** Default LPI priority. Default 0xa0. */
  priority?: number;
  /**
   * Who sets GICR_CTLR.EnableLPIs: 'all' (this vCPU, on every redistributor;
   * default), 'self' (this vCPU on its own only: others run lpi-handler with
   * enableLpis: true, which waits for the mailbox), 'none'.
   */
  enableLpis?: 'all' | 'self' | 'none';
  /** PENDBASER.PTZ (tables are freshly zeroed). Default false. */
  ptz?: boolean;
  /** Map first with LPIs disabled, then enable them and INV each event (Linux's unmask order). Default false. */
  configAfterMap?: boolean;
  /** SYNC each collection's target after the mappings. Default true. */
  sync?: boolean;
  /** Publish GITS_CWRITER once per ITS instead of once per command. Default false. */
  batch?: boolean;
  /** Set GICD_CTLR EnableGrp1A | ARE at the end. Default true. */
  enableDist?: boolean;
  /** Require GICD_TYPER.LPIS and cap idBits by GICD_TYPER.IDbits. Default true. */
  checkGicdTyper?: boolean;
  /** Guest RAM for all tables, queues and ITTs. Default DEFAULT_GIC_REGION. */
  region?: GpaRegion;
  /** GPA of the setup mailbox (handshake.ts). Default SETUP_MAILBOX_GPA. */
  mailbox?: number;
  /** Register reads per bounded poll. Default 100000. */
  pollLimit?: number;
  /** Stay in the interrupt loop afterwards (like lpi-handler). Default false. */
  handle?: boolean | {
    /** Return after this many LPIs. Default: never. */
    stopAfter?: number;
  };
  /** The vCPU that runs the setup; every other vCPU running the its-setup program is a secondary. Default 0. */
  bootVcpu?: number;
  /** Secondaries (program only): handle this many LPIs then return (default: forever); mailbox wait bound. */
  secondary?: {
    /** Handle this many LPIs, then return. Default: forever. */
    stopAfter?: number;
    /** How long to wait for the setup mailbox, in ms. Default 30000. */
    timeoutMs?: number;
  };
}

export interface ResolvedDevice { its: number; deviceId: number; eventIdBits: number; events: Required<ItsSetupEvent>[] }

export interface ResolvedItsSetupArgs {
  itsBases: number[];
  devices: ResolvedDevice[];
  collections: Required<ItsSetupCollection>[];
  twoLevel: boolean;
  idBits: number;
  deviceIdBits: number | undefined;
  queueBytes: number | undefined;
  enableLpis: 'all' | 'self' | 'none';
  ptz: boolean;
  configAfterMap: boolean;
  sync: boolean;
  batch: boolean;
  enableDist: boolean;
  checkGicdTyper: boolean;
  region: GpaRegion;
  mailbox: number;
  pollLimit: number;
  handle: { stopAfter?: number } | undefined;
}

const isU32 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;

/** Resolve `args` against the defaults for a VM of `nrVcpus`: the resolved args, or an error message. */
export function resolveItsSetupArgs(args: ItsSetupArgs | undefined, nrVcpus: number): ResolvedItsSetupArgs | string {
  const a = args ?? {};
  if (typeof a !== 'object') return 'args must be an object';
  const its = a.its ?? [0];
  if (!Array.isArray(its) || its.length === 0 || !its.every(isU32)) return 'args.its must be a non-empty array of ITS indices or base GPAs';
  const itsBases = its.map((n) => (n < 256 ? defaultItsBase(n) : n));
  const priority = a.priority ?? LPI_DEFAULT_PRIORITY;
  if (!isU32(priority) || priority > 0xff) return 'args.priority must be 0..255';
  const itsIdx = (v: unknown, what: string): number | string =>
    v === undefined ? 0 : isU32(v) && v < its.length ? v : `${what}.its must be a position in args.its (0..${its.length - 1})`;

  if (a.devices !== undefined && !Array.isArray(a.devices)) return 'args.devices must be an array';
  const devices: ResolvedDevice[] = [];
  for (const [i, d] of (a.devices ?? []).entries()) {
    const what = `args.devices[${i}]`;
    if (d === null || typeof d !== 'object' || !isU32(d.deviceId) || !Array.isArray(d.events)) {
      return `${what} must be { deviceId, events: [...] }`;
    }
    const at = itsIdx(d.its, what);
    if (typeof at === 'string') return at;
    const events: Required<ItsSetupEvent>[] = [];
    for (const [j, e] of d.events.entries()) {
      if (e === null || typeof e !== 'object' || !isU32(e.eventId) || !isU32(e.intid) || !isU32(e.icid)) {
        return `${what}.events[${j}] must be { eventId, intid, icid } (unsigned integers)`;
      }
      if (e.mapi === true && e.intid !== e.eventId) return `${what}.events[${j}]: mapi needs intid === eventId`;
      const p = e.priority ?? priority;
      if (!isU32(p) || p > 0xff) return `${what}.events[${j}].priority must be 0..255`;
      events.push({ eventId: e.eventId, intid: e.intid, icid: e.icid, priority: p, enabled: e.enabled ?? true, mapi: e.mapi === true });
    }
    const maxEvent = events.reduce((m, e) => Math.max(m, e.eventId), 0);
    const eventIdBits = d.eventIdBits ?? bitsFor(maxEvent + 1);
    if (!isU32(eventIdBits)) return `${what}.eventIdBits must be an unsigned integer`;
    devices.push({ its: at, deviceId: d.deviceId, eventIdBits, events });
  }

  let collections: Required<ItsSetupCollection>[];
  if (a.collections === undefined) {
    collections = [];
    for (let n = 0; n < its.length; n++) for (let v = 0; v < nrVcpus; v++) collections.push({ its: n, icid: v, vcpu: v });
  } else {
    if (!Array.isArray(a.collections)) return 'args.collections must be an array';
    collections = [];
    for (const [i, c] of a.collections.entries()) {
      const what = `args.collections[${i}]`;
      if (c === null || typeof c !== 'object' || !isU32(c.icid) || !isU32(c.vcpu)) return `${what} must be { icid, vcpu }`;
      const at = itsIdx(c.its, what);
      if (typeof at === 'string') return at;
      collections.push({ its: at, icid: c.icid, vcpu: c.vcpu });
    }
  }

  const idBits = a.idBits ?? 16;
  if (!Number.isInteger(idBits) || idBits < LPI_MIN_ID_BITS || idBits > LPI_MAX_ID_BITS) {
    return `args.idBits must be ${LPI_MIN_ID_BITS}..${LPI_MAX_ID_BITS}`;
  }
  const enableLpis = a.enableLpis ?? 'all';
  if (!['all', 'self', 'none'].includes(enableLpis)) return "args.enableLpis must be 'all', 'self' or 'none'";
  const region = a.region ?? DEFAULT_GIC_REGION;
  if (region === null || typeof region !== 'object' || !Number.isSafeInteger(region.base) || !Number.isSafeInteger(region.size)) {
    return 'args.region must be { base, size }';
  }
  const handle = a.handle === true ? {} : a.handle === false || a.handle === undefined ? undefined : a.handle;
  if (handle !== undefined && (typeof handle !== 'object' || (handle.stopAfter !== undefined && !isU32(handle.stopAfter)))) {
    return 'args.handle must be a boolean or { stopAfter?: number }';
  }
  return {
    itsBases, devices, collections, twoLevel: a.twoLevel === true, idBits,
    deviceIdBits: a.deviceIdBits, queueBytes: a.queueBytes, enableLpis,
    ptz: a.ptz === true, configAfterMap: a.configAfterMap === true, sync: a.sync !== false, batch: a.batch === true,
    enableDist: a.enableDist !== false, checkGicdTyper: a.checkGicdTyper !== false,
    region: { base: region.base, size: region.size }, mailbox: a.mailbox ?? SETUP_MAILBOX_GPA,
    pollLimit: a.pollLimit ?? 100_000, handle,
  };
}
