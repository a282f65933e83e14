//! SAML 2.0 federation, the pool as service provider: the IdP's metadata, the pool's own
//! signing and encryption certificates (`GetSigningCertificate`, `ActiveEncryptionCertificate`),
//! the AuthnRequest and LogoutRequest sent with the HTTP-Redirect binding (signed when the
//! provider asks for `RequestSigningAlgorithm`), and the checks on the IdP's response before its
//! person is signed in: status, destination, issuer, the signature of the response or of the
//! assertion against the metadata's certificates, an encrypted assertion opened with the pool's
//! key, audience, time conditions, the request it answers, and one use per assertion.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cognate_api::{GetSigningCertificateRequest, GetSigningCertificateResponse, IdentityProviderTypeType};
use cognate_crypto::jwt::SigningKey;
use cognate_crypto::xmldsig::{self, child, children, CertificateKey, DS};
use roxmltree::Node;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::identity_providers::Provider;
use super::oauth::Authorization;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, Result, StoreError};

const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// The pool's SAML keys (`<pool>\nsigning`, `<pool>\nencryption`).
const KEYS: &str = "saml-key";
const KEY_PURPOSE: &str = "saml-key";
/// Clock skew allowed on the IdP's time conditions.
const SKEW_S: i64 = 300;
/// The largest `SAMLResponse` accepted, in base64 characters (Cognito accepts assertions of up to
/// 100,000 characters).
pub const MAX_RESPONSE_CHARS: usize = 140_000;

/// What a SAML identity provider's metadata says.
#[derive(Debug, Clone, Default)]
pub struct SamlMetadata {
    pub entity_id: String,
    pub sso_redirect: Option<String>,
    pub slo_redirect: Option<String>,
    /// Base64 DER of the certificates that check the IdP's signatures.
    pub certificates: Vec<String>,
}

/// Reads an IdP's metadata (an `EntityDescriptor`, or the first one with an IdP role in an
/// `EntitiesDescriptor`).
pub fn parse_metadata(xml: &str) -> std::result::Result<SamlMetadata, &'static str> {
    let doc = xmldsig::parse(xml).map_err(|_| "the metadata is not well-formed XML")?;
    let entity = doc
        .descendants()
        .find(|n| xmldsig::is(*n, MD, "EntityDescriptor") && child(*n, MD, "IDPSSODescriptor").is_some())
        .ok_or("the metadata has no EntityDescriptor with an IDPSSODescriptor")?;
    let idp = child(entity, MD, "IDPSSODescriptor").ok_or("the metadata has no IDPSSODescriptor")?;
    let location = |element: &str| {
        children(idp, MD, element)
            .find(|s| s.attribute("Binding") == Some(REDIRECT_BINDING))
            .and_then(|s| s.attribute("Location"))
            .map(str::to_owned)
    };
    let mut certificates = Vec::new();
    for key in children(idp, MD, "KeyDescriptor") {
        if key.attribute("use").is_some_and(|u| u != "signing") {
            continue;
        }
        for cert in key.descendants().filter(|n| xmldsig::is(*n, DS, "X509Certificate")) {
            // Kept as given: one that is not a usable RSA certificate checks nothing at sign-in.
            certificates.push(xmldsig::text(cert).chars().filter(|c| !c.is_ascii_whitespace()).collect());
        }
    }
    let entity_id = entity.attribute("entityID").filter(|e| !e.is_empty()).ok_or("the metadata has no entityID")?;
    Ok(SamlMetadata {
        entity_id: entity_id.to_owned(),
        sso_redirect: location("SingleSignOnService"),
        slo_redirect: location("SingleLogoutService"),
        certificates,
    })
}

/// What a verified SAML response says about the person.
#[derive(Debug, Clone)]
pub struct SamlAssertion {
    pub issuer: String,
    pub name_id: String,
    pub session_index: Option<String>,
    /// Attribute name → value (several values joined with commas).
    pub attributes: Map<String, Value>,
}

/// A federated SAML sign-in, kept in the hosted session for single logout.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SamlLogin {
    pub provider: String,
    pub name_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_index: Option<String>,
}

