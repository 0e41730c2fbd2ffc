/**
 * The guest-side driver library guest programs import: RAM allocation, the
 * GIC (LPI tables, redistributors, distributor) and ITS drivers, the setup
 * handshake and the interrupt loop. Runs on vCPU threads only.
 */
export * from './alloc.js';
export * from './driver-util.js';
export * from './gic-driver.js';
export * from './handshake.js';
export * from './irq-loop.js';
export * from './its-queue.js';
export * from './its-tables.js';
export * from './its-driver.js';
export * from './its-setup-args.js';
export * from './its-setup.js';
export * from './lpi-handler.js';
