/**
 * The its-setup sequence, as a library function (the built-in program
 * src/guest/programs/its-setup.ts is a thin wrapper). On the boot vCPU:
 *  1. GICD_TYPER: LPIs supported, cap INTID bits;
 *  2. LPI property table + one pending table per vCPU; config bytes of the events' LPIs;
 *  3. every redistributor: GICR_TYPER (Processor_Number), PROPBASER, PENDBASER;
 *  4. EnableLPIs per args.enableLpis; mailbox := SETUP_REDISTS_READY;
 *  5. each ITS: probe, tables, queue, enable; MAPC; MAPD + MAPTI/MAPI; (INV); SYNC; wait;
 *  6. GICD_CTLR; mailbox := SETUP_DONE (or -errno on failure);
 *  7. optionally the interrupt loop (irq-loop.ts).
 * Mirrors the order a guest kernel brings up the GIC, redistributors, ITS and
 * an MSI-capable device (Linux gic_init_bases / its_init / its_cpu_init_lpis /
 * its_irq_domain_activate), and the selftests' vgic_lpi_stress guest setup.
 */
import type { Guest } from '../kvm/guest-api.js';
import { EFAULT, EINVAL, ENODEV, errnoName } from '../uapi/errno.js';
import { GpaAllocator, type GpaRegion, SETUP_MAILBOX_GPA } from './alloc.js';
import { hex, type DriverError } from './driver-util.js';
import { GicDriver, LPI_MIN_ID_BITS } from './gic-driver.js';
import {
  MAILBOX_COMMANDS, MAILBOX_EVENTS, MAILBOX_LPIS_ENABLED, MAILBOX_STATE, mailboxAdd, mailboxStore, SETUP_DONE, SETUP_PENDING,
  SETUP_REDISTS_READY,
} from './handshake.js';
import { irqLoop, type IrqLoopResult } from './irq-loop.js';
import { ItsDriver, type GpaRange, type ItsSummary } from './its-driver.js';
import { resolveItsSetupArgs, type ItsSetupArgs, type ResolvedItsSetupArgs } from './its-setup-args.js';

/** What runItsSetup did (structured-cloneable: the 'its-setup' program returns it). */
export interface ItsSetupSummary {
  /** Every step succeeded. */
  ok: boolean;
  /** The first failure, if any (setup stops there). */
  error?: DriverError;
  /** The vCPU that ran the setup. */
  vcpu: number;
  /** The RAM the tables came from, and how much of it they took. */
  region: GpaRegion & {
    /** Bytes of the region the tables took. */
    used: number;
  };
  /** GPA of the setup mailbox. */
  mailbox: number;
  /** INTID bits programmed into PROPBASER (IDbits + 1). */
  idBits: number;
  /** The LPI property table. */
  propTable?: GpaRange;
  /** Each vCPU's pending table GPA. */
  pendTables: number[];
  /** GICR_TYPER.Processor_Number per vCPU. */
  processorNumbers: number[];
  /** Who set EnableLPIs (args.enableLpis). */
  lpiEnable: 'all' | 'self' | 'none';
  /** vCPUs whose EnableLPIs this vCPU set. */
  lpisEnabledOn: number[];
  /** Each ITS driver's summary. */
  its: ItsSummary[];
  /** ITS commands issued, all ITSs. */
  commands: number;
  /** Events mapped (MAPTI/MAPI). */
  events: number;
  /** GICD_CTLR was enabled at the end. */
  distEnabled: boolean;
  /** Present when args.handle asked for the interrupt loop. */
  handler?: IrqLoopResult;
}

/** Run the setup on `guest` (normally vCPU 0). Never throws on device answers. */
export function runItsSetup(guest: Guest, args: ItsSetupArgs | undefined): ItsSetupSummary {
  const r = resolveItsSetupArgs(args, guest.nrVcpus);
  const s: ItsSetupSummary = {
    ok: false, vcpu: guest.vcpuId, region: { base: 0, size: 0, used: 0 }, mailbox: 0, idBits: 0, pendTables: [],
    processorNumbers: [], lpiEnable: 'all', lpisEnabledOn: [], its: [], commands: 0, events: 0, distEnabled: false,
  };
  if (typeof r === 'string') {
    s.error = { errno: -EINVAL, name: errnoName(-EINVAL), where: 'its-setup args', detail: r };
    // Tell secondaries waiting on the mailbox, if it can be found.
    mailboxStore(guest, typeof args?.mailbox === 'number' ? args.mailbox : SETUP_MAILBOX_GPA, MAILBOX_STATE, -EINVAL);
    return s;
  }
  s.region = { ...r.region, used: 0 };
  s.mailbox = r.mailbox;
  s.lpiEnable = r.enableLpis;
  if (mailboxStore(guest, r.mailbox, MAILBOX_STATE, SETUP_PENDING) < 0) {
    s.error = { errno: -EFAULT, name: errnoName(-EFAULT), where: 'setup mailbox', detail: `${hex(r.mailbox)} is not guest RAM` };
    return s;
  }
  mailboxStore(guest, r.mailbox, MAILBOX_LPIS_ENABLED, 0);
  const alloc = GpaAllocator.of(r.region);
  const gic = new GicDriver(guest, { pollLimit: r.pollLimit });
  const drivers: ItsDriver[] = [];
  const errno = setup(guest, r, s, alloc, gic, drivers);
  s.region.used = alloc.used;
  s.its = drivers.map((d) => d.summary());
  s.commands = drivers.reduce((n, d) => n + d.commands, 0);
  mailboxStore(guest, r.mailbox, MAILBOX_COMMANDS, s.commands);
  mailboxStore(guest, r.mailbox, MAILBOX_EVENTS, s.events);
  if (errno < 0) {
    s.error ??= gic.error ?? drivers.find((d) => d.error !== undefined)?.error
      ?? { errno, name: errnoName(errno), where: 'its-setup', detail: 'failed' };
    mailboxStore(guest, r.mailbox, MAILBOX_STATE, errno);
    return s;
  }
  s.ok = true;
  mailboxStore(guest, r.mailbox, MAILBOX_STATE, SETUP_DONE);
  if (r.handle !== undefined) s.handler = irqLoop(guest, r.handle);
  return s;
}