/// A pool's SAML provider, as the sign-in and sign-out need it.
#[derive(Debug, Clone)]
pub struct SamlProvider {
    pub pool_id: String,
    pub name: String,
    /// `MetadataFile`, or else `MetadataURL` to read it from.
    pub metadata_file: Option<String>,
    pub metadata_url: Option<String>,
    /// `IDPInit`: the IdP may start sign-ins.
    pub idp_init: bool,
    /// `IDPSignout`: signing out of the pool signs out of the IdP.
    idp_signout: bool,
    /// `RequestSigningAlgorithm` = `rsa-sha256`.
    sign_requests: bool,
    /// `EncryptedResponses`.
    encrypted: bool,
}

impl SamlProvider {
    fn of(pool_id: &str, provider: &Provider) -> Option<Self> {
        if provider.kind() != IdentityProviderTypeType::Saml {
            return None;
        }
        let d = |k: &str| provider.detail(k).filter(|v| !v.is_empty());
        let flag = |k: &str| d(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        Some(Self {
            pool_id: pool_id.to_owned(),
            name: provider.name().to_owned(),
            metadata_file: d("MetadataFile"),
            metadata_url: d("MetadataURL"),
            idp_init: flag("IDPInit"),
            idp_signout: flag("IDPSignout"),
            sign_requests: d("RequestSigningAlgorithm").is_some_and(|a| a.eq_ignore_ascii_case("rsa-sha256")),
            encrypted: flag("EncryptedResponses"),
        })
    }
}

/// A logout of ours the IdP answers.
pub struct SamlLogout {
    pub provider: SamlProvider,
    pub request_id: String,
    /// Where the browser goes afterwards.
    pub target: String,
}

/// The IdP's `SAMLResponse` to a LogoutRequest, as it came.
pub struct LogoutAnswer<'a> {
    pub message: &'a str,
    /// The HTTP-Redirect binding (deflated), else HTTP-POST.
    pub redirect: bool,
    /// The Redirect binding's signature: `SigAlg`, `Signature`, and the query text it signs
    /// (`SAMLResponse=…&RelayState=…&SigAlg=…` as received).
    pub query_signature: Option<(&'a str, &'a str, String)>,
}

/// Where the browser goes after the IdP signed it out, sealed into the logout's RelayState.
#[derive(Serialize, Deserialize)]
struct LogoutState {
    provider: String,
    target: String,
    request_id: String,
    expires_ms: i64,
}

const LOGOUT_PURPOSE: &str = "saml-logout-state";

#[derive(Serialize, Deserialize)]
struct StoredSamlKey {
    sealed_pkcs8: String,
    certificate: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn instant(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ms / 1000).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

fn parse_instant(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).ok().map(|t| t.unix_timestamp())
}

/// The SP's entity ID for a pool.
fn sp_entity_id(pool_id: &str) -> String {
    format!("urn:amazon:cognito:sp:{pool_id}")
}

/// Raw DEFLATE, base64: the HTTP-Redirect binding's encoding of a message.
fn deflate_base64(xml: &str) -> String {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(xml.as_bytes());
    B64.encode(encoder.finish().unwrap_or_default())
}

fn refused(reason: &str) -> CognitoError {
    CognitoError::invalid_parameter(format!("Invalid SAML response received: {reason}"))
}

/// A signature that does not verify, in Cognito's words; the reason goes to the log.
fn bad_signature(what: &str, reason: cognate_crypto::Error) -> CognitoError {
    tracing::warn!("SAML {what} signature refused: {reason}");
    refused(&format!("SAML {what} signature is invalid."))
}

