// A SAML 2.0 identity provider for the tests, built from samlify: one node:http server on
// http://localhost:<port> that plays any number of IdPs ("tenants"), each with its own entity ID,
// metadata, SingleSignOnService and SingleLogoutService (both HTTP-Redirect), and signing key.
//
// A tenant signs in whoever its `plan` names, without a login form: its SSO endpoint checks the
// AuthnRequest with samlify (`parseLoginRequest`, which verifies the Redirect-binding signature
// when the tenant wants signed requests), builds the login response with samlify
// (`createLoginResponse`, assertion signed, optionally encrypted) and answers with a page that
// POSTs it to the SP's ACS, as an IdP does. A plan may alter the response on its way out
// (tampering, a stripped signature, another audience, an expired assertion) to test the SP's
// refusals. Its `/start` endpoint does the same without a request (IdP-initiated sign-in),
// `/replay` sends the last response once more, and its SLO endpoint answers a LogoutRequest with a LogoutResponse POSTed to the SP's logout endpoint.
//
// The IdP's pages are its own, not the SP's: they submit their form from an inline script.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import samlify from 'samlify';

const here = dirname(fileURLToPath(import.meta.url));
export const SAML_FIXTURES = resolve(here, 'fixtures/saml');
/** The test IdP's key pair, and a stranger's: a key the SP has never been told about. */
export const IDP_KEY = readFileSync(resolve(SAML_FIXTURES, 'idp-key.pem'), 'utf8');
export const IDP_CERT = readFileSync(resolve(SAML_FIXTURES, 'idp-cert.pem'), 'utf8');
export const STRANGER_KEY = readFileSync(resolve(SAML_FIXTURES, 'stranger-key.pem'), 'utf8');
export const STRANGER_CERT = readFileSync(resolve(SAML_FIXTURES, 'stranger-cert.pem'), 'utf8');

// samlify refuses to parse anything until a schema validator is set. These tests check the SP
// (cognate), not samlify, so the IdP's validator takes every document; what cognate sends is
// checked by the tests themselves.
samlify.setSchemaValidator({ validate: async () => 'not validated against the schema' });

const { IdentityProvider, ServiceProvider, SamlLib } = samlify;

export const BINDING = {
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
};
export const ALGORITHM = {
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  aes256Cbc: 'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
  rsaOaepMgf1p: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
};
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const UNSPECIFIED_ATTRIBUTE = 'urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified';
export const EMAIL_CLAIM = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress';

/** The SAML attributes every assertion carries: the name, and which of the person's fields. */
const ATTRIBUTES = [
  { name: EMAIL_CLAIM, valueTag: 'email' },
  { name: 'displayName', valueTag: 'displayName' },
  { name: 'department', valueTag: 'department' },
];

/**
 * The login response's template: samlify's own, with an AuthnStatement (the SessionIndex an SP
 * needs for single logout) and the attributes. samlify fills in `{AttributeStatement}` from
 * `attributes`, each value placeholder named `attr<ValueTag>`.
 */
const RESPONSE_TEMPLATE = SamlLib.defaultLoginResponseTemplate.context.replace(
  '{AuthnStatement}',
  '<saml:AuthnStatement AuthnInstant="{AuthnInstant}" SessionIndex="{SessionIndex}">' +
    '<saml:AuthnContext><saml:AuthnContextClassRef>' +
    'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport' +
    '</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>',
);
const attributeTag = (valueTag) => `attr${valueTag.charAt(0).toUpperCase()}${valueTag.slice(1)}`;

const escapeHtml = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/** PEM armour around a certificate's base64 DER (or the PEM itself, if it already has one). */
export function certificatePem(cert) {
  if (cert.includes('-----BEGIN CERTIFICATE-----')) return cert;
  const body = cert.replace(/\s+/g, '').match(/.{1,64}/g).join('\n');
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}

/** The base64 DER of a certificate given as PEM or as base64 DER. */
export function certificateBase64(cert) {
  return cert.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

/**
 * The decoded parameters of a Redirect-binding URL and the octet string its signature covers
 * (SAML bindings §3.4.4.1: the parameters exactly as they were URL-encoded, in this order).
 */
export function redirectMessage(url, kind) {
  const u = new URL(url);
  const raw = new Map(
    u.search
      .slice(1)
      .split('&')
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        return at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
      }),
  );
  const octetString = [kind, 'RelayState', 'SigAlg']
    .filter((name) => raw.has(name))
    .map((name) => `${name}=${raw.get(name)}`)
    .join('&');
  return { query: Object.fromEntries(u.searchParams), octetString };
}

