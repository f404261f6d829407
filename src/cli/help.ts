/** --help texts. */

export const MAIN_HELP = `Usage: torov COMMAND [OPTIONS]

Run unmodified Linux x86-64 programs as KVM micro-VMs. The guest has no
operating system: its system calls reach the torov VMM, which checks each one
against the program's policy and performs it on the host. They get there either
by leaving the VM (a VM exit), or through a shared-memory channel that a VMM
thread polls, without leaving it (the default with 2 or more CPUs).

torov with no command prints this help.

Commands:
  run       Run a program in a new micro-VM
  serve     Serve HTTP: each request runs a CGI program in a VM restored from its snapshot
  snapshot  Run a program until its first read of stdin (or accept) and save it to a file
  policy    Show, check, convert or learn a policy (torov's format, a Docker seccomp
            profile or an original ToroV configuration)
  syscalls  List every Linux x86-64 system call and how torov supports it
  version   Print torov's version

Run 'torov COMMAND --help' for more on a command.
`;

export const RUN_HELP = `Usage: torov run [OPTIONS] PROGRAM [ARGS...]
       torov run [OPTIONS] TOROV-CONFIG.json

Run PROGRAM (an x86-64 Linux ELF executable: static, static-PIE, or dynamically
linked, whose ELF interpreter and libraries come from the guest's root: see
--rootfs) in a new micro-VM. Everything after PROGRAM is passed to it, as with
docker run:
  torov run --memory 64M ./prog -v --flag     # prog gets "-v --flag"
An original ToroV configuration file names the program and its policy itself.

Options:
  -m, --memory SIZE      Guest memory, e.g. 64M, 1G (default 256M, or the policy's "memory").
                         Host memory is used only for the pages the program touches.
      --cpus N           CPUs the program sees (sched_getaffinity, /proc): default the host's.
                         Every thread gets a vCPU of its own however many there are.
      --threads N        Most threads the program may have at once (default 256, at most 1024);
                         creating one more fails with EAGAIN, as at a thread limit on Linux.
  -p, --policy FILE      Policy file: torov's format (see policy.schema.json), a Docker/OCI
                         seccomp profile, or a ToroV configuration. Without it the default policy applies
                         (torov policy show prints it).
  -e, --env NAME=VALUE   Add a variable to the guest's environment (repeatable); -e NAME
                         takes the host's value (nothing when the host has none).
                         The default environment is only PATH, HOME and TERM.
      --env-inherit      Start from the host's whole environment instead.
      --env-clear        Start from an empty environment: only the -e variables (as
                         an OCI runtime gives a container exactly its config's).
      --oci-sync DIR     For torov-oci (docs/oci.md): DIR holds the FIFOs of its create
                         and start; the program starts when torov-oci start says so.
      --code-cache-out FILE
                         For npm run build: after the run, write the V8 code cache of
                         torov's own code to FILE (opened before the sandbox), which
                         bin/torov loads to start faster. Only with a program you trust.
      --trace            Print every syscall, strace-style, with the policy's verdict, to stderr.
      --trace-file FILE  Write the trace to FILE instead.
      --no-vdso          No in-guest fast paths: clock_gettime, gettimeofday and time (the
                         vDSO) and getpid, gettid and the uid/gid calls go to torov as
                         syscalls (by default they are answered in the guest when the policy
                         allows them plainly).
      --syscall-path exit|ring|auto
                         How syscalls reach torov. exit: every syscall leaves the VM (a VM
                         exit). ring: through a shared-memory channel that a host thread
                         polls, without an exit (that thread starts after the program's
                         first 100 syscalls, which leave the VM, or at once with --policy);
                         syscall instructions are rewritten into calls where
                         torov can prove it safe (see --no-rewrite). auto
                         (default): ring when it can be used (2 or more CPUs, no --gdb, a
                         Linux program), else exit.
      --no-rewrite       With the ring path, keep every syscall instruction as it is (each
                         then costs a trap into the guest's entry; for comparisons).
      --gdb [HOST:]PORT  Stop before the program's first instruction and wait for gdb on
                         HOST:PORT (loopback unless HOST is given; port 0 picks one);
                         torov prints the gdb command to connect.
      --restore FILE     Continue the program saved in FILE by torov snapshot (no PROGRAM:
                         the file has it, its arguments and environment); the policy, the
                         sandbox and the other options are this run's.

Sandbox (on by default: namespaces, a pivot_root jail, no privileges, a seccomp filter):
      --rootfs DIR       Make DIR the guest's root directory, read-only (the policy's
                         "writable" and "tmp" and -v add writable places on top), e.g. an
                         unpacked container image. PROGRAM, its ELF interpreter and its
                         libraries are found in DIR. Without it the guest's root is a
                         minimal one (no libraries: static programs only).
                         --rootfs / shows the guest the host's own files, read-only:
                         everything under / that the VMM's user (nobody, or --user) may
                         read, e.g. /etc (passwd, hosts, configuration), /home, /root
                         when readable, /usr, /var, /tmp; a Unix socket under it (in /run
                         or /tmp) accepts connections when the policy allows connect.
                         Never /dev (torov's minimal one), /proc or /sys, nor what is
                         mounted below DIR's top-level directories.
  -v, --volume HOST:GUEST[:ro]
                         Expose a host file or directory in the guest's root (repeatable).
  -w, --workdir DIR      The guest's working directory (default: the host's, when a
                         volume holds it, else /).
      --network none|host
                         Loopback only, in a network namespace of its own (default), or
                         the host's network.
  -u, --user UID[:GID]   Started as root: the ids the guest acts as on the host's files
                         (default: the owner of the first writable volume, else
                         65534, nobody). The VMM holds no capability either way.
      --timeout DURATION Stop the VM after e.g. 30s, 500ms, 2m, 1h30m (exit status 124),
                         counted from the start of torov run; 0 means no limit.
      --pids N           Most processes and threads of the run, torov's own included (its
                         cgroup's pids.max; default 64 + --threads). Guest processes and
                         threads get N - 32; fork and clone fail with EAGAIN past that.
      --allow-host-root  Allow the host's / as a volume, a writable root or a ToroV
                         MountPoint (it gives the guest every host file).
      --no-sandbox       Run the VMM without its sandbox (debugging only; warns).

Each run has a cgroup of its own (memory, pids, cpu; cgroup v2 or v1) whose limits come
from --memory, --threads, --pids and --cpus: the guest's memory, its in-memory files (its
/tmp and memfds share one tmpfs of half its memory), kernel buffers and the VMM itself
are bounded there. Where no cgroup can be made (rootless, not delegated) torov says so.

      --verbose          Report unimplemented syscalls, the sandbox's identity and other
                         notes (once each).
  -h, --help             Show this help.

Signals: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH and SIGCONT
sent to torov reach the program: its handler runs, or the default action applies
(those that end a process end it, with 128+N). Ctrl-Z stops torov and the program;
after fg, the program's SIGCONT handler runs. Killing torov kills the VM.

Exit status: the program's own; 128+N when it died of signal N (139 for a
segfault, 159 when the policy killed it; 137 when the run's cgroup ran out of
memory, 152 at the policy's CPU-time limit, each said in one line); 124 at
--timeout; 125 when torov itself failed; 126 when PROGRAM or its ELF interpreter
cannot be executed (not ELF, wrong architecture, a script); 127 when PROGRAM or
its interpreter was not found.
`;

