// SAML 2.0 federation: a pool federated with SAML IdPs built from samlify (saml-idp.mjs, running in
// this process), and people signing in through them in Debian's Chromium. cognate is the SP
// (entity ID urn:amazon:cognito:sp:<poolId>): its /oauth2/authorize sends the browser to the IdP's
// SingleSignOnService with an AuthnRequest (HTTP-Redirect binding), the IdP checks it with samlify
// and POSTs a signed assertion back to cognate's /saml2/idpresponse, and cognate ends at the app's
// callback with a code of its own. Also: the user as Cognito keeps a federated one, the
// PreSignUp_ExternalProvider (python) and InboundFederation (node) triggers with the SAML
// attributes, attributes re-mapped on the next sign-in, idp_identifier and the hosted page's
// button, refusals of tampered, unsigned, foreign-signed, mis-addressed and expired assertions,
// IdP-initiated sign-in (IDPInit), signed AuthnRequests (RequestSigningAlgorithm, checked by the
// IdP against GetSigningCertificate), SP-initiated single logout (IDPSignout) and encrypted
// assertions (EncryptedResponses). Fixtures (a test-only IdP key pair, the handlers) are in
// fixtures/saml.
import assert from 'node:assert/strict';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import samlify from 'samlify';

import { assertNoErrors, launchBrowser, openPage } from './browser.mjs';
import { api, jwtPayload, startApp, startServer } from './helpers.mjs';
import {
  ALGORITHM,
  ALTER,
  BINDING,
  EMAIL_CLAIM,
  SAML_FIXTURES,
  STRANGER_CERT,
  STRANGER_KEY,
  certificateBase64,
  inflateRedirect,
  redirectMessage,
  startSamlIdp,
} from './saml-idp.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const ARN = (name) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

/** The people the IdPs know, by NameID; a test may change an attribute between sign-ins. */
const person = (id, email, displayName, department) => ({ id, email, displayName, department });
const PEOPLE = {
  'emp-42': person('emp-42', 'kim@corp.example', 'Kim Lee', 'Sales'),
  'emp-43': person('emp-43', 'ana@corp.example', 'Ana Silva', 'Finance'),
  'emp-44': person('emp-44', 'bo@corp.example', 'Bo Chen', 'Support'),
  'emp-45': person('emp-45', 'cy@corp.example', 'Cy Diaz', 'Legal'),
  'emp-46': person('emp-46', 'di@corp.example', 'Di Novak', 'Research'),
  'emp-47': person('emp-47', 'ed@corp.example', 'Ed Park', 'Facilities'),
};

/** What cognate's invocation log holds for a pool (newest first), optionally of one source. */
async function invocations(url, poolId, triggerSource) {
  const q = new URLSearchParams({ poolId, ...(triggerSource ? { triggerSource } : {}) });
  const res = await fetch(`${url}/_cognate/invocations?${q}`);
  assert.equal(res.status, 200);
  return (await res.json()).invocations;
}

/** A user's attributes from AdminGetUser as an object. */
const attributesOf = (user) => Object.fromEntries(user.UserAttributes.map((a) => [a.Name, a.Value]));

/** The IdP's metadata as CreateIdentityProvider's ProviderDetails, with `extra` keys. */
const samlDetails = (tenant, extra = {}) => ({ MetadataFile: tenant.metadata, ...extra });

const ATTRIBUTE_MAPPING = { email: EMAIL_CLAIM, name: 'displayName', 'custom:dept': 'department' };

