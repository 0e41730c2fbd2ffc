/**
 * Wire format of mailbox messages (discriminated by the op word) and the ops
 * every actor understands. Device actors number their own ops from OP_DEVICE.
 *
 *   word 0  op
 *   word 1  reply slot, or NO_REPLY for a one-way message
 *   word 2  sender tid (whose held locks a synchronous request carries)
 *   word 3+ arguments
 */
export const M_OP = 0, M_REPLY = 1, M_FROM = 2, M_ARGS = 3;
export const NO_REPLY = -1;

/** MMIO read: args [region, offset, size] -> values [lo, hi]. */
export const OP_MMIO_READ = 1;
/** MMIO write: args [region, offset, size, lo, hi] -> result 0. */
export const OP_MMIO_WRITE = 2;
/** Host control: a message waits on the host's control port (spawn an actor, stop). */
export const OP_HOST_CONTROL = 3;
/** First op number free for device-specific messages. */
export const OP_DEVICE = 16;

/** Reply result for a request the actor could not serve (it died, or does not know the op). */
export const REPLY_NO_ACTOR = -19; // -ENODEV
