// gothreads: the Go runtime on torov (issue 10). Built by Debian's Go with CGO_ENABLED=0,
// statically; see the Makefile. One behaviour per mode; stdout is deterministic.
//
//	gothreads chan            goroutines and channels: a pipeline, a worker pool, a mutex
//	                          counter (16 x 100000), unbuffered ping-pong, select with a
//	                          timeout, WaitGroup/Once/atomics, a garbage-collected churn;
//	                          prints GOMAXPROCS and NumCPU (run it with and without
//	                          GOMAXPROCS=1 in the environment)
//	gothreads http [ADDR]     a net/http server on ADDR (default 127.0.0.1:0); writes
//	                          "gothreads: listening on HOST:PORT" to stderr; GET /hello?i=N
//	                          answers "hello N\n"; GET /quit answers "bye\n" and shuts the
//	                          server down; then prints "served N hello requests" and exits 0
//	gothreads sigterm         os/signal: prints "ready", waits for SIGTERM or SIGINT (while
//	                          other goroutines sleep and spin), prints "got terminated" or
//	                          "got interrupt", exits 0
//	gothreads preempt         GOMAXPROCS(1) and a goroutine in a loop without calls: the
//	                          scheduler must preempt it (SIGURG) for a 50 ms ticker to tick;
//	                          prints whether 5 ticks came within 3 s
//	gothreads exec            os/exec (clone with CLONE_VM|CLONE_VFORK from a threaded
//	                          parent): a child's output and exit status, stdin through a
//	                          pipe, a missing program's error, 40 children from 8 goroutines
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func chanMode() {
	fmt.Println("chan: GOMAXPROCS", runtime.GOMAXPROCS(0), "NumCPU", runtime.NumCPU())

	// A three-stage pipeline.
	gen := make(chan int)
	sq := make(chan int, 16)
	go func() {
		for i := 1; i <= 10000; i++ {
			gen <- i
		}
		close(gen)
	}()
	go func() {
		for v := range gen {
			sq <- v * v
		}
		close(sq)
	}()
	sum := 0
	for v := range sq {
		sum += v
	}
	fmt.Println("chan: pipeline sum of squares 1..10000:", sum)

	// A worker pool.
	jobs := make(chan int, 100)
	results := make(chan int, 100)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				results <- j * 3
			}
		}()
	}
	go func() {
		for j := 0; j < 1000; j++ {
			jobs <- j
		}
		close(jobs)
	}()
	go func() { wg.Wait(); close(results) }()
	n, total := 0, 0
	for r := range results {
		n++
		total += r
	}
	fmt.Println("chan: worker pool:", n, "results, total", total)

	// A mutex-protected counter.
	var mu sync.Mutex
	counter := 0
	var wg2 sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for i := 0; i < 100000; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg2.Wait()
	fmt.Println("chan: mutex counter:", counter)

	// Unbuffered ping-pong.
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	v := 0
	for i := 0; i < 10000; i++ {
		ping <- v
		v = <-pong
	}
	close(ping)
	fmt.Println("chan: ping-pong:", v)

	// select with a timeout on a channel nobody sends to.
	never := make(chan int)
	start := time.Now()
	select {
	case <-never:
		fmt.Println("chan: select: received from nowhere")
	case <-time.After(50 * time.Millisecond):
		fmt.Println("chan: select timed out, not early:", time.Since(start) >= 50*time.Millisecond)
	}

	// Once and atomics.
	var once sync.Once
	var onceRuns, adds int64
	var wg3 sync.WaitGroup
	for g := 0; g < 50; g++ {
		wg3.Add(1)
		go func() {
			defer wg3.Done()
			once.Do(func() { atomic.AddInt64(&onceRuns, 1) })
			for i := 0; i < 1000; i++ {
				atomic.AddInt64(&adds, 2)
			}
		}()
	}
	wg3.Wait()
	fmt.Println("chan: once ran", onceRuns, "time(s), atomic adds", adds)

	// Garbage: goroutines allocating lists while the collector runs.
	var wg4 sync.WaitGroup
	lens := make([]int, 8)
	for g := 0; g < 8; g++ {
		wg4.Add(1)
		go func(g int) {
			defer wg4.Done()
			type node struct {
				next *node
				pad  [64]byte
			}
			for round := 0; round < 50; round++ {
				var head *node
				for i := 0; i < 2000; i++ {
					head = &node{next: head}
				}
				c := 0
				for p := head; p != nil; p = p.next {
					c++
				}
				lens[g] += c
			}
		}(g)
	}
	runtime.GC()
	wg4.Wait()
	runtime.GC()
	all := 0
	for _, l := range lens {
		all += l
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Println("chan: allocated and walked", all, "nodes; the collector ran:", ms.NumGC >= 2)
	time.Sleep(10 * time.Millisecond)
	fmt.Println("chan: goroutines left:", runtime.NumGoroutine())
}

