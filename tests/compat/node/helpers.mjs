// Shared helpers for the Node compatibility tests: start a real cognate binary on a free port
// with a temporary data directory, call its JSON API directly, and read its dev-mode outbox.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.COGNATE_BIN || resolve(here, '../../../target/debug/cognate');

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/**
 * Starts `cognate serve` and resolves once /health answers. Call `stop()` when done.
 * `args` are extra arguments for `serve`, e.g. `['--config', path]`.
 */
export async function startServer({ args = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'cognate-compat-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dir, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  let exited = null;
  proc.once('exit', (code, signal) => {
    exited = { code, signal };
  });

  const stop = async () => {
    if (exited === null) {
      const gone = new Promise((ok) => proc.once('exit', ok));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exited !== null) break;
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return { url, port, dir, stop, stderr: () => stderr };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`cognate did not start (${BIN}): ${JSON.stringify(exited)}\n${stderr}`);
}

/** An error from the JSON API, carrying Cognito's error code. */
export class ApiError extends Error {
  constructor(op, status, body) {
    const code = String(body.__type || body.code || 'Unknown').split('#').pop();
    super(`${op} → ${status} ${code}: ${body.message || body.Message || ''}`);
    this.code = code;
    this.status = status;
    this.body = body;
  }
}

/** Calls `AWSCognitoIdentityProviderService.<op>` (admin calls are unsigned in dev mode). */
export async function api(url, op, body = {}) {
  const res = await fetch(`${url}/`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': `AWSCognitoIdentityProviderService.${op}`,
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : {};
  if (!res.ok) throw new ApiError(op, res.status, data);
  return data;
}

/** Messages cognate "sent" for a user, newest first. */
export async function outbox(url, poolId, username) {
  const q = new URLSearchParams({ poolId, username });
  const res = await fetch(`${url}/_cognate/outbox?${q}`);
  if (!res.ok) throw new Error(`outbox → ${res.status}`);
  return (await res.json()).messages;
}

/** The payload of a JWT, unverified. */
export function jwtPayload(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/**
 * Promise over amazon-cognito-identity-js's callback style `authenticateUser`: resolves with
 * `{ kind: 'success', session }` or `{ kind: 'newPasswordRequired', userAttributes, requiredAttributes }`,
 * rejects with the library's error (which carries `.code`). Any other callback rejects too.
 */
export function authenticate(user, details) {
  return new Promise((ok, fail) => user.authenticateUser(details, callbacks(ok, fail)));
}

/** The same over `completeNewPasswordChallenge`. */
export function completeNewPassword(user, newPassword, attributes = {}) {
  return new Promise((ok, fail) => user.completeNewPasswordChallenge(newPassword, attributes, callbacks(ok, fail)));
}

function callbacks(ok, fail) {
  const unexpected = (name) => (...args) => fail(new Error(`unexpected callback ${name}: ${JSON.stringify(args)}`));
  return {
    onSuccess: (session) => ok({ kind: 'success', session }),
    onFailure: (err) => fail(err),
    newPasswordRequired: (userAttributes, requiredAttributes) =>
      ok({ kind: 'newPasswordRequired', userAttributes, requiredAttributes }),
    mfaRequired: unexpected('mfaRequired'),
    totpRequired: unexpected('totpRequired'),
    customChallenge: unexpected('customChallenge'),
    mfaSetup: unexpected('mfaSetup'),
    selectMFAType: unexpected('selectMFAType'),
  };
}

/** Node-style callback → promise. */
export function call(fn) {
  return new Promise((ok, fail) => fn((err, result) => (err ? fail(err) : ok(result))));
}

/** RFC 6238 code (SHA-1, 30 s, 6 digits) for a base32 secret, `offset` steps from now. */
export function totp(secret, offset = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + offset));
  const mac = createHmac('sha1', key).update(counter).digest();
  const at = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/**
 * The "app" of the OAuth and federation tests: a node:http server on localhost that records
 * every request it gets and answers each with a small page naming its path. Its `callback` and
 * `signedOut` URLs are what clients register; `last(path)` is the query of the last request at
 * `path`.
 */
export async function startApp() {
  const requests = [];
  const server = createHttpServer((req, res) => {
    const u = new URL(req.url, 'http://localhost');
    requests.push({ path: u.pathname, query: Object.fromEntries(u.searchParams) });
    if (u.pathname === '/favicon.ico') {
      res.writeHead(204);
      return res.end();
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return res.end(
      '<!doctype html><html><head><meta charset="utf-8"><title>App</title><link rel="icon" href="data:,"></head>' +
        `<body><p id="where">${u.pathname}</p></body></html>`,
    );
  });
  // No host: the dual-stack wildcard, so "localhost" answers on ::1 and 127.0.0.1 alike.
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, ok);
  });
  const origin = `http://localhost:${server.address().port}`;
  return {
    origin,
    callback: `${origin}/callback`,
    signedOut: `${origin}/signed-out`,
    requests,
    last: (path) => [...requests].reverse().find((r) => r.path === path)?.query,
    stop: () => {
      server.closeAllConnections();
      return new Promise((ok) => server.close(ok));
    },
  };
}
