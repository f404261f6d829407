// Generated from sigbus.S by `make -C src/machine sigbus-code.ts` (as + objcopy + nm). Do not edit.
/** The VMM's SIGBUS handler and its signal restorer (position-independent; its data page follows its page). */
export const SIGBUS_CODE = Buffer.from('TI0l+Q8AAIN+CAIPheYAAABIi14QSYsMJE2NrCQACQAASIXJD4TNAAAASInYSStFAEk7RQhyCUmDxRBI/8nr4UiB4wDw///wQf+EJCgCAAC4AQAAAPBBD8GEJAACAABBicZNO7QkEAIAAHNVQfeEJBgCAAABAAAAdDtNifBJweAMTQOEJAgCAABIid++ABAAALoAEAAAQboHAAAAuBkAAAAPBUg9AfD//3MKS4mc9AAEAADrFUiNQwFLiYT0AAQAAPBB/4QkIAIAAEiJ374AEAAAugMAAABBujIAAABJx8D/////RTHJuAkAAAAPBUg9AfD//3MBw78HAAAASY20JAAIAAAx0kG6CAAAALgNAAAADwXDuA8AAAAPBQ8L', 'base64');
/** Offset of the handler. */
export const SIGBUS_HANDLER = 0x0000;
/** Offset of the restorer (rt_sigreturn). */
export const SIGBUS_RESTORER = 0x0114;