/** The XML inside a Redirect-binding parameter (base64 of raw DEFLATE). */
export function inflateRedirect(value) {
  return samlify.Utility.inflateString(value);
}

/** A page that POSTs `fields` to `action` as soon as it loads (the IdP's, so inline script). */
function autoPostPage(title, action, fields) {
  const inputs = Object.entries(fields)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    `<link rel="icon" href="data:,"></head><body><p>Signing you in…</p>` +
    `<form method="post" action="${escapeHtml(action)}">${inputs}<noscript><button>Continue</button></noscript></form>` +
    `<script>document.forms[0].submit()</script></body></html>`
  );
}

/** Alterations of a signed response's XML, for the refusal tests. */
export const ALTER = {
  /** Removes every XML signature. */
  unsigned: (xml) => xml.replace(/<ds:Signature\b[\s\S]*?<\/ds:Signature>/g, ''),
  /** Replaces the text of the assertion's NameID. */
  nameId: (to) => (xml) => {
    const out = xml.replace(/(<saml:NameID\b[^>]*>)[^<]*(<\/saml:NameID>)/, `$1${to}$2`);
    if (out === xml) throw new Error('no NameID to tamper with');
    return out;
  },
  /** Replaces the value of one SAML attribute. */
  attribute: (name, to) => (xml) => {
    const re = new RegExp(`(<saml:Attribute Name="${name}"[^>]*><saml:AttributeValue\\b[^>]*>)[^<]*(</saml:AttributeValue>)`);
    const out = xml.replace(re, `$1${to}$2`);
    if (out === xml) throw new Error(`no attribute ${name} to tamper with`);
    return out;
  },
};

/**
 * One IdP of the server. `options`: `wantAuthnRequestsSigned` (its metadata asks for signed
 * AuthnRequests and its SSO endpoint refuses unsigned or badly signed ones), `encryptAssertions`
 * (it encrypts the assertion to the SP's encryption certificate: AES-256-CBC, RSA-OAEP-MGF1P).
 */
class Tenant {
  constructor(origin, name, { wantAuthnRequestsSigned = false, encryptAssertions = false } = {}) {
    this.name = name;
    this.entityID = `${origin}/${name}/metadata`;
    this.ssoUrl = `${origin}/${name}/sso`;
    this.sloUrl = `${origin}/${name}/slo`;
    this.startUrl = `${origin}/${name}/start`;
    this.settings = {
      entityID: this.entityID,
      signingCert: IDP_CERT,
      privateKey: IDP_KEY,
      wantAuthnRequestsSigned,
      isAssertionEncrypted: encryptAssertions,
      dataEncryptionAlgorithm: ALGORITHM.aes256Cbc,
      keyEncryptionAlgorithm: ALGORITHM.rsaOaepMgf1p,
      requestSignatureAlgorithm: ALGORITHM.rsaSha256,
      nameIDFormat: [PERSISTENT],
      singleSignOnService: [{ Binding: BINDING.redirect, Location: this.ssoUrl }],
      singleLogoutService: [{ Binding: BINDING.redirect, Location: this.sloUrl }],
      loginResponseTemplate: {
        context: RESPONSE_TEMPLATE,
        attributes: ATTRIBUTES.map((a) => ({
          name: a.name,
          valueTag: a.valueTag,
          nameFormat: UNSPECIFIED_ATTRIBUTE,
          valueXsiType: 'xs:string',
        })),
      },
    };
    this.idp = IdentityProvider(this.settings);
    /** The IdP's metadata XML, for CreateIdentityProvider's MetadataFile. */
    this.metadata = this.idp.getMetadata();
    /** The SP as this IdP knows it; see `trust`. */
    this.sp = null;
    /** What reached the SSO endpoint: `{ url, query, xml, extract, sigAlg }` or `{ url, error }`. */
    this.authnRequests = [];
    /** What reached the SLO endpoint, the same way. */
    this.logoutRequests = [];
    /** Every login response made, as `loginResponse` returns it. */
    this.responses = [];
    /** Who the next sign-in is, and how its response is altered: see `signIn`. */
    this.plan = null;
  }