impl Service {
    /// The pool's SAML key for `use_` (`signing`, `encryption`) and its certificate (DER),
    /// made on first use.
    async fn saml_key(&self, pool_id: &str, use_: &str) -> Result<(SigningKey, Vec<u8>)> {
        let key = format!("{pool_id}\n{use_}");
        for _ in 0..2 {
            if let Some(stored) = self.get_doc::<StoredSamlKey>(KEYS, &key).await? {
                let sealed = B64.decode(&stored.sealed_pkcs8).map_err(CognitoError::internal)?;
                let pkcs8 = self
                    .master()
                    .open(KEY_PURPOSE, key.as_bytes(), &sealed)
                    .map_err(|_| CognitoError::internal("a SAML key does not open with this master key"))?;
                let cert = B64.decode(&stored.certificate).map_err(CognitoError::internal)?;
                return Ok((SigningKey::from_pkcs8_der(&pkcs8).map_err(CognitoError::internal)?, cert));
            }
            let signing = SigningKey::generate().map_err(CognitoError::internal)?;
            let year = OffsetDateTime::from_unix_timestamp(self.now_ms() / 1000).map_or(2026, |t| t.year());
            let cert = xmldsig::self_signed_certificate(signing.to_pkcs8_der(), &sp_entity_id(pool_id), year)
                .map_err(CognitoError::internal)?;
            let sealed = self
                .master()
                .seal(KEY_PURPOSE, key.as_bytes(), signing.to_pkcs8_der())
                .map_err(CognitoError::internal)?;
            let stored = StoredSamlKey { sealed_pkcs8: B64.encode(sealed), certificate: B64.encode(&cert) };
            match self.put_doc(KEYS, &key, pool_id, &stored, true).await {
                // Another request made it first: read that one.
                Err(StoreError::Conflict) => continue,
                other => other?,
            }
            return Ok((signing, cert));
        }
        Err(CognitoError::internal("the pool's SAML key could not be stored"))
    }

