// Passwordless sign-in: Cognito's custom-auth triggers (define, create, verify) for a one-time
// code sent by email. The same file deploys to AWS Lambda unchanged; under cognate,
// `capture_aws_messages = true` points the SES client at cognate, so the email lands in
// cognate's outbox instead of anyone's inbox.
const { randomInt } = require('node:crypto');
const { SESv2Client, SendEmailCommand } = require('@aws-sdk/client-sesv2');

/** Wrong codes a sign-in may try before it fails. */
const MAX_ATTEMPTS = 3;
/** How long an emailed code stays valid. Retries within that time reuse it. */
const CODE_TTL_SECONDS = Number(process.env.CODE_TTL_SECONDS || '300');
const FROM_ADDRESS = process.env.FROM_ADDRESS || 'no-reply@example.com';

// Created once per worker and reused across invocations, as on Lambda.
const ses = new SESv2Client({});

/** DefineAuthChallenge: decides, after each step, whether to ask again, issue tokens or give up. */
exports.define = async (event) => {
  const { session } = event.request;
  const last = session[session.length - 1];
  const wrong = session.filter((s) => s.challengeName === 'CUSTOM_CHALLENGE' && !s.challengeResult).length;

  event.response.issueTokens = false;
  event.response.failAuthentication = false;
  if (session.some((s) => s.challengeName !== 'CUSTOM_CHALLENGE')) {
    // This pool signs in with codes only; a client that started with a password (SRP) is
    // using the wrong flow.
    event.response.failAuthentication = true;
  } else if (last && last.challengeResult === true) {
    event.response.issueTokens = true;
  } else if (wrong >= MAX_ATTEMPTS) {
    event.response.failAuthentication = true;
  } else {
    event.response.challengeName = 'CUSTOM_CHALLENGE';
  }
  return event;
};

/**
 * CreateAuthChallenge: a 6-digit code, emailed once and reused for retries while it is valid.
 * The code and its expiry travel in challengeMetadata, which Cognito keeps on its side and hands
 * back in the session on the next round; the client only sees publicChallengeParameters.
 */
exports.create = async (event) => {
  const { request } = event;
  const email = request.userAttributes.email;
  const now = Date.now();

  let otp = reusable(request.session, now);
  if (!otp) {
    otp = { code: String(randomInt(0, 1_000_000)).padStart(6, '0'), expiresAt: now + CODE_TTL_SECONDS * 1000 };
    // For unknown users (PreventUserExistenceErrors) nothing is sent, but the challenge looks
    // the same, so the answer does not reveal whether the account exists.
    if (!request.userNotFound && email) await sendCode(email, otp.code);
  }

  event.response.publicChallengeParameters = {
    delivery: 'EMAIL',
    destination: mask(email || event.userName),
    attemptsLeft: String(MAX_ATTEMPTS - request.session.length),
  };
  event.response.privateChallengeParameters = { code: otp.code, expiresAt: String(otp.expiresAt) };
  event.response.challengeMetadata = `EMAIL_OTP:${otp.code}:${otp.expiresAt}`;
  return event;
};

/** VerifyAuthChallengeResponse: right code, not expired. */
exports.verify = async (event) => {
  const { privateChallengeParameters: expected, challengeAnswer } = event.request;
  event.response.answerCorrect =
    typeof challengeAnswer === 'string' &&
    challengeAnswer.trim() === expected.code &&
    Date.now() < Number(expected.expiresAt);
  return event;
};

/** The code of the latest round, if that round issued one that has not expired. */
function reusable(session, now) {
  const previous = session[session.length - 1];
  if (!previous || previous.challengeName !== 'CUSTOM_CHALLENGE') return null;
  const [kind, code, expiresAt] = String(previous.challengeMetadata || '').split(':');
  if (kind !== 'EMAIL_OTP' || !/^\d{6}$/.test(code) || !(Number(expiresAt) > now)) return null;
  return { code, expiresAt: Number(expiresAt) };
}

async function sendCode(to, code) {
  const minutes = Math.round(CODE_TTL_SECONDS / 60);
  await ses.send(
    new SendEmailCommand({
      FromEmailAddress: FROM_ADDRESS,
      Destination: { ToAddresses: [to] },
      Content: {
        Simple: {
          Subject: { Data: 'Your sign-in code' },
          Body: { Text: { Data: `Your sign-in code is ${code}. It expires in ${minutes} minutes.` } },
        },
      },
    }),
  );
}

/** `ana@example.com` → `a***@example.com`, enough for the user to recognise the address. */
function mask(address) {
  const [local, domain] = String(address || '').split('@');
  if (!domain) return '***';
  return `${local.slice(0, 1)}***@${domain}`;
}
