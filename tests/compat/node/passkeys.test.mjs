// Passkeys (WebAuthn) end to end: a user registers a passkey with StartWebAuthnRegistration /
// CompleteWebAuthnRegistration and signs in with it through USER_AUTH (PREFERRED_CHALLENGE
// WEB_AUTHN, or SELECT_CHALLENGE), the authenticator being a real one: Debian's Chromium with a
// CDP virtual authenticator (CTAP2, platform, resident keys, user verification that succeeds).
//
// The browser only does what a browser must: navigator.credentials.create / get. Everything that
// talks to cognate goes from node, as an app's backend-less client code would send it: the
// options Cognito hands out travel into page.evaluate as JSON, their base64url members become
// ArrayBuffers in the page, and the browser's answer comes back in the WebAuthn JSON forms
// (RegistrationResponseJSON, AuthenticationResponseJSON; base64url without padding), which is
// what Cognito takes. The page is served by a node:http server on 127.0.0.1 and opened as
// http://localhost:<port>/, a secure context over plain HTTP, so WebAuthn is allowed there with
// the relying party id "localhost".
//
// Also the refusals: an assertion replayed into a new sign-in, a sign-in session answered twice,
// a credential made for another relying party (sub.localhost, which Chromium resolves to
// loopback and also treats as a secure context), registration completions without a pending
// Start, deleting twice, and pools where passkeys are not enabled.
//
// And the hosted sign-in page (GET /oauth2/authorize → /login): a passkey registered from the
// test's page is used, in the same Playwright page (the virtual authenticator belongs to it), on
// cognate's own page at http://localhost:<cognate's port>/login — "Sign in with a passkey", the
// page's script calls navigator.credentials.get and posts the assertion, and the browser lands at
// the app's callback with a code that POST /oauth2/token turns into the user's tokens. Also a
// user without a passkey, an authenticator without the credential, and a pool without WEB_AUTHN
// (no passkey button).
//
// And a user with four passkeys (one per authenticator, as Chromium will not make a credential
// its own authenticator already holds from the excludeCredentials list): the WEB_AUTHN Session
// stays within Cognito's 2048 characters, allowCredentials lists all four and each of them signs
// in. Last, a pool where MFA is ON and a passkey counts as a second factor only with user
// verification (FactorConfiguration MULTI_FACTOR_WITH_USER_VERIFICATION): a verified assertion
// signs in outright, one without the UV flag is followed by the authenticator app's code.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { assertNoErrors, launchBrowser, openPage, webAuthnSession } from './browser.mjs';
import { api, jwtPayload, startApp, startServer, totp } from './helpers.mjs';

const PASSWORD = 'Correct-horse-1';
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const FLOWS = ['ALLOW_USER_AUTH', 'ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'];
const PAGE =
  '<!doctype html><html><head><meta charset="utf-8"><title>Passkeys</title>' +
  '<link rel="icon" href="data:,"></head><body><p>passkeys</p></body></html>';

let server; // cognate
let site; // the node:http server behind the page
let port;
let browser;

before(async () => {
  server = await startServer();
  site = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  await new Promise((ok, fail) => {
    site.once('error', fail);
    site.listen(0, '127.0.0.1', ok);
  });
  port = site.address().port;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  site?.closeAllConnections();
  await new Promise((ok) => (site ? site.close(ok) : ok()));
  await server?.stop();
});

/** A page at http://<host>:<port>/ with a virtual authenticator of its own. */
async function openSite(host) {
  const handle = await openPage(browser, { virtualAuthenticator: true });
  await handle.page.goto(`http://${host}:${port}/`);
  return handle;
}

/**
 * navigator.credentials.create with Cognito's CredentialCreationOptions (JSON), answered as a
 * RegistrationResponseJSON object.
 */
function createCredential(page, options) {
  return page.evaluate(async (json) => {
    const buf = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)).buffer;
    const b64url = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const publicKey = {
      ...json,
      challenge: buf(json.challenge),
      user: { ...json.user, id: buf(json.user.id) },
      excludeCredentials: (json.excludeCredentials || []).map((c) => ({ ...c, id: buf(c.id) })),
    };
    const cred = await navigator.credentials.create({ publicKey });
    return {
      id: cred.id,
      rawId: b64url(cred.rawId),
      type: cred.type,
      response: {
        clientDataJSON: b64url(cred.response.clientDataJSON),
        attestationObject: b64url(cred.response.attestationObject),
        transports: cred.response.getTransports(),
      },
      clientExtensionResults: cred.getClientExtensionResults(),
      authenticatorAttachment: cred.authenticatorAttachment,
    };
  }, options);
}

/**
 * navigator.credentials.get with the parsed CREDENTIAL_REQUEST_OPTIONS, answered as an
 * AuthenticationResponseJSON object.
 */
function getAssertion(page, options) {
  return page.evaluate(async (json) => {
    const buf = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)).buffer;
    const b64url = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const publicKey = {
      ...json,
      challenge: buf(json.challenge),
      allowCredentials: (json.allowCredentials || []).map((c) => ({ ...c, id: buf(c.id) })),
    };
    const cred = await navigator.credentials.get({ publicKey });
    return {
      id: cred.id,
      rawId: b64url(cred.rawId),
      type: cred.type,
      response: {
        clientDataJSON: b64url(cred.response.clientDataJSON),
        authenticatorData: b64url(cred.response.authenticatorData),
        signature: b64url(cred.response.signature),
        ...(cred.response.userHandle ? { userHandle: b64url(cred.response.userHandle) } : {}),
      },
      clientExtensionResults: cred.getClientExtensionResults(),
      authenticatorAttachment: cred.authenticatorAttachment,
    };
  }, options);
}

/** What a clientDataJSON (base64url) says. */
const clientData = (b64) => JSON.parse(Buffer.from(b64, 'base64url').toString('utf8'));

/**
 * Expects `promise` to fail with `code`, or with one of `alternatives` (which are allowed but
 * named in a diagnostic so a run shows which one the server chose). Returns the error.
 */
