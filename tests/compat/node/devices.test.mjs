// Remembered devices through amazon-cognito-identity-js. The library does the client half on
// its own: when a sign-in ends with NewDeviceMetadata it makes up a device password, sends
// ConfirmDevice with an SRP verifier of it, and keeps the device key, group key and password in
// its storage; on later sign-ins it sends DEVICE_KEY and, when Cognito answers DEVICE_SRP_AUTH,
// proves the device with DEVICE_PASSWORD_VERIFIER instead of asking the user for an MFA code.
//
// Each "browser" is a Map-backed storage handed to the library (in Node it would otherwise
// share one process-wide in-memory store), so a local sign-out keeps the device keys exactly as
// a browser's localStorage would. The pool's HTTP client is wrapped to record each call the
// library made and what came back, so the tests can assert the challenge path taken (the
// library's callbacks alone cannot tell DEVICE_SRP_AUTH from a plain sign-in).
//
// Authenticator codes are computed here with node:crypto. A code's time step counts once per
// user, and steps must rise, so the enrolment uses the current step and the one sign-in that
// types a code uses the next; later MFA prompts are only checked to appear, never answered.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import cognito from 'amazon-cognito-identity-js';

import { api, call, startServer, totp } from './helpers.mjs';

const { AuthenticationDetails, CognitoUser, CognitoUserPool } = cognito;

const PASSWORD = 'Correct-horse-1';
const FLOWS = ['ALLOW_USER_SRP_AUTH', 'ALLOW_USER_PASSWORD_AUTH', 'ALLOW_ADMIN_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'];

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

/** A browser's localStorage, synchronous as the library expects, values kept as strings. */
class MapStorage {
  constructor() {
    this.items = new Map();
  }
  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }
  setItem(key, value) {
    this.items.set(key, String(value));
  }
  removeItem(key) {
    this.items.delete(key);
  }
  clear() {
    this.items.clear();
  }
}

/** Records every call the library makes through `pool`'s client: { op, params, error, data }. */
function recordCalls(pool) {
  const calls = [];
  const request = pool.client.request.bind(pool.client);
  pool.client.request = (op, params, callback) => {
    // As sent on the wire: undefined members dropped, nulls kept (the library's device-retry
    // sends DEVICE_KEY: null).
    const entry = { op, params: JSON.parse(JSON.stringify(params)) };
    calls.push(entry);
    request(op, params, (err, data) => {
      entry.error = err ? { code: err.code, message: err.message } : undefined;
      entry.data = data;
      callback(err, data);
    });
  };
  return calls;
}

/** One recorded call as `<op> [<flow>] [<challenge answered>] → <outcome>`. */
function describeCall({ op, params, error, data }) {
  const what = [op, params.AuthFlow, params.ChallengeName].filter(Boolean).join(' ');
  let outcome = 'ok';
  if (error) outcome = error.code;
  else if (data?.ChallengeName) outcome = data.ChallengeName;
  else if (data?.AuthenticationResult) {
    outcome = data.AuthenticationResult.NewDeviceMetadata ? 'tokens+NewDeviceMetadata' : 'tokens';
  }
  return `${what} → ${outcome}`;
}

/**
 * A pool with an app client, seen from one browser: `user(name)` gives a CognitoUser over the
 * browser's storage, `mark()` / `steps(from)` read the recorded calls since a point.
 */
