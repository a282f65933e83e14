// Authenticator-app MFA through amazon-cognito-identity-js: enrolling with an access token
// (associateSoftwareToken → verifySoftwareToken → setUserMfaPreference) and then signing in
// with a code (totpRequired → sendMFACode), and enrolling during sign-in when the pool requires
// MFA (mfaSetup → associateSoftwareToken → verifySoftwareToken → tokens). The codes are computed
// here with node:crypto, independently of cognate's own implementation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import cognito from 'amazon-cognito-identity-js';

import { api, authenticate, call, startServer, totp } from './helpers.mjs';

const { AuthenticationDetails, CognitoUser, CognitoUserPool } = cognito;
const PASSWORD = 'Correct-horse-1';

/** A pool with authenticator apps (and, with `sms`, text messages) allowed and MFA `mode`, a
 * client, and a confirmed user. */
async function setUp(url, mode, username, { attributes = [], sms = false } = {}) {
  const { UserPool } = await api(url, 'CreateUserPool', { PoolName: `totp-${mode}` });
  await api(url, 'SetUserPoolMfaConfig', {
    UserPoolId: UserPool.Id,
    MfaConfiguration: mode,
    SoftwareTokenMfaConfiguration: { Enabled: true },
    ...(sms ? { SmsMfaConfiguration: { SmsConfiguration: { SnsCallerArn: 'arn:aws:iam::000000000000:role/sms' } } } : {}),
  });
  const { UserPoolClient } = await api(url, 'CreateUserPoolClient', {
    UserPoolId: UserPool.Id,
    ClientName: 'web',
    ExplicitAuthFlows: ['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
  });
  await api(url, 'AdminCreateUser', { UserPoolId: UserPool.Id, Username: username, MessageAction: 'SUPPRESS', UserAttributes: attributes });
  await api(url, 'AdminSetUserPassword', { UserPoolId: UserPool.Id, Username: username, Password: PASSWORD, Permanent: true });
  const pool = new CognitoUserPool({ UserPoolId: UserPool.Id, ClientId: UserPoolClient.ClientId, endpoint: url });
  return { poolId: UserPool.Id, pool };
}

const associate = (user) =>
  new Promise((ok, fail) => user.associateSoftwareToken({ associateSecretCode: ok, onFailure: fail }));
const verify = (user, code) =>
  new Promise((ok, fail) => user.verifySoftwareToken(code, 'phone', { onSuccess: ok, onFailure: fail }));

describe('software-token MFA with amazon-cognito-identity-js', () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(() => server?.stop());

  test('enrol with an access token, then sign in with the app’s code', async () => {
    const { poolId, pool } = await setUp(server.url, 'OPTIONAL', 'tia');
    const user = new CognitoUser({ Username: 'tia', Pool: pool });
    assert.equal((await authenticate(user, new AuthenticationDetails({ Username: 'tia', Password: PASSWORD }))).kind, 'success');

    const secret = await associate(user);
    assert.match(secret, /^[A-Z2-7]{32}$/);
    await assert.rejects(verify(user, totp(secret, 5)), (e) => e.code === 'EnableSoftwareTokenMFAException');
    const spent = totp(secret);
    assert.deepEqual(await verify(user, spent), { Status: 'SUCCESS' });
    assert.equal(await call((cb) => user.setUserMfaPreference(null, { PreferredMfa: true, Enabled: true }, cb)), 'SUCCESS');
    const admin = await api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: 'tia' });
    assert.deepEqual([admin.UserMFASettingList, admin.PreferredMfaSetting], [['SOFTWARE_TOKEN_MFA'], 'SOFTWARE_TOKEN_MFA']);

    const again = new CognitoUser({ Username: 'tia', Pool: pool });
    const challenge = await new Promise((ok, fail) =>
      again.authenticateUser(new AuthenticationDetails({ Username: 'tia', Password: PASSWORD }), {
        onSuccess: () => fail(new Error('signed in without the app')),
        onFailure: fail,
        totpRequired: (name) => ok(name),
      }),
    );
    assert.equal(challenge, 'SOFTWARE_TOKEN_MFA');
    const send = (code) =>
      new Promise((ok, fail) => again.sendMFACode(code, { onSuccess: ok, onFailure: fail }, 'SOFTWARE_TOKEN_MFA'));
    // The code verification used is spent, as Cognito words it; another may be tried in the
    // same session.
    await assert.rejects(
      send(spent),
      (e) => e.code === 'ExpiredCodeException' && e.message === 'Your software token has already been used once.',
    );
    const session = await send(totp(secret, 1));
    assert.equal(session.getAccessToken().decodePayload().username, 'tia');

    // Wrong codes count per user, not per sign-in: ten spread over two sign-ins use them up,
    // and then even the right code is refused.
    const started = async () => {
      const u = new CognitoUser({ Username: 'tia', Pool: pool });
      await new Promise((ok, fail) =>
        u.authenticateUser(new AuthenticationDetails({ Username: 'tia', Password: PASSWORD }), { onSuccess: fail, onFailure: fail, totpRequired: ok }),
      );
      return u;
    };
    const sessions = [await started(), await started()];
    const wrong = String((Number(totp(secret)) + 500_000) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < 10; i += 1) {
      const u = sessions[i % 2];
      await assert.rejects(
        new Promise((ok, fail) => u.sendMFACode(wrong, { onSuccess: ok, onFailure: fail }, 'SOFTWARE_TOKEN_MFA')),
        (e) => e.code === 'CodeMismatchException',
      );
    }
    await assert.rejects(
      new Promise((ok, fail) => sessions[0].sendMFACode(totp(secret, 1), { onSuccess: ok, onFailure: fail }, 'SOFTWARE_TOKEN_MFA')),
      (e) => e.code === 'NotAuthorizedException',
    );
  });

  test('with SMS and an app enabled and neither preferred, the user picks (SELECT_MFA_TYPE)', async () => {
    const phone = [
      { Name: 'phone_number', Value: '+15555550177' },
      { Name: 'phone_number_verified', Value: 'true' },
    ];
    const { pool } = await setUp(server.url, 'OPTIONAL', 'val', { attributes: phone, sms: true });
    const user = new CognitoUser({ Username: 'val', Pool: pool });
    assert.equal((await authenticate(user, new AuthenticationDetails({ Username: 'val', Password: PASSWORD }))).kind, 'success');
    const secret = await associate(user);
    await verify(user, totp(secret));
    const both = { Enabled: true, PreferredMfa: false };
    assert.equal(await call((cb) => user.setUserMfaPreference(both, both, cb)), 'SUCCESS');

    const again = new CognitoUser({ Username: 'val', Pool: pool });
    const choice = await new Promise((ok, fail) =>
      again.authenticateUser(new AuthenticationDetails({ Username: 'val', Password: PASSWORD }), {
        onSuccess: () => fail(new Error('signed in without MFA')),
        onFailure: fail,
        selectMFAType: (name, params) => ok({ name, params }),
      }),
    );
    assert.equal(choice.name, 'SELECT_MFA_TYPE');
    assert.deepEqual(JSON.parse(choice.params.MFAS_CAN_CHOOSE).sort(), ['SMS_MFA', 'SOFTWARE_TOKEN_MFA']);
    const next = await new Promise((ok, fail) =>
      again.sendMFASelectionAnswer('SOFTWARE_TOKEN_MFA', { onFailure: fail, totpRequired: ok, mfaRequired: fail }),
    );
    assert.equal(next, 'SOFTWARE_TOKEN_MFA');
    const session = await new Promise((ok, fail) =>
      again.sendMFACode(totp(secret, 1), { onSuccess: ok, onFailure: fail }, 'SOFTWARE_TOKEN_MFA'),
    );
    assert.equal(session.isValid(), true);
  });

  test('a pool that requires MFA enrols the app during sign-in (MFA_SETUP)', async () => {
    const { poolId, pool } = await setUp(server.url, 'ON', 'uma');
    const user = new CognitoUser({ Username: 'uma', Pool: pool });
    const setup = await new Promise((ok, fail) =>
      user.authenticateUser(new AuthenticationDetails({ Username: 'uma', Password: PASSWORD }), {
        onSuccess: () => fail(new Error('signed in without MFA')),
        onFailure: fail,
        mfaSetup: (name, params) => ok({ name, params }),
      }),
    );
    assert.equal(setup.name, 'MFA_SETUP');
    const secret = await associate(user);
    // A mistyped code may be retried within the sign-in.
    await assert.rejects(verify(user, totp(secret, 5)), (e) => e.code === 'EnableSoftwareTokenMFAException');
    const session = await verify(user, totp(secret));
    assert.equal(session.getIdToken().decodePayload()['cognito:username'], 'uma');
    const admin = await api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: 'uma' });
    assert.equal(admin.PreferredMfaSetting, 'SOFTWARE_TOKEN_MFA');
  });
});
