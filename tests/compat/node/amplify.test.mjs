// cognate driven by Amplify JS v6 (aws-amplify), the library most web apps use today. Amplify
// signs in with USER_SRP_AUTH and, unlike amazon-cognito-identity-js, refreshes tokens only
// through GetTokensFromRefreshToken, so this covers that operation end to end: a plain client
// (the refresh token stays the same) and a client with RefreshTokenRotation (every refresh
// returns a new refresh token, which Amplify must keep and send the next time). Sign-out is
// covered both ways: RevokeToken (the default) and GlobalSignOut ({ global: true }).
//
// Node setup: Amplify.configure with `userPoolEndpoint` set to cognate's URL (Amplify then sends
// every user-pool call there instead of cognito-idp.<region>.amazonaws.com). Amplify.configure
// points the token provider at its default storage (localStorage, which Node lacks, so an
// in-memory fallback); the test swaps in its own in-memory key-value store right after each
// configure so it can read what Amplify keeps, e.g. the refresh token. Amplify calls the global
// fetch at request time, so the test wraps it to record each request Amplify sent to cognate
// and the answer it got.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Amplify } from 'aws-amplify';
import { fetchAuthSession, fetchUserAttributes, getCurrentUser, signIn, signOut } from 'aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from 'aws-amplify/auth/cognito';
import { Hub } from 'aws-amplify/utils';

import { api, ApiError, startServer } from './helpers.mjs';

const PASSWORD = 'Correct-horse-1';

let server;
let poolId;
let plainClient; // no rotation
let rotatingClient; // RefreshTokenRotation ENABLED, RetryGracePeriodSeconds 0

/** Every cognito-idp call Amplify made to cognate: { op, request, status, response }. */
const calls = [];
const realFetch = globalThis.fetch;

/** Amplify's KeyValueStorageInterface over a Map, so the test can look inside. */
class MapStorage {
  constructor() {
    this.items = new Map();
  }
  async setItem(key, value) {
    this.items.set(key, value);
  }
  async getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }
  async removeItem(key) {
    this.items.delete(key);
  }
  async clear() {
    this.items.clear();
  }
}

let storage;

/** Points Amplify at cognate for `clientId`, with a fresh, empty token store. */
function configureFor(clientId) {
  Amplify.configure({ Auth: { Cognito: { userPoolId: poolId, userPoolClientId: clientId, userPoolEndpoint: server.url } } });
  storage = new MapStorage();
  cognitoUserPoolsTokenProvider.setKeyValueStorage(storage);
}

/** The refresh token Amplify currently keeps for `clientId` (keys: CognitoIdentityServiceProvider.<client>.<user>.refreshToken). */
function storedRefreshToken(clientId) {
  const prefix = `CognitoIdentityServiceProvider.${clientId}.`;
  const found = [...storage.items].filter(([k]) => k.startsWith(prefix) && k.endsWith('.refreshToken'));
  assert.equal(found.length, 1, `one stored refresh token, got keys ${[...storage.items.keys()]}`);
  return found[0][1];
}

/** cognate's per-call log lines (stderr) for `op`, optionally only for `client`. */
function logLines(op, client) {
  return server
    .stderr()
    .split('\n')
    .filter((l) => l.includes(`op=${op} `) && (!client || l.includes(`client=${client} `)));
}

function callsTo(op) {
  return calls.filter((c) => c.op === op);
}

/** Records Hub 'auth' events while `fn` runs. */
async function hubEvents(fn) {
  const seen = [];
  const stop = Hub.listen('auth', ({ payload }) => seen.push(payload.event));
  try {
    await fn();
  } finally {
    stop();
  }
  return seen;
}

