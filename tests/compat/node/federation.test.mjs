// OIDC federation: a pool federated with a real, certified OpenID provider (oidc-provider, running
// in this process), and a person signing in through it in Debian's Chromium: cognate's
// /oauth2/authorize sends the browser to the IdP, the IdP's own login and consent pages are filled
// in, the IdP sends the browser back to cognate's /oauth2/idpresponse, and cognate, having redeemed
// the IdP's code (client_secret_post) and read the person's claims, ends at the app's callback with
// a code of its own. Also: an InboundFederation function (node) that adds an attribute the mapping
// cannot give, a PreSignUp function (python) that sees PreSignUp_ExternalProvider once per new
// federated user, claims re-mapped on the next sign-in, idp_identifier routing,
// AdminLinkProviderForUser / AdminDisableProviderForUser, and the errors for an unknown provider
// and one the app client does not support. Handlers are in fixtures/federation.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import Provider from 'oidc-provider';

import { assertNoErrors, launchBrowser, openPage } from './browser.mjs';
import { api, jwtPayload, startApp, startServer } from './helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = resolve(here, 'fixtures/federation');
const ARN = (name) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
const PASSWORD = 'Correct-horse-1';

/** The people the IdP knows, by subject; a test may change a claim between sign-ins. */
const PEOPLE = {
  'emp-7': { email: 'kim@corp.example', email_verified: true, name: 'Kim Lee', department: 'Sales' },
  'emp-8': { email: 'sam@corp.example', email_verified: true, name: 'Sam Ortiz', department: 'Ops' },
  'emp-9': { email: 'lee@corp.example', email_verified: true, name: 'Lee Wong', department: 'Legal' },
  'emp-10': { email: 'ash@corp.example', email_verified: true, name: 'Ash Park', department: 'blocked' },
};

/**
 * The external IdP: oidc-provider at http://localhost:<port> (the issuer is exactly that), with one
 * confidential client for cognate and an in-memory account store. Its development interactions
 * are the login form (any login is taken as the account id) and the consent form. `calls` records
 * the requests that did not come from the browser (cognate's discovery, token, userinfo, JWKS).
 */