async function makePool(name, { DeviceConfiguration, mfa = false } = {}) {
  const { UserPool } = await api(server.url, 'CreateUserPool', {
    PoolName: name,
    ...(DeviceConfiguration ? { DeviceConfiguration } : {}),
  });
  if (mfa) {
    // OPTIONAL while users enrol their app (they could not sign in to do it under ON).
    await api(server.url, 'SetUserPoolMfaConfig', {
      UserPoolId: UserPool.Id,
      MfaConfiguration: 'OPTIONAL',
      SoftwareTokenMfaConfiguration: { Enabled: true },
    });
  }
  const { UserPoolClient } = await api(server.url, 'CreateUserPoolClient', {
    UserPoolId: UserPool.Id,
    ClientName: 'web',
    ExplicitAuthFlows: FLOWS,
  });
  const storage = new MapStorage();
  const pool = new CognitoUserPool({ UserPoolId: UserPool.Id, ClientId: UserPoolClient.ClientId, endpoint: server.url, Storage: storage });
  const calls = recordCalls(pool);
  const region = UserPool.Id.split('_')[0];
  return {
    poolId: UserPool.Id,
    clientId: UserPoolClient.ClientId,
    pool,
    storage,
    calls,
    deviceKeyPattern: new RegExp(`^${region}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`),
    user: (username) => new CognitoUser({ Username: username, Pool: pool, Storage: storage }),
    /** What the library keeps for `username` under `what` (deviceKey, accessToken, …). */
    cached: (username, what) => storage.getItem(`CognitoIdentityServiceProvider.${UserPoolClient.ClientId}.${username}.${what}`),
    mark: () => calls.length,
    steps: (from) => calls.slice(from).map(describeCall),
    callsSince: (from) => calls.slice(from),
  };
}

/** A CONFIRMED user with a permanent password. */
async function createUser(p, username) {
  await api(server.url, 'AdminCreateUser', { UserPoolId: p.poolId, Username: username, MessageAction: 'SUPPRESS' });
  await api(server.url, 'AdminSetUserPassword', { UserPoolId: p.poolId, Username: username, Password: PASSWORD, Permanent: true });
}

/** Tokens from an admin sign-in, without involving the browser's storage. */
async function adminTokens(p, username) {
  const { AuthenticationResult } = await api(server.url, 'AdminInitiateAuth', {
    UserPoolId: p.poolId,
    ClientId: p.clientId,
    AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
    AuthParameters: { USERNAME: username, PASSWORD },
  });
  // Cognito may hand out a device here too; left unconfirmed it would muddle the device lists
  // the tests check, so it is dropped (whatever the answer: it is not what is under test).
  const stray = AuthenticationResult.NewDeviceMetadata?.DeviceKey;
  if (stray) {
    await api(server.url, 'AdminForgetDevice', { UserPoolId: p.poolId, Username: username, DeviceKey: stray }).catch(() => {});
  }
  return AuthenticationResult;
}

/** Enrols `username`'s authenticator app (at the current time step); returns its secret. */
async function enrolApp(p, username) {
  const { AccessToken } = await adminTokens(p, username);
  const { SecretCode } = await api(server.url, 'AssociateSoftwareToken', { AccessToken });
  const verified = await api(server.url, 'VerifySoftwareToken', { AccessToken, UserCode: totp(SecretCode), FriendlyDeviceName: 'phone' });
  assert.equal(verified.Status, 'SUCCESS');
  await api(server.url, 'AdminSetUserMFAPreference', {
    UserPoolId: p.poolId,
    Username: username,
    SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true },
  });
  return SecretCode;
}

/**
 * The library's callbacks as a promise: `{ session, confirmationNecessary }` when it ends in
 * tokens, `{ challenge }` when it asks for an MFA code; anything else is a failure.
 */
function outcome(ok, fail) {
  const unexpected = (name) => (...args) => fail(new Error(`unexpected callback ${name}: ${JSON.stringify(args)}`));
  return {
    onSuccess: (session, confirmationNecessary) => ok({ session, confirmationNecessary }),
    onFailure: fail,
    totpRequired: (challenge) => ok({ challenge }),
    mfaRequired: (challenge) => ok({ challenge }),
    newPasswordRequired: unexpected('newPasswordRequired'),
    customChallenge: unexpected('customChallenge'),
    mfaSetup: unexpected('mfaSetup'),
    selectMFAType: unexpected('selectMFAType'),
  };
}

