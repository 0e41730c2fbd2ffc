/**
 * The register fuzzer (src/reliability/fuzz/registers.ts): guest MMIO and
 * userspace calls on a live VM, each checked against registers-rules.ts. A
 * short fixed-seed run passes and reaches enabled ITSs and every errno; the
 * oracle itself states spec values; a wrong rule is caught.
 */
import { describe, expect, it } from 'vitest';
import { runFuzz } from '../dist/src/reliability/fuzz/index.js';
import { afterReset, afterWrite, creationDump, readValue } from '../dist/src/reliability/fuzz/registers-rules.js';

describe('fuzz target registers', () => {
  it('a fixed-seed run of guest and userspace register accesses: no property fails, and the cases reach enabled ITSs and every errno', async () => {
    const r = await runFuzz({ target: 'registers', seed: 9_34, runs: 60 });
    expect(r.failures, JSON.stringify(r.failures)).toEqual([]);
    const s = r.stats;
    expect(s['guest batches ending enabled']).toBeGreaterThan(0);
    expect(s['guest accesses (no frame)']).toBeGreaterThan(0);
    for (const k of ['set 0', 'get 0', 'set -EBUSY', 'get -EINVAL', 'set -ENXIO', 'ctrl -EBUSY', 'addr -EEXIST', 'has 0']) expect(s[k], k).toBeGreaterThan(0);
  }, 60_000);

  it('the oracle: creation values of spec 1.2, enabling needs valid tables and drains, CBASER resets the queue, CTRL_RESET keeps BASER fields', () => {
    const d = creationDump();
    expect([d.ctlr, d.iidr, d.typer, d.baser[0], d.baser[1]]).toEqual([0x8000_0000n, 0x4b00_043bn, 0x1ef71n, 0x1907_0000_0000_0600n, 0x1c07_0000_0000_0600n]);
    expect(readValue(d, 0xc, 4)).toBe(0n); // TYPER's upper half
    expect(readValue(d, 0xffe8, 4)).toBe(0x3bn); // PIDR2
    expect(readValue(d, 0x8, 2)).toBe(0n); // a width TYPER does not allow
    expect(afterWrite(d, 0, 4, 1n, false).dump).toEqual(d); // no valid tables: enabling refused (9.13)
    const b0 = afterWrite(d, 0x100, 8, (1n << 63n) | 0x4000_0000n, false).dump;
    expect(b0.baser[0]).toBe(0x9907_0000_4000_0200n); // Valid, nCnB -> RaWb, Device, 8-byte entries, NonShareable kept, 64K
    const cb = afterWrite(afterWrite(b0, 0x108, 8, 1n << 63n, false).dump, 0x80, 8, (1n << 63n) | 0x4001_f000n | (2n << 10n), false).dump;
    expect(cb.cbaser).toBe(0x9800_0000_4001_0400n); // bits 15:12 cleared, OuterShareable -> InnerShareable, nCnB -> RaWb
    const on = afterWrite(afterWrite(cb, 0x88, 8, 0x40n, false).dump, 0, 4, 1n, false).dump;
    expect([on.ctlr, on.creadr, on.cwriter]).toEqual([0x8000_0001n, 0x40n, 0x40n]); // enabling drains what was queued
    expect(afterWrite(on, 0x88, 8, 0x1000n, false).dump).toEqual(on); // beyond the 4 KiB queue: ignored (9.12)
    expect(afterWrite(on, 0x90, 8, 0n, true).ret).toBe(-16); // userspace CREADR while enabled: -EBUSY (9.27)
    expect(afterReset(on).baser[0]).toBe(0x1907_0000_4000_0200n); // 9.33
  });

  it('the checks can fail: an oracle that stores CWRITER offsets beyond the queue is caught', async () => {
    const r = await runFuzz({ target: 'registers', seed: 3, runs: 60, sabotage: true, shrinkMs: 2_000 });
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]!.message).toMatch(/CWRITER 0x[0-9a-f]+, expected 0x/);
  }, 60_000);
});
