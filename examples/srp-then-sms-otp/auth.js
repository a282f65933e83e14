// Two steps in one custom-auth sign-in: the password first, checked by Cognito itself through
// SRP (the client starts CUSTOM_AUTH with SRP_A and CHALLENGE_NAME=SRP_A), then a one-time code
// texted to the user's phone_number with SNS Publish. Under cognate, `capture_aws_messages = true`
// points the SNS client at cognate, so the text lands in cognate's outbox.
const { randomInt } = require('node:crypto');
const { SNSClient, PublishCommand } = require('@aws-sdk/client-sns');

const MAX_ATTEMPTS = 3;
const CODE_TTL_SECONDS = Number(process.env.CODE_TTL_SECONDS || '180');
const SENDER_NAME = process.env.SENDER_NAME || 'Example';

const sns = new SNSClient({});

/**
 * DefineAuthChallenge. The session lists the steps so far:
 *   [SRP_A]                              → ask for the password proof (PASSWORD_VERIFIER)
 *   [SRP_A, PASSWORD_VERIFIER ✓, ...]    → text a code (CUSTOM_CHALLENGE) until one is right,
 *                                          at most MAX_ATTEMPTS wrong ones
 * Anything else — no password step, a failed one, a user without a phone — fails.
 * (Cognito answers a wrong password itself, with NotAuthorizedException, before this runs.)
 */
exports.define = async (event) => {
  const { session, userAttributes } = event.request;
  const [first, second] = session;
  const last = session[session.length - 1];
  const codes = session.slice(2);
  const wrong = codes.filter((s) => !s.challengeResult).length;

  event.response.issueTokens = false;
  event.response.failAuthentication = false;
  if (!first || first.challengeName !== 'SRP_A') {
    event.response.failAuthentication = true; // a password is required
  } else if (!second) {
    event.response.challengeName = 'PASSWORD_VERIFIER';
  } else if (second.challengeName !== 'PASSWORD_VERIFIER' || !second.challengeResult || !userAttributes.phone_number) {
    event.response.failAuthentication = true;
  } else if (codes.some((s) => s.challengeName !== 'CUSTOM_CHALLENGE')) {
    event.response.failAuthentication = true;
  } else if (last.challengeName === 'CUSTOM_CHALLENGE' && last.challengeResult) {
    event.response.issueTokens = true;
  } else if (wrong >= MAX_ATTEMPTS) {
    event.response.failAuthentication = true;
  } else {
    event.response.challengeName = 'CUSTOM_CHALLENGE';
  }
  return event;
};

/** CreateAuthChallenge: text a 6-digit code, or reuse the one texted last round while valid. */
exports.create = async (event) => {
  const { request } = event;
  const phone = request.userAttributes.phone_number;
  const now = Date.now();

  let otp = previousCode(request.session, now);
  if (!otp) {
    otp = { code: String(randomInt(0, 1_000_000)).padStart(6, '0'), expiresAt: now + CODE_TTL_SECONDS * 1000 };
    await sns.send(
      new PublishCommand({
        PhoneNumber: phone,
        Message: `${SENDER_NAME}: your verification code is ${otp.code}`,
        MessageAttributes: {
          'AWS.SNS.SMS.SMSType': { DataType: 'String', StringValue: 'Transactional' },
        },
      }),
    );
  }

  event.response.publicChallengeParameters = { delivery: 'SMS', destination: `+******${phone.slice(-4)}` };
  event.response.privateChallengeParameters = { code: otp.code, expiresAt: String(otp.expiresAt) };
  event.response.challengeMetadata = `SMS_OTP:${otp.code}:${otp.expiresAt}`;
  return event;
};

/** VerifyAuthChallengeResponse: right code, not expired. */
exports.verify = async (event) => {
  const { privateChallengeParameters: expected, challengeAnswer } = event.request;
  event.response.answerCorrect =
    String(challengeAnswer).trim() === expected.code && Date.now() < Number(expected.expiresAt);
  return event;
};

function previousCode(session, now) {
  const previous = session[session.length - 1];
  if (!previous || previous.challengeName !== 'CUSTOM_CHALLENGE') return null;
  const [kind, code, expiresAt] = String(previous.challengeMetadata || '').split(':');
  if (kind !== 'SMS_OTP' || !/^\d{6}$/.test(code) || !(Number(expiresAt) > now)) return null;
  return { code, expiresAt: Number(expiresAt) };
}
