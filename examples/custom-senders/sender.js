// Custom email and SMS sender triggers: Cognito hands over each code (or temporary password)
// encrypted with the AWS Encryption SDK under the pool's KMS key; these handlers decrypt it with a
// KMS keyring and send the message themselves, email through SES and text messages through SNS.
// The file deploys to AWS Lambda unchanged. Under cognate, AWS_ENDPOINT_URL_KMS points the KMS
// client at cognate, which holds the pool's key, and `capture_aws_messages = true` points SES and
// SNS at cognate's outbox.
const { KmsKeyringNode, buildClient, CommitmentPolicy } = require('@aws-crypto/client-node');
const { SESv2Client, SendEmailCommand } = require('@aws-sdk/client-sesv2');
const { SNSClient, PublishCommand } = require('@aws-sdk/client-sns');

// Cognito's messages use a suite without key commitment, which this policy still decrypts.
const { decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT);
// Strict keyring: only data keys wrapped by this key are unwrapped.
const keyring = new KmsKeyringNode({ keyIds: [process.env.KEY_ARN] });
const FROM_ADDRESS = process.env.FROM_ADDRESS || 'no-reply@example.com';

const ses = new SESv2Client({});
const sns = new SNSClient({});

/** The code or temporary password in the event, decrypted; null when there is none. */
async function secretOf(event) {
  if (!event.request.code) return null;
  const { plaintext, messageHeader } = await decrypt(keyring, Buffer.from(event.request.code, 'base64'));
  // Refuse codes encrypted for another pool.
  if (messageHeader.encryptionContext['userpool-id'] !== event.userPoolId) {
    throw new Error('the code was not encrypted for this user pool');
  }
  return plaintext.toString('utf8');
}

/** Subject and text for each trigger source. Temporary passwords arrive HTML-escaped. */
function compose(event, secret) {
  switch (event.triggerSource.split('_').slice(1).join('_')) {
    case 'SignUp':
    case 'ResendCode':
      return ['Welcome! Confirm your account', `Your confirmation code is ${secret}`];
    case 'ForgotPassword':
      return ['Reset your password', `Your password reset code is ${secret}`];
    case 'UpdateUserAttribute':
    case 'VerifyUserAttribute':
      return ['Confirm your new contact details', `Your verification code is ${secret}`];
    case 'AdminCreateUser':
      return ['Your new account', `Your username is ${event.userName} and your temporary password is ${secret}`];
    case 'Authentication':
      return ['Your sign-in code', `Your sign-in code is ${secret}`];
    default:
      return ['Account notice', `Notice for ${event.userName}`];
  }
}

exports.email = async (event) => {
  const secret = await secretOf(event);
  const [subject, text] = compose(event, secret);
  await ses.send(new SendEmailCommand({
    FromEmailAddress: FROM_ADDRESS,
    Destination: { ToAddresses: [event.request.userAttributes.email] },
    Content: { Simple: { Subject: { Data: subject }, Body: { Text: { Data: text } } } },
  }));
};

exports.sms = async (event) => {
  const secret = await secretOf(event);
  const [, text] = compose(event, secret);
  await sns.send(new PublishCommand({ PhoneNumber: event.request.userAttributes.phone_number, Message: text }));
};