export const POLICY_HELP = `Usage: torov policy show [FILE...]
       torov policy check FILE...
       torov policy convert IN --to torov|docker|toroV [-o OUT] [--binary PATH]
       torov policy learn [--out FILE] [RUN OPTIONS] [--] PROGRAM [ARGS...]

  show     Print a policy's summary and its rules with their reasons
           (without FILE: the default policy).
  check    Validate policy files; print for each the riskiest grants first
           (default allow, host network, writable root, shared PIDs, mount,
           ptrace, bpf, exec, sockets...), the allowed syscalls by area, log
           and kill counts, the argument rules, and a Docker profile's
           approximations and warnings.
           Errors are one line naming the field (status 125).
  convert  Write IN in another format, to stdout or OUT:
             --to torov    torov's format (policy.schema.json)
             --to docker   a Docker/OCI seccomp profile (x86-64); numeric
                           argument rules (fd, domain, type, protocol, compare)
                           become SCMP args, path and address rules cannot:
                           those rules are left out (the call falls back to
                           the rule before them), each listed on stderr
             --to toroV    an original ToroV configuration; needs --binary PATH.
                           It only says allowed or not per hypercall: what is
                           lost (kill, log, errnos, argument rules, sandbox
                           settings) is listed on stderr.
  learn    Run PROGRAM with every syscall allowed and recorded (sandbox on),
           then write the smallest torov policy that lets the same run pass
           (torov policy learn --help).

Argument rules (torov's format): a rule's "args" restricts it to calls whose
arguments match, e.g.
  { "names": ["openat"], "action": "allow",
    "args": { "paths": ["/etc/passwd", "/data/"], "access": "read-only" } }
Conditions: paths + access (read-only|read-write; "/dir/" is a prefix),
fd, domain, type, protocol, addresses ("127.0.0.1:80", "[::1]:*",
"10.0.0.0/8:443", "unix:/run/app.sock"), compare ({"arg": 1, "op": "==",
"value": 5}; ops == != < <= > >= and &== with "mask"). See README, Policies.

All accept torov's format, Docker/OCI seccomp profiles (a "defaultAction" of
SCMP_ACT_*: see README, Policies) and original ToroV configurations.
`;

