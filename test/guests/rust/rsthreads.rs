//! rsthreads: Rust's std threads on torov (issue 10). Built static with glibc
//! (`-C target-feature=+crt-static`); see the Makefile. One behaviour per mode; stdout
//! is deterministic.
//!
//!   rsthreads threads          std::thread::spawn + join with return values, scoped
//!                              threads, a named thread, a panicking thread caught by join
//!   rsthreads mpsc             std::sync::mpsc: 4 producers to one consumer, a
//!                              sync_channel(0) rendezvous, recv_timeout timing out
//!   rsthreads mutex            Arc<Mutex<u64>> 8 x 100000 increments, RwLock, Condvar,
//!                              Barrier, atomics
//!   rsthreads echo [ADDR] [N]  a thread-per-connection TCP echo server on ADDR (default
//!                              127.0.0.1:0), writes "rsthreads: listening on HOST:PORT" to
//!                              stderr, serves N (default 8) connections, each until EOF,
//!                              then prints "served N connections, B bytes" and exits 0
//!   rsthreads overflow         unbounded recursion on the main thread: Rust's SIGSEGV handler
//!                              (on a sigaltstack) reports the overflow and aborts (134)
//!   rsthreads overflow-thread  the same on a spawned thread with a 256 KiB stack
//!   rsthreads spawn            std::process::Command (glibc's posix_spawn: CLONE_VM|
//!                              CLONE_VFORK): a child's output and status, stdin through a
//!                              pipe, a missing program's error, 20 children from 4 threads
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Condvar, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};

fn threads() {
    let handles: Vec<_> = (0..8u64).map(|i| thread::spawn(move || i * i + 1)).collect();
    let results: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    println!("threads: joined {:?}", results);

    let mut data = vec![1u64; 1000];
    thread::scope(|s| {
        for chunk in data.chunks_mut(250) {
            s.spawn(move || {
                for x in chunk.iter_mut() {
                    *x *= 3;
                }
            });
        }
    });
    println!("threads: scoped threads summed to {}", data.iter().sum::<u64>());

    let name = thread::Builder::new()
        .name("worker-7".into())
        .stack_size(64 * 1024)
        .spawn(|| thread::current().name().unwrap().to_string())
        .unwrap()
        .join()
        .unwrap();
    println!("threads: a named thread with a 64 KiB stack saw its name: {}", name);

    std::panic::set_hook(Box::new(|_| {}));
    let r = thread::spawn(|| -> u32 { panic!("on purpose") }).join();
    let _ = std::panic::take_hook();
    println!("threads: a panicking thread: join gave an error: {}", r.is_err());
    println!("threads: available_parallelism at least 1: {}", thread::available_parallelism().map(|n| n.get() >= 1).unwrap_or(false));
}

fn mpsc_mode() {
    let (tx, rx) = mpsc::channel::<(u32, u64)>();
    let mut producers = Vec::new();
    for p in 0..4u32 {
        let tx = tx.clone();
        producers.push(thread::spawn(move || {
            for i in 0..10000u64 {
                tx.send((p, i)).unwrap();
            }
        }));
    }
    drop(tx);
    let (mut count, mut sum) = (0u64, 0u64);
    let mut last = [None::<u64>; 4];
    let mut in_order = true;
    for (p, i) in rx {
        count += 1;
        sum += i;
        if let Some(l) = last[p as usize] {
            if i != l + 1 {
                in_order = false;
            }
        }
        last[p as usize] = Some(i);
    }
    for h in producers {
        h.join().unwrap();
    }
    println!("mpsc: received {} messages, sum {}, each producer's in order: {}", count, sum, in_order);

    let (stx, srx) = mpsc::sync_channel::<u64>(0);
    let t = thread::spawn(move || {
        let mut acc = 0;
        for _ in 0..1000 {
            acc += srx.recv().unwrap();
        }
        acc
    });
    for i in 0..1000u64 {
        stx.send(i).unwrap();
    }
    println!("mpsc: rendezvous channel: {}", t.join().unwrap());

    let (_keep, rx2) = mpsc::channel::<u8>();
    let start = Instant::now();
    let r = rx2.recv_timeout(Duration::from_millis(50));
    println!("mpsc: recv_timeout timed out: {}, not early: {}", r.is_err(), start.elapsed() >= Duration::from_millis(50));
}

