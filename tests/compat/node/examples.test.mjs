// The examples in examples/, run as they ship: a real cognate started with each example's
// cognate.toml, its node triggers sending email (SES v2) and text messages (SNS) through the AWS
// SDK for JavaScript into cognate's outbox, and amazon-cognito-identity-js signing in with
// CUSTOM_AUTH — without a password (initiateAuth → customChallenge → sendCustomChallengeAnswer)
// and with one (authenticateUser with the CUSTOM_AUTH flow type: SRP first, then the challenge).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import cognito from 'amazon-cognito-identity-js';

import { api, startServer } from './helpers.mjs';

const { AuthenticationDetails, CognitoUser, CognitoUserPool } = cognito;

const here = dirname(fileURLToPath(import.meta.url));
const EXAMPLES = resolve(here, '../../../examples');
const PASSWORD = 'Correct-horse-1';
const INCORRECT = { code: 'NotAuthorizedException', message: 'Incorrect username or password.' };

/** cognate serving one example's cognate.toml. */
async function serveExample(name) {
  const dir = join(EXAMPLES, name);
  if (existsSync(join(dir, 'package.json'))) {
    assert.ok(existsSync(join(dir, 'node_modules')), `run bash scripts/compat-setup first (no ${dir}/node_modules)`);
  }
  return startServer({ args: ['--config', join(dir, 'cognate.toml')] });
}

/** What the pool's triggers sent through SES or SNS to one address or phone number, newest
 * first. cognate files a message a trigger sent under the pool and user of that invocation. */
async function sent(url, poolId, destination) {
  const res = await fetch(`${url}/_cognate/outbox?${new URLSearchParams({ poolId })}`);
  assert.equal(res.status, 200);
  return (await res.json()).messages.filter((m) => m.destination === destination);
}

/** The six-digit code in a message body. */
function codeIn(message) {
  const m = /\b(\d{6})\b/.exec(message.body);
  assert.ok(m, `no code in ${JSON.stringify(message.body)}`);
  return m[1];
}

/** A code that is not `code`. */
function wrong(code) {
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

/**
 * One step of a sign-in with amazon-cognito-identity-js, as a promise: resolves with
 * `{ kind: 'challenge', params }` (customChallenge) or `{ kind: 'success', session }`, rejects
 * with the library's error. Any other callback rejects.
 */
function step(start) {
  return new Promise((ok, fail) => {
    const unexpected = (name) => (...args) => fail(new Error(`unexpected callback ${name}: ${JSON.stringify(args)}`));
    start({
      onSuccess: (session) => ok({ kind: 'success', session }),
      onFailure: (err) => fail(err),
      customChallenge: (params) => ok({ kind: 'challenge', params }),
      newPasswordRequired: unexpected('newPasswordRequired'),
      mfaRequired: unexpected('mfaRequired'),
      totpRequired: unexpected('totpRequired'),
      mfaSetup: unexpected('mfaSetup'),
      selectMFAType: unexpected('selectMFAType'),
    });
  });
}

const withoutPassword = (user) => step((cb) => user.initiateAuth(new AuthenticationDetails({ Username: user.getUsername() }), cb));
const withPassword = (user, password) =>
  step((cb) => user.authenticateUser(new AuthenticationDetails({ Username: user.getUsername(), Password: password }), cb));
const answer = (user, value) => step((cb) => user.sendCustomChallengeAnswer(value, cb));

async function rejects(promise, { code, message }) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, err.message);
    assert.equal(err.message, message);
    return true;
  });
}

function assertTokens(result, { url, poolId, clientId, username }) {
  assert.equal(result.kind, 'success');
  const { session } = result;
  assert.equal(session.isValid(), true);
  const id = session.getIdToken().decodePayload();
  const access = session.getAccessToken().decodePayload();
  assert.equal(id.token_use, 'id');
  assert.equal(id.iss, `${url}/${poolId}`);
  assert.equal(id.aud, clientId);
  assert.equal(access.token_use, 'access');
  assert.equal(access.client_id, clientId);
  assert.equal(access.username, username);
  assert.ok(session.getRefreshToken().getToken());
  return id;
}

