/**
 * futex(2) operations and flags (include/uapi/linux/futex.h).
 */

/** futex(2) commands (linux/futex.h). */
export const FUTEX_WAIT = 0, FUTEX_WAKE = 1, FUTEX_FD = 2, FUTEX_REQUEUE = 3, FUTEX_CMP_REQUEUE = 4, FUTEX_WAKE_OP = 5,
  FUTEX_LOCK_PI = 6, FUTEX_UNLOCK_PI = 7, FUTEX_TRYLOCK_PI = 8, FUTEX_WAIT_BITSET = 9, FUTEX_WAKE_BITSET = 10,
  FUTEX_WAIT_REQUEUE_PI = 11, FUTEX_CMP_REQUEUE_PI = 12, FUTEX_LOCK_PI2 = 13;
/** Flags ORed into the operation (linux/futex.h). */
export const FUTEX_PRIVATE_FLAG = 128, FUTEX_CLOCK_REALTIME = 256;
/** The command bits of an operation (linux/futex.h: ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)). */
export const FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
/** The bitset that matches any waiter (linux/futex.h). */
export const FUTEX_BITSET_MATCH_ANY = 0xffffffff;
/** Bits of a futex word for PI and robust futexes (linux/futex.h). */
export const FUTEX_WAITERS = 0x80000000, FUTEX_OWNER_DIED = 0x40000000, FUTEX_TID_MASK = 0x3fffffff;
/** sizeof(struct robust_list_head) (linux/futex.h). */
export const ROBUST_LIST_HEAD_SIZE = 24;
