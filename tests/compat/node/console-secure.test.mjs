// The web console in secure mode (`cognate serve --mode secure`, issue #15 item 7), in Debian's
// Chromium (playwright-core): the console asks for a sign-in with one of `[[access_keys]]`; a
// wrong secret is refused, the right one signs in (an HttpOnly, SameSite=Strict session cookie
// scoped to the console); the signed-in console creates a pool and a client, attaches a trigger
// and shows a sign-up's invocation in the live timeline, all through its own API (the JSON API
// itself still wants SigV4); signing out leads back to the sign-in page. Without the cookie, or
// from another origin with it, the console's API refuses. Any console error in the page fails the
// test.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { assertNoErrors, launchBrowser, openPage } from './browser.mjs';
import { startServer } from './helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = resolve(here, 'fixtures/console');
const KEY = 'AKIDCONSOLETEST01';
const SECRET = `console-${crypto.randomUUID()}`;
const PASSWORD = 'Correct-horse-1';
const ARN = (name) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
const COOKIE = 'cognate_console';

/** A form post to the sign-in endpoint, as a browser on `origin` sends it. */
function signIn(url, keyId, secret, origin = url) {
  return fetch(`${url}/_cognate/console/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: origin, 'Sec-Fetch-Site': 'same-origin' },
    body: new URLSearchParams({ keyId, secret }).toString(),
  });
}

/** A cognito-idp operation through the console's api/call. */
function consoleCall(url, op, body, headers = {}) {
  return fetch(`${url}/_cognate/console/api/call`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': `AWSCognitoIdentityProviderService.${op}`,
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

describe('the web console in secure mode', () => {
  let server;
  let browser;
  let configDir;

  before(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'cognate-console-secure-'));
    const toml = join(configDir, 'cognate.toml');
    writeFileSync(
      toml,
      [
        '[[access_keys]]',
        `id = "${KEY}"`,
        `secret = "${SECRET}"`,
        '',
        '[functions.pre-sign-up]',
        'runtime = "node"',
        `handler = ${JSON.stringify(join(FIXTURES, 'pre_sign_up.handler'))}`,
        '',
      ].join('\n'),
    );
    const started = await Promise.allSettled([
      startServer({ args: ['--mode', 'secure', '--config', toml] }).then((s) => (server = s)),
      launchBrowser().then((b) => (browser = b)),
    ]);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  test('without a session the console leads to its sign-in page and its API answers 401', async () => {
    const page = await fetch(`${server.url}/_cognate/console/`, { redirect: 'manual' });
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), '/_cognate/console/signin');
    const form = await fetch(`${server.url}/_cognate/console/signin`);
    assert.equal(form.status, 200);
    assert.match(form.headers.get('content-security-policy'), /form-action 'self'/);
    assert.match(await form.text(), /name="secret" type="password"/);
    for (const path of ['/_cognate/console/console.css', '/_cognate/console/console.js']) {
      assert.equal((await fetch(`${server.url}${path}`)).status, 200, path);
    }
    for (const res of [
      await fetch(`${server.url}/_cognate/console/api/info`),
      await fetch(`${server.url}/_cognate/console/api/outbox`),
      await consoleCall(server.url, 'ListUserPools', { MaxResults: 10 }),
      await consoleCall(server.url, 'ListUserPools', { MaxResults: 10 }, { Cookie: `${COOKIE}=forged` }),
    ]) {
      assert.equal(res.status, 401, res.url);
      assert.equal((await res.json()).__type, 'AccessDeniedException');
    }
    // The JSON API's own rules are unchanged: admin calls need SigV4.
    const unsigned = await fetch(`${server.url}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'AWSCognitoIdentityProviderService.ListUserPools' },
      body: '{"MaxResults":10}',
    });
    assert.equal((await unsigned.json()).__type, 'MissingAuthenticationTokenException');
  });

  test('sign-in checks the secret and the origin; the session works from the console\'s origin only', async () => {
    const wrong = await signIn(server.url, KEY, `${SECRET}x`);
    assert.equal(wrong.status, 200);
    assert.equal(wrong.headers.get('set-cookie'), null);
    const page = await wrong.text();
    assert.match(page, /Wrong access key id or secret\./);
    assert.ok(!page.includes(SECRET), 'the page shows no secret');
    assert.equal((await signIn(server.url, 'AKIDUNKNOWN', SECRET)).headers.get('set-cookie'), null);
    const foreign = await signIn(server.url, KEY, SECRET, 'http://evil.test');
    assert.equal(foreign.status, 403);
    assert.equal(foreign.headers.get('set-cookie'), null);

    const right = await signIn(server.url, KEY, SECRET);
    assert.equal(right.status, 303);
    assert.equal(right.headers.get('location'), '/_cognate/console/');
    const setCookie = right.headers.get('set-cookie');
    assert.match(setCookie, /^cognate_console=[A-Za-z0-9_-]+; /);
    for (const attribute of ['Path=/_cognate/console', 'Max-Age=28800', 'HttpOnly', 'SameSite=Strict']) {
      assert.ok(setCookie.split('; ').includes(attribute), `${attribute} in ${setCookie}`);
    }
    assert.ok(!setCookie.includes(KEY), 'the cookie is sealed');
    const cookie = setCookie.split(';')[0];
    const own = { Cookie: cookie, Origin: server.url, 'Sec-Fetch-Site': 'same-origin' };

    const info = await fetch(`${server.url}/_cognate/console/api/info`, { headers: own });
    assert.equal(info.status, 200);
    const body = await info.json();
    assert.equal(body.mode, 'secure');
    assert.equal(body.signedInAs, KEY);
    const pools = await consoleCall(server.url, 'ListUserPools', { MaxResults: 10 }, own);
    assert.equal(pools.status, 200);
    assert.deepEqual((await pools.json()).UserPools, []);
    // The console calls cognito-idp only.
    const kms = await fetch(`${server.url}/_cognate/console/api/call`, {
      method: 'POST',
      headers: { ...own, 'X-Amz-Target': 'TrentService.Decrypt', 'Content-Type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    assert.equal(kms.status, 400);

    // The cookie from another origin (or a request the browser calls cross-site) is refused.
    for (const headers of [
      { Cookie: cookie, Origin: 'http://evil.test' },
      { Cookie: cookie, Origin: `http://localhost:${server.port + 1}` },
      { Cookie: cookie, 'Sec-Fetch-Site': 'cross-site' },
    ]) {
      const res = await fetch(`${server.url}/_cognate/console/api/info`, { headers });
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.equal((await res.json()).__type, 'AccessDeniedException');
      const call = await consoleCall(server.url, 'CreateUserPool', { PoolName: 'evil' }, headers);
      assert.equal(call.status, 403, JSON.stringify(headers));
    }
    const signOut = await fetch(`${server.url}/_cognate/console/signout`, { method: 'POST', headers: { Cookie: cookie, Origin: 'http://evil.test' } });
    assert.equal(signOut.status, 403);
  });

  test('an operator signs in, creates a pool, watches the timeline and signs out', async () => {
    const handle = await openPage(browser, { contextOptions: { viewport: { width: 1280, height: 900 } } });
    const { page, context } = handle;
    try {
      await page.goto(`${server.url}/`);
      await page.waitForURL(/\/_cognate\/console\/signin$/);
      const form = page.getByRole('form', { name: 'cognate console' });
      await form.getByLabel('Access key id').fill(KEY);
      await form.getByLabel('Secret access key').fill('not-the-secret');
      await form.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').getByText('Wrong access key id or secret.').waitFor();
      assert.match(page.url(), /\/_cognate\/console\/signin$/);
      assert.equal((await context.cookies()).length, 0);
      assert.equal(await form.getByLabel('Access key id').inputValue(), KEY);

      await form.getByLabel('Secret access key').fill(SECRET);
      await form.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/_cognate\/console\/#\/pools$/);
      await page.getByRole('heading', { name: 'User pools' }).waitFor();
      const [cookie] = await context.cookies();
      assert.equal(cookie.name, COOKIE);
      assert.equal(cookie.path, '/_cognate/console');
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Strict');
      await page.getByText(`secure mode`, { exact: false }).waitFor();
      assert.match(await page.locator('#where').innerText(), new RegExp(`signed in as ${KEY}`));

      // A pool and a client, created in the console (its calls carry no signature).
      const createPool = page.getByRole('form', { name: 'Create a pool' });
      await createPool.getByLabel('Name', { exact: true }).fill('shop');
      await createPool.getByRole('button', { name: 'Create pool' }).click();
      await page.waitForURL(/#\/pools\/us-east-1_/);
      const poolId = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
      const createClient = page.getByRole('form', { name: 'Create an app client' });
      await createClient.getByLabel('Name', { exact: true }).fill('web');
      await createClient.getByRole('button', { name: 'Create client' }).click();
      await page.getByRole('region', { name: 'App clients' }).getByRole('rowheader', { name: 'web' }).waitFor();
      const own = { Cookie: `${cookie.name}=${cookie.value}`, Origin: server.url };
      const clients = await (await consoleCall(server.url, 'ListUserPoolClients', { UserPoolId: poolId, MaxResults: 10 }, own)).json();
      assert.equal(clients.UserPoolClients.length, 1);
      const clientId = clients.UserPoolClients[0].ClientId;

      // A trigger, then a sign-up (a public operation, unsigned) seen live in the timeline.
      const attach = page.getByRole('form', { name: 'Attach a trigger' });
      await attach.getByLabel('Trigger').selectOption('PreSignUp');
      await attach.getByLabel('Function').fill(ARN('pre-sign-up'));
      await attach.getByRole('button', { name: 'Attach' }).click();
      await page.getByRole('region', { name: 'Triggers' }).getByRole('row', { name: /PreSignUp/ }).getByText('resolves', { exact: true }).waitFor();
      await page.getByRole('navigation', { name: 'Pool shop' }).getByRole('link', { name: 'Trigger timeline' }).click();
      await page.getByRole('heading', { name: 'Trigger timeline' }).waitFor();
      await page.getByText('No invocations yet.', { exact: false }).waitFor();
      const signUp = await fetch(`${server.url}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSCognitoIdentityProviderService.SignUp' },
        body: JSON.stringify({ ClientId: clientId, Username: 'ana', Password: PASSWORD, UserAttributes: [{ Name: 'email', Value: 'ana@example.com' }] }),
      });
      assert.equal(signUp.status, 200, await signUp.clone().text());
      const entry = page.locator('details.inv', { hasText: 'PreSignUp_SignUp' }).filter({ hasText: 'ana' }).first();
      await entry.waitFor();
      await entry.locator('summary').click();
      assert.equal(JSON.parse(await entry.locator('pre[aria-label="Event"]').innerText()).userName, 'ana');

      // Signing out: back to the sign-in page, the cookie gone, the console closed again.
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Pools' }).click();
      await page.getByRole('heading', { name: 'User pools' }).waitFor();
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(/\/_cognate\/console\/signin$/);
      assert.equal((await context.cookies()).length, 0);
      await page.goto(`${server.url}/_cognate/console/#/pools`);
      await page.waitForURL(/\/_cognate\/console\/signin(#.*)?$/);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();

      assertNoErrors(handle);
    } finally {
      await handle.close();
    }
  });
});
