// The OAuth 2.0 / OpenID Connect side of cognate, driven as an app would drive Cognito: a real
// relying-party library (openid-client, on oauth4webapi) discovers the pool's issuer, builds the
// authorization URL (PKCE S256, state, nonce), exchanges the code and validates the ID token
// against the discovery document and the JWKS; Debian's Chromium (playwright-core) signs in on
// the hosted pages. Also: the token endpoint's error answers, the hosted session cookie, logout,
// prompt=none, client_credentials (the library and plain fetch), a V3_0 PreTokenGeneration and
// a PreAuthentication trigger (node handlers in fixtures/oauth), authenticator-app MFA and
// NEW_PASSWORD_REQUIRED on the hosted page. Screenshots go to docs/screenshots/.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import * as oidc from 'openid-client';

import { assertNoErrors, launchBrowser, openPage, screenshot } from './browser.mjs';
import { api, jwtPayload, startApp, startServer, totp } from './helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = resolve(here, 'fixtures/oauth');
const SCREENSHOTS = resolve(here, '../../../docs/screenshots');
const PASSWORD = 'Correct-horse-1';
const ARN = (name) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
const VIEWPORT = { viewport: { width: 480, height: 720 } };

/** CreateUserPoolClient's request for a public web client of the code flow. */
function webClient(poolId, app, name, explicitAuthFlows) {
  return {
    UserPoolId: poolId,
    ClientName: name,
    ...(explicitAuthFlows ? { ExplicitAuthFlows: explicitAuthFlows } : {}),
    AllowedOAuthFlowsUserPoolClient: true,
    AllowedOAuthFlows: ['code', 'implicit'],
    AllowedOAuthScopes: ['openid', 'email', 'profile', 'orders/read'],
    CallbackURLs: [app.callback],
    LogoutURLs: [app.signedOut],
    SupportedIdentityProviders: ['COGNITO'],
  };
}

/**
 * A pool with a domain, the `orders` resource server (read, write, and admin, which no client
 * has), a public web client for the code flow and a confidential client_credentials client.
 */
async function oauthPool(url, app, name, poolExtra = {}) {
  const { UserPool } = await api(url, 'CreateUserPool', { PoolName: name, ...poolExtra });
  const poolId = UserPool.Id;
  await api(url, 'CreateUserPoolDomain', {
    UserPoolId: poolId,
    Domain: `${name}-${Math.random().toString(36).slice(2, 10)}`,
  });
  await api(url, 'CreateResourceServer', {
    UserPoolId: poolId,
    Identifier: 'orders',
    Name: 'Orders',
    Scopes: [
      { ScopeName: 'read', ScopeDescription: 'Read orders' },
      { ScopeName: 'write', ScopeDescription: 'Write orders' },
      { ScopeName: 'admin', ScopeDescription: 'Administer orders' },
    ],
  });
  const web = await api(url, 'CreateUserPoolClient', webClient(poolId, app, 'web', [
    // Not ALLOW_USER_PASSWORD_AUTH: the hosted page does not depend on the API's flows. The admin
    // flow lets the MFA test set up an authenticator app for its user.
    'ALLOW_ADMIN_USER_PASSWORD_AUTH',
    'ALLOW_USER_SRP_AUTH',
    'ALLOW_REFRESH_TOKEN_AUTH',
  ]));
  const m2m = await api(url, 'CreateUserPoolClient', {
    UserPoolId: poolId,
    ClientName: 'machine',
    GenerateSecret: true,
    AllowedOAuthFlowsUserPoolClient: true,
    AllowedOAuthFlows: ['client_credentials'],
    AllowedOAuthScopes: ['orders/read', 'orders/write'],
  });
  return {
    poolId,
    issuer: `${url}/${poolId}`,
    clientId: web.UserPoolClient.ClientId,
    m2mId: m2m.UserPoolClient.ClientId,
    m2mSecret: m2m.UserPoolClient.ClientSecret,
  };
}

