/**
 * mailbox-full: the ITS actor's mailbox (4 slots) filled with requests
 * while the actor is stalled inside a message (parked on its.its_lock, the
 * VMM's gate). What the model does, and what this checks: a full ring
 * blocks its senders (back-pressure: vCPUs, the MSI thread and the VMM
 * alike), nothing is dropped, and every sender is served once the actor
 * runs again. Then the same, but the actor dies while its ring is full and
 * senders wait for space: every one of them gets -ENODEV. (With the
 * postMessage transport, ports are unbounded: the messages queue up
 * instead, and the rest is the same.)
 */
import type { FaultDef } from './fault-def.js';
import type { FaultVm } from './fault-vm.js';
import { faultMatching, within, type Recorder } from './postconditions.js';
import { waitUntil } from '../../sync/wait.js';
import { ENODEV, errnoName } from '../../uapi/errno.js';

const CAPACITY = 4;
/** Requests the VMM sends into the full ring each time: four rings' worth. */
const BURST = 4 * CAPACITY;

interface Burst {
  results: Promise<(number | string)[]>;
  settled: () => number;
}

/** BURST MSIs no cache holds (DeviceID 0x55 is never mapped): each is a request to the ITS actor. */
function burst(f: FaultVm): Burst {
  let settled = 0;
  const base = f.vm.gic.its[0]!.baseAddress!;
  const results = Promise.all(Array.from({ length: BURST }, (_, i) =>
    f.vm.signalMsi({ address: base + 0x1_0040, data: i, devid: 0x55 }).then((r) => r, (e: unknown) => String((e as Error)?.message ?? e))
      .finally(() => settled++)));
  return { results, settled: () => settled };
}

/** Stall the actor, then fill its ring until senders wait for space. The burst, or undefined (the gate is open then). */
async function fill(f: FaultVm, rec: Recorder, phase: string): Promise<Burst | undefined> {
  const at = await f.catchAtGate(f.itsLock, () => true);
  if (at === undefined) {
    rec.check(`injected at the moment (${phase})`, false, 'the ITS actor never parked on its.its_lock');
    return undefined;
  }
  const b = burst(f);
  if (f.vm.options.actorTransport === 'postmessage') {
    // Ports are unbounded: no sender waits for space; every message is queued, none taken while stalled.
    const queued = () => { const [sent, taken] = f.vm.rt.transport.positions(f.itsActor); return sent - taken; };
    const all = await waitUntil(() => queued() >= BURST, f.o.guardMs, 1);
    rec.check(`injected at the moment (${phase})`, all && b.settled() === 0,
      `actor stalled; unbounded ports: ${queued()} messages queued, ${b.settled()} of ${BURST} VMM requests answered while stalled`);
    return b;
  }
  const box = f.vm.rt.dir.mailbox(f.itsActor);
  const full = await waitUntil(() => box.size() >= box.capacity && box.spaceWaiters() > 0, f.o.guardMs, 1);
  rec.check(`injected at the moment (${phase})`, full && b.settled() === 0,
    `actor stalled; ring full: ${box.size()}/${box.capacity} slots taken, ${box.spaceWaiters()} senders waiting for space, ${b.settled()} of ${BURST} VMM requests answered while stalled`);
  return b;
}

const describe = (rs: (number | string)[]): string => {
  const counts = new Map<string, number>();
  for (const r of rs) {
    const k = typeof r === 'number' ? (r <= 0 ? (r === 0 ? '0' : errnoName(r)) : String(r)) : `threw ${r}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k} x${n}`).join(', ');
};

export const mailboxFull: FaultDef = {
  name: 'mailbox-full',
  description: `fill the ITS actor's ${CAPACITY}-slot mailbox while it is stalled: senders block, then are all served; fill it again and kill the actor: all get -ENODEV`,
  vm: { mode: 'none', mailboxCapacity: CAPACITY },
  async inject(f, rec) {
    // Stalled, then running again: back-pressure, nothing dropped.
    const a = await fill(f, rec, 'stalled');
    if (a !== undefined) {
      f.gate(f.itsLock).unlock();
      const rs = await within(a.results, f.o.guardMs);
      rec.check('stalled: every sender served once the actor runs', rs !== undefined && rs.length === BURST && rs.every((r) => r === 0),
        rs === undefined ? `${a.settled()} of ${BURST} answered` : `${BURST} MSIs without a translation: ${describe(rs)} (0: no ITE, served)`);
    }
    // Full, then dead: every waiting and queued sender answered -ENODEV.
    const b = await fill(f, rec, 'dying');
    const host = f.vm.rt.arena.threadName(f.itsHostTid);
    const died = faultMatching(f, (x) => x.source === host && /exited/.test(x.message), f.o.guardMs);
    await f.itsHost().terminate();
    if (b !== undefined) f.gate(f.itsLock).unlock();
    const fault = await died;
    rec.reportedAs = fault === undefined ? 'nothing' : `${fault.source}: ${fault.message}`;
    rec.check('the VM reports the fault', fault !== undefined, fault === undefined ? `no fault reported for ${host}` : rec.reportedAs);
    if (b !== undefined) {
      const rs = await within(b.results, f.o.guardMs);
      rec.check('dying: every sender answered -ENODEV', rs !== undefined && rs.every((r) => r === -ENODEV),
        rs === undefined ? `${b.settled()} of ${BURST} answered` : describe(rs));
    }
    return { gone: [], unpausable: [] };
  },
};
