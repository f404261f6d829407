/** CGI/1.1 (RFC 3875) both ways, as torov serve uses it (src/serve/cgi.ts): pure functions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cgiEnvironment, parseCgiResponse, CgiRequest, CgiResponse, MAX_HEADER_BYTES } from '../../src/serve/cgi';

const base: CgiRequest = {
  method: 'POST', url: '/a%20b/c?x=1&y=%41', httpVersion: '1.1',
  rawHeaders: ['Host', 'example.com:8080', 'Content-Type', 'text/plain', 'Content-Length', '5', 'User-Agent', 't/1',
    'Accept', 'a', 'accept', 'b', 'Authorization', 'secret', 'Proxy', 'http://evil', 'X-Dashed-Name', 'v'],
  remoteAddress: '127.0.0.1', remotePort: 4242, serverName: 'example.com', serverPort: 8080, bodyLength: 5, software: 'torov',
};

function asMap(env: string[]): Map<string, string> {
  return new Map(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

test('the request\'s meta-variables (RFC 3875 section 4.1)', () => {
  const m = asMap(cgiEnvironment(base));
  assert.equal(m.get('GATEWAY_INTERFACE'), 'CGI/1.1');
  assert.equal(m.get('REQUEST_METHOD'), 'POST');
  assert.equal(m.get('PATH_INFO'), '/a b/c', 'PATH_INFO is decoded');
  assert.equal(m.get('QUERY_STRING'), 'x=1&y=%41', 'QUERY_STRING is not');
  assert.equal(m.get('SCRIPT_NAME'), '');
  assert.equal(m.get('CONTENT_TYPE'), 'text/plain');
  assert.equal(m.get('CONTENT_LENGTH'), '5');
  assert.equal(m.get('SERVER_NAME'), 'example.com');
  assert.equal(m.get('SERVER_PORT'), '8080');
  assert.equal(m.get('SERVER_PROTOCOL'), 'HTTP/1.1');
  assert.equal(m.get('REMOTE_ADDR'), '127.0.0.1');
  assert.equal(m.get('HTTP_USER_AGENT'), 't/1');
  assert.equal(m.get('HTTP_HOST'), 'example.com:8080');
  assert.equal(m.get('HTTP_ACCEPT'), 'a, b', 'repeated fields joined');
  assert.equal(m.get('HTTP_X_DASHED_NAME'), 'v');
  for (const k of ['HTTP_CONTENT_TYPE', 'HTTP_CONTENT_LENGTH', 'HTTP_AUTHORIZATION', 'HTTP_PROXY']) assert.equal(m.has(k), false, k);
});

test('no body: no CONTENT_LENGTH; a bad escape leaves PATH_INFO as sent; a NUL cuts a value', () => {
  const m = asMap(cgiEnvironment({ ...base, method: 'GET', url: '/%zz', bodyLength: undefined, rawHeaders: ['X-A', 'a\0b'] }));
  assert.equal(m.has('CONTENT_LENGTH'), false);
  assert.equal(m.has('CONTENT_TYPE'), false);
  assert.equal(m.get('PATH_INFO'), '/%zz');
  assert.equal(m.get('QUERY_STRING'), '');
  assert.equal(m.get('HTTP_X_A'), 'a');
});

const ok = (s: string | Buffer): CgiResponse => {
  const r = parseCgiResponse(Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1'));
  assert.equal(typeof r, 'object', String(r));
  return r as CgiResponse;
};

test('a document response: Content-Type, CRLF or LF line ends, the body as written', () => {
  let r = ok('Content-Type: text/html\r\nX-A: 1\r\n\r\n<p>hi</p>\r\n');
  assert.equal(r.status, 200);
  assert.deepEqual(r.headers, [['Content-Type', 'text/html'], ['X-A', '1']]);
  assert.equal(r.body.toString(), '<p>hi</p>\r\n');
  r = ok('Content-type:text/plain\n\nbody\n\nmore');
  assert.deepEqual(r.headers, [['Content-type', 'text/plain']]);
  assert.equal(r.body.toString(), 'body\n\nmore');
  r = ok('Content-Type: a/b\n\n');
  assert.equal(r.body.length, 0);
  // Binary bodies are kept byte for byte.
  const bin = Buffer.concat([Buffer.from('Content-Type: x/y\n\n'), Buffer.from([0, 255, 13, 10, 10])]);
  assert.deepEqual(ok(bin).body, Buffer.from([0, 255, 13, 10, 10]));
});

test('Status and Location', () => {
  let r = ok('Status: 404 Not Here\r\nContent-Type: text/plain\r\n\r\nx');
  assert.equal(r.status, 404);
  assert.equal(r.reason, 'Not Here');
  assert.deepEqual(r.headers, [['Content-Type', 'text/plain']], 'Status is not passed on as a field');
  r = ok('Status: 204\n\n');
  assert.equal(r.status, 204);
  assert.equal(r.reason, undefined);
  r = ok('Location: https://example.com/\n\n');
  assert.equal(r.status, 302);
  r = ok('Location: /local\nStatus: 303 See Other\n\n');
  assert.equal(r.status, 303);
  // The server frames the reply: the program's own framing fields are dropped.
  r = ok('Content-Type: a/b\nContent-Length: 99\nTransfer-Encoding: chunked\nConnection: close\n\nabc');
  assert.deepEqual(r.headers, [['Content-Type', 'a/b']]);
});

test('answers that are not CGI are refused with a reason', () => {
  const bad = (s: string, re: RegExp) => {
    const r = parseCgiResponse(Buffer.from(s, 'latin1'));
    assert.equal(typeof r, 'string', `accepted: ${JSON.stringify(s)}`);
    assert.match(r as string, re);
  };
  bad('', /no output/);
  bad('hello world\n', /no blank line/);
  bad('X-Only: 1\n\nbody', /none of Content-Type, Location or Status/);
  bad('\r\nbody', /no CGI header fields/);
  bad('not a header\n\n', /without a field name/);
  bad('Bad Name: x\n\n', /invalid CGI header field name/);
  bad('Status: 99 x\nContent-Type: a/b\n\n', /invalid Status/);
  bad('Status: abc\n\n', /invalid Status/);
  bad('Content-Type: a\x01b\n\n', /control character/);
  bad('Content-Type: a/b\n' + 'X: ' + 'y'.repeat(MAX_HEADER_BYTES) + '\n\n', /no blank line/);
});