/** A confirmed user with a verified email and PASSWORD. */
async function confirmedUser(url, poolId, username, email) {
  await api(url, 'AdminCreateUser', {
    UserPoolId: poolId,
    Username: username,
    MessageAction: 'SUPPRESS',
    UserAttributes: [
      { Name: 'email', Value: email },
      { Name: 'email_verified', Value: 'true' },
    ],
  });
  await api(url, 'AdminSetUserPassword', { UserPoolId: poolId, Username: username, Password: PASSWORD, Permanent: true });
}

/** openid-client's configuration for a pool's issuer (discovery over plain http). */
function discover(pool, clientId, auth = oidc.None()) {
  return oidc.discovery(new URL(pool.issuer), clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });
}

/** A fresh authorization request: its URL and the values the callback is checked against. */
async function authRequest(config, app, extra = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: app.callback,
    scope: 'openid email profile orders/read',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, verifier, state, nonce };
}

/** Waits until the page is at the app's `path` and returns that URL. */
async function landedAt(page, app, path = '/callback') {
  const there = (u) => u.href.startsWith(app.origin) && u.pathname === path;
  if (!there(new URL(page.url()))) {
    // A page of cognate that says what went wrong ends the wait at once.
    const said = await page.$('.errorMessage-customizable');
    if (said) throw new Error(`still at ${page.url()}: ${(await said.textContent()).trim()}`);
  }
  await page.waitForURL(there, { timeout: 10_000 });
  return new URL(page.url());
}

/** Clicks a form's submit button and waits until the page it leads to has loaded. */
async function submit(page, button) {
  const navigated = page.waitForEvent('framenavigated', (frame) => frame === page.mainFrame());
  await page.click(button);
  await navigated;
  await page.waitForLoadState('load');
}

/** Types a username and password on the hosted sign-in page and submits them. */
async function submitSignIn(page, username, password) {
  await page.waitForSelector('#signInFormUsername');
  await page.fill('#signInFormUsername', username);
  await page.fill('#signInFormPassword', password);
  await submit(page, 'button[name=signInSubmitButton]');
}

/** Submits the form of a challenge page (the `#code` or the new-password fields filled first). */
const submitChallenge = (page) => submit(page, 'button.submitButton-customizable');

/** The code exchange, checking state, nonce and PKCE, with the ID token validated. */
function exchange(config, callbackUrl, req, verifier = req.verifier) {
  return oidc.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: verifier,
    expectedState: req.state,
    expectedNonce: req.nonce,
    idTokenExpected: true,
  });
}

/** Asserts that `promise` rejects with an OAuth error answer `error` from an endpoint. */
async function rejectsWith(promise, error) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof oidc.ResponseBodyError, `expected an OAuth error answer, got ${e?.stack || e}`);
    assert.equal(e.error, error);
    assert.equal(e.status, 400);
    return true;
  });
}

/** What cognate's invocation log holds for a pool (newest first), optionally of one source. */
async function invocations(url, poolId, triggerSource) {
  const q = new URLSearchParams({ poolId, ...(triggerSource ? { triggerSource } : {}) });
  const res = await fetch(`${url}/_cognate/invocations?${q}`);
  assert.equal(res.status, 200);
  return (await res.json()).invocations;
}

