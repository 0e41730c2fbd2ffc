/**
 * Lock protocols as data: validation names the option, and executing one
 * never leaves a lock held (trylock failure, or a protocol that cannot be run).
 */
import { describe, expect, it } from 'vitest';
import { LockArena, ThreadContext } from '../dist/src/sync/index.js';
import { acquire, resolveLockProtocol, UPSTREAM, V7_2017 } from '../dist/src/vgic/lock-protocol.js';
import { EBUSY } from '../dist/src/uapi/errno.js';

function setup() {
  const arena = LockArena.create({}, 'counts');
  const kvm = arena.allocLock('kvm.lock'), config = arena.allocLock('config_lock');
  const vcpu = [0, 1].map((i) => arena.allocLock('vcpu.mutex', i));
  const cmd = arena.allocLock('its.cmd_lock'), its = arena.allocLock('its.its_lock');
  const me = new ThreadContext(arena, arena.registerThread('other', 0, 'me'));
  const other = new ThreadContext(arena, arena.registerThread('vcpu', 1, 'vCPU 1'));
  const locks = { kvm: me.mutex(kvm), config: me.mutex(config), vcpus: vcpu.map((i) => me.mutex(i)), cmd: me.mutex(cmd), its: me.mutex(its) };
  return { arena, me, other, vcpu, locks };
}

describe('lock protocols', () => {
  it('the built-in protocols resolve by name; unknown names and malformed protocols are TypeErrors naming the option', () => {
    expect(resolveLockProtocol('upstream')).toBe(UPSTREAM);
    expect(resolveLockProtocol('v7-2017')).toBe(V7_2017);
    expect(() => resolveLockProtocol('nope')).toThrow(/options\.gic\.lockProtocol.*unknown/);
    const bad = { ...UPSTREAM, savePending: [{ lock: 'its.its_lock', mode: 'lock' }] };
    expect(() => resolveLockProtocol(bad as never)).toThrow(/savePending/);
    const twice = { ...UPSTREAM, itsCtrl: [{ lock: 'kvm.lock', mode: 'lock' }, { lock: 'kvm.lock', mode: 'lock' }] };
    expect(() => resolveLockProtocol(twice as never)).toThrow(/names a lock twice/);
  });

  it('a failed vCPU trylock returns -EBUSY with nothing held', () => {
    const { arena, me, other, vcpu, locks } = setup();
    expect(other.mutex(vcpu[1]!).lock()).toBe(0); // vCPU 1 is in KVM_RUN
    expect(acquire(UPSTREAM.itsCtrl, locks)).toBe(-EBUSY);
    expect(arena.locksHeldBy(me.tid)).toEqual([]);
    other.mutex(vcpu[1]!).unlock();
    const release = acquire(UPSTREAM.itsCtrl, locks);
    expect(typeof release).toBe('function');
    expect(arena.locksHeldBy(me.tid)).toHaveLength(5); // kvm, 2 vcpus, config, its_lock
    (release as () => void)();
    expect(arena.locksHeldBy(me.tid)).toEqual([]);
  });

  it('a protocol naming a lock the path lacks throws before taking anything', () => {
    const { arena, me, locks } = setup();
    const noIts = { kvm: locks.kvm, config: locks.config, vcpus: locks.vcpus };
    expect(() => acquire(UPSTREAM.itsCtrl, noIts)).toThrow(/its\.its_lock/);
    expect(arena.locksHeldBy(me.tid)).toEqual([]);
  });
});
