// examples/custom-senders, run as it ships: Cognito's custom email and SMS sender triggers get
// each code as an AWS Encryption SDK message, decrypt it with @aws-crypto/client-node and a
// KmsKeyringNode (KMS Decrypt answered by cognate), and send it through the AWS SDK v3 SES and
// SNS clients into cognate's outbox. amazon-cognito-identity-js drives sign-up and password reset.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import cognito from 'amazon-cognito-identity-js';

import { api, authenticate, call, outbox, startServer } from './helpers.mjs';

const { AuthenticationDetails, CognitoUser, CognitoUserAttribute, CognitoUserPool } = cognito;

const here = dirname(fileURLToPath(import.meta.url));
const EXAMPLE = resolve(here, '../../../examples/custom-senders');
const POOL_ID = 'us-east-1_Senders01';
const CLIENT_ID = 'customsenderswebclient0001';
const PASSWORD = 'Correct-horse-1';

/** What the pool's trigger code sent through SES or SNS to `destination`, once something
 * arrived (cognate files it under the pool and user of the invocation that sent it). */
async function delivered(url, destination, count = 1) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${url}/_cognate/outbox?${new URLSearchParams({ poolId: POOL_ID })}`);
    assert.equal(res.status, 200);
    const messages = (await res.json()).messages.filter(
      (m) => m.destination === destination && (m.source === 'SES' || m.source === 'SNS'),
    );
    if (messages.length >= count) return messages;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing sent to ${destination} within a minute`);
}

/** The hand-off cognate recorded for a user's message of one source. */
async function handOff(url, username, source) {
  const m = (await outbox(url, POOL_ID, username)).find((x) => x.source === source);
  assert.ok(m, `no ${source} message for ${username}`);
  assert.equal(m.status, 'CUSTOM_SENDER');
  return m;
}

/** A confirmed user with a verified phone number and PASSWORD, created without a message. */
async function phoneUser(url, username, phone) {
  await api(url, 'AdminCreateUser', {
    UserPoolId: POOL_ID,
    Username: username,
    MessageAction: 'SUPPRESS',
    UserAttributes: [
      { Name: 'phone_number', Value: phone },
      { Name: 'phone_number_verified', Value: 'true' },
    ],
  });
  await api(url, 'AdminSetUserPassword', { UserPoolId: POOL_ID, Username: username, Password: PASSWORD, Permanent: true });
}