function fail(s: ItsSetupSummary, errno: number, where: string, detail: string): number {
  s.error ??= { errno, name: errnoName(errno), where, detail };
  return errno;
}

function setup(guest: Guest, r: ResolvedItsSetupArgs, s: ItsSetupSummary, alloc: GpaAllocator, gic: GicDriver,
  drivers: ItsDriver[]): number {
  const n = guest.nrVcpus;
  let idBits = r.idBits;
  if (r.checkGicdTyper) {
    const d = gic.probeDist();
    if (!d.lpis) return fail(s, -ENODEV, 'GICD TYPER', `LPIS=0 (0x${d.typer.toString(16)}): the VM has no ITS`);
    idBits = Math.min(idBits, d.idBits);
    if (idBits < LPI_MIN_ID_BITS) return fail(s, -ENODEV, 'GICD TYPER', `IDbits gives ${d.idBits} INTID bits: no room for LPIs`);
  }
  s.idBits = idBits;
  let e = gic.allocLpiTables(alloc, idBits, n);
  if (e < 0) return e;
  s.propTable = { gpa: gic.tables!.propGpa, bytes: gic.tables!.propBytes };
  s.pendTables = [...gic.tables!.pendGpa];
  for (const d of r.devices) {
    for (const ev of d.events) {
      if ((e = gic.setLpiConfig(ev.intid, ev.priority, ev.enabled && !r.configAfterMap)) < 0) return e;
    }
  }
  for (let v = 0; v < n; v++) {
    const p = gic.processorNumber(v);
    if (p < 0) return p;
    s.processorNumbers.push(p);
    if ((e = gic.programRedist(v, r.ptz)) < 0) return e;
  }
  const enableOn = r.enableLpis === 'all' ? [...Array(n).keys()] : r.enableLpis === 'self' ? [guest.vcpuId] : [];
  for (const v of enableOn) {
    if ((e = gic.enableLpis(v)) < 0) return e;
    s.lpisEnabledOn.push(v);
    mailboxAdd(guest, r.mailbox, MAILBOX_LPIS_ENABLED, 1);
  }
  mailboxStore(guest, r.mailbox, MAILBOX_STATE, SETUP_REDISTS_READY);

  for (const base of r.itsBases) {
    const its = new ItsDriver(guest, {
      base, alloc, twoLevel: r.twoLevel, deviceIdBits: r.deviceIdBits, queueBytes: r.queueBytes, pollLimit: r.pollLimit,
      processorNumbers: s.processorNumbers, name: `ITS${drivers.length}`,
    });
    drivers.push(its);
    if ((e = its.init()) < 0 || (e = its.enable()) < 0) return e;
  }
  for (const [i, its] of drivers.entries()) {
    if (r.batch) its.begin();
    const cols = r.collections.filter((c) => c.its === i);
    for (const c of cols) if ((e = its.mapc(c.icid, c.vcpu)) < 0) return e;
    for (const d of r.devices.filter((x) => x.its === i)) {
      if ((e = its.mapd(d.deviceId, d.eventIdBits)) < 0) return e;
      for (const ev of d.events) {
        e = ev.mapi ? its.mapi(d.deviceId, ev.eventId, ev.icid) : its.mapti(d.deviceId, ev.eventId, ev.intid, ev.icid);
        if (e < 0) return e;
        s.events++;
      }
      if (r.configAfterMap) {
        for (const ev of d.events) {
          if ((e = gic.setLpiConfig(ev.intid, ev.priority, ev.enabled)) < 0 || (e = its.inv(d.deviceId, ev.eventId)) < 0) return e;
        }
      }
    }
    if (r.sync) {
      for (const v of new Set(cols.map((c) => c.vcpu))) if ((e = its.sync(v)) < 0) return e;
    }
    if ((e = its.wait()) < 0) return e;
  }
  if (r.enableDist) {
    if ((e = gic.enableDist()) < 0) return e;
    s.distEnabled = true;
  }
  return 0;
}
