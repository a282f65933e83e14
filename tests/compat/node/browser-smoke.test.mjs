// The browser harness itself (browser.mjs): Debian's Chromium driven by playwright-core against
// pages a local node:http server makes, with no cognate involved. A form posts to its own page,
// which sets a cookie and redirects; the error capture catches console errors, uncaught
// exceptions and failed requests; and a CDP virtual authenticator creates and uses a passkey on
// http://localhost (a secure context, so WebAuthn is allowed there).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { assertNoErrors, launchBrowser, openPage, webAuthnSession } from './browser.mjs';

const page = (title, body = '', script = '') =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
  `<body>${body}${script ? `<script>${script}</script>` : ''}</body></html>`;

const escape = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function cookies(req) {
  const out = {};
  for (const part of (req.headers.cookie || '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) out[part.slice(0, at).trim()] = decodeURIComponent(part.slice(at + 1).trim());
  }
  return out;
}

function handle(req, res) {
  const html = (status, body, headers = {}) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(body);
  };
  const path = new URL(req.url, 'http://localhost').pathname;
  if (path === '/' && req.method === 'GET') {
    return html(
      200,
      page(
        'Form',
        '<form method="post" action="/"><label>Name <input name="name"></label>' +
          '<button type="submit">Send</button></form>',
      ),
      { 'set-cookie': 'visited=yes; Path=/; SameSite=Lax' },
    );
  }
  if (path === '/' && req.method === 'POST') {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const name = new URLSearchParams(body).get('name') || '';
      res.writeHead(303, {
        location: '/hello',
        'set-cookie': `name=${encodeURIComponent(name)}; Path=/; SameSite=Lax`,
      });
      res.end();
    });
    return undefined;
  }
  if (path === '/hello') {
    const c = cookies(req);
    const greeting = `Hello, ${escape(c.name || '?')} (visited: ${escape(c.visited || 'no')})`;
    return html(200, page('Hello', `<p id="greeting">${greeting}</p>`));
  }
  if (path === '/console-error') {
    return html(200, page('Console', '<p>console</p>', "console.error('deliberate console error')"));
  }
  if (path === '/page-error') {
    return html(200, page('Throws', '<p>throws</p>', "throw new Error('deliberate page error')"));
  }
  if (path === '/broken-image') {
    return html(200, page('Broken', '<img src="/hang-up.png" alt="">'));
  }
  if (path === '/hang-up.png') {
    // No response at all: the browser sees net::ERR_EMPTY_RESPONSE, a failed request.
    return req.socket.destroy();
  }
  if (path === '/blank') {
    return html(200, page('Blank'));
  }
  return html(404, page('Not found'));
}

describe('browser harness (Chromium through playwright-core)', { timeout: 60_000 }, () => {
  let server;
  let origin;
  let browser;

  before(async () => {
    server = createServer(handle);
    await new Promise((ok, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', ok);
    });
    // "localhost", not 127.0.0.1: WebAuthn's RP id must be a domain, and localhost is a secure
    // context over plain HTTP. Chromium resolves localhost to loopback by itself.
    origin = `http://localhost:${server.address().port}`;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((ok) => (server ? server.close(ok) : ok()));
  });

  test('a form posts to itself, sets a cookie and redirects; the page reads it back', async () => {
    const handle = await openPage(browser);
    try {
      const { page, context } = handle;
      await page.goto(`${origin}/`);
      assert.equal(await page.title(), 'Form');
      await page.getByLabel('Name').fill('Ada <Lovelace>');
      await Promise.all([page.waitForURL(`${origin}/hello`), page.getByRole('button', { name: 'Send' }).click()]);
      assert.equal(await page.locator('#greeting').textContent(), 'Hello, Ada <Lovelace> (visited: yes)');
      const jar = Object.fromEntries((await context.cookies(origin)).map((c) => [c.name, c.value]));
      assert.deepEqual(jar, { visited: 'yes', name: encodeURIComponent('Ada <Lovelace>') });
      assert.match(await page.evaluate(() => document.cookie), /visited=yes/);
      assertNoErrors(handle);
    } finally {
      await handle.close();
    }
  });

  test('console.error is captured', async () => {
    const handle = await openPage(browser);
    try {
      await handle.page.goto(`${origin}/console-error`);
      await handle.page.waitForLoadState('load');
      assert.deepEqual(
        handle.errors().map((e) => e.replace(/ \(.*\)$/, '')),
        ['console.error: deliberate console error'],
      );
      assert.throws(() => assertNoErrors(handle), /deliberate console error/);
    } finally {
      await handle.close();
    }
  });

  test('an uncaught exception (pageerror) is captured', async () => {
    const handle = await openPage(browser);
    try {
      await handle.page.goto(`${origin}/page-error`);
      await handle.page.waitForLoadState('load');
      const errors = handle.errors();
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.match(errors[0], /^pageerror: Error: deliberate page error/);
      assert.throws(() => assertNoErrors(handle), /deliberate page error/);
    } finally {
      await handle.close();
    }
  });

  test('a failed subresource request is captured', async () => {
    const handle = await openPage(browser);
    try {
      await handle.page.goto(`${origin}/broken-image`);
      await handle.page.waitForLoadState('load');
      assert.ok(
        handle.errors().some((e) => e.startsWith(`requestfailed: GET ${origin}/hang-up.png: net::ERR_`)),
        handle.errors().join('\n'),
      );
    } finally {
      await handle.close();
    }
  });

  test('a virtual authenticator creates a passkey and signs with it', async () => {
    const handle = await openPage(browser, { virtualAuthenticator: true });
    try {
      const { page, authenticatorId } = handle;
      assert.equal(typeof authenticatorId, 'string');
      await page.goto(`${origin}/blank`);
      const result = await page.evaluate(async () => {
        const userId = crypto.getRandomValues(new Uint8Array(16));
        const created = await navigator.credentials.create({
          publicKey: {
            rp: { id: 'localhost', name: 'x' },
            user: { id: userId, name: 'ada', displayName: 'Ada' },
            challenge: crypto.getRandomValues(new Uint8Array(32)),
            pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
            authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
          },
        });
        // A discoverable-credential sign-in, as a passkey login does it: no allowCredentials.
        const asserted = await navigator.credentials.get({
          publicKey: {
            rpId: 'localhost',
            challenge: crypto.getRandomValues(new Uint8Array(32)),
            userVerification: 'required',
          },
        });
        const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
        return {
          type: created.type,
          id: created.id,
          attachment: created.authenticatorAttachment,
          algorithm: created.response.getPublicKeyAlgorithm(),
          assertedId: asserted.id,
          userHandle: hex(asserted.response.userHandle),
          userId: hex(userId),
        };
      });
      assert.equal(result.type, 'public-key');
      assert.equal(result.attachment, 'platform');
      assert.equal(result.algorithm, -7);
      assert.equal(result.assertedId, result.id);
      assert.equal(result.userHandle, result.userId);

      const { credentials } = await webAuthnSession(page).send('WebAuthn.getCredentials', { authenticatorId });
      assert.equal(credentials.length, 1);
      assert.equal(credentials[0].rpId, 'localhost');
      assert.equal(credentials[0].isResidentCredential, true);
      assert.ok(credentials[0].signCount >= 1, 'the sign-in used the credential');
      assertNoErrors(handle);
    } finally {
      await handle.close();
    }
  });
});