async function createClient(name, extra = {}) {
  const { UserPoolClient } = await api(server.url, 'CreateUserPoolClient', {
    UserPoolId: poolId,
    ClientName: name,
    ExplicitAuthFlows: ['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
    ...extra,
  });
  return UserPoolClient;
}

async function adminUser(username) {
  await api(server.url, 'AdminCreateUser', {
    UserPoolId: poolId,
    Username: username,
    MessageAction: 'SUPPRESS',
    UserAttributes: [
      { Name: 'email', Value: `${username}@example.com` },
      { Name: 'email_verified', Value: 'true' },
    ],
  });
  await api(server.url, 'AdminSetUserPassword', { UserPoolId: poolId, Username: username, Password: PASSWORD, Permanent: true });
}

/** Asserts `call` is refused by cognate with error code `code`. */
async function refused(call, code) {
  await assert.rejects(call, (err) => {
    assert.ok(err instanceof ApiError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  server = await startServer();
  globalThis.fetch = async (input, init = {}) => {
    const url = String(input instanceof Request ? input.url : input);
    const target = new Headers(init.headers).get('x-amz-target');
    if (!url.startsWith(server.url) || !target) return realFetch(input, init);
    const res = await realFetch(input, init);
    const text = await res.clone().text();
    calls.push({
      op: target.split('.').pop(),
      request: JSON.parse(init.body || '{}'),
      status: res.status,
      response: text ? JSON.parse(text) : {},
    });
    return res;
  };

  const { UserPool } = await api(server.url, 'CreateUserPool', { PoolName: 'amplify' });
  poolId = UserPool.Id;
  plainClient = await createClient('amplify-web');
  rotatingClient = await createClient('amplify-rotating', {
    RefreshTokenRotation: { Feature: 'ENABLED', RetryGracePeriodSeconds: 0 },
  });
  assert.equal(rotatingClient.RefreshTokenRotation?.Feature, 'ENABLED');
  await adminUser('amp-ana');
  await adminUser('amp-rui');
});

after(async () => {
  globalThis.fetch = realFetch;
  await server?.stop();
});

describe('Amplify v6 on a client without rotation', () => {
  let firstRefreshToken;

  test('signIn (SRP) → signed in; the session carries cognate tokens; getCurrentUser works', async () => {
    configureFor(plainClient.ClientId);
    const res = await signIn({ username: 'amp-ana', password: PASSWORD });
    assert.equal(res.isSignedIn, true);
    assert.equal(res.nextStep.signInStep, 'DONE');

    const [initiate] = callsTo('InitiateAuth');
    assert.equal(initiate.request.AuthFlow, 'USER_SRP_AUTH');
    assert.equal(initiate.request.ClientId, plainClient.ClientId);
    assert.equal(initiate.status, 200);
    assert.equal(initiate.response.ChallengeName, 'PASSWORD_VERIFIER');
    const [respond] = callsTo('RespondToAuthChallenge');
    assert.equal(respond.status, 200, JSON.stringify(respond.response));

    const { tokens } = await fetchAuthSession();
    assert.ok(tokens?.accessToken && tokens?.idToken);
    const id = tokens.idToken.payload;
    const access = tokens.accessToken.payload;
    assert.equal(id.iss, `${server.url}/${poolId}`);
    assert.equal(access.iss, `${server.url}/${poolId}`);
    assert.equal(id.token_use, 'id');
    assert.equal(id['cognito:username'], 'amp-ana');
    assert.equal(id.aud, plainClient.ClientId);
    assert.equal(id.email, 'amp-ana@example.com');
    assert.equal(access.token_use, 'access');
    assert.equal(access.username, 'amp-ana');
    assert.equal(access.client_id, plainClient.ClientId);
    assert.equal(access.sub, id.sub);
    assert.ok(access.origin_jti, 'access token has origin_jti (Amplify revokes on sign-out only then)');

    const user = await getCurrentUser();
    assert.equal(user.username, 'amp-ana');
    assert.equal(user.userId, id.sub);
    assert.equal(user.signInDetails?.loginId, 'amp-ana');
    assert.equal(user.signInDetails?.authFlowType, 'USER_SRP_AUTH');

    // Amplify's own GetUser call, with the access token cognate issued.
    const attributes = await fetchUserAttributes();
    assert.equal(attributes.email, 'amp-ana@example.com');
    assert.equal(attributes.sub, id.sub);

    firstRefreshToken = storedRefreshToken(plainClient.ClientId);
    assert.equal(firstRefreshToken, respond.response.AuthenticationResult.RefreshToken);
  });

  test('fetchAuthSession({ forceRefresh: true }) → new tokens through GetTokensFromRefreshToken', async () => {
    const before = (await fetchAuthSession()).tokens;
    const logged = logLines('GetTokensFromRefreshToken', plainClient.ClientId).length;
    const sent = callsTo('GetTokensFromRefreshToken').length;
    await sleep(1100); // so that iat moves on

    let now;
    const events = await hubEvents(async () => {
      now = (await fetchAuthSession({ forceRefresh: true })).tokens;
    });
    assert.ok(now?.accessToken && now?.idToken);
    assert.ok(events.includes('tokenRefresh'), `Hub events: ${events}`);
    assert.ok(!events.includes('tokenRefresh_failure'), `Hub events: ${events}`);

    // What Amplify sent and what cognate answered.
    const refreshes = callsTo('GetTokensFromRefreshToken').slice(sent);
    assert.equal(refreshes.length, 1);
    const [refresh] = refreshes;
    assert.equal(refresh.status, 200, JSON.stringify(refresh.response));
    assert.equal(refresh.request.ClientId, plainClient.ClientId);
    assert.equal(refresh.request.RefreshToken, firstRefreshToken);
    assert.equal(refresh.response.AuthenticationResult.TokenType, 'Bearer');
    assert.equal(refresh.response.AuthenticationResult.AccessToken, now.accessToken.toString());
    assert.equal(refresh.response.AuthenticationResult.IdToken, now.idToken.toString());
    // No rotation on this client: no new refresh token, Amplify keeps the one it had.
    assert.equal(refresh.response.AuthenticationResult.RefreshToken, undefined);
    assert.equal(storedRefreshToken(plainClient.ClientId), firstRefreshToken);
    assert.equal(callsTo('InitiateAuth').filter((c) => c.request.AuthFlow === 'REFRESH_TOKEN_AUTH').length, 0);

    // And from cognate's side: the call is in its log, and succeeded.
    const lines = logLines('GetTokensFromRefreshToken', plainClient.ClientId);
    assert.equal(lines.length, logged + 1, server.stderr());
    assert.match(lines.at(-1), /status=200 /);
    assert.match(server.stderr(), /op=GetTokensFromRefreshToken /);

    for (const kind of ['accessToken', 'idToken']) {
      const old = before[kind].payload;
      const fresh = now[kind].payload;
      assert.notEqual(now[kind].toString(), before[kind].toString(), kind);
      assert.notEqual(fresh.jti, old.jti, `${kind} jti`);
      assert.ok(fresh.iat > old.iat, `${kind} iat ${fresh.iat} > ${old.iat}`);
      assert.ok(fresh.exp > old.exp, `${kind} exp`);
      assert.equal(fresh.origin_jti, old.origin_jti, `${kind} origin_jti`);
      assert.equal(fresh.auth_time, old.auth_time, `${kind} auth_time`);
      assert.equal(fresh.sub, old.sub, `${kind} sub`);
    }

    // The refreshed access token works for Amplify's GetUser.
    const getUsers = callsTo('GetUser').length;
    assert.equal((await fetchUserAttributes()).email, 'amp-ana@example.com');
    assert.equal(callsTo('GetUser').at(-1).request.AccessToken, now.accessToken.toString());
    assert.equal(callsTo('GetUser').length, getUsers + 1);
  });

  test('signOut() → RevokeToken; afterwards cognate refuses the refresh token and its access token', async () => {
    const { tokens } = await fetchAuthSession();
    const accessToken = tokens.accessToken.toString();
    const revokes = callsTo('RevokeToken').length;

    await signOut();

    const [revoke] = callsTo('RevokeToken').slice(revokes);
    assert.ok(revoke, 'Amplify called RevokeToken');
    assert.equal(revoke.request.ClientId, plainClient.ClientId);
    assert.equal(revoke.request.Token, firstRefreshToken);
    assert.equal(revoke.status, 200, JSON.stringify(revoke.response));
    assert.equal(callsTo('GlobalSignOut').length, 0);

    // Amplify forgot the session.
    assert.deepEqual([...storage.items.keys()].filter((k) => k.endsWith('.refreshToken')), []);
    assert.equal((await fetchAuthSession()).tokens, undefined);
    await assert.rejects(getCurrentUser(), { name: 'UserUnAuthenticatedException' });

    // cognate: the refresh token is revoked, and so is the access token issued from it.
    await refused(
      api(server.url, 'GetTokensFromRefreshToken', { ClientId: plainClient.ClientId, RefreshToken: firstRefreshToken }),
      'NotAuthorizedException',
    );
    await refused(api(server.url, 'GetUser', { AccessToken: accessToken }), 'NotAuthorizedException');
  });
});

describe('Amplify v6 on a client with RefreshTokenRotation (grace period 0)', () => {
  const refreshTokens = [];

  test('signIn, then two forced refreshes: each rotates, Amplify keeps the new refresh token and sends it next', async () => {
    configureFor(rotatingClient.ClientId);
    const res = await signIn({ username: 'amp-rui', password: PASSWORD });
    assert.equal(res.isSignedIn, true);
    refreshTokens.push(storedRefreshToken(rotatingClient.ClientId));
    const first = (await fetchAuthSession()).tokens;
    assert.equal(first.accessToken.payload.client_id, rotatingClient.ClientId);
    assert.equal(first.idToken.payload['cognito:username'], 'amp-rui');

    let previous = first;
    for (const round of [1, 2]) {
      const sent = callsTo('GetTokensFromRefreshToken').length;
      const now = (await fetchAuthSession({ forceRefresh: true })).tokens;
      const [refresh] = callsTo('GetTokensFromRefreshToken').slice(sent);
      assert.ok(refresh, `round ${round}: Amplify called GetTokensFromRefreshToken`);
      assert.equal(refresh.status, 200, `round ${round}: ${JSON.stringify(refresh.response)}`);
      assert.equal(refresh.request.ClientId, rotatingClient.ClientId);
      // Amplify sends the refresh token it got last (from sign-in, then from the previous refresh).
      assert.equal(refresh.request.RefreshToken, refreshTokens.at(-1), `round ${round}: sent the latest refresh token`);

      const rotated = refresh.response.AuthenticationResult.RefreshToken;
      assert.ok(rotated, `round ${round}: cognate returned a new refresh token`);
      assert.ok(!refreshTokens.includes(rotated), `round ${round}: the refresh token is new`);
      assert.equal(storedRefreshToken(rotatingClient.ClientId), rotated, `round ${round}: Amplify stored it`);
      refreshTokens.push(rotated);

      assert.ok(now?.accessToken && now?.idToken);
      assert.notEqual(now.accessToken.payload.jti, previous.accessToken.payload.jti);
      assert.notEqual(now.idToken.payload.jti, previous.idToken.payload.jti);
      assert.equal(now.accessToken.payload.sub, first.accessToken.payload.sub);
      previous = now;
    }

    const lines = logLines('GetTokensFromRefreshToken', rotatingClient.ClientId);
    assert.equal(lines.length, 2, server.stderr());
    for (const line of lines) assert.match(line, /status=200 /);

    // Still signed in with the latest tokens, and they work.
    assert.equal((await getCurrentUser()).username, 'amp-rui');
    assert.equal((await fetchUserAttributes()).email, 'amp-rui@example.com');
  });

  test('the rotated-out refresh token is refused by cognate (grace period 0)', async () => {
    assert.equal(refreshTokens.length, 3);
    await refused(
      api(server.url, 'GetTokensFromRefreshToken', { ClientId: rotatingClient.ClientId, RefreshToken: refreshTokens[0] }),
      'RefreshTokenReuseException',
    );
  });

  test('signOut({ global: true }) → GlobalSignOut; afterwards cognate refuses the tokens', async () => {
    // A fresh session, independent of the reuse attempt above.
    await signOut();
    const res = await signIn({ username: 'amp-rui', password: PASSWORD });
    assert.equal(res.isSignedIn, true);
    const { tokens } = await fetchAuthSession();
    const accessToken = tokens.accessToken.toString();
    const refreshToken = storedRefreshToken(rotatingClient.ClientId);
    const globals = callsTo('GlobalSignOut').length;
    const revokes = callsTo('RevokeToken').length;

    await signOut({ global: true });

    const [global] = callsTo('GlobalSignOut').slice(globals);
    assert.ok(global, 'Amplify called GlobalSignOut');
    assert.equal(global.request.AccessToken, accessToken);
    assert.equal(global.status, 200, JSON.stringify(global.response));
    assert.equal(callsTo('RevokeToken').length, revokes, 'no RevokeToken with { global: true }');
    assert.equal((await fetchAuthSession()).tokens, undefined);

    await refused(api(server.url, 'GetUser', { AccessToken: accessToken }), 'NotAuthorizedException');
    await refused(
      api(server.url, 'GetTokensFromRefreshToken', { ClientId: rotatingClient.ClientId, RefreshToken: refreshToken }),
      'NotAuthorizedException',
    );
  });
});