async function startIdp(redirectUris) {
  const server = createServer();
  // No host: the dual-stack wildcard, so "localhost" answers on ::1 and 127.0.0.1 alike, for the
  // browser and for cognate.
  await new Promise((ok) => server.listen(0, ok));
  const origin = `http://localhost:${server.address().port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const provider = new Provider(origin, {
    clients: [
      {
        client_id: 'cognate',
        client_secret: 'cognate-secret',
        redirect_uris: redirectUris,
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    // A key of our own: without one oidc-provider signs with a development key and says so.
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'idp-signing', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'department'] },
    findAccount: (_ctx, id) =>
      PEOPLE[id] && { accountId: id, claims: async () => ({ sub: id, ...PEOPLE[id] }) },
    // Cognito sends no PKCE to an IdP. (oidc-provider demands it only of public clients by
    // default; said here so that a change of that default cannot break the test.)
    pkce: { required: () => false },
    // Lifetimes of our own, in seconds: the defaults work too, but say so on every use.
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
    features: { devInteractions: { enabled: true } },
  });
  provider.proxy = false;
  const calls = [];
  provider.use(async (ctx, next) => {
    if (!/HeadlessChrome|Chrome\//.test(ctx.get('user-agent'))) calls.push({ method: ctx.method, path: ctx.path });
    await next();
  });
  server.on('request', provider.callback());
  return { origin, calls, stop: () => new Promise((ok) => server.close(ok)) };
}

/** What cognate's invocation log holds for a pool (newest first), optionally of one source. */
async function invocations(url, poolId, triggerSource) {
  const q = new URLSearchParams({ poolId, ...(triggerSource ? { triggerSource } : {}) });
  const res = await fetch(`${url}/_cognate/invocations?${q}`);
  assert.equal(res.status, 200);
  return (await res.json()).invocations;
}

/** A user's attributes from AdminGetUser as an object. */
const attributesOf = (user) => Object.fromEntries(user.UserAttributes.map((a) => [a.Name, a.Value]));

describe('OIDC federation with oidc-provider, signed in through Chromium', () => {
  let server;
  let app;
  let idp;
  let browser;
  let configDir;
  let poolId;
  let clientId;

  before(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'cognate-federation-'));
    const toml = join(configDir, 'cognate.toml');
    writeFileSync(
      toml,
      [
        '[functions.inbound-federation]',
        'runtime = "node"',
        `handler = ${JSON.stringify(join(FIXTURES, 'inbound_federation.handler'))}`,
        '',
        '[functions.pre-sign-up]',
        'runtime = "python"',
        `handler = ${JSON.stringify(join(FIXTURES, 'pre_sign_up.handler'))}`,
        '',
        '[functions.sign-in-events]',
        'runtime = "node"',
        `handler = ${JSON.stringify(join(FIXTURES, 'sign_in_events.handler'))}`,
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
    // The IdP needs cognate's port for its client's redirect URI. Both spellings of the loopback
    // host are registered: cognate may name itself by its public URL (127.0.0.1 here) or by the
    // Host it was reached at; the test checks which one it sends.
    idp = await startIdp([
      `${server.url}/oauth2/idpresponse`,
      `http://localhost:${server.port}/oauth2/idpresponse`,
    ]);

    const { UserPool } = await api(server.url, 'CreateUserPool', {
      PoolName: 'federation',
      Schema: [{ Name: 'dept', AttributeDataType: 'String', Mutable: true }],
    });
    poolId = UserPool.Id;
    await api(server.url, 'UpdateUserPool', {
      UserPoolId: poolId,
      LambdaConfig: {
        PreSignUp: ARN('pre-sign-up'),
        InboundFederation: { LambdaVersion: 'V1_0', LambdaArn: ARN('inbound-federation') },
        PostConfirmation: ARN('sign-in-events'),
        PreAuthentication: ARN('sign-in-events'),
        PostAuthentication: ARN('sign-in-events'),
      },
    });
    await api(server.url, 'CreateUserPoolDomain', {
      UserPoolId: poolId,
      Domain: `federation-${randomBytes(4).toString('hex')}`,
    });
    await api(server.url, 'CreateIdentityProvider', {
      UserPoolId: poolId,
      ProviderName: 'Corp',
      ProviderType: 'OIDC',
      ProviderDetails: {
        client_id: 'cognate',
        client_secret: 'cognate-secret',
        authorize_scopes: 'openid email profile',
        attributes_request_method: 'GET',
        oidc_issuer: idp.origin,
      },
      AttributeMapping: { email: 'email', email_verified: 'email_verified', name: 'name' },
    });
    // A second provider that the app client does not list: signing in through it is refused. Its
    // client id is unknown to the IdP, so a wrong redirect could not sign anyone in either.
    await api(server.url, 'CreateIdentityProvider', {
      UserPoolId: poolId,
      ProviderName: 'Other',
      ProviderType: 'OIDC',
      ProviderDetails: {
        client_id: 'not-registered',
        client_secret: 'nothing',
        authorize_scopes: 'openid',
        attributes_request_method: 'GET',
        oidc_issuer: idp.origin,
      },
    });
    const { UserPoolClient } = await api(server.url, 'CreateUserPoolClient', {
      UserPoolId: poolId,
      ClientName: 'web',
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthScopes: ['openid', 'email', 'profile'],
      CallbackURLs: [app.callback],
      SupportedIdentityProviders: ['COGNITO', 'Corp'],
    });
    clientId = UserPoolClient.ClientId;
  });

  after(async () => {
    await browser?.close();
    await idp?.stop();
    await app?.stop();
    await server?.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  /** cognate's /oauth2/authorize for the web client with `extra` (identity_provider=… and so on). */
  function authorizeUrl(state, extra) {
    const u = new URL(`${server.url}/oauth2/authorize`);
    u.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: app.callback,
      scope: 'openid email profile',
      state,
      ...extra,
    }).toString();
    return u.href;
  }

  /**
   * A fresh browser context (so no IdP session skips its login form) whose requests to hosts off
   * this machine are answered empty: the IdP's development pages @import a web font, and the test
   * reaches nothing outside. Records the authorization requests that reach the IdP.
   */
  async function freshPage() {
    const handle = await openPage(browser);
    await handle.context.route(
      (u) => !['localhost', '127.0.0.1', '[::1]'].includes(u.hostname),
      (route) => route.fulfill({ status: 200, contentType: 'text/css', body: '' }),
    );
    handle.idpAuthorizations = [];
    handle.page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.origin === idp.origin && u.pathname === '/auth') handle.idpAuthorizations.push(u);
    });
    return handle;
  }

  /**
   * assertNoErrors for cognate's pages. The IdP's development pages are not cognate's, so what the
   * browser reports at the IdP's origin (a console message located there, a request to it) is left
   * out; anything else, cognate's pages and the app's, still fails the test.
   */
  function assertNoCognateErrors(handle) {
    const atIdp = (entry) => {
      const located = /\((\S+):\d+\)$/.exec(entry)?.[1] ?? /^requestfailed: \S+ (\S+): /.exec(entry)?.[1];
      return located !== undefined && located.startsWith(`${idp.origin}/`);
    };
    assertNoErrors({ errors: () => handle.errors().filter((e) => !atIdp(e)) });
  }

  /** Waits until the page is at the app's callback; cognate's /error page, or no callback, says why. */
  async function landedAtCallback(page) {
    const there = (u) => u.href.startsWith(app.callback);
    const refused = (u) => u.origin === server.url && u.pathname === '/error';
    try {
      await page.waitForURL((u) => there(u) || refused(u), { timeout: 10_000 });
    } catch (e) {
      throw new Error(`never at the callback; at ${page.url()}`, { cause: e });
    }
    if (refused(new URL(page.url()))) {
      const said = (await page.textContent('body')).trim().replace(/\s+/g, ' ').slice(0, 300);
      throw new Error(`cognate's error page instead of the callback: ${page.url()}: ${said}`);
    }
    return new URL(page.url());
  }

  /** Waits for one of the IdP's forms; if it never shows, says where the browser is instead. */
  async function idpForm(page, prompt) {
    try {
      await page.waitForSelector(`input[name=prompt][value=${prompt}]`, { state: 'attached', timeout: 10_000 });
    } catch (e) {
      const body = (await page.textContent('body').catch(() => '')).trim().replace(/\s+/g, ' ').slice(0, 300);
      throw new Error(`no ${prompt} form of the IdP; at ${page.url()}: ${body}`, { cause: e });
    }
    assert.equal(new URL(page.url()).origin, idp.origin, `the ${prompt} form is not the IdP's: ${page.url()}`);
  }

  /**
   * The whole federated sign-in as `login`: cognate's authorize URL with `extra`, the IdP's login
   * and consent pages, back through /oauth2/idpresponse to the app's callback, in `handle` (from
   * freshPage). Returns the callback URL, the app's state and the authorization request the IdP got.
   */
  async function federatedSignIn(handle, login, extra = { identity_provider: 'Corp' }) {
    const { page } = handle;
    const state = randomBytes(12).toString('hex');
    await page.goto(authorizeUrl(state, extra));
    // The IdP's login form: the "login" field is the account id, any password does.
    await idpForm(page, 'login');
    await page.fill('input[name=login]', login);
    await page.fill('input[name=password]', 'anything');
    await page.click('button[type=submit]');
    // The consent form, then a chain of redirects ending at the app.
    await idpForm(page, 'consent');
    await page.click('button[type=submit]');
    const callbackUrl = await landedAtCallback(page);
    return { callbackUrl, state, idpAuthorization: handle.idpAuthorizations[0] };
  }

  /** POST /oauth2/token for a code, by hand (public client, no PKCE was sent). */
  async function redeem(code) {
    const res = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: app.callback }),
    });
    const body = await res.json();
    assert.equal(res.status, 200, `POST /oauth2/token → ${res.status} ${JSON.stringify(body)}`);
    return body;
  }

  /** Signs `login` in through Corp in a fresh context and returns the ID token's claims. */
  async function signInForClaims(login, extra) {
    const handle = await freshPage();
    try {
      const { callbackUrl, state } = await federatedSignIn(handle, login, extra);
      assert.equal(callbackUrl.searchParams.get('error'), null, callbackUrl.href);
      assert.equal(callbackUrl.searchParams.get('state'), state);
      const tokens = await redeem(callbackUrl.searchParams.get('code'));
      assertNoCognateErrors(handle);
      return jwtPayload(tokens.id_token);
    } finally {
      await handle.close();
    }
  }

  const preSignUps = async (userName) =>
    (await invocations(server.url, poolId, 'PreSignUp_ExternalProvider')).filter((i) => i.event.userName === userName);

  test('identity_provider=Corp: the IdP’s login and consent, then the callback; tokens for Corp_emp-7', async () => {
    const handle = await freshPage();
    try {
      const { callbackUrl, state, idpAuthorization } = await federatedSignIn(handle, 'emp-7');

      // The authorization request cognate sent the browser with to the IdP.
      assert.ok(idpAuthorization, 'the browser never reached the IdP’s authorization endpoint');
      const q = idpAuthorization.searchParams;
      assert.equal(q.get('client_id'), 'cognate');
      assert.equal(q.get('response_type'), 'code');
      assert.equal(q.get('redirect_uri'), `${server.url}/oauth2/idpresponse`);
      assert.deepEqual(q.get('scope').split(' ').sort(), ['email', 'openid', 'profile']);
      assert.ok(q.get('state'), 'no state towards the IdP');
      assert.notEqual(q.get('state'), state, 'the app’s own state was handed to the IdP');

      // Back at the app with cognate's code and the app's state.
      assert.equal(callbackUrl.searchParams.get('error'), null, callbackUrl.href);
      assert.equal(callbackUrl.searchParams.get('state'), state);
      const code = callbackUrl.searchParams.get('code');
      assert.ok(code, `no code: ${callbackUrl.href}`);

      // cognate talked to the IdP itself: discovery, the token endpoint, userinfo with GET.
      const calls = idp.calls.map((c) => `${c.method} ${c.path}`);
      assert.ok(calls.includes('GET /.well-known/openid-configuration'), calls.join(', '));
      assert.ok(calls.includes('POST /token'), calls.join(', '));
      assert.ok(calls.includes('GET /me'), `attributes_request_method GET, yet: ${calls.join(', ')}`);

      const tokens = await redeem(code);
      const claims = jwtPayload(tokens.id_token);
      assert.equal(claims['cognito:username'], 'Corp_emp-7');
      assert.equal(claims.email, 'kim@corp.example');
      assert.equal(claims.name, 'Kim Lee');
      assert.equal(claims['custom:dept'], 'SALES');
      assert.equal(claims.aud, clientId);
      assert.ok(Array.isArray(claims.identities), `identities: ${JSON.stringify(claims.identities)}`);
      assert.equal(claims.identities.length, 1);
      const [identity] = claims.identities;
      assert.equal(identity.providerName, 'Corp');
      assert.equal(identity.providerType, 'OIDC');
      assert.equal(identity.userId, 'emp-7');
      assert.equal(identity.primary, 'true');
      assert.equal(typeof identity.dateCreated, 'string');
      assert.equal(jwtPayload(tokens.access_token).username, 'Corp_emp-7');
      assertNoCognateErrors(handle);
    } finally {
      await handle.close();
    }
  });

  test('AdminGetUser Corp_emp-7: EXTERNAL_PROVIDER, identities as a JSON string, the mapped and added attributes', async () => {
    const user = await api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: 'Corp_emp-7' });
    assert.equal(user.Username, 'Corp_emp-7');
    assert.equal(user.UserStatus, 'EXTERNAL_PROVIDER');
    assert.equal(user.Enabled, true);
    const attrs = attributesOf(user);
    assert.equal(attrs.email, 'kim@corp.example');
    assert.equal(attrs.email_verified, 'true');
    assert.equal(attrs.name, 'Kim Lee');
    assert.equal(attrs['custom:dept'], 'SALES');
    assert.equal(typeof attrs.identities, 'string');
    const identities = JSON.parse(attrs.identities);
    assert.equal(identities.length, 1);
    assert.deepEqual(
      { userId: identities[0].userId, providerName: identities[0].providerName, providerType: identities[0].providerType, primary: identities[0].primary },
      { userId: 'emp-7', providerName: 'Corp', providerType: 'OIDC', primary: 'true' },
    );
  });

  /** The InboundFederation invocations for an IdP subject's sign-ins, oldest first. */
  const inboundFor = async (sub) =>
    (await invocations(server.url, poolId, 'InboundFederation_ExternalProvider'))
      .filter((i) => i.event.request?.attributes?.idToken?.sub === sub || i.event.request?.attributes?.userInfo?.sub === sub)
      .reverse();

  test('PreSignUp_ExternalProvider (python) ran once, for Corp_emp-7 with the mapped attributes', async () => {
    const pre = await preSignUps('Corp_emp-7');
    assert.equal(pre.length, 1, JSON.stringify(pre.map((i) => i.event)));
    assert.equal(pre[0].runtime, 'python');
    assert.equal(pre[0].error, null, JSON.stringify(pre[0].error));
    assert.equal(pre[0].event.triggerSource, 'PreSignUp_ExternalProvider');
    assert.equal(pre[0].event.request.userAttributes.email, 'kim@corp.example');
  });

  test('InboundFederation (node) got providerName, providerType OIDC and the IdP’s ID token and userInfo claims', async () => {
    const [first] = await inboundFor('emp-7');
    assert.ok(first, 'no InboundFederation invocation for emp-7');
    const { event, error, runtime } = first;
    assert.equal(runtime, 'node');
    assert.equal(error, null, JSON.stringify(error));
    assert.equal(event.triggerSource, 'InboundFederation_ExternalProvider');
    assert.equal(event.request.providerName, 'Corp');
    assert.equal(event.request.providerType, 'OIDC');
    const { tokenResponse, idToken, userInfo } = event.request.attributes;
    assert.equal(tokenResponse?.token_type?.toLowerCase(), 'bearer', JSON.stringify(tokenResponse));
    // oidc-provider's ID token of the code flow carries sub and the protocol claims; the profile
    // claims come from its userInfo endpoint.
    assert.equal(idToken.sub, 'emp-7');
    assert.equal(idToken.iss, idp.origin);
    assert.equal(idToken.aud, 'cognate');
    assert.equal(userInfo.sub, 'emp-7');
    assert.equal(userInfo.email, 'kim@corp.example');
    assert.equal(userInfo.name, 'Kim Lee');
    assert.equal(userInfo.department, 'Sales');
  });

  // Cognito's guide: attributes.tokenResponse "contains access_token, id_token, refresh_token,
  // token_type, expires_in, and scope" of the IdP's token answer.
  test('InboundFederation’s tokenResponse holds the IdP’s access_token and id_token', async () => {
    // The function prints the keys it got (fixtures/federation/inbound_federation.mjs), so this
    // reads what reached it, not only what the invocation log shows.
    const [first] = await inboundFor('emp-7');
    assert.ok(first, 'no InboundFederation invocation for emp-7');
    const printed = /tokenResponse keys: (.*)/.exec(first.logs)?.[1]?.split(' ') ?? [];
    for (const key of ['access_token', 'id_token', 'token_type', 'expires_in', 'scope']) {
      assert.ok(printed.includes(key), `the function's tokenResponse has no ${key}: ${printed.join(' ')}`);
    }
    // The invocation log keeps the event for people to read, without the provider's tokens.
    const kept = first.event?.request?.attributes?.tokenResponse ?? {};
    assert.equal(kept.access_token, '<redacted>');
    assert.equal(kept.id_token, '<redacted>');
  });

  test('a second sign-in maps the IdP’s changed name; PreSignUp does not run again', async () => {
    PEOPLE['emp-7'].name = 'Kim Park';
    const claims = await signInForClaims('emp-7');
    assert.equal(claims['cognito:username'], 'Corp_emp-7');
    assert.equal(claims.name, 'Kim Park');
    const user = await api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: 'Corp_emp-7' });
    assert.equal(attributesOf(user).name, 'Kim Park');
    assert.equal((await preSignUps('Corp_emp-7')).length, 1);
  });

  test('idp_identifier=corp.example after UpdateIdentityProvider adds it: the same provider, the same user', async () => {
    const { IdentityProvider } = await api(server.url, 'UpdateIdentityProvider', {
      UserPoolId: poolId,
      ProviderName: 'Corp',
      IdpIdentifiers: ['corp.example'],
    });
    assert.deepEqual(IdentityProvider.IdpIdentifiers, ['corp.example']);
    const claims = await signInForClaims('emp-7', { idp_identifier: 'corp.example' });
    assert.equal(claims['cognito:username'], 'Corp_emp-7');
    assert.equal((await preSignUps('Corp_emp-7')).length, 1);
  });

  test('AdminLinkProviderForUser: emp-8 signs in as native-user; AdminDisableProviderForUser undoes it', async () => {
    await api(server.url, 'AdminCreateUser', {
      UserPoolId: poolId,
      Username: 'native-user',
      MessageAction: 'SUPPRESS',
      UserAttributes: [{ Name: 'email', Value: 'native@example.com' }],
    });
    await api(server.url, 'AdminSetUserPassword', { UserPoolId: poolId, Username: 'native-user', Password: PASSWORD, Permanent: true });
    const source = { ProviderName: 'Corp', ProviderAttributeName: 'Cognito_Subject', ProviderAttributeValue: 'emp-8' };
    await api(server.url, 'AdminLinkProviderForUser', {
      UserPoolId: poolId,
      DestinationUser: { ProviderName: 'Cognito', ProviderAttributeValue: 'native-user' },
      SourceUser: source,
    });

    const linked = await signInForClaims('emp-8');
    assert.equal(linked['cognito:username'], 'native-user');
    assert.ok(
      (linked.identities ?? []).some((i) => i.providerName === 'Corp' && i.userId === 'emp-8'),
      `identities: ${JSON.stringify(linked.identities)}`,
    );
    await assert.rejects(api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: 'Corp_emp-8' }), (e) => {
      assert.equal(e.code, 'UserNotFoundException');
      return true;
    });
    assert.equal((await preSignUps('Corp_emp-8')).length, 0);

    await api(server.url, 'AdminDisableProviderForUser', { UserPoolId: poolId, User: source });
    const unlinked = await signInForClaims('emp-8');
    assert.equal(unlinked['cognito:username'], 'Corp_emp-8');
    const user = await api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: 'Corp_emp-8' });
    assert.equal(user.UserStatus, 'EXTERNAL_PROVIDER');
    assert.equal(attributesOf(user)['custom:dept'], 'OPS');
    assert.equal((await preSignUps('Corp_emp-8')).length, 1);
  });

  /**
   * Opens cognate's authorize URL with `extra` and expects a refusal before the IdP is involved:
   * cognate's /error page, or the app's callback with error=invalid_request and the state.
   * Returns which of the two it was.
   */
  async function expectRefused(t, extra) {
    const handle = await freshPage();
    try {
      const { page } = handle;
      const state = randomBytes(12).toString('hex');
      const heard = app.requests.length;
      await page.goto(authorizeUrl(state, extra));
      await page.waitForURL(
        (u) => (u.origin === server.url && u.pathname === '/error') || u.href.startsWith(app.callback) || u.origin === idp.origin,
        { timeout: 10_000 },
      );
      const at = new URL(page.url());
      assert.notEqual(at.origin, idp.origin, `sent to the IdP: ${page.url()}`);
      assert.equal(handle.idpAuthorizations.length, 0, 'the IdP got an authorization request');
      let landed;
      if (at.pathname === '/error') {
        landed = `cognate's /error page (${at.search || 'no query'})`;
        assert.equal(app.requests.length, heard, 'the app heard from a refused request');
      } else {
        landed = `the app's callback (${at.search})`;
        assert.equal(at.searchParams.get('error'), 'invalid_request');
        assert.equal(at.searchParams.get('state'), state);
        assert.equal(at.searchParams.get('code'), null);
      }
      t.diagnostic(`landed at ${landed}`);
      assertNoCognateErrors(handle);
      return landed;
    } finally {
      await handle.close();
    }
  }

  test('a native user who took the name Corp_emp-9 does not receive emp-9’s federated sign-in', async () => {
    await api(server.url, 'AdminCreateUser', { UserPoolId: poolId, Username: 'Corp_emp-9', MessageAction: 'SUPPRESS' });
    const handle = await freshPage();
    try {
      const { callbackUrl, state } = await federatedSignIn(handle, 'emp-9');
      assert.equal(callbackUrl.searchParams.get('error'), 'invalid_request', callbackUrl.href);
      assert.equal(callbackUrl.searchParams.get('code'), null);
      assert.equal(callbackUrl.searchParams.get('state'), state);
      assertNoCognateErrors(handle);
    } finally {
      await handle.close();
    }
    const user = await api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: 'Corp_emp-9' });
    assert.equal(user.UserStatus, 'FORCE_CHANGE_PASSWORD');
  });

  test('PostConfirmation once for the new Corp_emp-7; PreAuthentication and PostAuthentication at every sign-in', async () => {
    const of = async (source) =>
      (await invocations(server.url, poolId, source)).filter((i) => i.event.userName === 'Corp_emp-7');
    const confirmed = await of('PostConfirmation_ConfirmSignUp');
    assert.equal(confirmed.length, 1, 'PostConfirmation runs when the federated user is made, only then');
    assert.equal(confirmed[0].event.request.userAttributes.email, 'kim@corp.example');
    const signIns = (await of('InboundFederation_ExternalProvider')).length;
    assert.ok(signIns >= 2, `emp-7 signed in ${signIns} times so far`);
    assert.equal((await of('PreAuthentication_Authentication')).length, signIns);
    const post = await of('PostAuthentication_Authentication');
    assert.equal(post.length, signIns);
    assert.equal(post[0].event.request.userAttributes['cognito:user_status'], 'EXTERNAL_PROVIDER');
  });

  test('a PreAuthentication refusal reaches the app as an error, with no code', async () => {
    const handle = await freshPage();
    try {
      const { callbackUrl, state } = await federatedSignIn(handle, 'emp-10');
      assert.equal(callbackUrl.searchParams.get('code'), null, callbackUrl.href);
      assert.equal(callbackUrl.searchParams.get('error'), 'invalid_request');
      assert.equal(callbackUrl.searchParams.get('error_description'), 'PreAuthentication failed with error Blocked by policy.');
      assert.equal(callbackUrl.searchParams.get('state'), state);
      assertNoCognateErrors(handle);
    } finally {
      await handle.close();
    }
  });

  test('the IdP’s answer replayed in another browser signs nobody in there', async () => {
    // The first browser goes to the IdP and back; its answer URL is then opened in a second
    // browser, as a link an attacker sends would be.
    const first = await freshPage();
    let answer;
    try {
      first.page.on('request', (r) => {
        if (r.url().includes('/oauth2/idpresponse')) answer = r.url();
      });
      await federatedSignIn(first, 'emp-7');
    } finally {
      await first.close();
    }
    assert.ok(answer, 'no /oauth2/idpresponse request was seen');
    const second = await freshPage();
    try {
      const res = await second.page.goto(answer);
      const at = new URL(second.page.url());
      assert.equal(at.pathname, '/error', `landed at ${at.href} (HTTP ${res?.status()})`);
      const cookies = await second.page.context().cookies(server.url);
      assert.ok(!cookies.some((c) => c.name === 'cognito'), 'the second browser got a hosted session');
      assertNoCognateErrors(second);
    } finally {
      await second.close();
    }
  });

  test('identity_provider=Nope (no such provider): refused, the IdP never asked', async (t) => {
    await expectRefused(t, { identity_provider: 'Nope' });
  });

  test('identity_provider=Other (a provider of the pool the client does not support): refused', async (t) => {
    await expectRefused(t, { identity_provider: 'Other' });
  });
});