func httpMode(addr string) {
	var served int64
	mux := http.NewServeMux()
	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt64(&served, 1)
		fmt.Fprintf(w, "hello %s\n", r.URL.Query().Get("i"))
	})
	mux.HandleFunc("/quit", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "bye\n")
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
			close(done)
		}()
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gothreads: listen:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "gothreads: listening on", ln.Addr().String())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "gothreads: serve:", err)
		os.Exit(1)
	}
	<-done
	fmt.Println("served", atomic.LoadInt64(&served), "hello requests")
}

func sigtermMode() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	for i := 0; i < 4; i++ {
		go func() {
			for {
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	go func() {
		x := 0
		for {
			x++
		}
	}()
	fmt.Println("ready")
	s := <-c
	if s == syscall.SIGTERM {
		fmt.Println("got terminated")
	} else {
		fmt.Println("got interrupt")
	}
}

var spinSink int64

func preemptMode() {
	runtime.GOMAXPROCS(1)
	started := make(chan struct{})
	go func() {
		close(started)
		x := int64(0)
		for {
			x++
			if x == -1 { // never: keeps the loop without calls
				spinSink = x
			}
		}
	}()
	<-started
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	deadline := time.After(3 * time.Second)
	ticks := 0
loop:
	for {
		select {
		case <-ticker.C:
			ticks++
			if ticks == 5 {
				break loop
			}
		case <-deadline:
			break loop
		}
	}
	fmt.Println("preempt: 5 ticks of a 50 ms ticker within 3 s while a goroutine spins on GOMAXPROCS=1:", ticks >= 5)
}

func execMode() {
	me := os.Args[0]
	out, err := exec.Command(me, "exec-child", "a", "b c").Output()
	fmt.Printf("exec: child said %q, err: %v\n", out, err)
	cmd := exec.Command(me, "exec-cat")
	cmd.Stdin = strings.NewReader("through a pipe\n")
	out, err = cmd.Output()
	fmt.Printf("exec: cat said %q, err: %v\n", out, err)
	_, err = exec.Command("/nonexistent/prog").Output()
	fmt.Println("exec: missing program:", err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				want := fmt.Sprintf("child: [\"%d-%d\"]\n", g, i)
				o, err := exec.Command(me, "exec-child", fmt.Sprintf("%d-%d", g, i)).Output()
				var ee *exec.ExitError
				if string(o) != want || !errors.As(err, &ee) || ee.ExitCode() != 1 {
					mu.Lock()
					bad++
					mu.Unlock()
				}
			}
		}(g)
	}
	wg.Wait()
	fmt.Println("exec: 40 children from 8 goroutines, all right:", bad == 0)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gothreads chan|http [ADDR]|sigterm|preempt|exec")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "chan":
		chanMode()
	case "http":
		addr := "127.0.0.1:0"
		if len(os.Args) > 2 {
			addr = os.Args[2]
			if _, err := strconv.Atoi(addr); err == nil {
				addr = "127.0.0.1:" + addr
			}
		}
		httpMode(addr)
	case "sigterm":
		sigtermMode()
	case "preempt":
		preemptMode()
	case "exec":
		execMode()
	case "exec-child":
		fmt.Printf("child: %q\n", os.Args[2:])
		os.Exit(len(os.Args) - 2)
	case "exec-cat":
		io.Copy(os.Stdout, os.Stdin)
	default:
		fmt.Fprintln(os.Stderr, "gothreads: unknown mode", os.Args[1])
		os.Exit(2)
	}
}