/** POST /oauth2/token with HTTP Basic, by hand. */
async function basicToken(url, clientId, secret, body) {
  const res = await fetch(`${url}/oauth2/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
    },
    body: new URLSearchParams(body),
  });
  return { status: res.status, body: await res.json() };
}

describe('OAuth 2.0 / OIDC with openid-client and the hosted pages in Chromium', () => {
  let server;
  let app;
  let browser;
  let configDir;

  before(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'cognate-oauth-'));
    const toml = join(configDir, 'cognate.toml');
    writeFileSync(
      toml,
      [
        '[functions.pre-token]',
        'runtime = "node"',
        `handler = ${JSON.stringify(join(FIXTURES, 'pre_token.handler'))}`,
        '',
        '[functions.pre-auth]',
        'runtime = "node"',
        `handler = ${JSON.stringify(join(FIXTURES, 'pre_auth.handler'))}`,
        '',
      ].join('\n'),
    );
    // Each is kept as it starts, so that `after` stops whatever did even when another failed.
    const started = await Promise.allSettled([
      startServer({ args: ['--config', toml] }).then((s) => (server = s)),
      startApp().then((a) => (app = a)),
      launchBrowser().then((b) => (browser = b)),
    ]);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
    await server?.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  describe('authorization code with PKCE, a public client', () => {
    let pool;
    let config;
    let handle;
    let first; // the first sign-in: request, callback URL, tokens
    let refreshed;

    before(async () => {
      pool = await oauthPool(server.url, app, 'oidc');
      await confirmedUser(server.url, pool.poolId, 'alice', 'alice@example.com');
      config = await discover(pool, pool.clientId);
      handle = await openPage(browser, { contextOptions: VIEWPORT });
    });
    after(() => handle?.close());

    test('discovery: the issuer is <url>/<poolId> and the endpoints are at the root', () => {
      const meta = config.serverMetadata();
      assert.equal(meta.issuer, pool.issuer);
      assert.equal(meta.authorization_endpoint, `${server.url}/oauth2/authorize`);
      assert.equal(meta.token_endpoint, `${server.url}/oauth2/token`);
      assert.equal(meta.jwks_uri, `${pool.issuer}/.well-known/jwks.json`);
      assert.ok(meta.code_challenge_methods_supported.includes('S256'));
    });

    test('the sign-in page, then the callback with a code; openid-client validates the tokens', async () => {
      const { page } = handle;
      const req = await authRequest(config, app);
      await page.goto(req.url.href);
      await page.waitForSelector('#signInFormUsername');
      assert.equal(new URL(page.url()).pathname, '/login');
      await screenshot(page, join(SCREENSHOTS, 'hosted-sign-in.png'));

      // A wrong password first: the page says so and the form is there again.
      await submitSignIn(page, 'alice', 'Wrong-horse-1');
      assert.equal((await page.textContent('#loginErrorMessage')).trim(), 'Incorrect username or password.');
      await submitSignIn(page, 'alice', PASSWORD);
      const callbackUrl = await landedAt(page, app);
      assert.equal(callbackUrl.searchParams.get('state'), req.state);
      assert.deepEqual(app.last('/callback'), Object.fromEntries(callbackUrl.searchParams));

      const tokens = await exchange(config, callbackUrl, req);
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.ok(tokens.refresh_token);
      const claims = tokens.claims();
      assert.equal(claims.nonce, req.nonce);
      assert.equal(claims['cognito:username'], 'alice');
      assert.equal(claims.aud, pool.clientId);
      assert.equal(claims.iss, pool.issuer);
      assert.equal(claims.email, 'alice@example.com');
      assert.equal(claims.token_use, 'id');
      const access = jwtPayload(tokens.access_token);
      const scopes = access.scope.split(' ');
      assert.ok(scopes.includes('openid') && scopes.includes('orders/read'), access.scope);
      assert.equal(access.client_id, pool.clientId);
      assert.equal(access.username, 'alice');
      assert.equal(access.sub, claims.sub);
      first = { req, callbackUrl, tokens, claims };
      assertNoErrors(handle);
    });

    test('userInfo answers the signed-in user', async () => {
      const info = await oidc.fetchUserInfo(config, first.tokens.access_token, first.claims.sub);
      assert.equal(info.sub, first.claims.sub);
      assert.equal(info.email, 'alice@example.com');
      assert.equal(info.username, 'alice');
    });

    test('a code is single-use: redeeming it again is invalid_grant', async () => {
      await rejectsWith(exchange(config, first.callbackUrl, first.req), 'invalid_grant');
    });

    test('refresh_token grant: new tokens, the ID token validated again', async () => {
      refreshed = await oidc.refreshTokenGrant(config, first.tokens.refresh_token);
      assert.notEqual(refreshed.access_token, first.tokens.access_token);
      assert.equal(refreshed.claims().sub, first.claims.sub);
      assert.equal(jwtPayload(refreshed.access_token).username, 'alice');
    });

    test('revocation ends the refresh token: a later refresh is invalid_grant', async () => {
      await oidc.tokenRevocation(config, first.tokens.refresh_token);
      await rejectsWith(oidc.refreshTokenGrant(config, first.tokens.refresh_token), 'invalid_grant');
      if (refreshed.refresh_token && refreshed.refresh_token !== first.tokens.refresh_token) {
        // A rotated refresh token belongs to the same lineage.
        await rejectsWith(oidc.refreshTokenGrant(config, refreshed.refresh_token), 'invalid_grant');
      }
    });

    test('the hosted session: a second authorize skips the form; a wrong code_verifier is invalid_grant', async () => {
      const { page } = handle;
      const seen = [];
      const record = (frame) => {
        if (frame === page.mainFrame()) seen.push(new URL(frame.url()).pathname);
      };
      page.on('framenavigated', record);
      const req = await authRequest(config, app);
      await page.goto(req.url.href);
      const callbackUrl = await landedAt(page, app);
      page.off('framenavigated', record);
      assert.ok(!seen.includes('/login'), `the sign-in page showed: ${seen.join(' → ')}`);
      assert.ok(callbackUrl.searchParams.get('code'));
      assert.equal(callbackUrl.searchParams.get('state'), req.state);
      await rejectsWith(exchange(config, callbackUrl, req, oidc.randomPKCECodeVerifier()), 'invalid_grant');
      assertNoErrors(handle);
    });

    test('a redirect_uri not on the client: cognate’s error page, redirect_mismatch', async () => {
      const { page } = handle;
      const req = await authRequest(config, app, { redirect_uri: `${app.origin}/elsewhere` });
      const before = app.requests.length;
      await page.goto(req.url.href);
      await page.waitForSelector('#errorCode');
      const at = new URL(page.url());
      assert.equal(at.origin, server.url);
      assert.equal(at.pathname, '/error');
      assert.equal(at.searchParams.get('error'), 'redirect_mismatch');
      assert.equal((await page.textContent('#errorCode')).trim(), 'redirect_mismatch');
      assert.equal(app.requests.length, before, 'the app heard from an untrusted redirect');
      assertNoErrors(handle);
    });

    test('an unknown scope: back at the callback with error=invalid_scope and the state', async () => {
      const { page } = handle;
      const req = await authRequest(config, app, { scope: 'openid orders/nonexistent' });
      await page.goto(req.url.href);
      const callbackUrl = await landedAt(page, app);
      assert.equal(callbackUrl.searchParams.get('error'), 'invalid_scope');
      assert.equal(callbackUrl.searchParams.get('state'), req.state);
      assert.equal(callbackUrl.searchParams.get('code'), null);
      assert.equal(app.last('/callback').error, 'invalid_scope');
      // The library reads the same answer as an authorization error.
      await assert.rejects(exchange(config, callbackUrl, req), (e) => {
        assert.ok(e instanceof oidc.AuthorizationResponseError, String(e));
        assert.equal(e.error, 'invalid_scope');
        return true;
      });
      assertNoErrors(handle);
    });

    test('logout clears the session: the form shows again; prompt=none is login_required', async () => {
      const { page } = handle;
      const logout = new URL(`${server.url}/logout`);
      logout.search = new URLSearchParams({ client_id: pool.clientId, logout_uri: app.signedOut }).toString();
      await page.goto(logout.href);
      await landedAt(page, app, '/signed-out');
      assert.ok(app.last('/signed-out'));

      const none = await authRequest(config, app, { prompt: 'none' });
      await page.goto(none.url.href);
      const callbackUrl = await landedAt(page, app);
      assert.equal(callbackUrl.searchParams.get('error'), 'login_required');
      assert.equal(callbackUrl.searchParams.get('state'), none.state);
      assert.equal(callbackUrl.searchParams.get('code'), null);

      const req = await authRequest(config, app);
      await page.goto(req.url.href);
      await page.waitForSelector('#signInFormUsername');
      assert.equal(new URL(page.url()).pathname, '/login');
      assertNoErrors(handle);
    });

    test('a confidential client with the default ExplicitAuthFlows (none given) signs in on the hosted page', async () => {
      const { UserPoolClient } = await api(server.url, 'CreateUserPoolClient', {
        ...webClient(pool.poolId, app, 'web-defaults'),
        GenerateSecret: true,
      });
      assert.equal(UserPoolClient.ExplicitAuthFlows, undefined);
      const confidential = await discover(
        pool,
        UserPoolClient.ClientId,
        oidc.ClientSecretBasic(UserPoolClient.ClientSecret),
      );
      const fresh = await openPage(browser, { contextOptions: VIEWPORT });
      try {
        const req = await authRequest(confidential, app);
        await fresh.page.goto(req.url.href);
        await submitSignIn(fresh.page, 'alice', PASSWORD);
        const callbackUrl = await landedAt(fresh.page, app);
        const tokens = await exchange(confidential, callbackUrl, req);
        assert.equal(tokens.claims()['cognito:username'], 'alice');
        assertNoErrors(fresh);
      } finally {
        await fresh.close();
      }
    });

    describe('client_credentials, a confidential client', () => {
      let m2m;
      before(async () => {
        m2m = await discover(pool, pool.m2mId, oidc.ClientSecretBasic(pool.m2mSecret));
      });

      test('openid-client: a token for the client, without a user', async () => {
        const tokens = await oidc.clientCredentialsGrant(m2m, { scope: 'orders/read orders/write' });
        assert.equal(tokens.id_token, undefined);
        assert.equal(tokens.refresh_token, undefined);
        const access = jwtPayload(tokens.access_token);
        assert.equal(access.sub, pool.m2mId);
        assert.equal(access.client_id, pool.m2mId);
        assert.equal(access.username, undefined);
        assert.equal(access.token_use, 'access');
        assert.equal(access.iss, pool.issuer);
        assert.deepEqual(access.scope.split(' ').sort(), ['orders/read', 'orders/write']);
        await assert.rejects(api(server.url, 'GetUser', { AccessToken: tokens.access_token }), (e) => {
          assert.equal(e.code, 'NotAuthorizedException');
          return true;
        });
      });

      test('plain fetch with HTTP Basic; scopes the client lacks are dropped, unknown ones refused', async () => {
        const all = await basicToken(server.url, pool.m2mId, pool.m2mSecret, { grant_type: 'client_credentials' });
        assert.equal(all.status, 200, JSON.stringify(all.body));
        assert.equal(all.body.token_type, 'Bearer');
        assert.equal(typeof all.body.expires_in, 'number');
        assert.deepEqual(jwtPayload(all.body.access_token).scope.split(' ').sort(), ['orders/read', 'orders/write']);

        const dropped = await basicToken(server.url, pool.m2mId, pool.m2mSecret, {
          grant_type: 'client_credentials',
          scope: 'orders/read orders/admin',
        });
        assert.equal(dropped.status, 200, JSON.stringify(dropped.body));
        assert.equal(jwtPayload(dropped.body.access_token).scope, 'orders/read');

        const unknown = await basicToken(server.url, pool.m2mId, pool.m2mSecret, {
          grant_type: 'client_credentials',
          scope: 'orders/read orders/nonexistent',
        });
        assert.equal(unknown.status, 400);
        assert.equal(unknown.body.error, 'invalid_scope');
        await rejectsWith(oidc.clientCredentialsGrant(m2m, { scope: 'orders/nonexistent' }), 'invalid_scope');

        const wrongSecret = await basicToken(server.url, pool.m2mId, 'not-the-secret', { grant_type: 'client_credentials' });
        assert.equal(wrongSecret.body.error, 'invalid_client');
      });
    });
  });

  describe('triggers: V3_0 PreTokenGeneration and PreAuthentication', () => {
    let pool;

    before(async () => {
      pool = await oauthPool(server.url, app, 'triggers', {
        LambdaConfig: {
          PreTokenGenerationConfig: { LambdaArn: ARN('pre-token'), LambdaVersion: 'V3_0' },
          PreAuthentication: ARN('pre-auth'),
        },
      });
      await confirmedUser(server.url, pool.poolId, 'carol', 'carol@example.com');
      await confirmedUser(server.url, pool.poolId, 'suspended-sam', 'sam@example.com');
    });

    test('client_credentials: the claim is added; TokenGeneration_ClientCredentials, userName ClientCredentials', async () => {
      const m2m = await discover(pool, pool.m2mId, oidc.ClientSecretBasic(pool.m2mSecret));
      const tokens = await oidc.clientCredentialsGrant(m2m, { scope: 'orders/read' });
      const access = jwtPayload(tokens.access_token);
      assert.equal(access.tenant, 'acme');
      assert.equal(access.issued_by, 'TokenGeneration_ClientCredentials');
      const [inv] = await invocations(server.url, pool.poolId, 'TokenGeneration_ClientCredentials');
      assert.ok(inv, 'no TokenGeneration_ClientCredentials invocation logged');
      assert.equal(inv.functionName, 'pre-token');
      assert.equal(inv.error, null);
      assert.equal(inv.event.version, '3');
      assert.equal(inv.event.userName, 'ClientCredentials');
      assert.equal(inv.event.callerContext.clientId, pool.m2mId);
      assert.deepEqual(inv.event.request.scopes, ['orders/read']);
    });

    test('hosted sign-in: the claim is in the code’s access token; TokenGeneration_HostedAuth with the granted scopes', async () => {
      const config = await discover(pool, pool.clientId);
      const handle = await openPage(browser, { contextOptions: VIEWPORT });
      try {
        const req = await authRequest(config, app, { scope: 'openid email orders/read' });
        await handle.page.goto(req.url.href);
        await submitSignIn(handle.page, 'carol', PASSWORD);
        const callbackUrl = await landedAt(handle.page, app);
        const tokens = await exchange(config, callbackUrl, req);
        const access = jwtPayload(tokens.access_token);
        assert.equal(access.tenant, 'acme');
        assert.equal(access.issued_by, 'TokenGeneration_HostedAuth');
        assert.equal(access.username, 'carol');
        assert.equal(tokens.claims()['cognito:username'], 'carol');
        const [inv] = await invocations(server.url, pool.poolId, 'TokenGeneration_HostedAuth');
        assert.ok(inv, 'no TokenGeneration_HostedAuth invocation logged');
        assert.equal(inv.event.userName, 'carol');
        assert.equal(inv.event.callerContext.clientId, pool.clientId);
        assert.deepEqual([...inv.event.request.scopes].sort(), ['email', 'openid', 'orders/read']);
        const [pre] = await invocations(server.url, pool.poolId, 'PreAuthentication_Authentication');
        assert.equal(pre?.event.userName, 'carol');
        assertNoErrors(handle);
      } finally {
        await handle.close();
      }
    });

    test('PreAuthentication refuses a user: the sign-in page shows the trigger’s message', async () => {
      const config = await discover(pool, pool.clientId);
      const handle = await openPage(browser, { contextOptions: VIEWPORT });
      try {
        const req = await authRequest(config, app);
        await handle.page.goto(req.url.href);
        await submitSignIn(handle.page, 'suspended-sam', PASSWORD);
        const message = (await handle.page.textContent('#loginErrorMessage')).trim();
        assert.match(message, /This account is suspended\./);
        assert.match(message, /^PreAuthentication failed with error /);
        assert.equal(new URL(handle.page.url()).pathname, '/login');
        assert.equal(await handle.page.inputValue('#signInFormUsername'), 'suspended-sam');
        const [inv] = await invocations(server.url, pool.poolId, 'PreAuthentication_Authentication');
        assert.equal(inv.event.userName, 'suspended-sam');
        assert.equal(inv.error?.message, 'This account is suspended.');
        assertNoErrors(handle);
      } finally {
        await handle.close();
      }
    });
  });

  describe('challenges on the hosted page', () => {
    let pool;
    let config;

    before(async () => {
      pool = await oauthPool(server.url, app, 'challenges');
      await api(server.url, 'SetUserPoolMfaConfig', {
        UserPoolId: pool.poolId,
        MfaConfiguration: 'OPTIONAL',
        SoftwareTokenMfaConfiguration: { Enabled: true },
      });
      config = await discover(pool, pool.clientId);
    });

    test('authenticator-app MFA: a wrong code is shown and may be retried, the right one signs in', async () => {
      await confirmedUser(server.url, pool.poolId, 'tia', 'tia@example.com');
      const { AuthenticationResult } = await api(server.url, 'AdminInitiateAuth', {
        UserPoolId: pool.poolId,
        ClientId: pool.clientId,
        AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
        AuthParameters: { USERNAME: 'tia', PASSWORD },
      });
      const AccessToken = AuthenticationResult.AccessToken;
      const { SecretCode } = await api(server.url, 'AssociateSoftwareToken', { AccessToken });
      assert.deepEqual(await api(server.url, 'VerifySoftwareToken', { AccessToken, UserCode: totp(SecretCode) }), {
        Status: 'SUCCESS',
      });
      await api(server.url, 'SetUserMFAPreference', {
        AccessToken,
        SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true },
      });

      const handle = await openPage(browser, { contextOptions: VIEWPORT });
      const { page } = handle;
      try {
        const req = await authRequest(config, app);
        await page.goto(req.url.href);
        await submitSignIn(page, 'tia', PASSWORD);
        await page.waitForSelector('#code');
        assert.equal((await page.textContent('h1')).trim(), 'Multi-factor authentication');
        await screenshot(page, join(SCREENSHOTS, 'hosted-mfa.png'));

        // The code verification used is spent, and this one is simply wrong.
        const wrong = String((Number(totp(SecretCode)) + 500_000) % 1_000_000).padStart(6, '0');
        await page.fill('#code', wrong);
        await submitChallenge(page);
        await page.waitForSelector('.errorMessage-customizable');
        assert.match(await page.textContent('.errorMessage-customizable'), /Invalid code/i);
        assert.ok(await page.isVisible('#code'), 'no code field to try again');

        await page.fill('#code', totp(SecretCode, 1));
        await submitChallenge(page);
        const callbackUrl = await landedAt(page, app);
        const tokens = await exchange(config, callbackUrl, req);
        assert.equal(tokens.claims()['cognito:username'], 'tia');
        assertNoErrors(handle);
      } finally {
        await handle.close();
      }
    });

    test('NEW_PASSWORD_REQUIRED: an admin-created user changes the temporary password, then the callback', async () => {
      await api(server.url, 'AdminCreateUser', {
        UserPoolId: pool.poolId,
        Username: 'newbie',
        TemporaryPassword: 'Temporary-pass-1',
        MessageAction: 'SUPPRESS',
        UserAttributes: [
          { Name: 'email', Value: 'newbie@example.com' },
          { Name: 'email_verified', Value: 'true' },
        ],
      });
      const handle = await openPage(browser, { contextOptions: VIEWPORT });
      const { page } = handle;
      try {
        const req = await authRequest(config, app);
        await page.goto(req.url.href);
        await submitSignIn(page, 'newbie', 'Temporary-pass-1');
        await page.waitForSelector('#new_password');
        assert.equal((await page.textContent('h1')).trim(), 'Change your password');

        // Two different passwords are refused on the page itself.
        await page.fill('#new_password', 'Brand-new-pass-1');
        await page.fill('#confirm_password', 'Brand-new-pass-2');
        await submitChallenge(page);
        await page.waitForSelector('.errorMessage-customizable');
        assert.match(await page.textContent('.errorMessage-customizable'), /do not match/);

        await page.fill('#new_password', 'Brand-new-pass-1');
        await page.fill('#confirm_password', 'Brand-new-pass-1');
        await submitChallenge(page);
        const callbackUrl = await landedAt(page, app);
        const tokens = await exchange(config, callbackUrl, req);
        assert.equal(tokens.claims()['cognito:username'], 'newbie');
        const user = await api(server.url, 'AdminGetUser', { UserPoolId: pool.poolId, Username: 'newbie' });
        assert.equal(user.UserStatus, 'CONFIRMED');
        assertNoErrors(handle);
      } finally {
        await handle.close();
      }
    });
  });

});