// The harness on its own, against samlify's own SP: what the IdP sends is a valid signed
// response, and what the refusal tests send is refused by a SAML library too (or carries the
// wrong audience / no InResponseTo that they mean it to). This needs no cognate.
describe('the samlify IdP of these tests, checked against samlify’s own SP', () => {
  let idpServer;
  before(async () => {
    idpServer = await startSamlIdp();
  });
  after(async () => {
    await idpServer?.stop();
  });

  test('valid responses parse; tampered, unsigned, foreign-signed and expired ones do not', async () => {
    const acs = 'http://127.0.0.1:1/saml2/idpresponse';
    const spEntityID = 'urn:amazon:cognito:sp:us-east-1_Harness1';
    const tenant = idpServer.tenant('check', { encryptAssertions: false });
    tenant.trust({ entityID: spEntityID, acs, slo: 'http://127.0.0.1:1/saml2/logout' });
    const sp = samlify.ServiceProvider({
      entityID: spEntityID,
      wantAssertionsSigned: true,
      assertionConsumerService: [{ Binding: BINDING.post, Location: acs }],
    });
    const idp = samlify.IdentityProvider({ metadata: tenant.metadata });
    const parse = async (options) => {
      const { base64 } = await tenant.loginResponse(PEOPLE['emp-42'], { inResponseTo: '_req-1', ...options });
      return sp.parseLoginResponse(idp, 'post', { body: { SAMLResponse: base64 } });
    };

    const { extract } = await parse({});
    assert.equal(extract.nameID, 'emp-42');
    assert.equal(extract.audience, spEntityID);
    assert.equal(extract.response.inResponseTo, '_req-1');
    assert.deepEqual(extract.attributes, { [EMAIL_CLAIM]: 'kim@corp.example', displayName: 'Kim Lee', department: 'Sales' });
    assert.match(extract.sessionIndex.sessionIndex, /^_session-/);

    await assert.rejects(parse({ alter: ALTER.nameId('emp-666') }), /FAILED_TO_VERIFY_SIGNATURE/);
    await assert.rejects(parse({ alter: ALTER.attribute('department', 'Admins') }), /FAILED_TO_VERIFY_SIGNATURE/);
    await assert.rejects(parse({ alter: ALTER.unsigned }), /FAILED_TO_VERIFY_SIGNATURE/);
    await assert.rejects(parse({ signWith: { key: STRANGER_KEY, cert: STRANGER_CERT } }), /CERTIFICATE/);
    await assert.rejects(parse({ issuedAgoSeconds: 3600 }), /ERR_SUBJECT_UNCONFIRMED/);
    assert.equal((await parse({ audience: 'urn:amazon:cognito:sp:us-east-1_Other' })).extract.audience, 'urn:amazon:cognito:sp:us-east-1_Other');
    assert.equal((await parse({ inResponseTo: undefined })).extract.response.inResponseTo, undefined);
  });

  test('a tenant that wants signed AuthnRequests refuses an unsigned one; an encrypting tenant encrypts', async () => {
    const acs = 'http://127.0.0.1:1/saml2/idpresponse';
    const spEntityID = 'urn:amazon:cognito:sp:us-east-1_Harness2';
    const signed = idpServer.tenant('check-signed', { wantAuthnRequestsSigned: true });
    signed.trust({ entityID: spEntityID, acs, signingCert: STRANGER_CERT });
    signed.signIn(PEOPLE['emp-42']);
    const unsignedSp = samlify.ServiceProvider({ entityID: spEntityID, assertionConsumerService: [{ Binding: BINDING.post, Location: acs }] });
    const signingSp = samlify.ServiceProvider({
      entityID: spEntityID,
      authnRequestsSigned: true,
      privateKey: STRANGER_KEY,
      signingCert: STRANGER_CERT,
      assertionConsumerService: [{ Binding: BINDING.post, Location: acs }],
    });
    // samlify's SP signs a Redirect request only when the IdP's metadata asks for it.
    const idpAskingSignatures = samlify.IdentityProvider({ metadata: signed.metadata });
    const plainIdp = samlify.IdentityProvider({ metadata: signed.metadata.replace('WantAuthnRequestsSigned="true"', 'WantAuthnRequestsSigned="false"') });
    const refused = await fetch(unsignedSp.createLoginRequest(plainIdp, 'redirect').context);
    assert.equal(refused.status, 400);
    assert.match(signed.authnRequests.at(-1).error.message, /ERR_MISSING_SIG_ALG/);
    const accepted = await fetch(signingSp.createLoginRequest(idpAskingSignatures, 'redirect').context);
    assert.equal(accepted.status, 200, await accepted.clone().text());
    assert.equal(signed.authnRequests.at(-1).sigAlg, ALGORITHM.rsaSha256);
    assert.match(await accepted.text(), /name="SAMLResponse"/);

    const sealed = idpServer.tenant('check-sealed', { encryptAssertions: true });
    sealed.trust({ entityID: spEntityID, acs, encryptCert: certificateBase64(STRANGER_CERT) });
    const { sent } = await sealed.loginResponse(PEOPLE['emp-42'], {});
    assert.match(sent, /EncryptedAssertion/);
    assert.doesNotMatch(sent, /<saml:Assertion\b/);
    assert.doesNotMatch(sent, /kim@corp\.example/);
  });
});