  /**
   * Tells the IdP about the SP: its entity ID, ACS (HTTP-POST), logout endpoint (HTTP-POST) and,
   * optionally, the certificate its requests are signed with and the one to encrypt to (PEM or
   * base64 DER). The IdP signs assertions (WantAssertionsSigned) and LogoutResponses.
   */
  trust({ entityID, acs, slo, signingCert, encryptCert }) {
    this.sp = ServiceProvider({
      entityID,
      wantAssertionsSigned: true,
      wantLogoutResponseSigned: true,
      authnRequestsSigned: Boolean(signingCert),
      ...(signingCert ? { signingCert: certificatePem(signingCert) } : {}),
      ...(encryptCert ? { encryptCert: certificatePem(encryptCert) } : {}),
      assertionConsumerService: [{ Binding: BINDING.post, Location: acs }],
      singleLogoutService: slo ? [{ Binding: BINDING.post, Location: slo }] : [],
    });
    this.acs = acs;
    this.slo = slo;
    return this;
  }

  /**
   * Who the next sign-ins at the SSO endpoint are: `person` (an object with `id`, `email`,
   * `displayName`, `department`) and response options (see `loginResponse`).
   */
  signIn(person, options = {}) {
    this.plan = { person, options };
  }

  /**
   * A login response for `person`: `{ base64, xml, sent, sessionIndex, … }`, where `base64` is
   * the SAMLResponse, `xml` the document before signing and `sent` what `base64` decodes to.
   * `options`: `inResponseTo` (the AuthnRequest's ID; left out for an unsolicited response),
   * `audience` (default: the SP's entity ID), `issuedAgoSeconds` / `validForSeconds` (the
   * assertion's window; default now, 5 minutes), `signWith` ({ key, cert }: another signer),
   * `alter` (xml → xml, applied after signing).
   */
  async loginResponse(person, options = {}) {
    if (!this.sp) throw new Error(`IdP ${this.name} does not know its SP yet (trust())`);
    const { inResponseTo, audience, issuedAgoSeconds = 0, validForSeconds = 300, signWith, alter } = options;
    const issued = new Date(Date.now() - issuedAgoSeconds * 1000);
    const until = new Date(issued.getTime() + validForSeconds * 1000);
    const sessionIndex = `_session-${randomBytes(8).toString('hex')}`;
    const id = `_resp-${randomBytes(10).toString('hex')}`;
    const values = {
      ID: id,
      AssertionID: `_assert-${randomBytes(10).toString('hex')}`,
      Destination: this.acs,
      Audience: audience ?? this.sp.entityMeta.getEntityID(),
      SubjectRecipient: this.acs,
      Issuer: this.entityID,
      IssueInstant: issued.toISOString(),
      AuthnInstant: issued.toISOString(),
      SessionIndex: sessionIndex,
      StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
      ConditionsNotBefore: issued.toISOString(),
      ConditionsNotOnOrAfter: until.toISOString(),
      SubjectConfirmationDataNotOnOrAfter: until.toISOString(),
      NameIDFormat: PERSISTENT,
      NameID: person.id,
      // undefined drops the attribute (an unsolicited response answers no request).
      InResponseTo: inResponseTo,
    };
    for (const a of ATTRIBUTES) values[attributeTag(a.valueTag)] = person[a.valueTag];
    let xml;
    const replace = (template) => {
      xml = SamlLib.replaceTagsByValue(template, values);
      return { id, context: xml };
    };
    // Another signer: the same IdP settings with another key and certificate.
    const idp = signWith ? IdentityProvider({ ...this.settings, signingCert: signWith.cert, privateKey: signWith.key }) : this.idp;
    const { context } = await idp.createLoginResponse(this.sp, {}, 'post', {}, { customTagReplacement: replace });
    let base64 = context;
    let sent = Buffer.from(context, 'base64').toString('utf8');
    if (alter) {
      sent = alter(sent);
      base64 = Buffer.from(sent, 'utf8').toString('base64');
    }
    const record = { id, xml, sent, base64, sessionIndex, person: person.id, inResponseTo };
    this.responses.push(record);
    return record;
  }

  /** The page that POSTs a login response to the SP's ACS. */
  responsePage(base64, relayState) {
    return autoPostPage(`${this.name} IdP`, this.acs, { SAMLResponse: base64, RelayState: relayState });
  }

