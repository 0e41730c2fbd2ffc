/**
 * User-defined lock protocols (issue 8 item 2): a protocol is data, it
 * carries or derives the hierarchy the validator checks, and every built-in
 * scenario that takes one runs it in place of its own, on real VMs. A copy
 * of today's protocol passes them all; a protocol that takes its.its_lock
 * before config_lock is reported by the validator (the findings name the
 * locks); one that blocks on vcpu.mutex after its_lock deadlocks, and the
 * watchdog finds the cycle.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVm, UPSTREAM, V7_2017, type GicVm, type LockProtocol, type LockStep } from '../dist/src/index.js';
import { Validator } from '../dist/src/sync/validator.js';
import { deriveHierarchy, LOCK_CLASSES, resolveLockProtocol } from '../dist/src/vgic/lock-protocol.js';
import { loadLockProtocol } from '../dist/src/vgic/lock-protocol-file.js';
import { runScenario } from '../dist/src/stress/runner.js';
import { findScenario, SCENARIOS } from '../dist/src/stress/scenarios/index.js';
import { cli } from './helpers/run-node.js';

const lock = (l: LockStep['lock']): LockStep => ({ lock: l, mode: 'lock' });
const trylock = (l: LockStep['lock']): LockStep => ({ lock: l, mode: 'trylock' });
const SHORT = { vcpus: 2, its: 1, seconds: 0.3, schedule: { seed: 7 } };
const scenario = (name: string) => findScenario(name)!;

/** Today's protocol under another name: must behave exactly like it. */
const MINE: LockProtocol = { ...UPSTREAM, name: 'mine', hierarchy: 'derive' };
/** SAVE/RESTORE take its_lock before config_lock; register access takes them the other way round. */
const ITS_FIRST: LockProtocol = {
  name: 'its-first',
  itsCtrl: [lock('kvm.lock'), trylock('vcpu.mutex[all]'), lock('its.its_lock'), lock('config_lock')],
  itsRegs: [lock('kvm.lock'), trylock('vcpu.mutex[all]'), lock('config_lock'), lock('its.its_lock')],
  savePending: [lock('kvm.lock'), trylock('vcpu.mutex[all]'), lock('config_lock')],
  restoreCallsMapResources: false,
};
/** The 2017 order with a blocking vcpu.mutex after its_lock, written as data (no blockingVcpuLocks switch). */
const VCPU_AFTER_ITS: LockProtocol = { ...UPSTREAM, name: 'vcpu-after-its', itsCtrl: [lock('kvm.lock'), lock('its.its_lock'), lock('vcpu.mutex[all]')] };

