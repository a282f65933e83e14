// Signs in to the example pool the way a browser app would, with amazon-cognito-identity-js:
// CUSTOM_AUTH with a password (SRP), then the code texted to the user's phone.
//
//   node sign-in.mjs USERNAME PASSWORD [ENDPOINT]
//
// ENDPOINT defaults to http://127.0.0.1:9229. The script asks for the code; read it from cognate's
// outbox (see README.md).
import { createInterface } from 'node:readline/promises';

import cognito from 'amazon-cognito-identity-js';

const { AuthenticationDetails, CognitoUser, CognitoUserPool } = cognito;

const [username, password, endpoint = 'http://127.0.0.1:9229'] = process.argv.slice(2);
if (!username || !password) {
  console.error('usage: node sign-in.mjs USERNAME PASSWORD [ENDPOINT]');
  process.exit(2);
}

const pool = new CognitoUserPool({ UserPoolId: 'us-east-1_SrpSmsOtp1', ClientId: 'srpsmsotpwebclient00000001', endpoint });
const user = new CognitoUser({ Username: username, Pool: pool });
user.setAuthenticationFlowType('CUSTOM_AUTH');
const prompt = createInterface({ input: process.stdin, output: process.stdout });

const callbacks = {
  onSuccess(session) {
    const id = session.getIdToken().decodePayload();
    console.log(`Signed in as ${id['cognito:username']} (sub ${id.sub}).`);
    console.log(`ID token: ${session.getIdToken().getJwtToken()}`);
    prompt.close();
  },
  onFailure(err) {
    console.error(`Sign-in failed: ${err.code}: ${err.message}`);
    prompt.close();
    process.exitCode = 1;
  },
  async customChallenge(params) {
    // Called after the password step, and again after each wrong code.
    const code = await prompt.question(`Code texted to ${params.destination}: `);
    user.sendCustomChallengeAnswer(code.trim(), callbacks);
  },
};

user.authenticateUser(new AuthenticationDetails({ Username: username, Password: password }), callbacks);
