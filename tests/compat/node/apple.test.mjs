// Sign in with Apple: a pool federated with a local stand-in for Apple (fixtures/apple/standin.mjs,
// whose endpoints the provider's details point at) and a person signing in through it in Debian's
// Chromium. cognate's /oauth2/authorize sends the browser to the stand-in asking for name and
// email, so with response_mode=form_post; the stand-in's page POSTs code, state and (the first
// time only) the person's `user` JSON back to /oauth2/idpresponse across sites, where cognate's
// own page posts it on same-site; cognate redeems the code with a client secret that is an ES256
// token signed with the provider's private_key (which the stand-in verifies with the public half
// of the key pair this test makes), checks the RS256 ID token against the stand-in's keys, and
// ends at the app's callback with a code of its own. Also: DescribeIdentityProvider keeps the
// private key to itself, the name survives a sign-in without `user`, the authorization request's
// nonce must come back in the ID token, and a client secret the stand-in does not accept (a
// provider holding another key) reaches the app as an error. The stand-in's own check of the
// client secret is first tried on tokens node:crypto signs, so that it cannot pass anything.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { assertNoErrors, launchBrowser, openPage } from './browser.mjs';
import { checkClientSecret, startApple } from './fixtures/apple/standin.mjs';
import { api, jwtPayload, startApp, startServer } from './helpers.mjs';

const CLIENT_ID = 'com.example.web';
const TEAM_ID = 'TEAM123456';
const KEY_ID = 'KEY1234567';
const PERSON = { sub: '001234.abcd', email: 'kim@privaterelay.appleid.com', firstName: 'Kim', lastName: 'Lee' };
const USERNAME = `SignInWithApple_${PERSON.sub}`;

/** A P-256 key pair as Apple hands a team (a .p8 file: PKCS#8 PEM), and its public half. */
function teamKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { pem: privateKey.export({ type: 'pkcs8', format: 'pem' }), publicKey };
}

/** A user's attributes from AdminGetUser as an object. */
const attributesOf = (user) => Object.fromEntries(user.UserAttributes.map((a) => [a.Name, a.Value]));