async function refused(t, promise, code, alternatives = []) {
  let error;
  await assert.rejects(promise, (e) => {
    error = e;
    return true;
  });
  assert.ok([code, ...alternatives].includes(error.code), `expected ${code}, got ${error.message}`);
  if (error.code !== code) t.diagnostic(`answered ${error.code} (not ${code}): ${error.message}`);
  return error;
}

/** A CONFIRMED user with a permanent password. */
async function createUser(poolId, username) {
  await api(server.url, 'AdminCreateUser', { UserPoolId: poolId, Username: username, MessageAction: 'SUPPRESS' });
  await api(server.url, 'AdminSetUserPassword', { UserPoolId: poolId, Username: username, Password: PASSWORD, Permanent: true });
}

/** An access token from USER_PASSWORD_AUTH. */
async function accessToken(clientId, username) {
  const { AuthenticationResult } = await api(server.url, 'InitiateAuth', {
    AuthFlow: 'USER_PASSWORD_AUTH',
    ClientId: clientId,
    AuthParameters: { USERNAME: username, PASSWORD },
  });
  return AuthenticationResult.AccessToken;
}

describe('passkeys: registration and sign-in through Chromium', { timeout: 60_000 }, () => {
  let poolId;
  let clientId;
  let token; // ada's access token
  let site1; // the page at http://localhost:<port>/
  let creationOptions; // the first StartWebAuthnRegistration's options
  let registered; // the RegistrationResponseJSON that CompleteWebAuthnRegistration took
  let firstSignIn; // { session, credential } of the first passkey sign-in

  const userAuth = (parameters = {}) =>
    api(server.url, 'InitiateAuth', {
      AuthFlow: 'USER_AUTH',
      ClientId: clientId,
      AuthParameters: { USERNAME: 'ada', ...parameters },
    });

  const answerWebAuthn = (session, credential) =>
    api(server.url, 'RespondToAuthChallenge', {
      ClientId: clientId,
      ChallengeName: 'WEB_AUTHN',
      Session: session,
      ChallengeResponses: { USERNAME: 'ada', CREDENTIAL: JSON.stringify(credential) },
    });

  /** The WEB_AUTHN challenge's request options, checked against what Cognito documents. */
  function requestOptions(step) {
    assert.equal(step.ChallengeName, 'WEB_AUTHN');
    assert.equal(typeof step.Session, 'string');
    const raw = step.ChallengeParameters?.CREDENTIAL_REQUEST_OPTIONS;
    // A JSON string (ChallengeParameters is a map of strings), not an object.
    assert.equal(typeof raw, 'string', JSON.stringify(step.ChallengeParameters));
    const options = JSON.parse(raw);
    assert.match(options.challenge, BASE64URL);
    assert.equal(options.rpId, 'localhost');
    assert.equal(typeof options.timeout, 'number');
    assert.equal(options.userVerification, 'preferred');
    const allowed = options.allowCredentials.find((c) => c.id === registered.id);
    assert.ok(allowed, `allowCredentials lacks the passkey: ${raw}`);
    assert.equal(allowed.type, 'public-key');
    if (allowed.transports !== undefined) assert.ok(Array.isArray(allowed.transports));
    return options;
  }

  before(async () => {
    ({
      UserPool: { Id: poolId },
    } = await api(server.url, 'CreateUserPool', {
      PoolName: 'passkeys',
      Policies: { SignInPolicy: { AllowedFirstAuthFactors: ['PASSWORD', 'WEB_AUTHN'] } },
    }));
    await api(server.url, 'SetUserPoolMfaConfig', {
      UserPoolId: poolId,
      MfaConfiguration: 'OFF',
      WebAuthnConfiguration: { RelyingPartyId: 'localhost', UserVerification: 'preferred' },
    });
    ({
      UserPoolClient: { ClientId: clientId },
    } = await api(server.url, 'CreateUserPoolClient', { UserPoolId: poolId, ClientName: 'web', ExplicitAuthFlows: FLOWS }));
    await createUser(poolId, 'ada');
    await createUser(poolId, 'bea');
    token = await accessToken(clientId, 'ada');
    site1 = await openSite('localhost');
  });

  after(async () => {
    await site1?.close();
  });

  test('GetUserPoolMfaConfig returns the WebAuthnConfiguration', async () => {
    const config = await api(server.url, 'GetUserPoolMfaConfig', { UserPoolId: poolId });
    assert.equal(config.MfaConfiguration, 'OFF');
    assert.equal(config.WebAuthnConfiguration?.RelyingPartyId, 'localhost', JSON.stringify(config));
    assert.equal(config.WebAuthnConfiguration.UserVerification, 'preferred');
  });

  test('without a passkey USER_AUTH does not offer WEB_AUTHN, even when it is preferred', async () => {
    const plain = await userAuth();
    assert.equal(plain.ChallengeName, 'SELECT_CHALLENGE');
    assert.ok(plain.AvailableChallenges.includes('PASSWORD'), JSON.stringify(plain.AvailableChallenges));
    assert.ok(!plain.AvailableChallenges.includes('WEB_AUTHN'), JSON.stringify(plain.AvailableChallenges));

    const preferred = await userAuth({ PREFERRED_CHALLENGE: 'WEB_AUTHN' });
    assert.equal(preferred.ChallengeName, 'SELECT_CHALLENGE');
    assert.ok(!preferred.AvailableChallenges.includes('WEB_AUTHN'), JSON.stringify(preferred.AvailableChallenges));
  });

  test('StartWebAuthnRegistration hands out creation options for the pool and the user', async () => {
    const started = await api(server.url, 'StartWebAuthnRegistration', { AccessToken: token });
    creationOptions = started.CredentialCreationOptions;
    // A JSON document, not a string of JSON.
    assert.equal(typeof creationOptions, 'object', JSON.stringify(started));
    assert.match(creationOptions.challenge, BASE64URL);
    assert.equal(creationOptions.rp.id, 'localhost');
    assert.equal(typeof creationOptions.rp.name, 'string');
    assert.match(creationOptions.user.id, BASE64URL);
    assert.equal(typeof creationOptions.user.name, 'string');
    assert.ok(creationOptions.user.name.length > 0);
    assert.equal(typeof creationOptions.user.displayName, 'string');
    assert.ok(creationOptions.pubKeyCredParams.some((p) => p.type === 'public-key' && p.alg === -7));
    assert.equal(typeof creationOptions.timeout, 'number');
    assert.deepEqual(creationOptions.excludeCredentials, []);
    const selection = creationOptions.authenticatorSelection;
    // A passkey is a discoverable credential; either spelling of that requirement is fine.
    assert.ok(selection.residentKey === 'required' || selection.requireResidentKey === true, JSON.stringify(selection));
    assert.equal(selection.userVerification, 'preferred');
  });

  test('the browser creates the passkey and CompleteWebAuthnRegistration takes it', async () => {
    registered = await createCredential(site1.page, creationOptions);
    assert.equal(registered.type, 'public-key');
    assert.equal(registered.authenticatorAttachment, 'platform');
    assert.equal(clientData(registered.response.clientDataJSON).origin, `http://localhost:${port}`);

    assert.deepEqual(await api(server.url, 'CompleteWebAuthnRegistration', { AccessToken: token, Credential: registered }), {});

    const { credentials } = await webAuthnSession(site1.page).send('WebAuthn.getCredentials', {
      authenticatorId: site1.authenticatorId,
    });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0].rpId, 'localhost');
    assertNoErrors(site1);
  });

  test('a second completion of the same Start, or one without a Start, is WebAuthnChallengeNotFoundException', async (t) => {
    await refused(
      t,
      api(server.url, 'CompleteWebAuthnRegistration', { AccessToken: token, Credential: registered }),
      'WebAuthnChallengeNotFoundException',
    );
    // bea never called StartWebAuthnRegistration.
    const beaToken = await accessToken(clientId, 'bea');
    await refused(
      t,
      api(server.url, 'CompleteWebAuthnRegistration', { AccessToken: beaToken, Credential: registered }),
      'WebAuthnChallengeNotFoundException',
    );
    assert.deepEqual((await api(server.url, 'ListWebAuthnCredentials', { AccessToken: beaToken })).Credentials, []);
  });

  test('ListWebAuthnCredentials describes the passkey', async () => {
    const { Credentials } = await api(server.url, 'ListWebAuthnCredentials', { AccessToken: token });
    assert.equal(Credentials.length, 1, JSON.stringify(Credentials));
    const [c] = Credentials;
    assert.equal(c.CredentialId, registered.id);
    assert.equal(typeof c.FriendlyCredentialName, 'string');
    assert.equal(c.RelyingPartyId, 'localhost');
    if (c.AuthenticatorAttachment !== undefined) assert.equal(c.AuthenticatorAttachment, 'platform');
    assert.deepEqual([...c.AuthenticatorTransports].sort(), [...registered.response.transports].sort());
    // A JSON 1.1 timestamp: epoch seconds.
    assert.equal(typeof c.CreatedAt, 'number', JSON.stringify(c));
    assert.ok(Math.abs(c.CreatedAt - Date.now() / 1000) < 300, `CreatedAt ${c.CreatedAt}`);
  });

  test('a new StartWebAuthnRegistration excludes the registered passkey', async () => {
    const { CredentialCreationOptions: again } = await api(server.url, 'StartWebAuthnRegistration', { AccessToken: token });
    assert.notEqual(again.challenge, creationOptions.challenge);
    assert.deepEqual(
      again.excludeCredentials.map((c) => [c.type, c.id]),
      [['public-key', registered.id]],
    );
  });

  test('USER_AUTH with PREFERRED_CHALLENGE WEB_AUTHN signs in with the passkey', async () => {
    const step = await userAuth({ PREFERRED_CHALLENGE: 'WEB_AUTHN' });
    const options = requestOptions(step);
    const credential = await getAssertion(site1.page, options);
    assert.equal(credential.id, registered.id);
    // The authenticator hands back the user handle Cognito gave it at registration.
    assert.equal(credential.response.userHandle, creationOptions.user.id);
    assert.equal(clientData(credential.response.clientDataJSON).challenge, options.challenge);

    const done = await answerWebAuthn(step.Session, credential);
    assert.equal(typeof done.AuthenticationResult?.AccessToken, 'string', JSON.stringify(done));
    assert.equal(jwtPayload(done.AuthenticationResult.AccessToken).username, 'ada');
    assert.equal(typeof done.AuthenticationResult.RefreshToken, 'string');
    firstSignIn = { session: step.Session, credential, options };
    assertNoErrors(site1);
  });

  test('an assertion replayed into a new sign-in is NotAuthorizedException', async () => {
    const fresh = await userAuth({ PREFERRED_CHALLENGE: 'WEB_AUTHN' });
    requestOptions(fresh);
    await assert.rejects(answerWebAuthn(fresh.Session, firstSignIn.credential), { code: 'NotAuthorizedException' });
  });

  test('a sign-in session answered twice is NotAuthorizedException', async () => {
    const step = await userAuth({ PREFERRED_CHALLENGE: 'WEB_AUTHN' });
    const options = requestOptions(step);
    const first = await getAssertion(site1.page, options);
    await answerWebAuthn(step.Session, first);
    // A second, genuine assertion over the same challenge, so that only the session is reused.
    const second = await getAssertion(site1.page, options);
    assert.notEqual(second.response.signature, first.response.signature);
    await assert.rejects(answerWebAuthn(step.Session, second), { code: 'NotAuthorizedException' });
    assertNoErrors(site1);
  });

  test('SELECT_CHALLENGE offers WEB_AUTHN once there is a passkey, and choosing it signs in', async () => {
    const step = await userAuth();
    assert.equal(step.ChallengeName, 'SELECT_CHALLENGE');
    assert.ok(step.AvailableChallenges.includes('WEB_AUTHN'), JSON.stringify(step.AvailableChallenges));
    assert.ok(step.AvailableChallenges.includes('PASSWORD'), JSON.stringify(step.AvailableChallenges));

    const chosen = await api(server.url, 'RespondToAuthChallenge', {
      ClientId: clientId,
      ChallengeName: 'SELECT_CHALLENGE',
      Session: step.Session,
      ChallengeResponses: { USERNAME: 'ada', ANSWER: 'WEB_AUTHN' },
    });
    const credential = await getAssertion(site1.page, requestOptions(chosen));
    const done = await answerWebAuthn(chosen.Session, credential);
    assert.equal(jwtPayload(done.AuthenticationResult.AccessToken).username, 'ada');
    assertNoErrors(site1);
  });

  test('a passkey made for another relying party is WebAuthnRelyingPartyMismatchException', async (t) => {
    const other = await openSite('sub.localhost');
    try {
      const { CredentialCreationOptions: options } = await api(server.url, 'StartWebAuthnRegistration', { AccessToken: token });
      const credential = await createCredential(other.page, { ...options, rp: { ...options.rp, id: 'sub.localhost' } });
      assert.equal(clientData(credential.response.clientDataJSON).origin, `http://sub.localhost:${port}`);
      // The authenticator data names sub.localhost and so does the origin; which of the two a
      // server looks at first is its own business, so an origin refusal is allowed (and named).
      const error = await refused(
        t,
        api(server.url, 'CompleteWebAuthnRegistration', { AccessToken: token, Credential: credential }),
        'WebAuthnRelyingPartyMismatchException',
        ['WebAuthnOriginNotAllowedException'],
      );
      t.diagnostic(`wrong relying party: ${error.code}: ${error.body.message ?? error.body.Message ?? ''}`);
      const { Credentials } = await api(server.url, 'ListWebAuthnCredentials', { AccessToken: token });
      assert.deepEqual(Credentials.map((c) => c.CredentialId), [registered.id]);
      assertNoErrors(other);
    } finally {
      await other.close();
    }
  });

  test('DeleteWebAuthnCredential removes the passkey; USER_AUTH no longer offers it', async () => {
    assert.deepEqual(await api(server.url, 'DeleteWebAuthnCredential', { AccessToken: token, CredentialId: registered.id }), {});
    assert.deepEqual((await api(server.url, 'ListWebAuthnCredentials', { AccessToken: token })).Credentials, []);
    await assert.rejects(api(server.url, 'DeleteWebAuthnCredential', { AccessToken: token, CredentialId: registered.id }), {
      code: 'ResourceNotFoundException',
    });

    const step = await userAuth({ PREFERRED_CHALLENGE: 'WEB_AUTHN' });
    assert.equal(step.ChallengeName, 'SELECT_CHALLENGE');
    assert.ok(!step.AvailableChallenges.includes('WEB_AUTHN'), JSON.stringify(step.AvailableChallenges));
  });
});

