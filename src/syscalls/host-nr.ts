/** Host syscall numbers: the host is x86-64 too, so they are the guest's table. */
export { SYS as HOST } from '../linux/syscalls';