/** An ES256 token signed by node:crypto, for checking the stand-in's own check. */
function es256(header, claims, privateKey, dsaEncoding = 'ieee-p1363') {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding }).toString('base64url')}`;
}

describe('the stand-in’s client-secret check, against tokens node:crypto signs', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const audience = 'http://localhost:1';
  const expect = { publicKey, teamId: TEAM_ID, clientId: CLIENT_ID, keyId: KEY_ID, audience };
  const now = Math.floor(Date.now() / 1000);
  const good = { iss: TEAM_ID, iat: now, exp: now + 300, aud: audience, sub: CLIENT_ID };
  const header = { alg: 'ES256', kid: KEY_ID };

  test('a well-made secret passes', () => {
    const verdict = checkClientSecret(es256(header, good, privateKey), expect);
    assert.equal(verdict.ok, true, verdict.reason);
  });

  const wrong = {
    'another key': () => es256(header, good, other.privateKey),
    'a DER signature': () => es256(header, good, privateKey, 'der'),
    'another kid': () => es256({ ...header, kid: 'OTHER' }, good, privateKey),
    'alg RS256': () => es256({ ...header, alg: 'RS256' }, good, privateKey),
    'another team': () => es256(header, { ...good, iss: 'OTHERTEAM1' }, privateKey),
    'another client': () => es256(header, { ...good, sub: 'com.example.other' }, privateKey),
    'another audience': () => es256(header, { ...good, aud: 'https://appleid.apple.com' }, privateKey),
    'expired': () => es256(header, { ...good, iat: now - 600, exp: now - 300 }, privateKey),
    'living too long': () => es256(header, { ...good, exp: now + 3600 }, privateKey),
    'a changed claim': () => {
      const [h, , s] = es256(header, good, privateKey).split('.');
      return `${h}.${Buffer.from(JSON.stringify({ ...good, sub: 'x' })).toString('base64url')}.${s}`;
    },
    'no token': () => undefined,
  };
  for (const [what, make] of Object.entries(wrong)) {
    test(`refused: ${what}`, () => assert.equal(checkClientSecret(make(), expect).ok, false));
  }
});

describe('Sign in with Apple through a local stand-in, signed in through Chromium', () => {
  let server;
  let app;
  let apple;
  let browser;
  let poolId;
  let clientId;
  const trusted = teamKey();

  /** The provider's details, pointing at the stand-in, with `privateKey` as its .p8 key. */
  const details = (privateKey) => ({
    client_id: CLIENT_ID,
    team_id: TEAM_ID,
    key_id: KEY_ID,
    private_key: privateKey,
    authorize_scopes: 'email name',
    authorize_url: `${apple.origin}/auth/authorize`,
    token_url: `${apple.origin}/auth/token`,
    oidc_issuer: apple.origin,
  });

  before(async () => {
    // Each is kept as it starts, so that `after` stops whatever did even when another failed.
    const started = await Promise.allSettled([
      startServer().then((s) => (server = s)),
      startApp().then((a) => (app = a)),
      launchBrowser().then((b) => (browser = b)),
      startApple({
        client: { clientId: CLIENT_ID, teamId: TEAM_ID, keyId: KEY_ID, publicKey: trusted.publicKey, redirectUris: [] },
        person: PERSON,
      }).then((a) => (apple = a)),
    ]);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    // The service's registered return URL: cognate's, at the host the browser uses for it.
    apple.redirectUris = [`${server.url}/oauth2/idpresponse`];
  });

  after(async () => {
    await browser?.close();
    await apple?.stop();
    await app?.stop();
    await server?.stop();
  });

  test('setup: a pool, its domain, the SignInWithApple provider and a web client', async () => {
    const { UserPool } = await api(server.url, 'CreateUserPool', { PoolName: 'apple' });
    poolId = UserPool.Id;
    await api(server.url, 'CreateUserPoolDomain', { UserPoolId: poolId, Domain: `apple-${randomBytes(4).toString('hex')}` });
    const { IdentityProvider } = await api(server.url, 'CreateIdentityProvider', {
      UserPoolId: poolId,
      ProviderName: 'SignInWithApple',
      ProviderType: 'SignInWithApple',
      ProviderDetails: details(trusted.pem),
      AttributeMapping: {
        email: 'email',
        email_verified: 'email_verified',
        given_name: 'firstName',
        family_name: 'lastName',
        name: 'name',
      },
    });
    assert.equal(IdentityProvider.ProviderType, 'SignInWithApple');
    assert.equal(IdentityProvider.ProviderDetails.private_key, undefined, 'CreateIdentityProvider answered the private key');
    const { UserPoolClient } = await api(server.url, 'CreateUserPoolClient', {
      UserPoolId: poolId,
      ClientName: 'web',
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthScopes: ['openid', 'email', 'profile'],
      CallbackURLs: [app.callback],
      SupportedIdentityProviders: ['COGNITO', 'SignInWithApple'],
    });
    clientId = UserPoolClient.ClientId;
  });

  test('DescribeIdentityProvider: the details as given, without private_key', async () => {
    const { IdentityProvider } = await api(server.url, 'DescribeIdentityProvider', {
      UserPoolId: poolId,
      ProviderName: 'SignInWithApple',
    });
    assert.equal(IdentityProvider.ProviderName, 'SignInWithApple');
    assert.equal(IdentityProvider.ProviderType, 'SignInWithApple');
    const d = IdentityProvider.ProviderDetails;
    assert.ok(!('private_key' in d), `DescribeIdentityProvider answered private_key: ${Object.keys(d).join(', ')}`);
    assert.ok(!JSON.stringify(IdentityProvider).includes('PRIVATE KEY'), 'the key is somewhere in the answer');
    assert.equal(d.client_id, CLIENT_ID);
    assert.equal(d.team_id, TEAM_ID);
    assert.equal(d.key_id, KEY_ID);
    assert.equal(d.authorize_scopes, 'email name');
    assert.equal(d.authorize_url, `${apple.origin}/auth/authorize`);
    assert.equal(d.token_url, `${apple.origin}/auth/token`);
    assert.equal(d.oidc_issuer, apple.origin);
  });

  /** cognate's /oauth2/authorize for the web client, through Apple. */
  function authorizeUrl(state) {
    const u = new URL(`${server.url}/oauth2/authorize`);
    u.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: app.callback,
      scope: 'openid email profile',
      state,
      identity_provider: 'SignInWithApple',
    }).toString();
    return u.href;
  }

  /**
   * A fresh browser context that records the POSTs to cognate's /oauth2/idpresponse (their form
   * fields, Origin and whether they carried cognate's federation cookie). Requests off this
   * machine are refused and recorded: nothing here may reach the real Apple.
   */
  async function freshPage() {
    const handle = await openPage(browser);
    handle.offsite = [];
    await handle.context.route(
      (u) => !['localhost', '127.0.0.1', '[::1]'].includes(u.hostname),
      (route) => {
        handle.offsite.push(route.request().url());
        return route.fulfill({ status: 503, contentType: 'text/plain', body: 'off this machine' });
      },
    );
    handle.posts = [];
    handle.page.on('request', (r) => {
      if (r.method() !== 'POST' || !r.url().startsWith(`${server.url}/oauth2/idpresponse`)) return;
      handle.posts.push(
        r.allHeaders().then((headers) => ({
          fields: Object.fromEntries(new URLSearchParams(r.postData() ?? '')),
          origin: headers.origin,
          withCookie: /(^|;\s*)cognate_federation=/.test(headers.cookie ?? ''),
        })),
      );
    });
    return handle;
  }

  /** Waits until the page is at the app's callback; cognate's /error page, or no callback, says why. */
  async function landedAtCallback(page) {
    const there = (u) => u.href.startsWith(app.callback);
    const refused = (u) => u.origin === server.url && u.pathname === '/error';
    try {
      await page.waitForURL((u) => there(u) || refused(u), { timeout: 10_000 });
    } catch (e) {
      const said = (await page.textContent('body').catch(() => '')).trim().replace(/\s+/g, ' ').slice(0, 300);
      throw new Error(`never at the callback; at ${page.url()}: ${said}`, { cause: e });
    }
    if (refused(new URL(page.url()))) {
      const said = (await page.textContent('body')).trim().replace(/\s+/g, ' ').slice(0, 300);
      throw new Error(`cognate's error page instead of the callback: ${page.url()}: ${said}`);
    }
    return new URL(page.url());
  }

  /**
   * The whole sign-in in a fresh context: cognate's authorize URL, the stand-in, its form POST,
   * cognate's page, the app's callback. Returns the callback URL, the app's state, the stand-in's
   * authorization and token requests of this sign-in, and the POSTs to /oauth2/idpresponse.
   */
  async function signIn() {
    const handle = await freshPage();
    try {
      const state = randomBytes(12).toString('hex');
      const [authorizations, tokenRequests] = [apple.authorizations.length, apple.tokenRequests.length];
      await handle.page.goto(authorizeUrl(state));
      const callbackUrl = await landedAtCallback(handle.page);
      assert.deepEqual(handle.offsite, [], 'the browser tried to leave this machine');
      assertNoErrors(handle);
      return {
        callbackUrl,
        state,
        authorizations: apple.authorizations.slice(authorizations),
        tokenRequests: apple.tokenRequests.slice(tokenRequests),
        posts: await Promise.all(handle.posts),
      };
    } finally {
      await handle.close();
    }
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

  let first;

  test('first sign-in: the stand-in’s form POST, cognate’s page, the app’s callback with a code', async () => {
    first = await signIn();
    const { callbackUrl, state } = first;
    assert.equal(callbackUrl.searchParams.get('error'), null, callbackUrl.href);
    assert.equal(callbackUrl.searchParams.get('state'), state);
    assert.ok(callbackUrl.searchParams.get('code'), `no code: ${callbackUrl.href}`);
    // cognate read the stand-in's discovery document (for jwks_uri) and its keys.
    assert.ok(apple.calls.includes('GET /.well-known/openid-configuration'), apple.calls.join(', '));
    assert.ok(apple.calls.includes('GET /auth/keys'), apple.calls.join(', '));
  });

  test('the authorization request at the stand-in: code, the client, idpresponse, "email name", form_post', () => {
    assert.ok(first, 'the first sign-in did not run');
    assert.equal(first.authorizations.length, 1, 'one authorization request reached the stand-in');
    const q = first.authorizations[0].query;
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('client_id'), CLIENT_ID);
    assert.equal(q.get('redirect_uri'), `${server.url}/oauth2/idpresponse`);
    assert.equal(q.get('scope'), 'email name');
    assert.equal(q.get('response_mode'), 'form_post');
    assert.ok(q.get('state'), 'no state towards Apple');
    assert.notEqual(q.get('state'), first.state, 'the app’s own state was handed to Apple');
  });

  test('the authorization request carries a nonce, and the ID token echoed it', () => {
    assert.ok(first, 'the first sign-in did not run');
    const q = first.authorizations[0].query;
    const sent = `sent to the stand-in: ${q.toString()}`;
    assert.ok(q.get('nonce'), `no nonce in the authorization request; ${sent}`);
    const idToken = first.tokenRequests.at(-1)?.answer?.id_token;
    assert.equal(jwtPayload(idToken).nonce, q.get('nonce'));
  });

  test('two POSTs to /oauth2/idpresponse: the stand-in’s cross-site one without the cookie, cognate’s with it', () => {
    assert.ok(first, 'the first sign-in did not run');
    const posted = first.authorizations[0].posted;
    assert.ok(posted.user, 'the stand-in sent no user the first time');
    assert.deepEqual(JSON.parse(posted.user), {
      name: { firstName: PERSON.firstName, lastName: PERSON.lastName },
      email: PERSON.email,
    });
    assert.equal(first.posts.length, 2, JSON.stringify(first.posts));
    const [fromApple, fromCognate] = first.posts;
    assert.equal(fromApple.origin, apple.origin);
    assert.equal(fromApple.withCookie, false, 'the cross-site POST carried the federation cookie');
    assert.deepEqual(fromApple.fields, posted);
    assert.equal(fromCognate.origin, server.url);
    assert.equal(fromCognate.withCookie, true, 'cognate’s own POST did not carry the federation cookie');
    for (const k of ['code', 'state', 'user']) assert.equal(fromCognate.fields[k], posted[k], `${k} was not passed on`);
  });

  test('the code exchange: a form POST with grant_type, code, redirect_uri, client_id and an ES256 client secret', () => {
    assert.ok(first, 'the first sign-in did not run');
    assert.equal(first.tokenRequests.length, 1, JSON.stringify(first.tokenRequests));
    const [t] = first.tokenRequests;
    assert.match(t.contentType, /^application\/x-www-form-urlencoded/);
    assert.deepEqual(Object.keys(t.form).sort(), ['client_id', 'client_secret', 'code', 'grant_type', 'redirect_uri']);
    assert.equal(t.form.grant_type, 'authorization_code');
    assert.equal(t.form.code, first.authorizations[0].posted.code);
    assert.equal(t.form.redirect_uri, `${server.url}/oauth2/idpresponse`);
    assert.equal(t.form.client_id, CLIENT_ID);
    assert.equal(t.secret.ok, true, `the stand-in refused the client secret: ${t.secret.reason}`);
    assert.deepEqual(t.secret.header, { alg: 'ES256', kid: KEY_ID });
    const { claims } = t.secret;
    assert.equal(claims.iss, TEAM_ID);
    assert.equal(claims.sub, CLIENT_ID);
    assert.equal(claims.aud, apple.origin);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(Math.abs(claims.iat - now) < 120, `iat ${claims.iat}, now ${now}`);
    assert.ok(claims.exp > claims.iat && claims.exp - claims.iat <= 300, `iat ${claims.iat}, exp ${claims.exp}`);
    assert.equal(t.status, 200);
  });

  test('tokens for SignInWithApple_001234.abcd with the name from `user`', async () => {
    assert.ok(first, 'the first sign-in did not run');
    const tokens = await redeem(first.callbackUrl.searchParams.get('code'));
    const claims = jwtPayload(tokens.id_token);
    assert.equal(claims['cognito:username'], USERNAME);
    assert.equal(claims.aud, clientId);
    assert.equal(claims.email, PERSON.email);
    assert.equal(claims.given_name, 'Kim');
    assert.equal(claims.family_name, 'Lee');
    assert.equal(claims.name, 'Kim Lee');
    assert.ok(Array.isArray(claims.identities), `identities: ${JSON.stringify(claims.identities)}`);
    assert.equal(claims.identities.length, 1);
    const [identity] = claims.identities;
    assert.equal(identity.providerType, 'SignInWithApple');
    assert.equal(identity.providerName, 'SignInWithApple');
    assert.equal(identity.userId, PERSON.sub);
    assert.equal(identity.primary, 'true');
    assert.equal(jwtPayload(tokens.access_token).username, USERNAME);
  });

  test('AdminGetUser: EXTERNAL_PROVIDER, the email (verified, as Apple’s string says) and the name', async () => {
    const user = await api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: USERNAME });
    assert.equal(user.UserStatus, 'EXTERNAL_PROVIDER');
    const attrs = attributesOf(user);
    assert.equal(attrs.email, PERSON.email);
    assert.equal(attrs.email_verified, 'true');
    assert.equal(attrs.given_name, 'Kim');
    assert.equal(attrs.family_name, 'Lee');
    assert.equal(attrs.name, 'Kim Lee');
    const identities = JSON.parse(attrs.identities);
    assert.equal(identities[0].providerType, 'SignInWithApple');
    assert.equal(identities[0].userId, PERSON.sub);
  });

  test('a second sign-in, without `user` this time: the same user, the name kept', async () => {
    const second = await signIn();
    assert.equal(second.callbackUrl.searchParams.get('error'), null, second.callbackUrl.href);
    assert.equal(second.callbackUrl.searchParams.get('state'), second.state);
    assert.equal(second.authorizations[0].posted.user, undefined, 'the stand-in sent user again');
    assert.equal(second.posts.length, 2, JSON.stringify(second.posts));
    assert.equal(second.posts[1].fields.user, undefined);
    assert.equal(second.tokenRequests.at(-1).secret.ok, true, second.tokenRequests.at(-1).secret.reason);
    const claims = jwtPayload((await redeem(second.callbackUrl.searchParams.get('code'))).id_token);
    assert.equal(claims['cognito:username'], USERNAME);
    assert.equal(claims.name, 'Kim Lee');
    const attrs = attributesOf(await api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: USERNAME }));
    assert.equal(attrs.given_name, 'Kim');
    assert.equal(attrs.family_name, 'Lee');
    assert.equal(attrs.name, 'Kim Lee');
    assert.equal(attrs.email, PERSON.email);
  });

  test('an ID token whose nonce is not the sign-in’s is refused', async () => {
    apple.plan = { nonce: 'not-this-sign-in' };
    let signedIn;
    try {
      signedIn = await signIn();
    } finally {
      apple.plan = {};
    }
    const { callbackUrl, state, tokenRequests } = signedIn;
    assert.equal(tokenRequests.length, 1);
    assert.equal(jwtPayload(tokenRequests[0].answer.id_token).nonce, 'not-this-sign-in');
    assert.equal(callbackUrl.searchParams.get('code'), null, `signed in with another’s ID token: ${callbackUrl.href}`);
    assert.equal(callbackUrl.searchParams.get('error'), 'invalid_request');
    assert.equal(callbackUrl.searchParams.get('state'), state);
  });

  test('a provider holding another key: the stand-in refuses its client secret, the app gets invalid_request', async () => {
    const stranger = teamKey();
    await api(server.url, 'UpdateIdentityProvider', {
      UserPoolId: poolId,
      ProviderName: 'SignInWithApple',
      ProviderDetails: details(stranger.pem),
    });
    try {
      const { callbackUrl, state, tokenRequests } = await signIn();
      assert.equal(tokenRequests.length, 1, JSON.stringify(tokenRequests));
      const [t] = tokenRequests;
      assert.equal(t.secret.ok, false, 'the stand-in took a secret signed with another key');
      assert.match(t.secret.reason, /signature/);
      assert.deepEqual([t.status, t.answer], [400, { error: 'invalid_client' }]);
      assert.equal(callbackUrl.searchParams.get('code'), null, callbackUrl.href);
      assert.equal(callbackUrl.searchParams.get('error'), 'invalid_request');
      assert.equal(callbackUrl.searchParams.get('state'), state);
    } finally {
      await api(server.url, 'UpdateIdentityProvider', {
        UserPoolId: poolId,
        ProviderName: 'SignInWithApple',
        ProviderDetails: details(trusted.pem),
      });
    }
    // With the team's key back, the next sign-in goes through.
    const again = await signIn();
    assert.equal(again.callbackUrl.searchParams.get('error'), null, again.callbackUrl.href);
    assert.ok(again.callbackUrl.searchParams.get('code'));
  });
});