function signIn(user) {
  const details = new AuthenticationDetails({ Username: user.getUsername(), Password: PASSWORD });
  return new Promise((ok, fail) => user.authenticateUser(details, outcome(ok, fail)));
}

function sendTotp(user, code) {
  return new Promise((ok, fail) => user.sendMFACode(code, outcome(ok, fail), 'SOFTWARE_TOKEN_MFA'));
}

/** The device methods' `{ onSuccess, onFailure }` style as a promise. */
function viaCallbacks(fn) {
  return new Promise((ok, fail) => fn({ onSuccess: ok, onFailure: fail }));
}

const accessClaims = (session) => session.getAccessToken().decodePayload();
const attributes = (device) => Object.fromEntries(device.DeviceAttributes.map((a) => [a.Name, a.Value]));
const adminDevices = async (p, username) =>
  (await api(server.url, 'AdminListDevices', { UserPoolId: p.poolId, Username: username })).Devices;
const adminDevice = async (p, username, key) =>
  (await api(server.url, 'AdminGetDevice', { UserPoolId: p.poolId, Username: username, DeviceKey: key })).Device;

describe('a remembered device stands in for the authenticator code (MFA ON, ChallengeRequiredOnNewDevice)', () => {
  let p;
  let secret;
  let deviceKey;
  let deviceName;
  let signedIn; // the CognitoUser of the latest sign-in, whose session the device calls use

  before(async () => {
    p = await makePool('devices-mfa', {
      DeviceConfiguration: { ChallengeRequiredOnNewDevice: true, DeviceOnlyRememberedOnUserPrompt: false },
      mfa: true,
    });
    await createUser(p, 'dana');
    secret = await enrolApp(p, 'dana');
    await api(server.url, 'SetUserPoolMfaConfig', {
      UserPoolId: p.poolId,
      MfaConfiguration: 'ON',
      SoftwareTokenMfaConfiguration: { Enabled: true },
    });
  });

  test('first SRP sign-in: code, then NewDeviceMetadata, which the library confirms and caches', async () => {
    const user = p.user('dana');
    const from = p.mark();
    assert.deepEqual(await signIn(user), { challenge: 'SOFTWARE_TOKEN_MFA' });
    const done = await sendTotp(user, totp(secret, 1));
    assert.ok(!done.confirmationNecessary, 'devices are remembered without asking on this pool');
    assert.deepEqual(p.steps(from), [
      'InitiateAuth USER_SRP_AUTH → PASSWORD_VERIFIER',
      'RespondToAuthChallenge PASSWORD_VERIFIER → SOFTWARE_TOKEN_MFA',
      'RespondToAuthChallenge SOFTWARE_TOKEN_MFA → tokens+NewDeviceMetadata',
      'ConfirmDevice → ok',
    ]);

    const [, , mfa, confirm] = p.callsSince(from);
    const meta = mfa.data.AuthenticationResult.NewDeviceMetadata;
    assert.match(meta.DeviceKey, p.deviceKeyPattern);
    assert.equal(typeof meta.DeviceGroupKey, 'string');
    assert.ok(meta.DeviceGroupKey.length > 0);
    assert.equal(confirm.params.DeviceKey, meta.DeviceKey);
    assert.ok(confirm.params.DeviceSecretVerifierConfig.Salt && confirm.params.DeviceSecretVerifierConfig.PasswordVerifier);
    assert.notEqual(confirm.data.UserConfirmationNecessary, true);

    assert.equal(p.cached('dana', 'deviceKey'), meta.DeviceKey);
    assert.equal(p.cached('dana', 'deviceGroupKey'), meta.DeviceGroupKey);
    assert.ok(p.cached('dana', 'randomPasswordKey'));
    // The tokens issued with the metadata already belong to the device.
    assert.equal(accessClaims(done.session).device_key, meta.DeviceKey);

    deviceKey = meta.DeviceKey;
    deviceName = confirm.params.DeviceName;
    signedIn = user;
  });

  test('the device is listed as remembered, the same to the user and to administrators', async () => {
    const { Device } = await viaCallbacks((cb) => signedIn.getDevice(cb));
    assert.equal(Device.DeviceKey, deviceKey);
    const attrs = attributes(Device);
    assert.equal(attrs['dev:device_remembered_status'], 'remembered');
    assert.equal(attrs.device_status, 'valid');
    assert.equal(attrs.device_name, deviceName);
    assert.equal(typeof Device.DeviceCreateDate, 'number');
    assert.equal(typeof Device.DeviceLastModifiedDate, 'number');

    const listed = await viaCallbacks((cb) => signedIn.listDevices(60, null, cb));
    assert.deepEqual(listed.Devices, [Device]);
    assert.equal(listed.PaginationToken, undefined);
    assert.deepEqual(await adminDevices(p, 'dana'), [Device]);
    assert.deepEqual(await adminDevice(p, 'dana', deviceKey), Device);
  });

  test('after a local sign-out the next SRP sign-in proves the device instead of asking for a code', async () => {
    signedIn.signOut(); // local only: tokens go, the device keys stay
    assert.equal(p.cached('dana', 'accessToken'), null);
    assert.equal(p.cached('dana', 'deviceKey'), deviceKey);

    const user = p.user('dana');
    const from = p.mark();
    const res = await signIn(user);
    assert.equal(res.challenge, undefined, `asked for ${res.challenge} on a remembered device`);
    assert.deepEqual(p.steps(from), [
      'InitiateAuth USER_SRP_AUTH → PASSWORD_VERIFIER',
      'RespondToAuthChallenge PASSWORD_VERIFIER → DEVICE_SRP_AUTH',
      'RespondToAuthChallenge DEVICE_SRP_AUTH → DEVICE_PASSWORD_VERIFIER',
      'RespondToAuthChallenge DEVICE_PASSWORD_VERIFIER → tokens',
    ]);
    assert.equal(p.callsSince(from)[1].params.ChallengeResponses.DEVICE_KEY, deviceKey);
    assert.equal(accessClaims(res.session).device_key, deviceKey);
    signedIn = user;
  });

  test('USER_PASSWORD_AUTH sends the device key up front and is answered with DEVICE_SRP_AUTH', async () => {
    const user = p.user('dana');
    user.setAuthenticationFlowType('USER_PASSWORD_AUTH');
    const from = p.mark();
    const res = await signIn(user);
    assert.equal(res.challenge, undefined, `asked for ${res.challenge} on a remembered device`);
    assert.deepEqual(p.steps(from), [
      'InitiateAuth USER_PASSWORD_AUTH → DEVICE_SRP_AUTH',
      'RespondToAuthChallenge DEVICE_SRP_AUTH → DEVICE_PASSWORD_VERIFIER',
      'RespondToAuthChallenge DEVICE_PASSWORD_VERIFIER → tokens',
    ]);
    assert.equal(p.callsSince(from)[0].params.AuthParameters.DEVICE_KEY, deviceKey);
    assert.equal(accessClaims(res.session).device_key, deviceKey);
    signedIn = user;
  });

  test('refreshSession sends the cached DEVICE_KEY and the new access token keeps the device', async () => {
    // A fresh object, as after a page reload: the session and the device come from storage.
    const user = p.user('dana');
    const cached = await call((cb) => user.getSession(cb));
    const from = p.mark();
    const refreshed = await call((cb) => user.refreshSession(cached.getRefreshToken(), cb));
    assert.deepEqual(p.steps(from), ['InitiateAuth REFRESH_TOKEN_AUTH → tokens']);
    assert.equal(p.callsSince(from)[0].params.AuthParameters.DEVICE_KEY, deviceKey);
    assert.equal(refreshed.isValid(), true);
    assert.equal(accessClaims(refreshed).device_key, deviceKey);
    assert.equal(accessClaims(refreshed).username, 'dana');
    signedIn = user;
  });

  test('a device that cannot prove its password is refused at DEVICE_PASSWORD_VERIFIER', async () => {
    // As if another browser copied the device key but not the secret that goes with it.
    const key = `CognitoIdentityServiceProvider.${p.clientId}.dana.randomPasswordKey`;
    const real = p.storage.getItem(key);
    p.storage.setItem(key, randomBytes(40).toString('base64'));
    try {
      const from = p.mark();
      await assert.rejects(signIn(p.user('dana')), { code: 'NotAuthorizedException' });
      assert.deepEqual(p.steps(from), [
        'InitiateAuth USER_SRP_AUTH → PASSWORD_VERIFIER',
        'RespondToAuthChallenge PASSWORD_VERIFIER → DEVICE_SRP_AUTH',
        'RespondToAuthChallenge DEVICE_SRP_AUTH → DEVICE_PASSWORD_VERIFIER',
        'RespondToAuthChallenge DEVICE_PASSWORD_VERIFIER → NotAuthorizedException',
      ]);
    } finally {
      p.storage.setItem(key, real);
    }
  });

  test('a device set to not_remembered no longer skips the code; setDeviceStatusRemembered brings it back', async () => {
    await api(server.url, 'AdminUpdateDeviceStatus', {
      UserPoolId: p.poolId,
      Username: 'dana',
      DeviceKey: deviceKey,
      DeviceRememberedStatus: 'not_remembered',
    });
    assert.equal(attributes(await adminDevice(p, 'dana', deviceKey))['dev:device_remembered_status'], 'not_remembered');

    let from = p.mark();
    assert.deepEqual(await signIn(p.user('dana')), { challenge: 'SOFTWARE_TOKEN_MFA' });
    assert.deepEqual(p.steps(from), [
      'InitiateAuth USER_SRP_AUTH → PASSWORD_VERIFIER',
      'RespondToAuthChallenge PASSWORD_VERIFIER → SOFTWARE_TOKEN_MFA',
    ]);
    assert.equal(p.callsSince(from)[1].params.ChallengeResponses.DEVICE_KEY, deviceKey);

    // The code prompt is left unanswered; the earlier session flips the device back.
    assert.equal(await viaCallbacks((cb) => signedIn.setDeviceStatusRemembered(cb)), 'SUCCESS');
    assert.equal(attributes(await adminDevice(p, 'dana', deviceKey))['dev:device_remembered_status'], 'remembered');

    const user = p.user('dana');
    from = p.mark();
    const res = await signIn(user);
    assert.equal(res.challenge, undefined, `asked for ${res.challenge} once remembered again`);
    assert.ok(p.steps(from).includes('RespondToAuthChallenge DEVICE_PASSWORD_VERIFIER → tokens'), p.steps(from).join('\n'));
    assert.equal(accessClaims(res.session).device_key, deviceKey);
    signedIn = user;
  });

  test('forgetDevice drops the device on both sides; the next sign-in is a new device and asks for the code', async () => {
    assert.equal(await viaCallbacks((cb) => signedIn.forgetDevice(cb)), 'SUCCESS');
    assert.deepEqual(await adminDevices(p, 'dana'), []);
    assert.equal(p.cached('dana', 'deviceKey'), null);
    assert.equal(p.cached('dana', 'randomPasswordKey'), null);

    const from = p.mark();
    assert.deepEqual(await signIn(p.user('dana')), { challenge: 'SOFTWARE_TOKEN_MFA' });
    assert.equal(p.callsSince(from)[1].params.ChallengeResponses.DEVICE_KEY, undefined);
  });
});