export const LEARN_HELP = `Usage: torov policy learn [--out FILE] [RUN OPTIONS] [--] PROGRAM [ARGS...]

Run PROGRAM as torov run does (same sandbox), with every syscall allowed and
recorded, then write the smallest torov-format policy that lets the same run
pass, each rule with a "why" saying what it came from:
  - the syscalls used, by name (unimplemented ones: deny with ENOSYS, as the run got);
  - paths opened, read, created or removed, read-only unless the run wrote them,
    resolved as the checks resolve them (symlinks and ".." followed); when the run
    touched 4 or more files directly under one directory, that directory as a
    prefix instead (said in the rule's "why" and on stderr);
  - socket domains, types and protocols; addresses bound, connected or sent to;
  - fd rules for calls that only used descriptors 0, 1 and 2.
A program that does not end (a server): add --timeout; what it did until then is
learned (observations are sent to torov as they happen).
Then: torov run --policy FILE [the same options] PROGRAM [ARGS...]
A run that does something new is refused; --verbose names the rule it lacked.

Options:
  -o, --out FILE         Where to write the policy (default: PROGRAM's name + .policy.json).
  Run options: -m/--memory, -e/--env, --env-inherit, -v/--volume, -w/--workdir,
  --rootfs, --network, -u/--user, --timeout, --no-sandbox, --no-vdso, --verbose (see
  torov run --help). --memory and --network host are written into the policy; volumes,
  --rootfs and the working directory must be given again when running under it.
`;

export const SYSCALLS_HELP = `Usage: torov syscalls [--markdown]

List every Linux x86-64 system call with its number and torov's support level:
  full     forwarded to the host (after the policy and pointer checks)
  partial  forwarded or served with limits (see the note)
  vmm      served inside the VMM, without a host call
  none     returns ENOSYS (or is refused)
`;

export const SERVE_HELP = `Usage: torov serve [OPTIONS] PROGRAM [ARGS...]

Serve HTTP/1.1 (keep-alive) on HOST:PORT. PROGRAM starts once, in a micro-VM, and
is snapshotted at its first read of stdin (after its initialisation). Each request
then runs it as a CGI/1.1 program (RFC 3875) in a VM restored from that snapshot:
the request's meta-variables (REQUEST_METHOD, PATH_INFO, QUERY_STRING, CONTENT_TYPE,
CONTENT_LENGTH, HTTP_*, SERVER_*, REMOTE_ADDR) as its environment, the body on its
stdin; it answers with CGI header fields (Status:, Content-Type:, Location:, ...), a
blank line, then the body. Nothing survives from one request to the next: globals,
heap, and the files it wrote in its private /tmp.

The program must read stdin (the body, empty or not) before it reads its request's
variables: the snapshot is taken at that read. See docs/serving.md.

Answers torov makes itself: 413 for a body over --max-body, 503 when more than
--queue requests wait, 502 when the program crashes or its answer is not valid CGI,
504 past --timeout. GET /-/health and GET /-/metrics (Prometheus) are the server's.
One access-log line per request on stdout. SIGTERM or SIGINT: stop accepting, answer
the requests taken in, exit 0.

Serving options:
      --port N            TCP port (default 8080; 0: any free port, printed)
      --host ADDRESS      address to listen on (default 127.0.0.1)
      --concurrency N     VMs kept restored and ready (default: the host's CPUs)
      --queue N           requests that may wait for a VM (default 256); past it: 503
      --timeout DURATION  per request, e.g. 5s, 500ms (default 30s); past it: 504
      --max-body SIZE     largest request body, e.g. 1M (default 1M); past it: 413
      --log-format F      access log: text (default) or json
      --workers N         N VMM processes, each with its own sandbox, snapshot and
                          pool, behind one listening socket (default 1: one VMM runs
                          one guest at a time; N = the host's CPUs runs them in parallel)
      --no-snapshot       start the program afresh for each request, its request's
                          variables in its initial environment (for CGI programs that
                          read them before stdin; slower: no snapshot, no warm VMs)

Every option of torov run applies to the program too (--policy, --memory, --env,
--volume, --rootfs, --trace, --no-sandbox, ...), but --gdb. The sandbox, the policy
and --trace apply to every request as to torov run. Guests run on the exit path
(--syscall-path exit).
`;

export const SNAPSHOT_HELP = `Usage: torov snapshot [OPTIONS] [--at stdin|accept] -o FILE PROGRAM [ARGS...]

Runs PROGRAM in a micro-VM until it first reads its stdin (--at stdin, the default) or
first calls accept (--at accept), and writes its state to FILE instead of making that
call: registers (FPU too), the memory it touched, its mappings and brk, its signal
handlers. 'torov run --restore FILE' continues it from there: it makes that call again,
on the new run's stdio. A program with other open files, threads, child processes or
timers cannot be saved (one line says why).

FILE is versioned and checksummed: one from another torov version, another CPU (other
XSAVE features), truncated or changed is refused with one line, and nothing runs.

Options:
      --at stdin|accept   where to stop (default stdin)
  -o, --output FILE       the snapshot file to write

Every option of torov run applies (--policy, --memory, --env, --volume, --rootfs,
--trace, --no-sandbox, ...), but --gdb. Guests run on the exit path.
`;