    /// `GetSigningCertificate`: the certificate of the key that signs the pool's SAML requests.
    pub async fn get_signing_certificate(
        &self,
        _ctx: &RequestContext,
        req: GetSigningCertificateRequest,
    ) -> Result<GetSigningCertificateResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let (_, cert) = self.saml_key(&pool.id, "signing").await?;
        Ok(GetSigningCertificateResponse { certificate: Some(B64.encode(cert)) })
    }

    /// The certificate SAML providers with `EncryptedResponses` encrypt assertions to.
    pub(crate) async fn saml_encryption_certificate(&self, pool_id: &str) -> Result<String> {
        Ok(B64.encode(self.saml_key(pool_id, "encryption").await?.1))
    }

    /// The SAML provider an authorization federates with, if it is one.
    pub fn saml_provider_of(&self, auth: &Authorization) -> Option<SamlProvider> {
        auth.provider.as_ref().and_then(|p| SamlProvider::of(&auth.pool.id, p))
    }

    /// The pool's SAML provider named `name`, if it is one.
    pub async fn saml_provider(&self, pool_id: &str, name: &str) -> Result<Option<SamlProvider>> {
        Ok(self.identity_provider(pool_id, name).await?.and_then(|p| SamlProvider::of(pool_id, &p)))
    }

    /// The RelayState of a LogoutRequest: where to go once the IdP answers.
    pub fn seal_logout_state(&self, provider: &SamlProvider, target: &str, request_id: &str) -> Result<String> {
        let state = LogoutState {
            provider: provider.name.clone(),
            target: target.to_owned(),
            request_id: request_id.to_owned(),
            expires_ms: self.now_ms() + 15 * 60_000,
        };
        let plain = serde_json::to_vec(&state).map_err(CognitoError::internal)?;
        let pool_id = &provider.pool_id;
        let sealed = self.master().seal(LOGOUT_PURPOSE, pool_id.as_bytes(), &plain).map_err(CognitoError::internal)?;
        Ok(format!("{pool_id}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)))
    }

    /// The logout a RelayState of ours stands for, if it is genuine and fresh: the provider it
    /// went to and the request it sent.
    pub async fn open_logout_state(&self, relay_state: &str) -> Option<SamlLogout> {
        let (pool_id, sealed) = relay_state.split_once('.')?;
        let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let plain = self.master().open(LOGOUT_PURPOSE, pool_id.as_bytes(), &sealed).ok()?;
        let state: LogoutState = serde_json::from_slice(&plain).ok()?;
        if state.expires_ms <= self.now_ms() {
            return None;
        }
        let provider = self.saml_provider(pool_id, &state.provider).await.ok()??;
        Some(SamlLogout { provider, request_id: state.request_id, target: state.target })
    }

    /// Checks the IdP's LogoutResponse to a logout of ours: a response to that very request,
    /// from the provider, successful, and — when signed (an enveloped signature in the POST
    /// binding, `Signature` over the query in the Redirect binding) — signed by a certificate
    /// of its metadata.
    pub fn saml_logout_response(
        &self,
        logout: &SamlLogout,
        metadata: &SamlMetadata,
        response: &LogoutAnswer<'_>,
    ) -> std::result::Result<(), &'static str> {
        let compact: String = response.message.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = B64.decode(compact).map_err(|_| "the LogoutResponse is not base64")?;
        let bytes = if response.redirect {
            use std::io::Read;
            let mut xml = Vec::new();
            flate2::read::DeflateDecoder::new(&bytes[..])
                .take(MAX_RESPONSE_CHARS as u64)
                .read_to_end(&mut xml)
                .map_err(|_| "the LogoutResponse is not deflated")?;
            xml
        } else {
            bytes
        };
        let xml = String::from_utf8(bytes).map_err(|_| "the LogoutResponse is not UTF-8")?;
        let doc = xmldsig::parse(&xml).map_err(|_| "the LogoutResponse is not well-formed XML")?;
        let root = doc.root_element();
        if !xmldsig::is(root, SAMLP, "LogoutResponse") {
            return Err("the message is not a LogoutResponse");
        }
        if root.attribute("InResponseTo") != Some(logout.request_id.as_str()) {
            return Err("the LogoutResponse does not answer this logout");
        }
        if child(root, SAML, "Issuer").is_some_and(|i| xmldsig::text(i) != metadata.entity_id) {
            return Err("the LogoutResponse is from another identity provider");
        }
        let keys: Vec<CertificateKey> =
            metadata.certificates.iter().filter_map(|c| CertificateKey::from_base64(c).ok()).collect();
        if xmldsig::has_signature(root) {
            xmldsig::verify_enveloped(&xml, &doc, root, &keys)
                .map_err(|_| "the LogoutResponse's signature is invalid")?;
        }
        if let Some((sig_alg, signature, signed)) = &response.query_signature {
            let signature = B64.decode(signature).map_err(|_| "the LogoutResponse's signature is not base64")?;
            xmldsig::verify_detached(sig_alg, signed.as_bytes(), &signature, &keys)
                .map_err(|_| "the LogoutResponse's signature is invalid")?;
        }
        let status =
            child(root, SAMLP, "Status").and_then(|s| child(s, SAMLP, "StatusCode")).and_then(|c| c.attribute("Value"));
        if status != Some(SUCCESS) {
            return Err("the identity provider did not sign the user out");
        }
        Ok(())
    }

    /// The HTTP-Redirect URL of a SAML message (`SAMLRequest` with `RelayState`), signed when
    /// the provider asks for signed requests.
    async fn saml_redirect(
        &self,
        provider: &SamlProvider,
        location: &str,
        xml: &str,
        relay_state: &str,
    ) -> Result<String> {
        let mut query = serde_urlencoded::to_string([("SAMLRequest", deflate_base64(xml))]).unwrap_or_default();
        query.push('&');
        query.push_str(&serde_urlencoded::to_string([("RelayState", relay_state)]).unwrap_or_default());
        if provider.sign_requests {
            query.push('&');
            query.push_str(&serde_urlencoded::to_string([("SigAlg", RSA_SHA256)]).unwrap_or_default());
            let (key, _) = self.saml_key(&provider.pool_id, "signing").await?;
            let signature =
                xmldsig::sign_rsa_sha256(key.to_pkcs8_der(), query.as_bytes()).map_err(CognitoError::internal)?;
            query.push('&');
            query.push_str(&serde_urlencoded::to_string([("Signature", B64.encode(signature))]).unwrap_or_default());
        }
        let sep = if location.contains('?') { '&' } else { '?' };
        Ok(format!("{location}{sep}{query}"))
    }

    /// Where the browser goes to sign in at the IdP: its SingleSignOnService with an
    /// AuthnRequest `request_id` whose answer comes back to `acs`.
    pub async fn saml_sign_in_redirect(
        &self,
        provider: &SamlProvider,
        metadata: &SamlMetadata,
        acs: &str,
        request_id: &str,
        relay_state: &str,
    ) -> std::result::Result<String, String> {
        let sso = metadata
            .sso_redirect
            .as_deref()
            .ok_or("The identity provider's metadata has no SingleSignOnService with the HTTP-Redirect binding.")?;
        let xml = format!(
            concat!(
                r#"<samlp:AuthnRequest xmlns:samlp="{samlp}" xmlns:saml="{saml}" ID="{id}" Version="2.0" "#,
                r#"IssueInstant="{now}" Destination="{dest}" AssertionConsumerServiceURL="{acs}" "#,
                r#"ProtocolBinding="{post}"><saml:Issuer>{issuer}</saml:Issuer>"#,
                r#"<samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>"#
            ),
            samlp = SAMLP,
            saml = SAML,
            id = escape(request_id),
            now = instant(self.now_ms()),
            dest = escape(sso),
            acs = escape(acs),
            post = POST_BINDING,
            issuer = escape(&sp_entity_id(&provider.pool_id)),
        );
        self.saml_redirect(provider, sso, &xml, relay_state).await.map_err(|e| e.message)
    }

    /// Where the browser goes to sign out at the IdP (`IDPSignout`), if the provider does
    /// single logout.
    pub async fn saml_sign_out_redirect(
        &self,
        provider: &SamlProvider,
        metadata: &SamlMetadata,
        login: &SamlLogin,
        request_id: &str,
        relay_state: &str,
    ) -> Result<Option<String>> {
        let Some(slo) = metadata.slo_redirect.as_deref().filter(|_| provider.idp_signout) else {
            return Ok(None);
        };
        let session = login
            .session_index
            .as_deref()
            .map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(s)))
            .unwrap_or_default();
        let xml = format!(
            concat!(
                r#"<samlp:LogoutRequest xmlns:samlp="{samlp}" xmlns:saml="{saml}" ID="{id}" Version="2.0" "#,
                r#"IssueInstant="{now}" Destination="{dest}"><saml:Issuer>{issuer}</saml:Issuer>"#,
                r#"<saml:NameID>{name_id}</saml:NameID>{session}</samlp:LogoutRequest>"#
            ),
            samlp = SAMLP,
            saml = SAML,
            id = escape(request_id),
            now = instant(self.now_ms()),
            dest = escape(slo),
            issuer = escape(&sp_entity_id(&provider.pool_id)),
            name_id = escape(&login.name_id),
            session = session,
        );
        self.saml_redirect(provider, slo, &xml, relay_state).await.map(Some)
    }

    /// Checks an IdP's `SAMLResponse` (base64) for the pool of `auth`, received at `acs`, in
    /// answer to `request_id` (None: IdP-initiated), and returns what it says about the person.
    pub async fn saml_response(
        &self,
        provider: &SamlProvider,
        metadata: &SamlMetadata,
        saml_response: &str,
        acs: &str,
        request_id: Option<&str>,
    ) -> Result<SamlAssertion> {
        if saml_response.len() > MAX_RESPONSE_CHARS {
            return Err(refused("the response is too large."));
        }
        let compact: String = saml_response.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = B64.decode(compact).map_err(|_| refused("the response is not base64."))?;
        let xml = String::from_utf8(bytes).map_err(|_| refused("the response is not UTF-8."))?;
        let doc = xmldsig::parse(&xml).map_err(|e| refused(&format!("{e}.")))?;
        let response = doc.root_element();
        if !xmldsig::is(response, SAMLP, "Response") {
            return Err(refused("the document is not a SAML 2.0 Response."));
        }
        let status = child(response, SAMLP, "Status")
            .and_then(|s| child(s, SAMLP, "StatusCode"))
            .and_then(|c| c.attribute("Value"))
            .unwrap_or_default();
        if status != SUCCESS {
            let status = status.rsplit(':').next().unwrap_or_default().chars().take(64).collect::<String>();
            return Err(refused(&format!("the identity provider did not sign the user in (status {status}).")));
        }
        if let Some(destination) = response.attribute("Destination") {
            if destination != acs {
                return Err(refused("the response is for another destination."));
            }
        }
        if response.attribute("InResponseTo") != request_id {
            return Err(refused(if request_id.is_some() {
                "the response does not answer this sign-in's request."
            } else {
                "IdP-initiated sign-in got a response to a request."
            }));
        }
        let issuer_ok = |node: Node| child(node, SAML, "Issuer").is_none_or(|i| xmldsig::text(i) == metadata.entity_id);
        if !issuer_ok(response) {
            return Err(refused("the response is from another identity provider."));
        }
        let keys: Vec<CertificateKey> =
            metadata.certificates.iter().filter_map(|c| CertificateKey::from_base64(c).ok()).collect();
        if keys.is_empty() {
            return Err(refused("the identity provider's metadata has no usable signing certificate."));
        }
        let response_signed = xmldsig::has_signature(response);
        if response_signed {
            xmldsig::verify_enveloped(&xml, &doc, response, &keys).map_err(|e| bad_signature("Response", e))?;
        }
        let plain: Vec<Node> = children(response, SAML, "Assertion").collect();
        let encrypted: Vec<Node> = children(response, SAML, "EncryptedAssertion").collect();
        if plain.len() + encrypted.len() != 1 {
            return Err(refused("the response must carry exactly one assertion."));
        }
        let wants_encryption = provider.encrypted;
        if let Some(encrypted) = encrypted.first() {
            if !wants_encryption {
                return Err(refused(
                    "the assertion is encrypted, and the provider is not set up for EncryptedResponses.",
                ));
            }
            let (key, _) = self.saml_key(&provider.pool_id, "encryption").await?;
            let inner = xmldsig::decrypt(*encrypted, key.to_pkcs8_der()).map_err(|e| refused(&format!("{e}.")))?;
            // The decrypted assertion may use prefixes declared around it.
            let declarations: String = encrypted
                .namespaces()
                .filter(|ns| ns.uri() != "http://www.w3.org/XML/1998/namespace")
                .map(|ns| match ns.name() {
                    Some(p) => format!(r#" xmlns:{p}="{}""#, escape(ns.uri())),
                    None => format!(r#" xmlns="{}""#, escape(ns.uri())),
                })
                .collect();
            let wrapped = format!("<cognate-decrypted{declarations}>{inner}</cognate-decrypted>");
            let inner_doc = xmldsig::parse(&wrapped).map_err(|e| refused(&format!("{e}.")))?;
            let mut found = children(inner_doc.root_element(), SAML, "Assertion");
            let assertion = found.next().ok_or_else(|| refused("the encrypted assertion holds no assertion."))?;
            if found.next().is_some() {
                return Err(refused("the encrypted assertion holds more than one assertion."));
            }
            return self
                .check_assertion(
                    provider,
                    metadata,
                    &wrapped,
                    &inner_doc,
                    assertion,
                    &keys,
                    response_signed,
                    acs,
                    request_id,
                )
                .await;
        }
        if wants_encryption {
            return Err(refused("the provider is set up for EncryptedResponses, and the assertion is not encrypted."));
        }
        self.check_assertion(provider, metadata, &xml, &doc, plain[0], &keys, response_signed, acs, request_id).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn check_assertion(
        &self,
        provider: &SamlProvider,
        metadata: &SamlMetadata,
        source: &str,
        doc: &roxmltree::Document<'_>,
        assertion: Node<'_, '_>,
        keys: &[CertificateKey],
        response_signed: bool,
        acs: &str,
        request_id: Option<&str>,
    ) -> Result<SamlAssertion> {
        if xmldsig::has_signature(assertion) {
            xmldsig::verify_enveloped(source, doc, assertion, keys).map_err(|e| bad_signature("Assertion", e))?;
        } else if !response_signed {
            return Err(refused("SAML Assertion signature is missing."));
        }
        let issuer = child(assertion, SAML, "Issuer").map(xmldsig::text).unwrap_or_default();
        if issuer != metadata.entity_id {
            return Err(refused("the assertion is from another identity provider."));
        }
        let now = self.now_ms() / 1000;
        let subject = child(assertion, SAML, "Subject").ok_or_else(|| refused("the assertion has no Subject."))?;
        let name_id = child(subject, SAML, "NameID").map(xmldsig::text).unwrap_or_default();
        if name_id.is_empty() || name_id.chars().count() > 128 {
            return Err(refused("the assertion has no usable NameID."));
        }
        // A bearer confirmation for this service provider, in time, for this request.
        let confirmed = children(subject, SAML, "SubjectConfirmation").any(|c| {
            if c.attribute("Method") != Some("urn:oasis:names:tc:SAML:2.0:cm:bearer") {
                return false;
            }
            let Some(data) = child(c, SAML, "SubjectConfirmationData") else { return false };
            let in_time = data.attribute("NotOnOrAfter").and_then(parse_instant).is_some_and(|t| now < t + SKEW_S);
            let recipient = data.attribute("Recipient").is_none_or(|r| r == acs);
            let answers = data.attribute("InResponseTo").is_none_or(|r| Some(r) == request_id);
            in_time && recipient && answers
        });
        if !confirmed {
            return Err(refused("the assertion's subject confirmation is missing, expired or for another recipient."));
        }
        let conditions = child(assertion, SAML, "Conditions");
        if let Some(c) = conditions {
            if c.attribute("NotBefore").and_then(parse_instant).is_some_and(|t| now + SKEW_S < t) {
                return Err(refused("the assertion is not valid yet."));
            }
            if c.attribute("NotOnOrAfter").and_then(parse_instant).is_some_and(|t| now >= t + SKEW_S) {
                return Err(refused("the assertion has expired."));
            }
        }
        let sp = sp_entity_id(&provider.pool_id);
        let audiences: Vec<String> = conditions
            .into_iter()
            .flat_map(|c| children(c, SAML, "AudienceRestriction"))
            .flat_map(|r| children(r, SAML, "Audience"))
            .map(xmldsig::text)
            .collect();
        if !audiences.contains(&sp) {
            return Err(refused("the assertion is for another audience."));
        }
        // One use per assertion (an IdP-initiated response could otherwise be replayed).
        let id = assertion.attribute("ID").unwrap_or_default();
        let expires = conditions
            .and_then(|c| c.attribute("NotOnOrAfter"))
            .and_then(parse_instant)
            .map_or(self.now_ms() + 3_600_000, |t| (t + SKEW_S) * 1000);
        let used = format!("saml:{}\n{}\n{id}", provider.pool_id, metadata.entity_id);
        if !self.store.consume_nonce(&used, expires).await? {
            return Err(refused("the assertion was already used."));
        }
        let session_index =
            child(assertion, SAML, "AuthnStatement").and_then(|s| s.attribute("SessionIndex")).map(str::to_owned);
        let mut attributes = Map::new();
        for statement in children(assertion, SAML, "AttributeStatement") {
            for attribute in children(statement, SAML, "Attribute") {
                let Some(name) = attribute.attribute("Name") else { continue };
                let values: Vec<String> = children(attribute, SAML, "AttributeValue").map(xmldsig::text).collect();
                attributes.insert(name.to_owned(), Value::String(values.join(",")));
            }
        }
        Ok(SamlAssertion { issuer, name_id, session_index, attributes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_gives_entity_locations_and_certificates() {
        let cert = B64.encode(
            xmldsig::self_signed_certificate(SigningKey::generate().unwrap().to_pkcs8_der(), "idp", 2026).unwrap(),
        );
        let xml = format!(
            r#"<md:EntityDescriptor xmlns:md="{MD}" entityID="https://idp.example/e"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="{DS}"><ds:X509Data><ds:X509Certificate>
{cert}
</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleLogoutService Binding="{REDIRECT_BINDING}" Location="https://idp.example/slo"/><md:SingleSignOnService Binding="{POST_BINDING}" Location="https://idp.example/post"/><md:SingleSignOnService Binding="{REDIRECT_BINDING}" Location="https://idp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        );
        let m = parse_metadata(&xml).unwrap();
        assert_eq!(m.entity_id, "https://idp.example/e");
        assert_eq!(m.sso_redirect.as_deref(), Some("https://idp.example/sso"));
        assert_eq!(m.slo_redirect.as_deref(), Some("https://idp.example/slo"));
        assert_eq!(m.certificates, vec![cert]);
        assert!(parse_metadata("<md:EntityDescriptor xmlns:md=\"urn:x\"/>").is_err());
    }
}