describe('passkeys on a pool that does not allow them', () => {
  test('StartWebAuthnRegistration is WebAuthnNotEnabledException', async (t) => {
    const {
      UserPool: { Id: poolId },
    } = await api(server.url, 'CreateUserPool', { PoolName: 'no-passkeys' });
    const {
      UserPoolClient: { ClientId: clientId },
    } = await api(server.url, 'CreateUserPoolClient', { UserPoolId: poolId, ClientName: 'web', ExplicitAuthFlows: FLOWS });
    await createUser(poolId, 'cal');
    const error = await refused(
      t,
      api(server.url, 'StartWebAuthnRegistration', { AccessToken: await accessToken(clientId, 'cal') }),
      'WebAuthnNotEnabledException',
      ['WebAuthnConfigurationMissingException'],
    );
    t.diagnostic(`pool without passkeys: ${error.code}`);
  });
});

describe('passkeys on the hosted sign-in page', { timeout: 90_000 }, () => {
  let app;
  let poolId;
  let apiClientId; // for StartWebAuthnRegistration's access token
  let hostedClientId; // the app client of the code flow
  let plainHostedClientId; // the same on a pool without WEB_AUTHN
  let handle; // the page at http://localhost:<port>/ whose authenticator holds dee's passkey
  let registered; // dee's RegistrationResponseJSON

  const hostedClient = (pool, callback) => ({
    UserPoolId: pool,
    ClientName: 'hosted',
    AllowedOAuthFlowsUserPoolClient: true,
    AllowedOAuthFlows: ['code'],
    AllowedOAuthScopes: ['openid'],
    CallbackURLs: [callback],
    SupportedIdentityProviders: ['COGNITO'],
  });

  /** GET /oauth2/authorize on cognate, by the name "localhost" (the passkey's relying party). */
  const authorizeUrl = (clientId, state) => {
    const url = new URL(`http://localhost:${server.port}/oauth2/authorize`);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: app.callback,
      scope: 'openid',
      state,
    }).toString();
    return url.href;
  };

  /** Opens the hosted sign-in page in `page` and waits for its form. */
  async function openSignIn(page, clientId, state) {
    await page.goto(authorizeUrl(clientId, state));
    await page.waitForSelector('#signInFormUsername');
    const at = new URL(page.url());
    assert.equal(at.origin, `http://localhost:${server.port}`);
    assert.equal(at.pathname, '/login');
  }

  /** Types the username and clicks "Sign in with a passkey"; resolves once the form is posted. */
  async function passkeySignIn(page, username) {
    await page.fill('#signInFormUsername', username);
    const posted = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login');
    await page.click('#passkeySignIn');
    return posted;
  }

  /** Waits until the handle's page is at the app's callback and returns that URL. */
  async function landedAtCallback({ page, errors }) {
    const there = (u) => u.href.startsWith(app.origin) && u.pathname === '/callback';
    try {
      await page.waitForURL(there, { timeout: 15_000 });
    } catch (e) {
      // Whatever cognate's page says explains more than a timeout.
      const said = await page
        .$$eval('.errorMessage-customizable:not([hidden])', (els) => els.map((el) => el.textContent.trim()).join(' | '))
        .catch(() => '');
      const reported = errors();
      throw new Error(
        `not at the callback but at ${page.url()}${said ? `: ${said}` : ''}` +
          `${reported.length ? `; the page reported: ${reported.join('; ')}` : ''} (${e.message})`,
      );
    }
    return new URL(page.url());
  }

  /** POST /oauth2/token with the code, as a public client, by plain fetch. */
  async function redeem(clientId, code) {
    const res = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: clientId, redirect_uri: app.callback, code }),
    });
    return { status: res.status, body: await res.json() };
  }

  before(async () => {
    app = await startApp();
    ({
      UserPool: { Id: poolId },
    } = await api(server.url, 'CreateUserPool', {
      PoolName: 'hosted-passkeys',
      Policies: { SignInPolicy: { AllowedFirstAuthFactors: ['PASSWORD', 'WEB_AUTHN'] } },
    }));
    await api(server.url, 'SetUserPoolMfaConfig', {
      UserPoolId: poolId,
      MfaConfiguration: 'OFF',
      WebAuthnConfiguration: { RelyingPartyId: 'localhost', UserVerification: 'preferred' },
    });
    ({
      UserPoolClient: { ClientId: apiClientId },
    } = await api(server.url, 'CreateUserPoolClient', { UserPoolId: poolId, ClientName: 'api', ExplicitAuthFlows: FLOWS }));
    ({
      UserPoolClient: { ClientId: hostedClientId },
    } = await api(server.url, 'CreateUserPoolClient', hostedClient(poolId, app.callback)));
    await createUser(poolId, 'dee');
    await createUser(poolId, 'eli');

    const {
      UserPool: { Id: plainPoolId },
    } = await api(server.url, 'CreateUserPool', { PoolName: 'hosted-no-passkeys' });
    ({
      UserPoolClient: { ClientId: plainHostedClientId },
    } = await api(server.url, 'CreateUserPoolClient', hostedClient(plainPoolId, app.callback)));

    // dee's passkey, made from the test's page, as in the API tests above.
    handle = await openSite('localhost');
    const token = await accessToken(apiClientId, 'dee');
    const { CredentialCreationOptions } = await api(server.url, 'StartWebAuthnRegistration', { AccessToken: token });
    registered = await createCredential(handle.page, CredentialCreationOptions);
    await api(server.url, 'CompleteWebAuthnRegistration', { AccessToken: token, Credential: registered });
  });

  after(async () => {
    await handle?.close();
    await app?.stop();
  });

  test('a pool without WEB_AUTHN: the sign-in page has no passkey button', async () => {
    const fresh = await openPage(browser);
    try {
      await openSignIn(fresh.page, plainHostedClientId, 'plain-state');
      assert.equal(await fresh.page.locator('#passkeySignIn').count(), 0);
      assert.equal(await fresh.page.locator('button[name=passkey]').count(), 0);
      assert.ok(await fresh.page.isVisible('button[name=signInSubmitButton]'));
      assertNoErrors(fresh);
    } finally {
      await fresh.close();
    }
  });

  test('a user without a passkey: the sign-in page comes back and says so', async () => {
    const fresh = await openPage(browser);
    const { page } = fresh;
    try {
      await openSignIn(page, hostedClientId, 'eli-state');
      const button = page.locator('#passkeySignIn');
      assert.ok(await button.isVisible(), 'no #passkeySignIn on a pool that allows WEB_AUTHN');
      assert.equal((await button.textContent()).trim(), 'Sign in with a passkey');
      assert.equal(await button.getAttribute('name'), 'passkey');
      assert.equal(await button.getAttribute('value'), '1');

      const heard = app.requests.length;
      const posted = await passkeySignIn(page, 'eli');
      assert.equal(posted.status(), 200);
      await page.waitForLoadState('load');
      await page.waitForSelector('#loginErrorMessage');
      assert.equal(
        (await page.textContent('#loginErrorMessage')).trim(),
        'There is no passkey for this user. Sign in with your password.',
      );
      assert.equal(new URL(page.url()).pathname, '/login');
      assert.ok(await page.isVisible('#signInFormPassword'), 'the password form is not there again');
      assert.ok(await page.isVisible('#passkeySignIn'));
      assert.equal(app.requests.length, heard, 'the app heard from a refused sign-in');
      assertNoErrors(fresh);
    } finally {
      await fresh.close();
    }
  });

  test('an authenticator without the passkey: the passkey page shows #passkeyError and stays', async () => {
    // A page of its own, with a virtual authenticator that holds no credential.
    const fresh = await openPage(browser, { virtualAuthenticator: true });
    const { page } = fresh;
    try {
      await openSignIn(page, hostedClientId, 'empty-authenticator');
      const heard = app.requests.length;
      await passkeySignIn(page, 'dee');
      await page.waitForSelector('#passkeyError:not([hidden])', { timeout: 15_000 }).catch((e) => {
        throw new Error(`${e.message}\nthe page reported: ${fresh.errors().join('; ') || 'nothing'}`);
      });
      assert.equal((await page.textContent('h1')).trim(), 'Sign in with a passkey');
      assert.match(await page.textContent('#passkeyError'), /The passkey was not used/);
      assert.equal(new URL(page.url()).origin, `http://localhost:${server.port}`);
      assert.equal(new URL(page.url()).pathname, '/login');
      assert.equal(app.requests.length, heard, 'the app heard from a sign-in without a passkey');
      assertNoErrors(fresh);
    } finally {
      await fresh.close();
    }
  });

  test('a user with a passkey: "Sign in with a passkey", the callback with a code and the state, the code is her tokens', async () => {
    const { page } = handle;
    const state = `dee-${Math.random().toString(36).slice(2)}`;
    const scripts = []; // the answers to /login/passkey.js
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/login/passkey.js') scripts.push(r.status());
    });
    await openSignIn(page, hostedClientId, state);
    assert.ok(await page.isVisible('#passkeySignIn'));
    const posted = await passkeySignIn(page, 'dee');
    assert.equal(posted.status(), 200);

    const callbackUrl = await landedAtCallback(handle);
    assert.deepEqual(scripts, [200]);
    assert.equal(callbackUrl.searchParams.get('state'), state);
    const code = callbackUrl.searchParams.get('code');
    assert.ok(code, `no code at ${callbackUrl.href}`);
    assert.equal(callbackUrl.searchParams.get('error'), null);
    assert.deepEqual(app.last('/callback'), Object.fromEntries(callbackUrl.searchParams));

    // The authenticator signed: its counter for the passkey moved on.
    const { credentials } = await webAuthnSession(page).send('WebAuthn.getCredentials', {
      authenticatorId: handle.authenticatorId,
    });
    assert.equal(credentials.length, 1);
    assert.equal(Buffer.from(credentials[0].credentialId, 'base64').toString('base64url'), registered.id);
    assert.ok(credentials[0].signCount >= 1, `signCount ${credentials[0].signCount}`);

    const tokens = await redeem(hostedClientId, code);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(tokens.body.token_type, 'Bearer');
    const id = jwtPayload(tokens.body.id_token);
    assert.equal(id['cognito:username'], 'dee');
    assert.equal(id.aud, hostedClientId);
    assert.equal(id.token_use, 'id');
    const access = jwtPayload(tokens.body.access_token);
    assert.equal(access.username, 'dee');
    assert.equal(access.client_id, hostedClientId);
    assert.ok(access.scope.split(' ').includes('openid'), access.scope);
    assert.equal(typeof tokens.body.refresh_token, 'string');

    // A code is single-use.
    const again = await redeem(hostedClientId, code);
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
    assertNoErrors(handle);
  });
});