describe('examples/custom-senders', () => {
  let server;
  let pool;

  before(async () => {
    assert.ok(existsSync(join(EXAMPLE, 'node_modules')), 'run bash scripts/compat-setup first');
    server = await startServer({ args: ['--config', join(EXAMPLE, 'cognate.toml')] });
    pool = new CognitoUserPool({ UserPoolId: POOL_ID, ClientId: CLIENT_ID, endpoint: server.url });
  });
  after(() => server?.stop());

  test('CustomEmailSender_SignUp: the handler decrypts the code and emails it; it confirms the account', async () => {
    const email = 'bo@example.com';
    const started = Date.now();
    const result = await call((cb) =>
      pool.signUp('bo', PASSWORD, [new CognitoUserAttribute({ Name: 'email', Value: email })], null, cb),
    );
    assert.equal(result.userConfirmed, false);
    assert.deepEqual(result.codeDeliveryDetails, { AttributeName: 'email', DeliveryMedium: 'EMAIL', Destination: 'b***@e***' });
    const handed = await handOff(server.url, 'bo', 'SignUp');

    const [mail] = await delivered(server.url, email);
    assert.equal(mail.subject, 'Welcome! Confirm your account');
    assert.equal(mail.body, `Your confirmation code is ${handed.code}`);
    assert.ok(Date.now() - started < 60_000);

    // The event the function got: Cognito's shape, the code an Encryption SDK message
    // (format 1, suite 0x0378 → base64 "AYADe"), never the code itself.
    const log = await (await fetch(`${server.url}/_cognate/invocations?limit=50`)).json();
    const inv = log.invocations.find((i) => i.triggerSource === 'CustomEmailSender_SignUp');
    assert.ok(inv, JSON.stringify(log));
    assert.equal(inv.error ?? null, null, JSON.stringify(inv.error));
    const { request } = inv.event;
    assert.equal(request.type, 'customEmailSenderRequestV1');
    assert.match(request.code, /^AYADe/);
    assert.ok(!request.code.includes(handed.code));
    assert.equal(request.userAttributes.email, email);
    assert.equal(request.userAttributes['cognito:user_status'], 'UNCONFIRMED');
    assert.equal(inv.event.callerContext.clientId, CLIENT_ID);
    assert.equal('response' in inv.event, false);

    const user = new CognitoUser({ Username: 'bo', Pool: pool });
    assert.equal(await call((cb) => user.confirmRegistration(handed.code, true, cb)), 'SUCCESS');
    const signedIn = await authenticate(user, new AuthenticationDetails({ Username: 'bo', Password: PASSWORD }));
    assert.equal(signedIn.kind, 'success');
  });

  test('CustomSMSSender_ForgotPassword: the handler decrypts the reset code and texts it; it resets the password', async () => {
    const phone = '+15555550123';
    await phoneUser(server.url, 'cy', phone);

    const user = new CognitoUser({ Username: 'cy', Pool: pool });
    const details = await new Promise((ok, fail) =>
      user.forgotPassword({ onSuccess: fail, onFailure: fail, inputVerificationCode: ok }),
    );
    assert.deepEqual(details.CodeDeliveryDetails, { AttributeName: 'phone_number', DeliveryMedium: 'SMS', Destination: '+*******0123' });
    const handed = await handOff(server.url, 'cy', 'ForgotPassword');
    const [text] = await delivered(server.url, phone);
    assert.equal(text.channel, 'SMS');
    assert.equal(text.body, `Your password reset code is ${handed.code}`);

    const code = /(\d{6})$/.exec(text.body)[1];
    await new Promise((ok, fail) => user.confirmPassword(code, 'Brand-new-pass-2', { onSuccess: ok, onFailure: fail }));
    const signedIn = await authenticate(user, new AuthenticationDetails({ Username: 'cy', Password: 'Brand-new-pass-2' }));
    assert.equal(signedIn.kind, 'success');
  });

  test('CustomSMSSender_Authentication: SMS MFA through amazon-cognito-identity-js (mfaRequired → sendMFACode)', async () => {
    const phone = '+15555550199';
    await phoneUser(server.url, 'ed', phone);
    await api(server.url, 'AdminSetUserMFAPreference', {
      UserPoolId: POOL_ID,
      Username: 'ed',
      SMSMfaSettings: { Enabled: true, PreferredMfa: true },
    });
    const user = new CognitoUser({ Username: 'ed', Pool: pool });
    const challenge = await new Promise((ok, fail) =>
      user.authenticateUser(new AuthenticationDetails({ Username: 'ed', Password: PASSWORD }), {
        onSuccess: () => fail(new Error('signed in without the second factor')),
        onFailure: fail,
        mfaRequired: (name, params) => ok({ name, params }),
      }),
    );
    assert.equal(challenge.name, 'SMS_MFA');
    assert.deepEqual(challenge.params, { CODE_DELIVERY_DELIVERY_MEDIUM: 'SMS', CODE_DELIVERY_DESTINATION: '+*******0199' });
    const handed = await handOff(server.url, 'ed', 'Authentication');
    const [text] = await delivered(server.url, phone);
    assert.equal(text.body, `Your sign-in code is ${handed.code}`);
    const session = await new Promise((ok, fail) =>
      user.sendMFACode(/(\d{6})$/.exec(text.body)[1], { onSuccess: ok, onFailure: fail }),
    );
    assert.equal(session.isValid(), true);
    assert.equal(session.getIdToken().decodePayload()['cognito:username'], 'ed');
  });

  test('CustomEmailSender_AdminCreateUser: the temporary password arrives HTML-escaped', async () => {
    const email = 'di@example.com';
    await api(server.url, 'AdminCreateUser', {
      UserPoolId: POOL_ID,
      Username: 'di',
      TemporaryPassword: 'Temp<&>"Pass1',
      DesiredDeliveryMediums: ['EMAIL'],
      UserAttributes: [{ Name: 'email', Value: email }],
    });
    await handOff(server.url, 'di', 'AdminCreateUser');
    const [mail] = await delivered(server.url, email);
    assert.equal(mail.body, 'Your username is di and your temporary password is Temp&lt;&amp;&gt;&quot;Pass1');
  });

  test('KMS answers only for the right key and encryption context', async () => {
    const kms = async (op, body) => {
      const res = await fetch(`${server.url}/`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': `TrentService.${op}` },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    const keyId = 'arn:aws:kms:us-east-1:000000000000:key/5e2d1c4b-8a7f-4e3d-9c1b-0a6f2e8d7c35';
    const context = { 'userpool-id': POOL_ID };
    const enc = await kms('Encrypt', { KeyId: keyId, Plaintext: Buffer.from('hello').toString('base64'), EncryptionContext: context });
    assert.equal(enc.status, 200);
    assert.equal(enc.body.KeyId, keyId);
    const dec = await kms('Decrypt', { CiphertextBlob: enc.body.CiphertextBlob, EncryptionContext: context });
    assert.equal(Buffer.from(dec.body.Plaintext, 'base64').toString(), 'hello');
    const wrongContext = await kms('Decrypt', { CiphertextBlob: enc.body.CiphertextBlob, EncryptionContext: { 'userpool-id': 'other' } });
    assert.deepEqual([wrongContext.status, wrongContext.body.__type], [400, 'InvalidCiphertextException']);
    const wrongKey = await kms('Decrypt', {
      CiphertextBlob: enc.body.CiphertextBlob,
      EncryptionContext: context,
      KeyId: 'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000',
    });
    assert.deepEqual([wrongKey.status, wrongKey.body.__type], [400, 'IncorrectKeyException']);
    // From a web page (Origin header), nothing.
    const page = await fetch(`${server.url}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'TrentService.Decrypt', Origin: 'https://evil.example' },
      body: JSON.stringify({ CiphertextBlob: enc.body.CiphertextBlob, EncryptionContext: context }),
    });
    assert.equal(page.status, 403);
  });
});
