// cognate driven by amazon-cognito-identity-js: USER_SRP_AUTH (its default flow), wrong
// passwords, NEW_PASSWORD_REQUIRED, email-as-username pools, and the sign-up → confirm →
// USER_PASSWORD_AUTH → session journey. (The library does not support client secrets.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import cognito from 'amazon-cognito-identity-js';

import { api, authenticate, call, completeNewPassword, jwtPayload, outbox, startServer } from './helpers.mjs';

const { AuthenticationDetails, CognitoUser, CognitoUserAttribute, CognitoUserPool } = cognito;

const PASSWORD = 'Correct-horse-1';
const FLOWS = ['ALLOW_USER_SRP_AUTH', 'ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'];

let server;
let poolId;
let clientId;
let pool;

async function makePool(extra = {}) {
  const { UserPool } = await api(server.url, 'CreateUserPool', { PoolName: 'js', ...extra });
  const { UserPoolClient } = await api(server.url, 'CreateUserPoolClient', {
    UserPoolId: UserPool.Id,
    ClientName: 'web',
    ExplicitAuthFlows: FLOWS,
  });
  return {
    poolId: UserPool.Id,
    clientId: UserPoolClient.ClientId,
    pool: new CognitoUserPool({ UserPoolId: UserPool.Id, ClientId: UserPoolClient.ClientId, endpoint: server.url }),
  };
}

/** A CONFIRMED user with a permanent password, created by an administrator. */
async function adminUser(username, { password = PASSWORD, inPool = poolId, email } = {}) {
  await api(server.url, 'AdminCreateUser', {
    UserPoolId: inPool,
    Username: username,
    MessageAction: 'SUPPRESS',
    UserAttributes: [{ Name: 'email', Value: email || `${username}@example.com` }],
  });
  await api(server.url, 'AdminSetUserPassword', { UserPoolId: inPool, Username: username, Password: password, Permanent: true });
}

function details(Username, Password = PASSWORD) {
  return new AuthenticationDetails({ Username, Password });
}

function assertSession(session, { username, client = clientId, inPool = poolId }) {
  assert.equal(session.isValid(), true);
  const id = session.getIdToken().decodePayload();
  const access = session.getAccessToken().decodePayload();
  assert.equal(id.token_use, 'id');
  assert.equal(id['cognito:username'], username);
  assert.equal(id.aud, client);
  assert.equal(id.iss, `${server.url}/${inPool}`);
  assert.equal(access.token_use, 'access');
  assert.equal(access.username, username);
  assert.equal(access.client_id, client);
  assert.equal(access.sub, id.sub);
  assert.ok(session.getRefreshToken().getToken().length > 0);
}

before(async () => {
  server = await startServer();
  ({ poolId, clientId, pool } = await makePool({ AutoVerifiedAttributes: ['email'] }));
});

after(async () => {
  await server?.stop();
});

describe('USER_SRP_AUTH (the default flow)', () => {
  test('correct password → tokens, then getSession and getUserAttributes', async () => {
    await adminUser('js-ana');
    const user = new CognitoUser({ Username: 'js-ana', Pool: pool });
    const res = await authenticate(user, details('js-ana'));
    assert.equal(res.kind, 'success');
    assertSession(res.session, { username: 'js-ana' });
    assert.equal(user.getUsername(), 'js-ana');

    const cached = await call((cb) => user.getSession(cb));
    assert.equal(cached.getAccessToken().getJwtToken(), res.session.getAccessToken().getJwtToken());
    const attrs = await call((cb) => user.getUserAttributes(cb));
    const byName = Object.fromEntries(attrs.map((a) => [a.getName(), a.getValue()]));
    assert.equal(byName.email, 'js-ana@example.com');
    assert.equal(byName.sub, res.session.getIdToken().decodePayload().sub);
  });

  test('wrong password → NotAuthorizedException', async () => {
    await adminUser('js-ben');
    const user = new CognitoUser({ Username: 'js-ben', Pool: pool });
    await assert.rejects(authenticate(user, details('js-ben', 'Wrong-horse-1')), {
      code: 'NotAuthorizedException',
      message: 'Incorrect username or password.',
    });
    // The right password still works afterwards.
    const res = await authenticate(new CognitoUser({ Username: 'js-ben', Pool: pool }), details('js-ben'));
    assertSession(res.session, { username: 'js-ben' });
  });

  test('unknown user → UserNotFoundException', async () => {
    const user = new CognitoUser({ Username: 'js-nobody', Pool: pool });
    await assert.rejects(authenticate(user, details('js-nobody')), {
      code: 'UserNotFoundException',
      message: 'User does not exist.',
    });
  });

  test('FORCE_CHANGE_PASSWORD → newPasswordRequired → completeNewPasswordChallenge', async () => {
    await api(server.url, 'AdminCreateUser', {
      UserPoolId: poolId,
      Username: 'js-eve',
      TemporaryPassword: 'Temp-horse-1',
      MessageAction: 'SUPPRESS',
      UserAttributes: [{ Name: 'email', Value: 'eve@example.com' }],
    });
    const user = new CognitoUser({ Username: 'js-eve', Pool: pool });
    const challenge = await authenticate(user, details('js-eve', 'Temp-horse-1'));
    assert.equal(challenge.kind, 'newPasswordRequired');
    assert.equal(challenge.userAttributes.email, 'eve@example.com');
    assert.deepEqual(challenge.requiredAttributes, []);

    const done = await completeNewPassword(user, 'New-horse-1');
    assert.equal(done.kind, 'success');
    assertSession(done.session, { username: 'js-eve' });
    const status = await api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: 'js-eve' });
    assert.equal(status.UserStatus, 'CONFIRMED');

    const again = await authenticate(new CognitoUser({ Username: 'js-eve', Pool: pool }), details('js-eve', 'New-horse-1'));
    assertSession(again.session, { username: 'js-eve' });
    await assert.rejects(authenticate(new CognitoUser({ Username: 'js-eve', Pool: pool }), details('js-eve', 'Temp-horse-1')), {
      code: 'NotAuthorizedException',
    });
  });

  test('email-as-username pool: sign in with the email, proof over USER_ID_FOR_SRP', async () => {
    const other = await makePool({ PoolName: 'js-email', UsernameAttributes: ['email'] });
    await adminUser('gus@example.com', { inPool: other.poolId, email: 'gus@example.com' });
    const { Username: internal } = await api(server.url, 'AdminGetUser', { UserPoolId: other.poolId, Username: 'gus@example.com' });
    assert.notEqual(internal, 'gus@example.com');

    const user = new CognitoUser({ Username: 'gus@example.com', Pool: other.pool });
    const res = await authenticate(user, details('gus@example.com'));
    assertSession(res.session, { username: internal, client: other.clientId, inPool: other.poolId });
    assert.equal(user.getUsername(), internal); // the library adopts USER_ID_FOR_SRP
    assert.equal(res.session.getIdToken().decodePayload().email, 'gus@example.com');
  });
});