describe('lock protocol hierarchies', () => {
  it('a declared hierarchy is validated: unknown or repeated classes are TypeErrors naming the field', () => {
    expect(resolveLockProtocol({ ...MINE, hierarchy: ['kvm.lock', 'config_lock'] }).hierarchy).toEqual(['kvm.lock', 'config_lock']);
    expect(() => resolveLockProtocol({ ...MINE, hierarchy: ['kvm.lock', 'its_lock'] })).toThrow(/options\.gic\.lockProtocol\.hierarchy must be 'derive' or an array of lock classes/);
    expect(() => resolveLockProtocol({ ...MINE, hierarchy: ['kvm.lock', 'kvm.lock'] })).toThrow(/hierarchy names a lock class twice/);
    expect(() => resolveLockProtocol({ ...MINE, name: 42 as never })).toThrow(/lockProtocol\.name must be a non-empty string/);
    expect(() => resolveLockProtocol(null as never)).toThrow(/options\.gic\.lockProtocol must be/);
  });

  it("'derive' of today's protocol is today's order with kvm.slots_lock above config_lock", () => {
    expect(resolveLockProtocol(MINE).hierarchy).toEqual(['kvm.lock', 'vcpu.mutex', 'kvm.slots_lock', 'config_lock', 'its.cmd_lock', 'its.its_lock']);
    expect(deriveHierarchy(UPSTREAM)).toEqual(LOCK_CLASSES);
  });

  it("'derive' refuses a protocol whose paths disagree with the paths it does not govern, naming both", () => {
    // v7-2017 takes vcpu.mutex after its.its_lock; a vCPU's ITS command path takes its.its_lock under vcpu.mutex.
    expect(() => deriveHierarchy(V7_2017, 'p.hierarchy')).toThrow(
      /p\.hierarchy: 'derive' finds no order: v7-2017's itsCtrl .* takes its\.its_lock before vcpu\.mutex, a vCPU's ITS commands .* takes vcpu\.mutex before its\.its_lock/);
    expect(() => resolveLockProtocol({ ...ITS_FIRST, hierarchy: 'derive' })).toThrow(/its-first's itsRegs .* takes config_lock before its\.its_lock/);
  });

  it("createVm({ validator: true }) checks the protocol's declared hierarchy; without one, today's", async () => {
    const vms: GicVm[] = [];
    try {
      const declared = async (lockProtocol: LockProtocol | 'upstream') => {
        const vm = await createVm({ gic: { lockProtocol }, validator: true });
        vms.push(vm);
        return new Validator(vm.shared.validator!, vm.rt.arena).declaredOrder();
      };
      expect(await declared(MINE)).toEqual({ name: 'custom', order: resolveLockProtocol(MINE).hierarchy });
      expect(await declared('upstream')).toEqual({ name: 'upstream', order: ['kvm.lock', 'vcpu.mutex', 'config_lock', 'its.cmd_lock', 'its.its_lock'] });
      expect((await declared(ITS_FIRST)).name).toBe('upstream');
    } finally {
      await Promise.all(vms.map((vm) => vm.destroy()));
    }
  });
});

describe('lock protocol files', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vgic-lab-protocol-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('loads built-in names, JSON files and .mjs default exports, validated', async () => {
    expect(await loadLockProtocol('v7-2017')).toBe(V7_2017);
    await writeFile(join(dir, 'mine.json'), JSON.stringify(MINE));
    expect(await loadLockProtocol(join(dir, 'mine.json'))).toEqual(resolveLockProtocol(MINE));
    await writeFile(join(dir, 'its-first.mjs'), `export default ${JSON.stringify(ITS_FIRST)};\n`);
    expect(await loadLockProtocol(join(dir, 'its-first.mjs'))).toEqual(ITS_FIRST);
  });

  it('a missing file, bad JSON, a module without default export or a malformed protocol are TypeErrors naming the option and file', async () => {
    const f = (name: string) => join(dir, name);
    await expect(loadLockProtocol(f('none.json'), '--protocol')).rejects.toThrow(/^--protocol .*none\.json: cannot read it \(ENOENT\)/);
    await writeFile(f('bad.json'), '{ "name": ');
    await expect(loadLockProtocol(f('bad.json'), '--protocol')).rejects.toThrow(/bad\.json: not JSON/);
    await writeFile(f('named.mjs'), 'export const p = {};\n');
    await expect(loadLockProtocol(f('named.mjs'), '--protocol')).rejects.toThrow(/named\.mjs: the module has no default export/);
    await writeFile(f('wrong.json'), JSON.stringify({ ...MINE, itsCtrl: [{ lock: 'kvm.lock', mode: 'spin' }] }));
    await expect(loadLockProtocol(f('wrong.json'), '--protocol')).rejects.toThrow(/--protocol .*wrong\.json\.itsCtrl must be an array of/);
    await expect(loadLockProtocol('mine.yaml', '--protocol')).rejects.toThrow(/neither a built-in protocol \(upstream, v7-2017\) nor a \.json or \.mjs\/\.js file/);
  });
});