/** The flags byte of an assertion's authenticatorData (base64url): UP 0x01, UV 0x04. */
const authFlags = (authenticatorData) => Buffer.from(authenticatorData, 'base64url')[32];
const UP = 0x01;
const UV = 0x04;

/** The authData of a RegistrationResponseJSON's attestationObject (CBOR; its "authData" byte string). */
function attestedAuthData(registration) {
  const cbor = Buffer.from(registration.response.attestationObject, 'base64url');
  const key = Buffer.from([0x68, ...Buffer.from('authData')]); // text string of 8
  let at = cbor.indexOf(key) + key.length;
  assert.ok(at >= key.length, 'no authData in the attestationObject');
  const head = cbor[at];
  at += 1;
  let length = head & 0x1f;
  if (length === 24) [length, at] = [cbor[at], at + 1];
  else if (length === 25) [length, at] = [cbor.readUInt16BE(at), at + 2];
  assert.equal(head >> 5, 2, 'authData is not a byte string');
  return cbor.subarray(at, at + length);
}

/** Cognito's SessionType: 20 to 2048 characters. */
function assertSessionLength(session) {
  assert.equal(typeof session, 'string');
  assert.ok(session.length >= 20 && session.length <= 2048, `Session is ${session.length} characters`);
}

/** A pool allowing PASSWORD and WEB_AUTHN first, with a USER_AUTH client; returns its ids. */
async function passkeyPool(name, mfa) {
  const {
    UserPool: { Id: poolId },
  } = await api(server.url, 'CreateUserPool', {
    PoolName: name,
    Policies: { SignInPolicy: { AllowedFirstAuthFactors: ['PASSWORD', 'WEB_AUTHN'] } },
  });
  await api(server.url, 'SetUserPoolMfaConfig', { UserPoolId: poolId, ...mfa });
  const {
    UserPoolClient: { ClientId: clientId },
  } = await api(server.url, 'CreateUserPoolClient', { UserPoolId: poolId, ClientName: 'web', ExplicitAuthFlows: FLOWS });
  return { poolId, clientId };
}

