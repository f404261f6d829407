/**
 * The native CGI baseline for bench/serving.ts: a Node HTTP server (keep-alive) that forks
 * and executes PROGRAM for each request, as a classic CGI server does, with the same
 * meta-variables and the same answer parsing as torov serve (src/serve/cgi.ts). Prints
 * "listening on http://127.0.0.1:PORT/" on stderr; SIGTERM ends it.
 *
 *   node dist/bench/native-cgi.js PROGRAM
 */
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import { cgiEnvironment, parseCgiResponse } from '../src/serve/cgi';

const program = process.argv[2];
if (!program) { process.stderr.write('usage: native-cgi PROGRAM\n'); process.exit(2); }

const server = http.createServer({ keepAlive: true }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (b: Buffer) => chunks.push(b));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const env: Record<string, string> = {};
    for (const e of cgiEnvironment({ method: req.method ?? 'GET', url: req.url ?? '/', httpVersion: req.httpVersion, rawHeaders: req.rawHeaders,
      remoteAddress: req.socket.remoteAddress ?? '', remotePort: req.socket.remotePort ?? 0, serverName: 'localhost', serverPort: req.socket.localPort ?? 0,
      bodyLength: body.length > 0 ? body.length : undefined, software: 'native-cgi' })) {
      const i = e.indexOf('=');
      env[e.slice(0, i)] = e.slice(i + 1);
    }
    const child = spawn(program, [], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.on('close', (code) => {
      const r = code === 0 ? parseCgiResponse(Buffer.concat(out)) : `exit ${code}`;
      if (typeof r === 'string') { res.writeHead(502); res.end(r); return; }
      for (const [k, v] of r.headers) res.appendHeader(k, v);
      res.setHeader('Content-Length', r.body.length);
      res.writeHead(r.status);
      res.end(r.body);
    });
    child.stdin!.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address() as { port: number };
  process.stderr.write(`native-cgi: listening on http://127.0.0.1:${a.port}/\n`);
});
process.on('SIGTERM', () => { server.close(); server.closeAllConnections(); process.exit(0); });