  async handle(path, url, req, res) {
    const html = (status, body) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(body);
    };
    const failPage = (what, error) =>
      html(400, `<!doctype html><html><head><meta charset="utf-8"><title>IdP error</title><link rel="icon" href="data:,"></head>` +
        `<body><h1 id="idp-error">${escapeHtml(what)}</h1><pre>${escapeHtml(error?.stack ?? error)}</pre></body></html>`);
    if (path === 'metadata') {
      res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
      res.end(this.metadata);
      return;
    }
    if (path === 'sso' && req.method === 'GET') {
      const { query, octetString } = redirectMessage(url.href, 'SAMLRequest');
      const record = { url: url.href, query };
      this.authnRequests.push(record);
      try {
        record.xml = inflateRedirect(query.SAMLRequest);
        if (!this.sp) throw new Error('the IdP does not know the SP yet');
        const parsed = await this.idp.parseLoginRequest(this.sp, 'redirect', { query, octetString });
        record.extract = parsed.extract;
        record.sigAlg = parsed.sigAlg;
        if (!this.plan) throw new Error('nobody to sign in: no plan');
        const { person, options } = this.plan;
        const response = await this.loginResponse(person, { inResponseTo: parsed.extract.request.id, ...options });
        html(200, this.responsePage(response.base64, query.RelayState));
      } catch (e) {
        record.error = e;
        failPage(`the IdP refused the AuthnRequest: ${e.message}`, e);
      }
      return;
    }
    if (path === 'start' && req.method === 'GET') {
      // IdP-initiated: ?person=<id of a PEOPLE entry>&RelayState=…; the test puts the person in
      // this.people.
      try {
        const person = this.people?.[url.searchParams.get('person')];
        if (!person) throw new Error(`no such person: ${url.searchParams.get('person')}`);
        const response = await this.loginResponse(person, this.plan?.options ?? {});
        html(200, this.responsePage(response.base64, url.searchParams.get('RelayState')));
      } catch (e) {
        failPage(`the IdP could not start a sign-in: ${e.message}`, e);
      }
      return;
    }
    if (path === 'replay' && req.method === 'GET') {
      // The last login response sent, once more (a replay), with ?RelayState=….
      const last = this.responses.at(-1);
      if (!last) {
        failPage('nothing to replay', 'no response was sent yet');
        return;
      }
      html(200, this.responsePage(last.base64, url.searchParams.get('RelayState')));
      return;
    }
    if (path === 'slo' && req.method === 'GET') {
      const { query, octetString } = redirectMessage(url.href, 'SAMLRequest');
      const record = { url: url.href, query };
      this.logoutRequests.push(record);
      try {
        record.xml = inflateRedirect(query.SAMLRequest);
        if (!this.sp) throw new Error('the IdP does not know the SP yet');
        const parsed = await this.idp.parseLogoutRequest(this.sp, 'redirect', { query, octetString });
        record.extract = parsed.extract;
        const answer = this.idp.createLogoutResponse(this.sp, parsed, 'post', { relayState: query.RelayState });
        record.responseXml = Buffer.from(answer.context, 'base64').toString('utf8');
        html(200, autoPostPage(`${this.name} IdP`, answer.entityEndpoint, {
          SAMLResponse: answer.context,
          RelayState: query.RelayState,
        }));
      } catch (e) {
        record.error = e;
        failPage(`the IdP refused the LogoutRequest: ${e.message}`, e);
      }
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }
}

/**
 * Starts the IdP server. No host: the dual-stack wildcard, so that "localhost" answers on ::1 and
 * 127.0.0.1 alike. Returns `{ origin, tenant(name, options), stop() }`.
 */
export async function startSamlIdp() {
  const tenants = new Map();
  const server = createServer((req, res) => {
    const url = new URL(req.url, origin);
    const [, name, path] = url.pathname.split('/');
    const tenant = tenants.get(name);
    if (!tenant) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such IdP');
      return;
    }
    tenant.handle(path, url, req, res).catch((e) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e?.stack ?? e));
    });
  });
  await new Promise((ok) => server.listen(0, ok));
  const origin = `http://localhost:${server.address().port}`;
  return {
    origin,
    tenant(name, options) {
      const t = new Tenant(origin, name, options);
      tenants.set(name, t);
      return t;
    },
    stop: () =>
      new Promise((ok) => {
        server.closeAllConnections?.();
        server.close(ok);
      }),
  };
}