/** InitiateAuth USER_AUTH with PREFERRED_CHALLENGE WEB_AUTHN; the request options, parsed. */
async function startPasskeySignIn(clientId, username) {
  const step = await api(server.url, 'InitiateAuth', {
    AuthFlow: 'USER_AUTH',
    ClientId: clientId,
    AuthParameters: { USERNAME: username, PREFERRED_CHALLENGE: 'WEB_AUTHN' },
  });
  assert.equal(step.ChallengeName, 'WEB_AUTHN', JSON.stringify(step));
  assertSessionLength(step.Session);
  return { session: step.Session, options: JSON.parse(step.ChallengeParameters.CREDENTIAL_REQUEST_OPTIONS) };
}

/** RespondToAuthChallenge WEB_AUTHN with an AuthenticationResponseJSON. */
const answerPasskey = (clientId, username, session, credential) =>
  api(server.url, 'RespondToAuthChallenge', {
    ClientId: clientId,
    ChallengeName: 'WEB_AUTHN',
    Session: session,
    ChallengeResponses: { USERNAME: username, CREDENTIAL: JSON.stringify(credential) },
  });

describe('passkeys: a user with four passkeys signs in through the API', { timeout: 90_000 }, () => {
  const COUNT = 4;
  let clientId;
  let token; // fay's access token
  const sites = []; // one page (and virtual authenticator) per passkey
  const registered = []; // their RegistrationResponseJSONs, in order

  before(async () => {
    let poolId;
    ({ poolId, clientId } = await passkeyPool('many-passkeys', {
      MfaConfiguration: 'OFF',
      WebAuthnConfiguration: { RelyingPartyId: 'localhost', UserVerification: 'preferred' },
    }));
    await createUser(poolId, 'fay');
    token = await accessToken(clientId, 'fay');
  });

  after(async () => {
    for (const s of sites) await s.close();
  });

  test('four registrations, each Start excluding the passkeys before it', async () => {
    for (let i = 0; i < COUNT; i += 1) {
      const { CredentialCreationOptions: options } = await api(server.url, 'StartWebAuthnRegistration', { AccessToken: token });
      assert.deepEqual(
        options.excludeCredentials.map((c) => c.id).sort(),
        registered.map((r) => r.id).sort(),
        `Start #${i + 1}`,
      );
      // A fresh authenticator: Chromium will not create a credential over an excluded one it holds.
      const site = await openSite('localhost');
      sites.push(site);
      const credential = await createCredential(site.page, options);
      assert.deepEqual(await api(server.url, 'CompleteWebAuthnRegistration', { AccessToken: token, Credential: credential }), {});
      registered.push(credential);
      assertNoErrors(site);
    }
    assert.equal(new Set(registered.map((r) => r.id)).size, COUNT);
    const { Credentials } = await api(server.url, 'ListWebAuthnCredentials', { AccessToken: token });
    assert.deepEqual(Credentials.map((c) => c.CredentialId).sort(), registered.map((r) => r.id).sort());
  });

  test('USER_AUTH WEB_AUTHN: the Session fits 2048 characters, allowCredentials lists all four', async (t) => {
    assert.equal(registered.length, COUNT, 'the registrations did not all happen');
    const { session, options } = await startPasskeySignIn(clientId, 'fay');
    t.diagnostic(`Session with ${COUNT} passkeys: ${session.length} characters`);
    assert.deepEqual(options.allowCredentials.map((c) => c.id).sort(), registered.map((r) => r.id).sort());
    for (const c of options.allowCredentials) assert.equal(c.type, 'public-key');
  });

  test('answering with any one of the four passkeys yields tokens', async () => {
    assert.equal(registered.length, COUNT, 'the registrations did not all happen');
    // Each passkey in turn, each on a sign-in of its own, last first.
    for (let i = COUNT - 1; i >= 0; i -= 1) {
      const { session, options } = await startPasskeySignIn(clientId, 'fay');
      const credential = await getAssertion(sites[i].page, options);
      assert.equal(credential.id, registered[i].id);
      const done = await answerPasskey(clientId, 'fay', session, credential);
      assert.equal(typeof done.AuthenticationResult?.AccessToken, 'string', `passkey #${i + 1}: ${JSON.stringify(done)}`);
      assert.equal(jwtPayload(done.AuthenticationResult.AccessToken).username, 'fay');
      assertNoErrors(sites[i]);
    }
  });
});