describe('DeviceOnlyRememberedOnUserPrompt: devices are tracked, remembered only when the user says so', () => {
  let p;
  let deviceKey;
  let signedIn;

  before(async () => {
    p = await makePool('devices-prompt', {
      DeviceConfiguration: { ChallengeRequiredOnNewDevice: false, DeviceOnlyRememberedOnUserPrompt: true },
    });
    await createUser(p, 'eli');
  });

  test('ConfirmDevice answers UserConfirmationNecessary and the device starts not_remembered', async () => {
    const user = p.user('eli');
    const from = p.mark();
    const res = await signIn(user);
    assert.equal(res.confirmationNecessary, true);
    assert.deepEqual(p.steps(from), [
      'InitiateAuth USER_SRP_AUTH → PASSWORD_VERIFIER',
      'RespondToAuthChallenge PASSWORD_VERIFIER → tokens+NewDeviceMetadata',
      'ConfirmDevice → ok',
    ]);
    const confirm = p.callsSince(from)[2];
    assert.equal(confirm.data.UserConfirmationNecessary, true);
    deviceKey = confirm.params.DeviceKey;
    assert.match(deviceKey, p.deviceKeyPattern);
    assert.equal(p.cached('eli', 'deviceKey'), deviceKey);

    const { Devices } = await viaCallbacks((cb) => user.listDevices(60, null, cb));
    assert.deepEqual(Devices.map((d) => d.DeviceKey), [deviceKey]);
    assert.equal(attributes(Devices[0])['dev:device_remembered_status'], 'not_remembered');
    assert.deepEqual(await adminDevices(p, 'eli'), Devices);
    signedIn = user;
  });

  test('setDeviceStatusRemembered remembers it; later sign-ins keep the same device', async (t) => {
    assert.equal(await viaCallbacks((cb) => signedIn.setDeviceStatusRemembered(cb)), 'SUCCESS');
    const { Devices } = await viaCallbacks((cb) => signedIn.listDevices(60, null, cb));
    assert.deepEqual(Devices.map((d) => [d.DeviceKey, attributes(d)['dev:device_remembered_status']]), [[deviceKey, 'remembered']]);

    signedIn.signOut();
    const user = p.user('eli');
    const from = p.mark();
    const res = await signIn(user);
    // Without MFA there is nothing for the device to stand in for, so the path is not pinned
    // down here; what matters is that no second device appears.
    t.diagnostic(`remembered device, no MFA: ${p.steps(from).join(' | ')}`);
    assert.ok(!p.steps(from).some((s) => s.includes('NewDeviceMetadata') || s.startsWith('ConfirmDevice')), p.steps(from).join('\n'));
    assert.equal(accessClaims(res.session).device_key, deviceKey);
    assert.equal((await adminDevices(p, 'eli')).length, 1);
    signedIn = user;
  });

  test('after AdminForgetDevice a sign-in with the stale cached key still ends in tokens and a new device', async (t) => {
    await api(server.url, 'AdminForgetDevice', { UserPoolId: p.poolId, Username: 'eli', DeviceKey: deviceKey });
    assert.deepEqual(await adminDevices(p, 'eli'), []);
    await assert.rejects(adminDevice(p, 'eli', deviceKey), { code: 'ResourceNotFoundException' });

    signedIn.signOut();
    assert.equal(p.cached('eli', 'deviceKey'), deviceKey); // the browser does not know yet
    const user = p.user('eli');
    const from = p.mark();
    const res = await signIn(user);
    const steps = p.steps(from);
    t.diagnostic(`stale device key: ${steps.join(' | ')}`);

    // Cognito refuses the stale key at PASSWORD_VERIFIER with a ResourceNotFoundException that
    // names the device; the library then drops its cache and answers again without it (once).
    const verifiers = p.callsSince(from).filter((c) => c.params.ChallengeName === 'PASSWORD_VERIFIER');
    assert.ok(verifiers.length <= 2, steps.join('\n'));
    if (verifiers.length === 2) {
      assert.equal(verifiers[0].error.code, 'ResourceNotFoundException');
      assert.match(verifiers[0].error.message, /device/i);
      assert.equal(verifiers[1].params.ChallengeResponses.DEVICE_KEY, null);
    }
    assert.equal(verifiers[0].params.ChallengeResponses.DEVICE_KEY, deviceKey);
    assert.equal(steps.at(-1), 'ConfirmDevice → ok');
    assert.ok(steps.includes('RespondToAuthChallenge PASSWORD_VERIFIER → tokens+NewDeviceMetadata'), steps.join('\n'));

    const fresh = p.cached('eli', 'deviceKey');
    assert.match(fresh, p.deviceKeyPattern);
    assert.notEqual(fresh, deviceKey);
    assert.equal(res.confirmationNecessary, true);
    assert.equal(accessClaims(res.session).device_key, fresh);
    assert.deepEqual((await adminDevices(p, 'eli')).map((d) => d.DeviceKey), [fresh]);
  });
});