fn mutex_mode() {
    let counter = Arc::new(Mutex::new(0u64));
    let hs: Vec<_> = (0..8)
        .map(|_| {
            let c = Arc::clone(&counter);
            thread::spawn(move || {
                for _ in 0..100000 {
                    *c.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    println!("mutex: Arc<Mutex<u64>>: {}", *counter.lock().unwrap());

    let rw = Arc::new(RwLock::new((0u64, 0u64)));
    let torn = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..4)
        .map(|t| {
            let rw = Arc::clone(&rw);
            let torn = Arc::clone(&torn);
            thread::spawn(move || {
                for i in 0..20000 {
                    if (i + t) % 4 == 0 {
                        let mut w = rw.write().unwrap();
                        w.0 += 1;
                        w.1 += 1;
                    } else {
                        let r = rw.read().unwrap();
                        if r.0 != r.1 {
                            torn.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    println!("mutex: RwLock: {} writes, {} torn reads", rw.read().unwrap().0, torn.load(Ordering::Relaxed));

    let pair = Arc::new((Mutex::new(Vec::<u32>::new()), Condvar::new()));
    let p2 = Arc::clone(&pair);
    let consumer = thread::spawn(move || {
        let (m, cv) = &*p2;
        let mut got = 0u32;
        let mut sum = 0u64;
        while got < 5000 {
            let mut q = m.lock().unwrap();
            while q.is_empty() {
                q = cv.wait(q).unwrap();
            }
            for v in q.drain(..) {
                got += 1;
                sum += v as u64;
            }
        }
        sum
    });
    for v in 1..=5000u32 {
        let (m, cv) = &*pair;
        m.lock().unwrap().push(v);
        cv.notify_one();
    }
    println!("mutex: Condvar producer/consumer sum {}", consumer.join().unwrap());

    let barrier = Arc::new(Barrier::new(4));
    let leaders = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let b = Arc::clone(&barrier);
            let l = Arc::clone(&leaders);
            thread::spawn(move || {
                for _ in 0..100 {
                    if b.wait().is_leader() {
                        l.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    println!("mutex: Barrier: 100 rounds, {} leaders", leaders.load(Ordering::Relaxed));
}

fn echo(addr: &str, n: usize) {
    let l = TcpListener::bind(addr).unwrap_or_else(|e| {
        eprintln!("rsthreads: bind {}: {}", addr, e);
        std::process::exit(1)
    });
    eprintln!("rsthreads: listening on {}", l.local_addr().unwrap());
    let total = Arc::new(AtomicU64::new(0));
    let mut hs = Vec::new();
    for _ in 0..n {
        let (mut s, _) = l.accept().unwrap();
        let total = Arc::clone(&total);
        hs.push(thread::spawn(move || {
            let mut buf = [0u8; 16384];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(k) => {
                        s.write_all(&buf[..k]).unwrap();
                        total.fetch_add(k as u64, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("rsthreads: read: {}", e);
                        std::process::exit(1)
                    }
                }
            }
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    println!("served {} connections, {} bytes", n, total.load(Ordering::Relaxed));
}

#[allow(unconditional_recursion)]
fn recurse(depth: u64, sink: &mut [u8; 4096]) -> u64 {
    let mut local = [0u8; 4096];
    local[(depth % 4096) as usize] = sink[0];
    std::hint::black_box(&mut local);
    recurse(depth + 1, &mut local) + local[1] as u64
}

fn spawn_mode(me: &str) {
    use std::process::{Command, Stdio};
    let out = Command::new(me).args(["spawn-child", "a", "b c"]).output().unwrap();
    println!("spawn: child said {:?}, status {:?}", String::from_utf8_lossy(&out.stdout), out.status.code());
    let mut c = Command::new(me).arg("spawn-cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    c.stdin.take().unwrap().write_all(b"through a pipe\n").unwrap();
    let o = c.wait_with_output().unwrap();
    println!("spawn: cat said {:?}, status {:?}", String::from_utf8_lossy(&o.stdout), o.status.code());
    match Command::new("/nonexistent/prog").spawn() {
        Ok(mut ch) => println!("spawn: missing program: spawned, status {:?}", ch.wait().unwrap().code()),
        Err(e) => println!("spawn: missing program: {:?}", e.kind()),
    }
    let me2 = me.to_string();
    let hs: Vec<_> = (0..4)
        .map(|t| {
            let me = me2.clone();
            thread::spawn(move || {
                let mut bad = 0;
                for i in 0..5 {
                    let arg = format!("{}-{}", t, i);
                    let o = Command::new(&me).args(["spawn-child", &arg]).output().unwrap();
                    if String::from_utf8_lossy(&o.stdout) != format!("child: [{:?}]\n", arg) || o.status.code() != Some(1) {
                        bad += 1;
                    }
                }
                bad
            })
        })
        .collect();
    let bad: i32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    println!("spawn: 20 children from 4 threads, all right: {}", bad == 0);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("");
    match mode {
        "threads" => threads(),
        "mpsc" => mpsc_mode(),
        "mutex" => mutex_mode(),
        "echo" => {
            let addr = args.get(2).map(String::as_str).unwrap_or("127.0.0.1:0");
            let n = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(8);
            echo(addr, n)
        }
        "spawn" => spawn_mode(&args[0]),
        "spawn-child" => {
            println!("child: {:?}", &args[2..]);
            std::process::exit((args.len() - 2) as i32)
        }
        "spawn-cat" => {
            let mut s = Vec::new();
            std::io::stdin().read_to_end(&mut s).unwrap();
            std::io::stdout().write_all(&s).unwrap();
        }
        "overflow" => {
            println!("overflow: main");
            let mut s = [1u8; 4096];
            println!("{}", recurse(0, &mut s));
        }
        "overflow-thread" => {
            println!("overflow: thread");
            let h = thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(|| {
                    let mut s = [1u8; 4096];
                    recurse(0, &mut s)
                })
                .unwrap();
            println!("{:?}", h.join().is_ok());
        }
        _ => {
            eprintln!("usage: rsthreads threads|mpsc|mutex|echo [ADDR] [N]|overflow|overflow-thread|spawn");
            std::process::exit(2)
        }
    }
}