describe('passkeys as MFA: only with user verification (MULTI_FACTOR_WITH_USER_VERIFICATION)', { timeout: 90_000 }, () => {
  const WEBAUTHN = { RelyingPartyId: 'localhost', UserVerification: 'preferred' };
  let poolId;
  let clientId;
  let secret; // gus's authenticator app
  let site; // the page whose authenticator holds gus's passkey
  let registered;
  let token; // gus's access token from before the app was enrolled
  let lastStep; // the newest TOTP time step spent

  /** A code for a time step after the last one spent (the server takes each step once, in order). */
  async function freshCode() {
    for (;;) {
      const now = Math.floor(Date.now() / 30_000);
      const step = Math.max(now, lastStep + 1);
      if (step <= now + 1) {
        lastStep = step;
        return totp(secret, step - now);
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }

  /** Answers WEB_AUTHN with `credential`; expects SOFTWARE_TOKEN_MFA, answers it, expects tokens. */
  async function expectTotpStep(credential, session) {
    const next = await answerPasskey(clientId, 'gus', session, credential);
    assert.equal(next.AuthenticationResult, undefined, `tokens without UV: ${JSON.stringify(next)}`);
    assert.equal(next.ChallengeName, 'SOFTWARE_TOKEN_MFA', JSON.stringify(next));
    assertSessionLength(next.Session);
    const done = await api(server.url, 'RespondToAuthChallenge', {
      ClientId: clientId,
      ChallengeName: 'SOFTWARE_TOKEN_MFA',
      Session: next.Session,
      ChallengeResponses: { USERNAME: 'gus', SOFTWARE_TOKEN_MFA_CODE: await freshCode() },
    });
    assert.equal(typeof done.AuthenticationResult?.AccessToken, 'string', JSON.stringify(done));
    assert.equal(jwtPayload(done.AuthenticationResult.AccessToken).username, 'gus');
  }

  before(async () => {
    ({ poolId, clientId } = await passkeyPool('passkey-mfa', {
      MfaConfiguration: 'OPTIONAL',
      SoftwareTokenMfaConfiguration: { Enabled: true },
      WebAuthnConfiguration: WEBAUTHN,
    }));
    await createUser(poolId, 'gus');
    // The access token before the app is enrolled (after that a password sign-in asks for a code).
    token = await accessToken(clientId, 'gus');

    const { SecretCode } = await api(server.url, 'AssociateSoftwareToken', { AccessToken: token });
    secret = SecretCode;
    const code = totp(secret);
    lastStep = Math.floor(Date.now() / 30_000); // at least the step of `code`
    const verified = await api(server.url, 'VerifySoftwareToken', { AccessToken: token, UserCode: code, FriendlyDeviceName: 'phone' });
    assert.equal(verified.Status, 'SUCCESS');
    await api(server.url, 'AdminSetUserMFAPreference', {
      UserPoolId: poolId,
      Username: 'gus',
      SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true },
    });

    // The passkey, registered while the authenticator verifies the user.
    site = await openSite('localhost');
    const { CredentialCreationOptions } = await api(server.url, 'StartWebAuthnRegistration', { AccessToken: token });
    registered = await createCredential(site.page, CredentialCreationOptions);
    await api(server.url, 'CompleteWebAuthnRegistration', { AccessToken: token, Credential: registered });
  });

  after(async () => {
    await site?.close();
  });

  test('MFA ON with WEB_AUTHN first and a single-factor passkey is InvalidParameterException', async () => {
    const message = 'Cannot set WebAuthn factor configuration to SINGLE_FACTOR if MFA is required and WebAuthn is an allowed first auth factor';
    for (const webAuthn of [{ ...WEBAUTHN, FactorConfiguration: 'SINGLE_FACTOR' }, WEBAUTHN]) {
      await assert.rejects(
        api(server.url, 'SetUserPoolMfaConfig', {
          UserPoolId: poolId,
          MfaConfiguration: 'ON',
          SoftwareTokenMfaConfiguration: { Enabled: true },
          WebAuthnConfiguration: webAuthn,
        }),
        (e) => {
          assert.equal(e.code, 'InvalidParameterException', `${JSON.stringify(webAuthn)}: ${e.message}`);
          assert.equal(e.body.message ?? e.body.Message, message);
          return true;
        },
      );
    }
    assert.equal((await api(server.url, 'GetUserPoolMfaConfig', { UserPoolId: poolId })).MfaConfiguration, 'OPTIONAL');
  });

  test('MFA ON with MULTI_FACTOR_WITH_USER_VERIFICATION is taken', async () => {
    await api(server.url, 'SetUserPoolMfaConfig', {
      UserPoolId: poolId,
      MfaConfiguration: 'ON',
      SoftwareTokenMfaConfiguration: { Enabled: true },
      WebAuthnConfiguration: { ...WEBAUTHN, FactorConfiguration: 'MULTI_FACTOR_WITH_USER_VERIFICATION' },
    });
    const config = await api(server.url, 'GetUserPoolMfaConfig', { UserPoolId: poolId });
    assert.equal(config.MfaConfiguration, 'ON');
    assert.equal(config.WebAuthnConfiguration?.FactorConfiguration, 'MULTI_FACTOR_WITH_USER_VERIFICATION', JSON.stringify(config));
  });

  test('a passkey with user verification signs in without a further code', async () => {
    const { session, options } = await startPasskeySignIn(clientId, 'gus');
    const credential = await getAssertion(site.page, options);
    assert.equal(credential.id, registered.id);
    assert.equal(authFlags(credential.response.authenticatorData) & (UP | UV), UP | UV);
    const done = await answerPasskey(clientId, 'gus', session, credential);
    assert.equal(done.ChallengeName, undefined, JSON.stringify(done));
    assert.equal(typeof done.AuthenticationResult?.AccessToken, 'string', JSON.stringify(done));
    assert.equal(jwtPayload(done.AuthenticationResult.AccessToken).username, 'gus');
    assertNoErrors(site);
  });

  test(
    'a passkey registered with user verification, used without it, is followed by SOFTWARE_TOKEN_MFA, and the code signs in',
    async () => {
      await webAuthnSession(site.page).send('WebAuthn.setUserVerified', {
        authenticatorId: site.authenticatorId,
        isUserVerified: false,
      });
      const { session, options } = await startPasskeySignIn(clientId, 'gus');
      assert.equal(options.userVerification, 'preferred');
      // Chromium's virtual authenticator, able to verify but with the user not verified, refuses a
      // get that prefers verification (NotAllowedError) instead of answering without the UV flag;
      // so the client asks with 'discouraged' and the authenticator only tests presence.
      const credential = await getAssertion(site.page, { ...options, userVerification: 'discouraged' });
      assert.equal(credential.id, registered.id);
      assert.equal(authFlags(credential.response.authenticatorData) & (UP | UV), UP, 'the assertion still says UV');
      await expectTotpStep(credential, session);
      assertNoErrors(site);
    },
  );

  test('under UserVerification required the same unverified assertion is NotAuthorizedException', async (t) => {
    const mfa = (userVerification) =>
      api(server.url, 'SetUserPoolMfaConfig', {
        UserPoolId: poolId,
        MfaConfiguration: 'ON',
        SoftwareTokenMfaConfiguration: { Enabled: true },
        WebAuthnConfiguration: { ...WEBAUTHN, UserVerification: userVerification, FactorConfiguration: 'MULTI_FACTOR_WITH_USER_VERIFICATION' },
      });
    await mfa('required');
    try {
      const { session, options } = await startPasskeySignIn(clientId, 'gus');
      assert.equal(options.userVerification, 'required');
      // The authenticator still does not verify the user (the test before): it only tests presence.
      const credential = await getAssertion(site.page, { ...options, userVerification: 'discouraged' });
      assert.equal(authFlags(credential.response.authenticatorData) & (UP | UV), UP);
      await refused(t, answerPasskey(clientId, 'gus', session, credential), 'NotAuthorizedException');
    } finally {
      await mfa('preferred');
    }
    assertNoErrors(site);
  });

  test('a passkey registered and used without user verification is followed by SOFTWARE_TOKEN_MFA, and the code signs in', async () => {
    // A second authenticator (the first holds an excluded passkey), one that cannot verify users:
    // Chromium's virtual one that can but is told the user is not verified refuses to create a
    // discoverable credential at all, so the page's default authenticator is swapped for this one.
    const unverified = await openSite('localhost');
    try {
      const cdp = webAuthnSession(unverified.page);
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: unverified.authenticatorId });
      ({ authenticatorId: unverified.authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: false },
      }));
      const { CredentialCreationOptions: creation } = await api(server.url, 'StartWebAuthnRegistration', { AccessToken: token });
      assert.deepEqual(creation.excludeCredentials.map((c) => c.id), [registered.id]);
      const made = await createCredential(unverified.page, creation);
      assert.equal(attestedAuthData(made)[32] & UV, 0, 'registered with UV');
      await api(server.url, 'CompleteWebAuthnRegistration', { AccessToken: token, Credential: made });

      const { session, options } = await startPasskeySignIn(clientId, 'gus');
      assert.deepEqual(options.allowCredentials.map((c) => c.id).sort(), [registered.id, made.id].sort());
      const credential = await getAssertion(unverified.page, options);
      assert.equal(credential.id, made.id);
      assert.equal(authFlags(credential.response.authenticatorData) & (UP | UV), UP, 'the assertion says UV');
      await expectTotpStep(credential, session);
      assertNoErrors(unverified);
    } finally {
      await unverified.close();
    }
  });
});