describe('built-in scenarios under a user protocol', () => {
  it("a copy of today's protocol passes every scenario that takes one; b2 (a fixed test) refuses it", async () => {
    const takes = SCENARIOS.filter((s) => s.takesLockProtocol !== false);
    expect(takes.map((s) => s.letter)).toEqual(['a', 'b1', 'c', 'd', 'e', 'f']);
    for (const s of takes) {
      const o = await runScenario(s, { ...SHORT, lockProtocol: MINE });
      expect(o.verdict, `${s.name}: ${o.observed}`).toBe('pass');
      expect(o).toMatchObject({ lockProtocol: 'mine', findings: [], deadlocks: [], stall: null, endedBy: 'scenario' });
      expect(o.expected).toMatch(/^lock protocol 'mine': /);
    }
    // b1 under the copy is judged clean: its built-in expectation (a hierarchy finding) is not asked for.
    await expect(runScenario(scenario('v7-2017-blocking'), { ...SHORT, lockProtocol: MINE })).rejects.toThrow(/fixed test of one lock protocol/);
    await expect(runScenario(scenario('upstream'), { ...SHORT, lockProtocol: 'nope' as never })).rejects.toThrow(/^lockProtocol: unknown lock protocol 'nope'/);
  });

  it('its_lock before config_lock: the validator reports the inversion and the hierarchy breach, naming the locks; the verdict fails', async () => {
    const o = await runScenario(scenario('save-busy'), { ...SHORT, lockProtocol: ITS_FIRST });
    expect(o.verdict).toBe('fail');
    expect(o.deadlocks).toEqual([]);
    expect(o.observed).toMatch(/unexpected: .*inversion/);
    const sorted = (f: { classes: string[] }) => f.classes.slice().sort().join(' ');
    const inversion = o.findings.find((f) => f.kind === 'inversion' && sorted(f) === 'config_lock its.its_lock');
    expect(inversion, JSON.stringify(o.findings.map((f) => [f.kind, f.classes]))).toBeDefined();
    const ops = new Map(inversion!.edges.map((e) => [`${e.from} -> ${e.to}`, e.operation]));
    expect(ops.get('its.its_lock -> config_lock')).toMatch(/^(SAVE_TABLES|RESTORE_TABLES|CTRL_RESET)$/);
    expect(ops.get('config_lock -> its.its_lock')).toBe('ITS regs uaccess');
    expect(o.findings.some((f) => f.kind === 'hierarchy' && f.classes.join(' -> ') === 'its.its_lock -> config_lock')).toBe(true);
  });

  it('vcpu.mutex taken blocking after its_lock: the deadlock is found (ITS actor <-> vCPU 0) and the inversion reported', async () => {
    let vms: GicVm[] = [];
    const o = await runScenario(scenario('upstream'), { ...SHORT, lockProtocol: VCPU_AFTER_ITS }, { beforeDestroy: (v) => void (vms = v) });
    expect(o.verdict).toBe('fail');
    expect(o.endedBy).toBe('deadlock');
    expect(o.deadlocks).toHaveLength(1);
    const byName = new Map(o.deadlocks[0]!.threads.map((t) => [t.name, t]));
    expect(byName.get('ITS 0')).toMatchObject({ waitsFor: expect.stringMatching(/^vcpu\.mutex#\d \(held by vCPU \d\)$/) });
    expect(byName.get('ITS 0')!.holds).toEqual(expect.arrayContaining(['kvm.lock#0', 'its.its_lock#0']));
    expect(o.findings.find((f) => f.kind === 'inversion')?.classes.slice().sort()).toEqual(['its.its_lock', 'vcpu.mutex']);
    expect(vms).toHaveLength(1);
    expect(vms[0]!.vmState).toBe('destroyed');
  });
});

describe('vgic-lab stress --protocol', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vgic-lab-protocol-cli-'));
    await writeFile(join(dir, 'mine.json'), JSON.stringify(MINE));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('runs the named scenarios under a JSON protocol file: exit 0, the protocol named in the outcome', async () => {
    const r = await cli(['stress', 'c', 'b1', '--protocol', join(dir, 'mine.json'), '--seconds', '0.3', '--seed', '4', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.outcomes.map((o: { scenario: string; lockProtocol: string; verdict: string }) => [o.scenario, o.lockProtocol, o.verdict]))
      .toEqual([['upstream', 'mine', 'pass'], ['v7-2017', 'mine', 'pass']]);
  });

  it('an unknown protocol, an unreadable file or a fixed scenario is a usage error (exit 2) naming --protocol', async () => {
    const unknown = await cli(['stress', 'c', '--protocol', 'fastest']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--protocol: 'fastest' is neither a built-in protocol/);
    const missing = await cli(['stress', 'c', '--protocol', join(dir, 'none.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--protocol .*none\.json: cannot read it/);
    const fixed = await cli(['stress', 'b2', '--protocol', 'upstream']);
    expect(fixed.code).toBe(2);
    expect(fixed.stderr).toMatch(/v7-2017-blocking is a fixed test of one lock protocol and takes no --protocol/);
  });
});
