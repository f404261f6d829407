/**
 * CGI/1.1 (RFC 3875), both directions, as pure functions: the meta-variables a request
 * gives the program (section 4.1), and the program's answer parsed into an HTTP response
 * (section 6). No I/O here: src/serve/server.ts does that, and test/unit/cgi.test.ts
 * checks these directly.
 */

/** What the server knows of one request. */
export interface CgiRequest {
  method: string;
  /** The request target as sent (path and query, not decoded). */
  url: string;
  httpVersion: string;
  /** Header names lower-case, as Node gives them in rawHeaders pairs. */
  rawHeaders: readonly string[];
  remoteAddress: string;
  remotePort: number;
  serverName: string;
  serverPort: number;
  /** Bytes of the body (CONTENT_LENGTH), or undefined for none. */
  bodyLength: number | undefined;
  software: string;
}

/** Header names never passed as HTTP_*: those with their own variable, credentials, and Proxy (httpoxy). */
const NOT_PASSED = new Set(['content-type', 'content-length', 'authorization', 'proxy-authorization', 'proxy']);

/**
 * The request's meta-variables as NAME=value strings, in a stable order: the section 4.1
 * variables first, then one HTTP_* per header field (repeated fields joined with ", ").
 */
export function cgiEnvironment(r: CgiRequest): string[] {
  const q = r.url.indexOf('?');
  const rawPath = q >= 0 ? r.url.slice(0, q) : r.url;
  const query = q >= 0 ? r.url.slice(q + 1) : '';
  let pathInfo: string;
  try { pathInfo = decodeURIComponent(rawPath); } catch { pathInfo = rawPath; }
  const headers = new Map<string, string>();
  let contentType: string | undefined;
  for (let i = 0; i + 1 < r.rawHeaders.length; i += 2) {
    const name = r.rawHeaders[i]!.toLowerCase(), value = r.rawHeaders[i + 1]!;
    if (name === 'content-type') contentType ??= value;
    if (NOT_PASSED.has(name) || !/^[a-z0-9-]+$/.test(name)) continue;
    const key = 'HTTP_' + name.toUpperCase().replace(/-/g, '_');
    const prev = headers.get(key);
    headers.set(key, prev === undefined ? value : `${prev}, ${value}`);
  }
  const env: string[] = [
    'GATEWAY_INTERFACE=CGI/1.1',
    `REQUEST_METHOD=${r.method}`,
    'SCRIPT_NAME=',
    `PATH_INFO=${pathInfo}`,
    `QUERY_STRING=${query}`,
    `SERVER_NAME=${r.serverName}`,
    `SERVER_PORT=${r.serverPort}`,
    `SERVER_PROTOCOL=HTTP/${r.httpVersion}`,
    `SERVER_SOFTWARE=${r.software}`,
    `REMOTE_ADDR=${r.remoteAddress}`,
    `REMOTE_HOST=${r.remoteAddress}`,
    `REMOTE_PORT=${r.remotePort}`,
    `REQUEST_URI=${r.url}`,
  ];
  if (r.bodyLength !== undefined) env.push(`CONTENT_LENGTH=${r.bodyLength}`);
  if (contentType !== undefined) env.push(`CONTENT_TYPE=${contentType}`);
  for (const [k, v] of headers) env.push(`${k}=${v}`);
  // A NUL would end the string in the guest: such a value is cut there.
  return env.map((e) => { const z = e.indexOf('\0'); return z >= 0 ? e.slice(0, z) : e; });
}

/** A program's answer as HTTP. */
export interface CgiResponse {
  status: number;
  reason: string | undefined;
  headers: Array<[string, string]>;
  body: Buffer;
}

/** The most bytes of header block a program may write before its blank line. */
export const MAX_HEADER_BYTES = 64 * 1024;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Parses a program's standard output (RFC 3875 section 6): header fields, a blank line
 * (CRLF or LF line ends), then the body. At least one of Content-Type, Location or Status
 * must be there. A Location without Status is a redirect (302: a local redirect, a path, is
 * answered as a client redirect too). Returns the response, or a string saying why the
 * answer is not valid CGI (the server answers 502 then).
 */
export function parseCgiResponse(out: Buffer): CgiResponse | string {
  let end = -1, bodyAt = -1;
  for (let i = 0; i < out.length && i <= MAX_HEADER_BYTES; i++) {
    if (out[i] !== 0x0a) continue;
    // A line end: is the next line empty (LF, or CRLF)?
    if (out[i + 1] === 0x0a) { end = i + 1; bodyAt = i + 2; break; }
    if (out[i + 1] === 0x0d && out[i + 2] === 0x0a) { end = i + 1; bodyAt = i + 3; break; }
  }
  if (out.length > 0 && (out[0] === 0x0a || (out[0] === 0x0d && out[1] === 0x0a))) return 'no CGI header fields before the blank line';
  if (end < 0) return out.length === 0 ? 'no output' : `no blank line after the CGI header fields within ${MAX_HEADER_BYTES} bytes`;
  const headers: Array<[string, string]> = [];
  let status: number | undefined, reason: string | undefined, type = false, location: string | undefined;
  for (const raw of out.subarray(0, end).toString('latin1').split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return `a CGI header line without a field name: ${JSON.stringify(line.slice(0, 60))}`;
    const name = line.slice(0, colon), value = line.slice(colon + 1).trim();
    if (!TOKEN.test(name)) return `an invalid CGI header field name: ${JSON.stringify(name.slice(0, 60))}`;
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return `a control character in CGI header field ${name}`;
    const lower = name.toLowerCase();
    if (lower === 'status') {
      const m = /^([1-5][0-9][0-9])(?:\s+(.*))?$/.exec(value);
      if (!m) return `an invalid Status field: ${JSON.stringify(value.slice(0, 60))}`;
      status = Number(m[1]);
      reason = m[2] || undefined;
      continue;
    }
    if (lower === 'content-type') type = true;
    if (lower === 'location') location = value;
    // Framing is the server's: the program's own length or encoding fields are not passed on.
    if (lower === 'content-length' || lower === 'transfer-encoding' || lower === 'connection') continue;
    headers.push([name, value]);
  }
  if (status === undefined && !type && location === undefined) return 'none of Content-Type, Location or Status in the CGI header';
  if (status === undefined) status = location !== undefined ? 302 : 200;
  return { status, reason, headers, body: out.subarray(bodyAt) };
}