describe('examples/passwordless-email-otp', () => {
  const poolId = 'us-east-1_EmailOtp01';
  const clientId = 'emailotpwebclient000000001';
  const email = 'ana@example.com';
  let server;
  let pool;
  let sub;

  before(async () => {
    server = await serveExample('passwordless-email-otp');
    pool = new CognitoUserPool({ UserPoolId: poolId, ClientId: clientId, endpoint: server.url });
    const { User } = await api(server.url, 'AdminCreateUser', {
      UserPoolId: poolId,
      Username: email,
      MessageAction: 'SUPPRESS',
      UserAttributes: [
        { Name: 'email', Value: email },
        { Name: 'email_verified', Value: 'true' },
      ],
    });
    sub = User.Username;
    // Nobody signs in with it; Cognito only wants the user out of FORCE_CHANGE_PASSWORD.
    await api(server.url, 'AdminSetUserPassword', { UserPoolId: poolId, Username: email, Password: `Unused-${Date.now()}-Aa1!`, Permanent: true });
  });
  after(() => server?.stop());

  const user = () => {
    const u = new CognitoUser({ Username: email, Pool: pool });
    u.setAuthenticationFlowType('CUSTOM_AUTH');
    return u;
  };

  test('without a password: the emailed code, a wrong answer, then the right one → tokens', async () => {
    const before = (await sent(server.url, poolId, email)).length;
    const u = user();
    const first = await withoutPassword(u);
    assert.equal(first.kind, 'challenge');
    assert.deepEqual(first.params, { delivery: 'EMAIL', destination: 'a***@example.com', attemptsLeft: '3', USERNAME: sub });

    const mail = await sent(server.url, poolId, email);
    assert.equal(mail.length, before + 1);
    assert.equal(mail[0].source, 'SES');
    assert.equal(mail[0].username, sub, 'filed under the user whose trigger sent it');
    assert.equal(mail[0].channel, 'EMAIL');
    assert.equal(mail[0].destination, email);
    assert.equal(mail[0].subject, 'Your sign-in code');
    assert.match(mail[0].body, /^Your sign-in code is \d{6}\. It expires in 5 minutes\.$/);
    const code = codeIn(mail[0]);

    const retry = await answer(u, wrong(code));
    assert.equal(retry.kind, 'challenge');
    assert.equal(retry.params.attemptsLeft, '2');
    // The code is still valid, so it is reused: no second email.
    assert.equal((await sent(server.url, poolId, email)).length, before + 1);

    const id = assertTokens(await answer(u, code), { url: server.url, poolId, clientId, username: sub });
    assert.equal(id.email, email);
    assert.equal(id.sub, sub);
    assert.equal(id['cognito:username'], sub);
  });

  test('three wrong codes fail the sign-in', async () => {
    const u = user();
    assert.equal((await withoutPassword(u)).kind, 'challenge');
    const code = codeIn((await sent(server.url, poolId, email))[0]);
    assert.equal((await answer(u, wrong(code))).params.attemptsLeft, '2');
    assert.equal((await answer(u, wrong(code))).params.attemptsLeft, '1');
    await rejects(answer(u, wrong(code)), INCORRECT);
    // The session is spent: even the right code no longer helps.
    await rejects(answer(u, code), { code: 'NotAuthorizedException', message: 'Invalid session for the user.' });
  });

  test('each sign-in gets its own code', async () => {
    const a = user();
    await withoutPassword(a);
    const first = codeIn((await sent(server.url, poolId, email))[0]);
    const b = user();
    await withoutPassword(b);
    const mail = await sent(server.url, poolId, email);
    const second = codeIn(mail[0]);
    assert.equal(codeIn(mail[1]), first);
    // Random codes may repeat (one chance in a million); each answers its own sign-in.
    assertTokens(await answer(b, second), { url: server.url, poolId, clientId, username: sub });
    assertTokens(await answer(a, first), { url: server.url, poolId, clientId, username: sub });
  });

  test('an unknown address gets the same kind of challenge but no email', async () => {
    const ghost = new CognitoUser({ Username: 'ghost@example.com', Pool: pool });
    const first = await withoutPassword(ghost);
    assert.equal(first.kind, 'challenge');
    assert.equal(first.params.delivery, 'EMAIL');
    assert.equal(first.params.destination, 'g***@example.com');
    assert.equal(first.params.attemptsLeft, '3');
    assert.deepEqual(await sent(server.url, poolId, 'ghost@example.com'), []);
    // It plays out like a real account's: retries, then the same failure.
    assert.equal((await answer(ghost, '123456')).params.attemptsLeft, '2');
    assert.equal((await answer(ghost, '123456')).params.attemptsLeft, '1');
    await rejects(answer(ghost, '123456'), INCORRECT);
  });

  test('a client that starts with the password (SRP) is refused', async () => {
    await rejects(withPassword(user(), 'whatever-it-is'), INCORRECT);
  });
});