describe('SAML federation with a samlify IdP, signed in through Chromium', () => {
  let server;
  let app;
  let idpServer;
  let browser;
  let configDir;
  let poolId;
  let spEntityID;
  let acs;
  let corp;
  let clientId;

  before(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'cognate-saml-'));
    const toml = join(configDir, 'cognate.toml');
    writeFileSync(
      toml,
      [
        '[functions.saml-inbound-federation]',
        'runtime = "node"',
        `handler = ${JSON.stringify(join(SAML_FIXTURES, 'inbound_federation.handler'))}`,
        '',
        '[functions.saml-pre-sign-up]',
        'runtime = "python"',
        `handler = ${JSON.stringify(join(resolve(here, 'fixtures/federation'), 'pre_sign_up.handler'))}`,
        '',
      ].join('\n'),
    );
    // Each is kept as it starts, so that `after` stops whatever did even when another failed.
    const started = await Promise.allSettled([
      startServer({ args: ['--config', toml] }).then((s) => (server = s)),
      startApp().then((a) => (app = a)),
      startSamlIdp().then((i) => (idpServer = i)),
      launchBrowser().then((b) => (browser = b)),
    ]);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;

    const { UserPool } = await api(server.url, 'CreateUserPool', {
      PoolName: 'saml',
      Schema: [{ Name: 'dept', AttributeDataType: 'String', Mutable: true }],
    });
    poolId = UserPool.Id;
    spEntityID = `urn:amazon:cognito:sp:${poolId}`;
    // The browser opens /oauth2/authorize at server.url, so that is the host of cognate's ACS.
    acs = `${server.url}/saml2/idpresponse`;
    await api(server.url, 'UpdateUserPool', {
      UserPoolId: poolId,
      LambdaConfig: {
        PreSignUp: ARN('saml-pre-sign-up'),
        InboundFederation: { LambdaVersion: 'V1_0', LambdaArn: ARN('saml-inbound-federation') },
      },
    });
    await api(server.url, 'CreateUserPoolDomain', { UserPoolId: poolId, Domain: `saml-${randomBytes(4).toString('hex')}` });

    corp = idpServer.tenant('corp');
    corp.people = PEOPLE;
    corp.trust({ entityID: spEntityID, acs, slo: `${server.url}/saml2/logout` });
    await api(server.url, 'CreateIdentityProvider', {
      UserPoolId: poolId,
      ProviderName: 'Corp',
      ProviderType: 'SAML',
      ProviderDetails: samlDetails(corp, { IDPSignout: 'true', IDPInit: 'true' }),
      AttributeMapping: ATTRIBUTE_MAPPING,
      IdpIdentifiers: ['corp.example'],
    });
    clientId = await createClient('web', ['COGNITO', 'Corp']);
  });

  after(async () => {
    await browser?.close();
    await idpServer?.stop();
    await app?.stop();
    await server?.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  /** An app client for the code flow at the app's callback, supporting `providers`. */
  async function createClient(name, providers) {
    const { UserPoolClient } = await api(server.url, 'CreateUserPoolClient', {
      UserPoolId: poolId,
      ClientName: name,
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthScopes: ['openid', 'email', 'profile'],
      CallbackURLs: [app.callback],
      LogoutURLs: [app.signedOut],
      SupportedIdentityProviders: providers,
    });
    return UserPoolClient.ClientId;
  }

  /** cognate's /oauth2/authorize for `client` with `extra` (identity_provider=… and so on). */
  function authorizeUrl(state, extra = { identity_provider: 'Corp' }, client = clientId) {
    const u = new URL(`${server.url}/oauth2/authorize`);
    u.search = new URLSearchParams({
      response_type: 'code',
      client_id: client,
      redirect_uri: app.callback,
      scope: 'openid email profile',
      state,
      ...extra,
    }).toString();
    return u.href;
  }

  /**
   * A fresh browser context whose page records, in `navigationErrors`, each top-level navigation
   * that cognate answered with an HTTP error (its /error page aside) or that the browser could not
   * load.
   */
  async function freshPage() {
    const handle = await openPage(browser);
    const { page } = handle;
    handle.navigationErrors = [];
    page.on('response', async (r) => {
      const u = new URL(r.url());
      if (r.status() < 400 || r.frame() !== page.mainFrame() || !r.request().isNavigationRequest()) return;
      if (u.origin !== server.url || u.pathname === '/error') return;
      const said = (await r.text().catch(() => '')).replace(/\s+/g, ' ').slice(0, 300);
      handle.navigationErrors.push(`cognate answered ${r.status()} to ${r.request().method()} ${u.pathname}${u.search}: ${said}`);
    });
    page.on('requestfailed', (r) => {
      const errorText = r.failure()?.errorText ?? '';
      if (!r.isNavigationRequest() || r.frame() !== page.mainFrame() || errorText === 'net::ERR_ABORTED') return;
      handle.navigationErrors.push(`the browser could not load ${r.method()} ${r.url()}: ${errorText}`);
    });
    return handle;
  }

  /**
   * assertNoErrors for cognate's pages. The IdP's pages are not cognate's, so what the browser
   * reports at the IdP's origin is left out; anything else, cognate's pages and the app's, still
   * fails the test.
   */
  function assertNoCognateErrors(handle) {
    const atIdp = (entry) => {
      const located = /\((\S+):\d+\)$/.exec(entry)?.[1] ?? /^requestfailed: \S+ (\S+): /.exec(entry)?.[1];
      return located !== undefined && located.startsWith(`${idpServer.origin}/`);
    };
    assertNoErrors({ errors: () => handle.errors().filter((e) => !atIdp(e)) });
  }

  const bodyText = async (page) => (await page.textContent('body').catch(() => '')).trim().replace(/\s+/g, ' ').slice(0, 400);

  /**
   * Waits until the page is at the app's callback (or `at`; with `orErrorPage`, cognate's /error
   * page too) and returns that URL. An HTTP error from cognate on the way, a navigation the
   * browser could not load, the IdP's error page (it refused what cognate sent) or a wait that
   * ends elsewhere fails at once, saying where the browser is instead.
   */
  async function landed(handle, { at = app.callback, orErrorPage = false } = {}) {
    const { page } = handle;
    const there = (u) => u.href.startsWith(at);
    const refused = (u) => u.origin === server.url && u.pathname === '/error';
    const deadline = Date.now() + 8_000;
    for (;;) {
      const url = new URL(page.url());
      if (there(url)) return url;
      if (refused(url)) {
        if (orErrorPage) return url;
        throw new Error(`cognate's error page instead of ${at}: ${page.url()}: ${await bodyText(page)}`);
      }
      if (handle.navigationErrors.length > 0) throw new Error(handle.navigationErrors.join('\n'));
      if (url.origin === idpServer.origin && (await page.$('#idp-error').catch(() => null))) {
        throw new Error(`the IdP refused what cognate sent: ${await bodyText(page)}`);
      }
      if (Date.now() > deadline) throw new Error(`never at ${at}; at ${page.url()}: ${await bodyText(page)}`);
      await new Promise((ok) => setTimeout(ok, 50));
    }
  }

  /**
   * The whole SP-initiated sign-in of `who` through `tenant`: cognate's authorize URL with
   * `extra`, the IdP, back through /saml2/idpresponse to the app's callback, in `handle`.
   * `options` alter the IdP's response (see Tenant.loginResponse). Returns the callback URL, the
   * app's state and how many AuthnRequests the IdP had before.
   */
  async function samlSignIn(handle, tenant, who, { extra, client, options } = {}) {
    tenant.signIn(who, options);
    const state = randomBytes(12).toString('hex');
    const before = tenant.authnRequests.length;
    await handle.page.goto(authorizeUrl(state, extra, client));
    const callbackUrl = await landed(handle);
    assert.equal(tenant.authnRequests.length, before + 1, `the IdP did not get exactly one AuthnRequest; ended at ${callbackUrl.href}`);
    return { callbackUrl, state };
  }

  /** POST /oauth2/token for a code (public client, no PKCE was sent). */
  async function redeem(code, client = clientId) {
    const res = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: client, code, redirect_uri: app.callback }),
    });
    const body = await res.json();
    assert.equal(res.status, 200, `POST /oauth2/token → ${res.status} ${JSON.stringify(body)}`);
    return body;
  }

  /** Signs `who` in through `tenant` in a fresh context and returns the ID token's claims. */
  async function signInForClaims(tenant, who, { extra, client } = {}) {
    const handle = await freshPage();
    try {
      const { callbackUrl, state } = await samlSignIn(handle, tenant, who, { extra, client });
      assert.equal(callbackUrl.searchParams.get('error'), null, callbackUrl.href);
      assert.equal(callbackUrl.searchParams.get('state'), state);
      const tokens = await redeem(callbackUrl.searchParams.get('code'), client);
      assertNoCognateErrors(handle);
      return jwtPayload(tokens.id_token);
    } finally {
      await handle.close();
    }
  }

  /** Asserts that cognate has no user of that name. */
  async function assertNoUser(username) {
    await assert.rejects(api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: username }), (e) => {
      assert.equal(e.code, 'UserNotFoundException', `${username}: ${e.message}`);
      return true;
    });
  }

  const preSignUps = async (userName) =>
    (await invocations(server.url, poolId, 'PreSignUp_ExternalProvider')).filter((i) => i.event.userName === userName);

  /** The InboundFederation invocations whose SAML attributes carry `email`, oldest first. */
  const inboundFor = async (email) =>
    (await invocations(server.url, poolId, 'InboundFederation_ExternalProvider'))
      .filter((i) => i.event.request?.attributes?.samlResponse?.[EMAIL_CLAIM] === email)
      .reverse();

  test('identity_provider=Corp: 302 to the IdP’s SingleSignOnService, HTTP-Redirect, with an AuthnRequest for cognate', async () => {
    const state = randomBytes(12).toString('hex');
    const res = await fetch(authorizeUrl(state), { redirect: 'manual' });
    const location = res.headers.get('location');
    assert.equal(res.status, 302, `GET /oauth2/authorize → ${res.status} ${location ?? (await res.text()).slice(0, 300)}`);
    assert.ok(location?.startsWith(`${corp.ssoUrl}?`), `Location: ${location}`);
    const { query, octetString } = redirectMessage(location, 'SAMLRequest');
    assert.ok(query.SAMLRequest, 'no SAMLRequest');
    assert.ok(query.RelayState, 'no RelayState');
    assert.notEqual(query.RelayState, state, 'the app’s own state was handed to the IdP');
    assert.equal(query.Signature, undefined, 'a signature, though the provider has no RequestSigningAlgorithm');
    assert.equal(query.SigAlg, undefined);

    const xml = inflateRedirect(query.SAMLRequest);
    assert.match(xml, /<(\w+:)?AuthnRequest\b/, xml);
    // samlify's IdP reads it as the SSO endpoint does.
    const { extract } = await corp.idp.parseLoginRequest(corp.sp, 'redirect', { query, octetString });
    assert.ok(extract.request.id, `no ID: ${xml}`);
    assert.equal(extract.issuer, spEntityID, xml);
    assert.equal(extract.request.assertionConsumerServiceUrl, acs, xml);
    assert.equal(extract.request.destination, corp.ssoUrl, xml);
    // No signature in the XML either (the Redirect binding signs the query, when it signs).
    assert.equal(extract.signature, null);
  });

  test('a browser: the IdP, the POST to /saml2/idpresponse, the callback; tokens for Corp_emp-42', async () => {
    const handle = await freshPage();
    try {
      const posts = [];
      handle.page.on('request', (r) => {
        if (r.url().startsWith(acs)) posts.push({ method: r.method(), url: r.url() });
      });
      const { callbackUrl, state } = await samlSignIn(handle, corp, PEOPLE['emp-42']);
      const request = corp.authnRequests.at(-1);
      assert.equal(request.error, undefined, String(request.error));
      const response = corp.responses.at(-1);
      assert.equal(response.inResponseTo, request.extract.request.id);
      // The IdP's form POSTs to the ACS (cognate may pass it on once more, same-site, so that
      // its cookies come along; Chromium sends no SameSite=Lax cookie with a cross-site POST).
      assert.ok(posts.length >= 1 && posts.every((p) => p.method === 'POST'), JSON.stringify(posts));

      assert.equal(callbackUrl.searchParams.get('error'), null, callbackUrl.href);
      assert.equal(callbackUrl.searchParams.get('state'), state);
      const code = callbackUrl.searchParams.get('code');
      assert.ok(code, `no code: ${callbackUrl.href}`);

      const tokens = await redeem(code);
      const claims = jwtPayload(tokens.id_token);
      assert.equal(claims['cognito:username'], 'Corp_emp-42');
      assert.equal(claims.email, 'kim@corp.example');
      assert.equal(claims.name, 'Kim Lee');
      assert.equal(claims['custom:dept'], 'Sales');
      assert.equal(claims.aud, clientId);
      assert.ok(Array.isArray(claims.identities), `identities: ${JSON.stringify(claims.identities)}`);
      assert.equal(claims.identities.length, 1);
      const [identity] = claims.identities;
      assert.equal(identity.providerName, 'Corp');
      assert.equal(identity.providerType, 'SAML');
      assert.equal(identity.userId, 'emp-42');
      assert.equal(identity.primary, 'true');
      assert.equal(jwtPayload(tokens.access_token).username, 'Corp_emp-42');
      assertNoCognateErrors(handle);
    } finally {
      await handle.close();
    }
  });

  test('AdminGetUser Corp_emp-42: EXTERNAL_PROVIDER, identities, the mapped attributes and the function’s nickname', async () => {
    const user = await api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: 'Corp_emp-42' });
    assert.equal(user.UserStatus, 'EXTERNAL_PROVIDER');
    assert.equal(user.Enabled, true);
    const attrs = attributesOf(user);
    assert.equal(attrs.email, 'kim@corp.example');
    assert.equal(attrs.name, 'Kim Lee');
    assert.equal(attrs['custom:dept'], 'Sales');
    assert.equal(attrs.nickname, 'kim', 'the InboundFederation function’s attribute');
    const identities = JSON.parse(attrs.identities);
    assert.equal(identities.length, 1);
    assert.deepEqual(
      { userId: identities[0].userId, providerName: identities[0].providerName, providerType: identities[0].providerType },
      { userId: 'emp-42', providerName: 'Corp', providerType: 'SAML' },
    );
  });

  test('PreSignUp_ExternalProvider (python) ran once, for Corp_emp-42', async () => {
    const pre = await preSignUps('Corp_emp-42');
    assert.equal(pre.length, 1, JSON.stringify(pre.map((i) => i.event)));
    assert.equal(pre[0].runtime, 'python');
    assert.equal(pre[0].error, null, JSON.stringify(pre[0].error));
    assert.equal(pre[0].event.triggerSource, 'PreSignUp_ExternalProvider');
    assert.equal(pre[0].event.request.userAttributes.email, 'kim@corp.example');
  });

  test('InboundFederation (node) got providerType SAML and the assertion’s attributes as samlResponse', async () => {
    const [first] = await inboundFor('kim@corp.example');
    assert.ok(first, 'no InboundFederation invocation with samlResponse for kim@corp.example');
    const { event, error, runtime, logs } = first;
    assert.equal(runtime, 'node');
    assert.equal(error, null, JSON.stringify(error));
    assert.equal(event.triggerSource, 'InboundFederation_ExternalProvider');
    assert.equal(event.request.providerName, 'Corp');
    assert.equal(event.request.providerType, 'SAML');
    assert.deepEqual(event.request.attributes.samlResponse, {
      [EMAIL_CLAIM]: 'kim@corp.example',
      displayName: 'Kim Lee',
      department: 'Sales',
    });
    assert.match(logs, /providerType SAML; samlResponse: \{/, logs);
  });

  test('a second sign-in, by idp_identifier=corp.example, maps changed attributes; PreSignUp does not run again', async () => {
    PEOPLE['emp-42'].displayName = 'Kimberly Lee';
    PEOPLE['emp-42'].department = 'Marketing';
    const claims = await signInForClaims(corp, PEOPLE['emp-42'], { extra: { idp_identifier: 'corp.example' } });
    assert.equal(claims['cognito:username'], 'Corp_emp-42');
    assert.equal(claims.name, 'Kimberly Lee');
    assert.equal(claims['custom:dept'], 'Marketing');
    const attrs = attributesOf(await api(server.url, 'AdminGetUser', { UserPoolId: poolId, Username: 'Corp_emp-42' }));
    assert.equal(attrs.name, 'Kimberly Lee');
    assert.equal(attrs['custom:dept'], 'Marketing');
    assert.equal(attrs.nickname, 'kimberly');
    assert.equal((await preSignUps('Corp_emp-42')).length, 1);
  });

  test('the hosted sign-in page’s “Corp” button signs in through the IdP too', async () => {
    const handle = await freshPage();
    try {
      const { page } = handle;
      corp.signIn(PEOPLE['emp-42']);
      const state = randomBytes(12).toString('hex');
      await page.goto(authorizeUrl(state, {}));
      const button = page.locator('a, button', { hasText: 'Corp' }).first();
      await button.waitFor({ timeout: 8_000 }).catch(async (e) => {
        throw new Error(`no Corp button; at ${page.url()}: ${await bodyText(page)}`, { cause: e });
      });
      await button.click();
      const callbackUrl = await landed(handle);
      assert.equal(callbackUrl.searchParams.get('error'), null, callbackUrl.href);
      assert.equal(callbackUrl.searchParams.get('state'), state);
      const claims = jwtPayload((await redeem(callbackUrl.searchParams.get('code'))).id_token);
      assert.equal(claims['cognito:username'], 'Corp_emp-42');
      assertNoCognateErrors(handle);
    } finally {
      await handle.close();
    }
  });

  // Each refused response is signed by the IdP for a person of its own, then altered (or made
  // for another audience, or long expired); cognate must send the browser back to the app with
  // Cognito's error for it and create nobody. Cognito's is error=server_error with
  // error_description "Invalid SAML response received: SAML Assertion signature is invalid."
  // (reported in aws/aws-sdk-js-v3#6201).
  const REFUSALS = [
    ['a NameID changed after signing', 'emp-50', { alter: ALTER.nameId('emp-51') }, ['Corp_emp-50', 'Corp_emp-51']],
    ['an attribute changed after signing', 'emp-52', { alter: ALTER.attribute('department', 'Admins') }, ['Corp_emp-52']],
    ['no signature at all', 'emp-53', { alter: ALTER.unsigned }, ['Corp_emp-53']],
    ['signed with a key not in the metadata', 'emp-54', { signWith: { key: STRANGER_KEY, cert: STRANGER_CERT } }, ['Corp_emp-54']],
    ['for another audience', 'emp-55', { audience: 'urn:amazon:cognito:sp:us-east-1_SomeoneElse' }, ['Corp_emp-55']],
    ['expired an hour ago', 'emp-56', { issuedAgoSeconds: 3600, validForSeconds: 300 }, ['Corp_emp-56']],
  ];
  for (const [what, id, options, usernames] of REFUSALS) {
    test(`an assertion ${what}: back at the app with error=server_error, nobody created`, async () => {
      const handle = await freshPage();
      try {
        const who = person(id, `${id}@corp.example`, `Person ${id}`, 'Ops');
        const { callbackUrl, state } = await samlSignIn(handle, corp, who, { options });
        assert.equal(corp.authnRequests.at(-1).error, undefined, String(corp.authnRequests.at(-1).error));
        assert.equal(callbackUrl.searchParams.get('error'), 'server_error', callbackUrl.href);
        assert.match(callbackUrl.searchParams.get('error_description') ?? '', /^Invalid SAML response received: /, callbackUrl.href);
        assert.equal(callbackUrl.searchParams.get('code'), null, callbackUrl.href);
        assert.equal(callbackUrl.searchParams.get('state'), state);
        assertNoCognateErrors(handle);
      } finally {
        await handle.close();
      }
      for (const username of usernames) await assertNoUser(username);
    });
  }

  /** The IdP-initiated sign-in of `who` through `tenant` for `client`; returns where it ended. */
  async function idpInitiated(handle, tenant, who, client, providerName, { orErrorPage = false } = {}) {
    const relayState = new URLSearchParams({
      response_type: 'code',
      client_id: client,
      redirect_uri: app.callback,
      identity_provider: providerName,
      scope: 'openid email',
    }).toString();
    tenant.people = PEOPLE;
    tenant.plan = null;
    const start = new URL(tenant.startUrl);
    start.search = new URLSearchParams({ person: who.id, RelayState: relayState }).toString();
    const before = tenant.responses.length;
    await handle.page.goto(start.href);
    const url = await landed(handle, { orErrorPage });
    assert.equal(tenant.responses.length, before + 1);
    const sent = tenant.responses.at(-1);
    assert.equal(sent.inResponseTo, undefined);
    assert.doesNotMatch(sent.sent, /InResponseTo=/, 'an unsolicited response answers no request');
    return url;
  }

  test('IdP-initiated (IDPInit true): an unsolicited response with the authorize parameters as RelayState signs in', async () => {
    const handle = await freshPage();
    try {
      const callbackUrl = await idpInitiated(handle, corp, PEOPLE['emp-43'], clientId, 'Corp');
      assert.equal(callbackUrl.searchParams.get('error'), null, callbackUrl.href);
      const code = callbackUrl.searchParams.get('code');
      assert.ok(code, `no code: ${callbackUrl.href}`);
      const claims = jwtPayload((await redeem(code)).id_token);
      assert.equal(claims['cognito:username'], 'Corp_emp-43');
      assert.equal(claims.email, 'ana@corp.example');
      assertNoCognateErrors(handle);
    } finally {
      await handle.close();
    }
  });

  test('the same unsolicited response posted again signs nobody in', async (t) => {
    const handle = await freshPage();
    try {
      const relayState = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: app.callback,
        identity_provider: 'Corp',
        scope: 'openid email',
      }).toString();
      const replay = new URL(corp.startUrl.replace(/\/start$/, '/replay'));
      replay.search = new URLSearchParams({ RelayState: relayState }).toString();
      assert.equal(corp.responses.at(-1).person, 'emp-43', 'the last response is not the IdP-initiated one');
      await handle.page.goto(replay.href);
      const at = await landed(handle, { orErrorPage: true });
      t.diagnostic(`landed at ${at.href}`);
      assert.equal(at.searchParams.get('code'), null, `a replayed response signed someone in: ${at.href}`);
      if (at.href.startsWith(app.callback)) assert.ok(at.searchParams.get('error'), at.href);
      assertNoCognateErrors(handle);
    } finally {
      await handle.close();
    }
  });

  test('IdP-initiated to a provider without IDPInit: refused, no code, nobody created', async (t) => {
    const tenant = idpServer.tenant('noinit');
    tenant.trust({ entityID: spEntityID, acs });
    await api(server.url, 'CreateIdentityProvider', {
      UserPoolId: poolId,
      ProviderName: 'NoInit',
      ProviderType: 'SAML',
      ProviderDetails: samlDetails(tenant),
      AttributeMapping: ATTRIBUTE_MAPPING,
    });
    const client = await createClient('no-init', ['NoInit']);
    const handle = await freshPage();
    try {
      const at = await idpInitiated(handle, tenant, PEOPLE['emp-47'], client, 'NoInit', { orErrorPage: true });
      t.diagnostic(`landed at ${at.href}`);
      assert.equal(at.searchParams.get('code'), null, at.href);
      if (at.href.startsWith(app.callback)) assert.equal(at.searchParams.get('error'), 'invalid_request', at.href);
      assertNoCognateErrors(handle);
    } finally {
      await handle.close();
    }
    await assertNoUser('NoInit_emp-47');
  });

  test('GetSigningCertificate: the pool’s certificate as base64 DER, no PEM armour', async () => {
    const { Certificate } = await api(server.url, 'GetSigningCertificate', { UserPoolId: poolId });
    assert.equal(typeof Certificate, 'string');
    assert.doesNotMatch(Certificate, /-----BEGIN|\s/);
    const cert = new X509Certificate(Buffer.from(Certificate, 'base64'));
    assert.equal(cert.publicKey.asymmetricKeyType, 'rsa');
    assert.ok(new Date(cert.validTo) > new Date(), `expired: ${cert.validTo}`);
  });

  test('RequestSigningAlgorithm rsa-sha256: the IdP verifies the AuthnRequest’s Redirect signature with GetSigningCertificate', async () => {
    const { Certificate } = await api(server.url, 'GetSigningCertificate', { UserPoolId: poolId });
    const tenant = idpServer.tenant('signed', { wantAuthnRequestsSigned: true });
    tenant.trust({ entityID: spEntityID, acs, signingCert: Certificate });
    const { IdentityProvider } = await api(server.url, 'CreateIdentityProvider', {
      UserPoolId: poolId,
      ProviderName: 'Signed',
      ProviderType: 'SAML',
      ProviderDetails: samlDetails(tenant, { RequestSigningAlgorithm: 'rsa-sha256' }),
      AttributeMapping: ATTRIBUTE_MAPPING,
    });
    assert.equal(IdentityProvider.ProviderDetails.RequestSigningAlgorithm, 'rsa-sha256');
    const client = await createClient('signed', ['Signed']);
    const claims = await signInForClaims(tenant, PEOPLE['emp-45'], { extra: { identity_provider: 'Signed' }, client });
    const request = tenant.authnRequests.at(-1);
    assert.equal(request.error, undefined, String(request.error));
    assert.equal(request.query.SigAlg, ALGORITHM.rsaSha256);
    assert.ok(request.query.Signature, 'no Signature parameter');
    assert.equal(request.sigAlg, ALGORITHM.rsaSha256, 'samlify did not verify the signature');
    assert.equal(claims['cognito:username'], 'Signed_emp-45');
  });

  test('SP-initiated logout (IDPSignout): /logout → the IdP’s LogoutRequest → /saml2/logout → logout_uri; the session is gone', async () => {
    const handle = await freshPage();
    try {
      const { page } = handle;
      const { callbackUrl } = await samlSignIn(handle, corp, PEOPLE['emp-44']);
      assert.ok(callbackUrl.searchParams.get('code'), callbackUrl.href);
      const { sessionIndex } = corp.responses.at(-1);

      // The hosted session now answers authorize without asking anyone.
      await page.goto(authorizeUrl('again', {}));
      const reused = await landed(handle);
      assert.ok(reused.searchParams.get('code'), `no session after the SAML sign-in: ${reused.href}`);

      const logout = new URL(`${server.url}/logout`);
      logout.search = new URLSearchParams({ client_id: clientId, logout_uri: app.signedOut }).toString();
      const before = corp.logoutRequests.length;
      await page.goto(logout.href);
      await landed(handle, { at: app.signedOut });
      assert.equal(corp.logoutRequests.length, before + 1, 'the IdP got no LogoutRequest');
      const request = corp.logoutRequests.at(-1);
      assert.equal(request.error, undefined, String(request.error));
      assert.ok(request.url.startsWith(`${corp.sloUrl}?`), request.url);
      assert.equal(request.extract.issuer, spEntityID, request.xml);
      assert.equal(request.extract.nameID, 'emp-44', request.xml);
      assert.equal(request.extract.sessionIndex, sessionIndex, request.xml);
      assert.equal(request.extract.request.destination, corp.sloUrl, request.xml);

      // No session: authorize shows the sign-in page again.
      await page.goto(authorizeUrl('after', {}));
      await page.waitForLoadState('load');
      const at = new URL(page.url());
      assert.equal(at.origin, server.url, `left cognate: ${at.href}`);
      assert.ok(!at.href.startsWith(app.callback), `still signed in: ${at.href}`);
      await page.locator('a, button', { hasText: 'Corp' }).first().waitFor({ timeout: 5_000 });
      assertNoCognateErrors(handle);
    } finally {
      await handle.close();
    }
  });

  test('/saml2/logout refuses a LogoutResponse to another request, a failed one, and a badly signed one', async () => {
    const request = corp.logoutRequests.at(-1);
    assert.ok(request, 'the logout test above ran first');
    const relayState = new URL(request.url).searchParams.get('RelayState');
    const answered = request.extract.request.id;
    const logoutResponse = (inResponseTo, status, signature = '') =>
      `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_forged-${randomBytes(4).toString('hex')}" ` +
      `Version="2.0" IssueInstant="${new Date().toISOString()}" InResponseTo="${inResponseTo}">${signature}` +
      `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:${status}"/></samlp:Status></samlp:LogoutResponse>`;
    const post = (xml) =>
      fetch(`${server.url}/saml2/logout`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ SAMLResponse: Buffer.from(xml).toString('base64'), RelayState: relayState }),
      });
    const junkSignature =
      '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>' +
      '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>' +
      '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>' +
      '<ds:Reference URI="#_x"><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>' +
      '<ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>';
    for (const [what, xml] of [
      ['another request', logoutResponse('_not-ours', 'Success')],
      ['a failed logout', logoutResponse(answered, 'Requester')],
      ['a bad signature', logoutResponse(answered, 'Success', junkSignature)],
      ['not a LogoutResponse', '<nothing/>'],
    ]) {
      const res = await post(xml);
      assert.equal(res.status, 302, what);
      assert.match(res.headers.get('location'), /^\/error\?/, `${what}: ${res.headers.get('location')}`);
    }
  });

  test('EncryptedResponses: the IdP encrypts the assertion to ActiveEncryptionCertificate; the sign-in succeeds', async () => {
    const tenant = idpServer.tenant('sealed', { encryptAssertions: true });
    await api(server.url, 'CreateIdentityProvider', {
      UserPoolId: poolId,
      ProviderName: 'Sealed',
      ProviderType: 'SAML',
      ProviderDetails: samlDetails(tenant, { EncryptedResponses: 'true' }),
      AttributeMapping: ATTRIBUTE_MAPPING,
    });
    const { IdentityProvider } = await api(server.url, 'DescribeIdentityProvider', { UserPoolId: poolId, ProviderName: 'Sealed' });
    const encryptCert = IdentityProvider.ProviderDetails.ActiveEncryptionCertificate;
    assert.ok(encryptCert, `no ActiveEncryptionCertificate: ${JSON.stringify(Object.keys(IdentityProvider.ProviderDetails))}`);
    const cert = new X509Certificate(Buffer.from(certificateBase64(encryptCert), 'base64'));
    assert.equal(cert.publicKey.asymmetricKeyType, 'rsa');
    tenant.trust({ entityID: spEntityID, acs, encryptCert });
    const client = await createClient('sealed', ['Sealed']);

    const claims = await signInForClaims(tenant, PEOPLE['emp-46'], { extra: { identity_provider: 'Sealed' }, client });
    const { sent } = tenant.responses.at(-1);
    assert.match(sent, /EncryptedAssertion/);
    assert.doesNotMatch(sent, /di@corp\.example/, 'the attributes went in clear');
    assert.equal(claims['cognito:username'], 'Sealed_emp-46');
    assert.equal(claims.email, 'di@corp.example');
    assert.equal(claims['custom:dept'], 'Research');
  });
});