describe('device errors', () => {
  let tracked;
  let plain;

  before(async () => {
    tracked = await makePool('devices-errors', {
      DeviceConfiguration: { ChallengeRequiredOnNewDevice: false, DeviceOnlyRememberedOnUserPrompt: false },
    });
    await createUser(tracked, 'fin');
    plain = await makePool('no-devices');
    await createUser(plain, 'gil');
  });

  test('unknown device keys are ResourceNotFoundException', async () => {
    const { AccessToken } = await adminTokens(tracked, 'fin');
    const unknown = `${tracked.poolId.split('_')[0]}_${randomUUID()}`;
    await assert.rejects(
      api(server.url, 'ConfirmDevice', {
        AccessToken,
        DeviceKey: unknown,
        DeviceSecretVerifierConfig: { Salt: randomBytes(16).toString('base64'), PasswordVerifier: randomBytes(384).toString('base64') },
        DeviceName: 'nowhere',
      }),
      { code: 'ResourceNotFoundException' },
    );
    await assert.rejects(api(server.url, 'GetDevice', { AccessToken, DeviceKey: unknown }), { code: 'ResourceNotFoundException' });
    await assert.rejects(adminDevice(tracked, 'fin', unknown), { code: 'ResourceNotFoundException' });
  });

  test('a pool without DeviceConfiguration hands out no devices', async (t) => {
    const from = plain.mark();
    const res = await signIn(plain.user('gil'));
    assert.deepEqual(plain.steps(from), [
      'InitiateAuth USER_SRP_AUTH → PASSWORD_VERIFIER',
      'RespondToAuthChallenge PASSWORD_VERIFIER → tokens',
    ]);
    assert.equal(accessClaims(res.session).device_key, undefined);
    assert.equal(plain.cached('gil', 'deviceKey'), null);

    // With a browser's storage (getItem answers null) the library refreshes with DEVICE_KEY: null
    // whenever it has no device; every browser app on such a pool depends on that being taken.
    const refreshFrom = plain.mark();
    const refreshed = await call((cb) => plain.user('gil').refreshSession(res.session.getRefreshToken(), cb));
    assert.deepEqual(plain.steps(refreshFrom), ['InitiateAuth REFRESH_TOKEN_AUTH → tokens']);
    assert.equal(plain.callsSince(refreshFrom)[0].params.AuthParameters.DEVICE_KEY, null);
    assert.equal(accessClaims(refreshed).username, 'gil');

    // What Cognito answers to device calls on such a pool is not pinned down: an empty list and
    // InvalidUserPoolConfigurationException are both taken; the diagnostic says which.
    const listed = await adminDevices(plain, 'gil').then(
      (devices) => ({ devices }),
      (err) => ({ error: err.code }),
    );
    t.diagnostic(`AdminListDevices without DeviceConfiguration: ${JSON.stringify(listed)}`);
    if (listed.error) assert.equal(listed.error, 'InvalidUserPoolConfigurationException');
    else assert.deepEqual(listed.devices, []);
  });
});