describe('examples/srp-then-sms-otp', () => {
  const poolId = 'us-east-1_SrpSmsOtp1';
  const clientId = 'srpsmsotpwebclient00000001';
  const phone = '+15555550123';
  let server;
  let pool;

  before(async () => {
    server = await serveExample('srp-then-sms-otp');
    pool = new CognitoUserPool({ UserPoolId: poolId, ClientId: clientId, endpoint: server.url });
    await api(server.url, 'AdminCreateUser', {
      UserPoolId: poolId,
      Username: 'bob',
      MessageAction: 'SUPPRESS',
      UserAttributes: [
        { Name: 'phone_number', Value: phone },
        { Name: 'phone_number_verified', Value: 'true' },
      ],
    });
    await api(server.url, 'AdminSetUserPassword', { UserPoolId: poolId, Username: 'bob', Password: PASSWORD, Permanent: true });
  });
  after(() => server?.stop());

  const user = () => {
    const u = new CognitoUser({ Username: 'bob', Pool: pool });
    u.setAuthenticationFlowType('CUSTOM_AUTH');
    return u;
  };

  test('with a password: SRP, then the texted code (a wrong one first) → tokens', async () => {
    const before = (await sent(server.url, poolId, phone)).length;
    const u = user();
    const first = await withPassword(u, PASSWORD);
    assert.equal(first.kind, 'challenge');
    assert.deepEqual(first.params, { delivery: 'SMS', destination: '+******0123', USERNAME: 'bob' });

    const texts = await sent(server.url, poolId, phone);
    assert.equal(texts.length, before + 1);
    assert.equal(texts[0].source, 'SNS');
    assert.equal(texts[0].username, 'bob', 'filed under the user whose trigger sent it');
    assert.equal(texts[0].channel, 'SMS');
    assert.equal(texts[0].destination, phone);
    assert.match(texts[0].body, /^Example: your verification code is \d{6}$/);
    const code = codeIn(texts[0]);

    assert.equal((await answer(u, wrong(code))).kind, 'challenge');
    assert.equal((await sent(server.url, poolId, phone)).length, before + 1, 'the valid code is reused, not texted again');
    const id = assertTokens(await answer(u, code), { url: server.url, poolId, clientId, username: 'bob' });
    assert.equal(id['cognito:username'], 'bob');
    assert.equal(id.phone_number, phone);
  });

  test('a wrong password is refused before any text is sent', async () => {
    const before = (await sent(server.url, poolId, phone)).length;
    await rejects(withPassword(user(), 'Wrong-horse-1'), INCORRECT);
    assert.equal((await sent(server.url, poolId, phone)).length, before);
  });

  test('three wrong codes fail the sign-in', async () => {
    const u = user();
    assert.equal((await withPassword(u, PASSWORD)).kind, 'challenge');
    const code = codeIn((await sent(server.url, poolId, phone))[0]);
    assert.equal((await answer(u, wrong(code))).kind, 'challenge');
    assert.equal((await answer(u, wrong(code))).kind, 'challenge');
    await rejects(answer(u, wrong(code)), INCORRECT);
  });

  test('without a password the sign-in fails and nothing is texted', async () => {
    const before = (await sent(server.url, poolId, phone)).length;
    await rejects(withoutPassword(user()), INCORRECT);
    assert.equal((await sent(server.url, poolId, phone)).length, before);
  });
});
