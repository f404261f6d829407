/**
 * A small HTTP/1.1 load generator for `npm run bench` (issue 10's Go net/http row): C
 * keep-alive connections, each sending GET requests one after the other for D ms, against
 * 127.0.0.1:PORT. Prints one JSON line: requests, errors, requests per second, and the
 * median and p99 latency (µs). Run as its own process, so that it never shares an event loop
 * with what it measures.
 *
 *   node dist/bench/httpload.js PORT CONNECTIONS DURATION_MS [PATH]
 */
import * as http from 'node:http';

function main(): void {
  const [portS, connS, msS, pathArg] = process.argv.slice(2);
  const port = Number(portS), conns = Number(connS), ms = Number(msS), urlPath = pathArg ?? '/hello?i=1';
  if (!(port > 0 && conns > 0 && ms > 0)) {
    process.stderr.write('usage: httpload PORT CONNECTIONS DURATION_MS [PATH]\n');
    process.exit(2);
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + ms;
  const one = (): Promise<void> => new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) lat.push(Number(process.hrtime.bigint() - t0) / 1000); else errors++;
        resolve();
      });
    });
    req.on('error', () => { errors++; resolve(); });
  });
  const loop = async (): Promise<void> => { while (performance.now() < end) await one(); };
  const t0 = performance.now();
  void Promise.all(Array.from({ length: conns }, loop)).then(() => {
    const wall = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    const q = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]! : 0);
    agent.destroy();
    process.stdout.write(JSON.stringify({ requests: lat.length, errors, rps: lat.length / wall, p50: q(0.5), p99: q(0.99) }) + '\n');
  });
}

main();
