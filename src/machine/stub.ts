// Generated from stub.S by `make -C src/machine` (as + objcopy + nm). Do not edit.
/** The guest stub page: syscall entry at 0x000, fault_common at 0x080, vector n at 0x100 + 16n, the syscall channel from 0x300. */
export const STUB_CODE = Buffer.from('gz31BAAAAA+FEQMAAOYQSA8HzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzmEUiDxBBIz8zMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzGoAagDpd////8zMzMzMzMxqAGoB6Wf////MzMzMzMzMagBqAulX////zMzMzMzMzGoAagPpR////8zMzMzMzMxqAGoE6Tf////MzMzMzMzMagBqBekn////zMzMzMzMzGoAagbpF////8zMzMzMzMxqAGoH6Qf////MzMzMzMzMagjp+f7//8zMzMzMzMzMzGoAagnp5/7//8zMzMzMzMxqCunZ/v//zMzMzMzMzMzMagvpyf7//8zMzMzMzMzMzGoM6bn+///MzMzMzMzMzMxqDemp/v//zMzMzMzMzMzMag7pmf7//8zMzMzMzMzMzGoAag/ph/7//8zMzMzMzMxqAGoQ6Xf+///MzMzMzMzMahHpaf7//8zMzMzMzMzMzGoAahLpV/7//8zMzMzMzMxqAGoT6Uf+///MzMzMzMzMagBqFOk3/v//zMzMzMzMzGoV6Sn+///MzMzMzMzMzMxqAGoW6Rf+///MzMzMzMzMagBqF+kH/v//zMzMzMzMzGoAahjp9/3//8zMzMzMzMxqAGoZ6ef9///MzMzMzMzMagBqGunX/f//zMzMzMzMzGoAahvpx/3//8zMzMzMzMxqAGoc6bf9///MzMzMzMzMah3pqf3//8zMzMzMzMzMzGoe6Zn9///MzMzMzMzMzMxqAGof6Yf9///MzMzMzMzMSIklCU4AAEiNJfJcAACcQVtIxwWcTQAAAAAAAOsVSIkl600AAEiNJdRcAABIiQ2FTQAASIkNxk0AAEyJHcdNAABIPf8AAAB3MUgPowXvTQAAcydIgz1dTQAAAHQJgz3kTAAAAHQUSI0Nk0wAAEiLhMEAAgAA6aUAAABIiQX/TAAASIk9AE0AAEiJNQFNAABIiRUCTQAATIkVA00AAEyJBQRNAABMiQ0FTQAAuQEAAACHDUpMAACDPYdMAAAAdQLmFA8xSMHiIEgJ0EgDBUdNAABIicGDPSVMAAADdCqDPRxMAAAEdBmDPRNMAAAFdBTzkA8xSMHiIEgJ0Eg5yHLV5hXr0eYWDwtIiwWyTAAAxwXoSwAAAAAAAEiLFXlMAABQZozIqANYSIsN00wAAEyLHdRMAAB0DEFTnUiLJdBMAAD/4UiLJcdMAABIDwfMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzAAAAAA=', 'base64');
export const STUB_SYSCALL_ENTRY = 0x000;
export const STUB_FAULT_COMMON = 0x080;
export const STUB_VECTORS = 0x100;
/** Where rewritten syscall sites enter the channel. */
export const STUB_CHAN_CALL = 0x0300;
/** The channel's `out` to PORT_CTX. */
export const STUB_CHAN_CTX = 0x0403;
/** The channel's `out` to PORT_KICK. */
export const STUB_CHAN_KICK = 0x03bf;
/** The channel's `out` to PORT_WAIT. */
export const STUB_CHAN_WAIT = 0x03ff;
/** A u32 in the stub page: nonzero when syscall_entry goes to the channel. */
export const STUB_CHANNEL_ON = 0x04fc;
/** The exit path's `out` to PORT_SYSCALL. */
export const STUB_SYSCALL_OUT = 0x000d;