describe('sign-up journey', () => {
  test('signUp → confirmRegistration (outbox code) → USER_PASSWORD_AUTH → getSession / getUserAttributes / refresh', async () => {
    const signed = await call((cb) =>
      pool.signUp('js-zoe', PASSWORD, [new CognitoUserAttribute({ Name: 'email', Value: 'zoe@example.com' })], null, cb),
    );
    assert.equal(signed.userConfirmed, false);
    assert.equal(signed.user.getUsername(), 'js-zoe');
    assert.deepEqual(signed.codeDeliveryDetails, { Destination: 'z***@e***', DeliveryMedium: 'EMAIL', AttributeName: 'email' });
    assert.match(signed.userSub, /^[0-9a-f-]{36}$/);

    const [message] = await outbox(server.url, poolId, 'js-zoe');
    assert.equal(message.source, 'SignUp');
    const user = signed.user;
    await assert.rejects(
      call((cb) => user.confirmRegistration(message.code === '000000' ? '111111' : '000000', true, cb)),
      { code: 'CodeMismatchException' },
    );
    assert.equal(await call((cb) => user.confirmRegistration(message.code, true, cb)), 'SUCCESS');

    user.setAuthenticationFlowType('USER_PASSWORD_AUTH');
    await assert.rejects(authenticate(user, details('js-zoe', 'Wrong-horse-1')), {
      code: 'NotAuthorizedException',
      message: 'Incorrect username or password.',
    });
    const res = await authenticate(user, details('js-zoe'));
    assert.equal(res.kind, 'success');
    assertSession(res.session, { username: 'js-zoe' });
    assert.equal(res.session.getIdToken().decodePayload().sub, signed.userSub);
    assert.equal(jwtPayload(res.session.getIdToken().getJwtToken()).email_verified, true);

    // getSession from the library's token cache, on a fresh CognitoUser object.
    const fresh = new CognitoUser({ Username: 'js-zoe', Pool: pool });
    const session = await call((cb) => fresh.getSession(cb));
    assert.equal(session.isValid(), true);
    assert.equal(session.getIdToken().getJwtToken(), res.session.getIdToken().getJwtToken());
    const current = pool.getCurrentUser();
    assert.equal(current?.getUsername(), 'js-zoe');

    const attrs = await call((cb) => fresh.getUserAttributes(cb));
    const byName = Object.fromEntries(attrs.map((a) => [a.getName(), a.getValue()]));
    assert.equal(byName.email, 'zoe@example.com');
    assert.equal(byName.email_verified, 'true');
    assert.equal(byName.sub, signed.userSub);

    const refreshed = await call((cb) => fresh.refreshSession(session.getRefreshToken(), cb));
    assert.equal(refreshed.isValid(), true);
    const original = session.getIdToken().decodePayload();
    const afterRefresh = refreshed.getIdToken().decodePayload();
    assert.equal(afterRefresh.sub, original.sub);
    assert.equal(afterRefresh.origin_jti, original.origin_jti);
    // No new refresh token is issued; the library keeps the one it had.
    assert.equal(refreshed.getRefreshToken().getToken(), session.getRefreshToken().getToken());
  });

  test('FORCE_CHANGE_PASSWORD over USER_PASSWORD_AUTH', async () => {
    await api(server.url, 'AdminCreateUser', {
      UserPoolId: poolId,
      Username: 'js-fay',
      TemporaryPassword: 'Temp-horse-1',
      MessageAction: 'SUPPRESS',
      UserAttributes: [{ Name: 'email', Value: 'fay@example.com' }],
    });
    const user = new CognitoUser({ Username: 'js-fay', Pool: pool });
    user.setAuthenticationFlowType('USER_PASSWORD_AUTH');
    const challenge = await authenticate(user, details('js-fay', 'Temp-horse-1'));
    assert.equal(challenge.kind, 'newPasswordRequired');
    assert.equal(challenge.userAttributes.email, 'fay@example.com');
    const done = await completeNewPassword(user, 'New-horse-1');
    assertSession(done.session, { username: 'js-fay' });
    const status = await api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: 'js-fay' });
    assert.equal(status.UserStatus, 'CONFIRMED');
  });

  test('the signed-up user also signs in over SRP', async () => {
    const res = await authenticate(new CognitoUser({ Username: 'js-zoe', Pool: pool }), details('js-zoe'));
    assertSession(res.session, { username: 'js-zoe' });
  });
});
