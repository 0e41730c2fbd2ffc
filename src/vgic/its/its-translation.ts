/**
 * The translation state of one ITS: devices with their ITEs, and
 * collections. Owned by the ITS actor's thread and changed only with that
 * ITS's its_lock held (every method here is "called with its_lock held");
 * LPI objects themselves are VM-global and live in shared memory (Vgic).
 *
 * An ITE names its collection by ICID, or null once that collection was
 * removed (MAPC V=0 or BASER1 Valid=0): KVM clears the ITE's collection
 * pointer then, so a later MAPC re-creating the same ICID does not bring the
 * ITE back. The invariant "icid !== null implies the collection exists" is
 * kept by freeCollection().
 */
import { COLLECTION_NOT_MAPPED } from '../../uapi/its-abi.js';
import type { ItsCache } from '../its-cache.js';
import type { Vgic } from '../vgic.js';
import { ItsIteStore, type ItsIte } from './its-ite-store.js';

export { ItsIteStore, type ItsIte } from './its-ite-store.js';

export interface ItsDevice {
  readonly deviceId: number;
  readonly ittAddr: number;
  /** 1..16. */
  readonly eventIdBits: number;
  /** The device's ITEs, in ascending EventID order. */
  readonly ites: ItsIteStore;
}

export class ItsTranslation {
  /** DeviceID -> device (insertion order = MAPD order). */
  readonly devices = new Map<number, ItsDevice>();
  /** ICID -> target vcpu_id or COLLECTION_NOT_MAPPED; insertion order = creation order (save needs it). */
  readonly collections = new Map<number, number>();

  constructor(readonly index: number, readonly vgic: Vgic, readonly cache: ItsCache) {}

  /** A copy of the ITE, or undefined. */
  findIte(deviceId: number, eventId: number): ItsIte | undefined {
    return this.devices.get(deviceId)?.ites.get(eventId);
  }

  /**
   * its_is_collection_mapped + the target: the vcpu_id a collection points
   * at, or undefined if the ICID is null, unknown, or the collection was
   * never MAPC'd.
   */
  mappedTarget(icid: number | null): number | undefined {
    if (icid === null) return undefined;
    const t = this.collections.get(icid);
    return t === undefined || t === COLLECTION_NOT_MAPPED ? undefined : t;
  }

  /** collection_to_vcpu: the vCPU with that vcpu_id, or -1 (NULL) if there is none. */
  vcpuOf(target: number): number {
    return this.vgic.vcpuExists(target) ? target : -1;
  }

  /** LPI target for an ITE of collection `icid`: its vCPU if mapped, else -1. */
  lpiTargetFor(icid: number | null): number {
    const t = this.mappedTarget(icid);
    return t === undefined ? -1 : this.vcpuOf(t);
  }

  /** lpiTargetFor() given the collection's target (a vcpu_id or COLLECTION_NOT_MAPPED). */
  lpiTargetOf(target: number): number {
    return target === COLLECTION_NOT_MAPPED ? -1 : this.vcpuOf(target);
  }

  addDevice(deviceId: number, ittAddr: number, eventIdBits: number): ItsDevice {
    const dev: ItsDevice = { deviceId, ittAddr, eventIdBits, ites: new ItsIteStore() };
    this.devices.set(deviceId, dev);
    return dev;
  }

  /** its_free_ite: unlink the ITE and drop its LPI reference. */
  freeIte(dev: ItsDevice, eventId: number): void {
    const i = dev.ites.indexOf(eventId);
    if (i < 0) return;
    const intid = dev.ites.intidAt(i);
    dev.ites.removeAt(i);
    this.vgic.putLpi(intid);
  }

  /**
   * vgic_its_free_device: drop every ITE (and its LPI reference), empty this
   * ITS's translation cache, forget the device. KVM empties the cache after
   * dropping the ITEs, which is safe there because cache entries hold an LPI
   * reference; ours hold only the INTID, so we empty it first: no lock-free
   * probe can then hit an LPI this teardown is about to free.
   */
  freeDevice(dev: ItsDevice): void {
    this.cache.invalidate(this.index);
    // Each ITE in EventID order: unlinked, then its reference dropped (as freeIte, without the shifting).
    const ites = dev.ites;
    const intids = ites.intids.slice(0, ites.size);
    ites.clear();
    for (let i = 0; i < intids.length; i++) this.vgic.putLpi(intids[i]!);
    this.devices.delete(dev.deviceId);
  }

  /** vgic_its_free_device_list (BASER0 Valid=0, reset, destroy). */
  freeAllDevices(): void {
    for (const dev of [...this.devices.values()]) this.freeDevice(dev);
  }

  /**
   * vgic_its_free_collection: every ITE of this ITS naming the collection
   * loses it (icid = null), then the collection goes. No cache invalidation
   * here: MAPC V=0 does that itself; BASER1 Valid=0 in KVM does not (the ITS
   * is disabled then, and disabling already emptied the cache).
   */
  freeCollection(icid: number): void {
    if (!this.collections.has(icid)) return;
    for (const dev of this.devices.values()) {
      const ites = dev.ites, icids = ites.icids, n = ites.size;
      for (let i = 0; i < n; i++) if (icids[i] === icid) ites.setIcidAt(i, null);
    }
    this.collections.delete(icid);
  }

  /** vgic_its_free_collection_list. */
  freeAllCollections(): void {
    for (const icid of [...this.collections.keys()]) this.freeCollection(icid);
  }

  /**
   * update_affinity_collection (MAPC remap): point every LPI of this ITS whose
   * ITE names the collection at the collection's (new) vCPU. The cache is left
   * alone: it maps to LPI objects, whose target changes in place.
   */
  updateAffinityCollection(icid: number): void {
    const target = this.lpiTargetFor(icid);
    for (const dev of this.devices.values()) {
      const { icids, intids, size: n } = dev.ites;
      for (let i = 0; i < n; i++) if (icids[i] === icid) this.vgic.retarget(intids[i]!, target);
    }
  }

  /** Number of ITEs over all devices. */
  iteCount(): number {
    let n = 0;
    for (const dev of this.devices.values()) n += dev.ites.size;
    return n;
  }
}
