/**
 * The translation-equivalence checker: what an interrupt would do in a VM,
 * listed as data (every (ITS, DeviceID, EventID) -> (LPI, vCPU) mapping, the
 * collections, each LPI's configuration and pending state), and the
 * differences between two such views: two VMs (source and destination of a
 * migration) or one VM at two moments (before and after save/restore).
 * Views are taken while the VMs are paused, so they are consistent.
 */
import { Gic } from './gic.js';
import { F_ENABLED, F_PENDING } from './vgic-state.js';

/** A collection's target when it is not mapped to a vCPU. */
export const COLLECTION_NOT_MAPPED = 0xffff_ffff;

/** One (DeviceID, EventID) translation of an ITS and where it sends the interrupt. */
export interface MappingView {
  /** The DeviceID. */
  deviceId: number;
  /** The EventID. */
  eventId: number;
  /** The LPI it maps to. */
  intid: number;
  /** null: the ITE's collection was removed. */
  icid: number | null;
  /** Where the interrupt goes: the collection's vCPU, or null (unmapped collection). */
  vcpu: number | null;
}

/** One ITS's part of a view. */
export interface ItsView {
  /** The ITS's index in the VM. */
  index: number;
  /** GITS_CTLR.Enabled. */
  enabled: boolean;
  /** Every mapped collection and its target vCPU (or COLLECTION_NOT_MAPPED). */
  collections: {
    /** The collection ID. */
    icid: number;
    /** vcpu_id, or COLLECTION_NOT_MAPPED. */
    target: number;
  }[];
  /** Every translation, by DeviceID then EventID. */
  mappings: MappingView[];
}

/** One LPI's configuration and state. */
export interface LpiView {
  /** The LPI's INTID (8192 and up). */
  intid: number;
  /** Its priority (from the property table). */
  priority: number;
  /** Enabled in the property table. */
  enabled: boolean;
  /** Pending (latched, not yet acknowledged). */
  pending: boolean;
  /** target_vcpu, or -1. */
  target: number;
}

/** What every interrupt of a VM would do: each ITS's translations and collections, and each LPI's state. */
export interface TranslationView {
  /** One entry per ITS, by index. */
  its: ItsView[];
  /** Every LPI that exists, by INTID. */
  lpis: LpiView[];
}

/** One difference between two views. */
export interface Difference {
  /** What differs, e.g. 'mapping', 'collection', 'lpi', 'its'. */
  kind: string;
  /** Where, e.g. 'ITS 0 dev 3 ev 17'. */
  where: string;
  /** The first view's value ('absent' when it has none). */
  a: unknown;
  /** The second view's value ('absent' when it has none). */
  b: unknown;
}

/** Take a view of a VM's GIC (pause the VM first for a consistent one). */
export async function translationView(gic: Gic): Promise<TranslationView> {
  if (!(gic instanceof Gic)) throw new TypeError('translationView: gic must be a VM\'s vm.gic');
  const its: ItsView[] = [];
  for (const dev of gic.its) {
    const s = await dev.snapshot();
    const target = new Map(s.collections.map((c) => [c.icid, c.target]));
    its.push({
      index: s.index,
      enabled: s.enabled,
      collections: s.collections.map((c) => ({ icid: c.icid, target: c.target })),
      mappings: s.devices.flatMap((d) => d.ites.map((e) => {
        const t = e.icid === null ? undefined : target.get(e.icid);
        return { deviceId: d.deviceId, eventId: e.eventId, intid: e.intid, icid: e.icid, vcpu: t === undefined || t === COLLECTION_NOT_MAPPED ? null : t };
      })),
    });
  }
  const v = gic.vgic;
  const lpis = v.lpis().map((intid) => {
    const f = v.lpiFlags(intid);
    return { intid, priority: v.lpiPriority(intid), enabled: (f & F_ENABLED) !== 0, pending: (f & F_PENDING) !== 0, target: v.lpiTarget(intid) };
  });
  return { its, lpis };
}

/** Every difference between two views (empty: equivalent). Pure data in, data out: views may come from other processes. */
export function compareTranslation(a: TranslationView, b: TranslationView): Difference[] {
  const out: Difference[] = [];
  const n = Math.max(a.its.length, b.its.length);
  for (let i = 0; i < n; i++) {
    const x = a.its[i], y = b.its[i];
    if (x === undefined || y === undefined) {
      out.push({ kind: 'its', where: `ITS ${i}`, a: x === undefined ? 'absent' : 'present', b: y === undefined ? 'absent' : 'present' });
      continue;
    }
    if (x.enabled !== y.enabled) out.push({ kind: 'its', where: `ITS ${i} enabled`, a: x.enabled, b: y.enabled });
    diffKeyed(out, 'collection', `ITS ${i} collection`, x.collections, y.collections, (c) => `${c.icid}`);
    diffKeyed(out, 'mapping', `ITS ${i} dev`, x.mappings, y.mappings, (m) => `${m.deviceId} ev ${m.eventId}`);
  }
  diffKeyed(out, 'lpi', 'LPI', a.lpis, b.lpis, (l) => `${l.intid}`);
  return out;
}

function diffKeyed<T>(out: Difference[], kind: string, prefix: string, as: T[], bs: T[], key: (t: T) => string): void {
  const am = new Map(as.map((t) => [key(t), t]));
  const bm = new Map(bs.map((t) => [key(t), t]));
  for (const [k, x] of am) {
    const y = bm.get(k);
    if (y === undefined) out.push({ kind, where: `${prefix} ${k}`, a: x, b: 'absent' });
    else if (JSON.stringify(x) !== JSON.stringify(y)) out.push({ kind, where: `${prefix} ${k}`, a: x, b: y });
  }
  for (const [k, y] of bm) if (!am.has(k)) out.push({ kind, where: `${prefix} ${k}`, a: 'absent', b: y });
}

/** One line per difference, or 'equivalent'. */
export function formatDifferences(d: Difference[]): string {
  if (d.length === 0) return 'equivalent';
  return d.map((x) => `${x.where}: ${JSON.stringify(x.a)} != ${JSON.stringify(x.b)}`).join('\n');
}
