/**
 * The kernel lock classes vgic-lab models and the documented lock orders
 * (spec 7.2), written once, as data. Everything that takes more than one of
 * these locks follows an order listed here; the validator checks against it.
 */

/** Lock class names, as in the kernel (with `.` for `->`). */
export const KVM_LOCK = 'kvm.lock';
export const SLOTS_LOCK = 'kvm.slots_lock';
export const VCPU_MUTEX = 'vcpu.mutex';
export const CONFIG_LOCK = 'config_lock';
export const ITS_CMD_LOCK = 'its.cmd_lock';
export const ITS_ITS_LOCK = 'its.its_lock';

/**
 * Today's hierarchy (vgic.c since v6.4, outermost first):
 *   kvm->lock > vcpu->mutex > config_lock > its->cmd_lock > its->its_lock
 * and kvm->slots_lock > config_lock. Spinlocks below its_lock (ap_list_lock,
 * lpi_xa, irq_lock) are modelled by atomics, not mutexes.
 */
export const LOCK_ORDER_UPSTREAM: readonly string[] = [KVM_LOCK, VCPU_MUTEX, CONFIG_LOCK, ITS_CMD_LOCK, ITS_ITS_LOCK];

/**
 * The 2017 hierarchy (v4.14 .. v6.3): kvm->lock > its->cmd_lock > its->its_lock;
 * vcpu->mutex is not in it, and the v7 save/restore patch took it after its_lock.
 */
export const LOCK_ORDER_2017: readonly string[] = [KVM_LOCK, ITS_CMD_LOCK, ITS_ITS_LOCK, VCPU_MUTEX];
