//! XML Signature and XML Encryption as SAML 2.0 uses them: enveloped signatures over an element
//! referenced by its `ID`, canonical XML 1.0 (exclusive and inclusive, without comments),
//! RSA PKCS#1 v1.5 signatures with SHA-1 / SHA-256 / SHA-512, and encrypted elements whose key
//! is RSA-OAEP-wrapped for the receiver (AES-CBC or AES-GCM content). Also the receiver's own
//! side: a self-signed certificate for a key, and RSA-SHA256 signatures over bytes (the SAML
//! HTTP-Redirect binding signs its query string).
//!
//! Parsing is roxmltree's: no DTDs (so no entity expansion attacks), a node limit, and the tree
//! keeps source positions, which canonicalization needs for the namespace prefixes the document
//! actually used.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use roxmltree::{Document, Node, NodeId, ParsingOptions};

use crate::{Error, Result};

pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// The most nodes a document may have (a SAML response has a few hundred).
const NODES_LIMIT: u32 = 20_000;

/// Parses a document: no DTD, bounded size.
pub fn parse(xml: &str) -> Result<Document<'_>> {
    Document::parse_with_options(xml, ParsingOptions { allow_dtd: false, nodes_limit: NODES_LIMIT })
        .map_err(|_| Error::Xml("the document is not well-formed XML"))
}

/// The element child of `node` named `name` in namespace `ns`.
pub fn child<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| is(*c, ns, name))
}

/// The element children of `node` named `name` in namespace `ns`.
pub fn children<'a, 'i: 'a>(node: Node<'a, 'i>, ns: &'a str, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children().filter(move |c| is(*c, ns, name))
}

/// Whether `node` is the element `name` in namespace `ns`.
pub fn is(node: Node, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name && node.tag_name().namespace() == Some(ns)
}

/// An element's text content, whitespace trimmed.
pub fn text(node: Node) -> String {
    node.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect::<String>().trim().to_owned()
}

/// Base64 as XML carries it (line breaks and spaces allowed).
fn base64_text(node: Node) -> Result<Vec<u8>> {
    let compact: String = text(node).chars().filter(|c| !c.is_ascii_whitespace()).collect();
    B64.decode(compact).map_err(|_| Error::Xml("a base64 value is not valid"))
}

// --- canonical XML ----------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum C14nMode {
    /// Exclusive XML Canonicalization 1.0, with its InclusiveNamespaces prefix list.
    Exclusive,
    /// Canonical XML 1.0.
    Inclusive,
}

struct Canonicalizer<'s> {
    source: &'s str,
    mode: C14nMode,
    /// Prefixes exclusive canonicalization treats inclusively (`""` is the default namespace).
    inclusive: Vec<String>,
    /// An element left out with its subtree (the enveloped signature).
    skip: Option<NodeId>,
    out: String,
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attribute(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// The qualified name as written at `start` in the source (`saml:Assertion`, `Assertion`).
fn qname_at(source: &str, start: usize) -> &str {
    let rest = source.get(start..).unwrap_or_default();
    let end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/' || c == '=').unwrap_or(rest.len());
    &rest[..end]
}

fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(p, _)| p)
}

impl Canonicalizer<'_> {
    /// `rendered`: the namespace declarations in effect in the output around this element
    /// (prefix, URI), nearest last.
    fn element(&mut self, node: Node, rendered: &[(String, String)]) {
        if Some(node.id()) == self.skip {
            return;
        }
        let qname = qname_at(self.source, node.range().start + 1);
        let in_scope = |prefix: &str| -> String {
            let name = (!prefix.is_empty()).then_some(prefix);
            node.lookup_namespace_uri(name).unwrap_or_default().to_owned()
        };
        let rendered_uri = |prefix: &str| -> String {
            rendered.iter().rev().find(|(p, _)| p == prefix).map(|(_, u)| u.clone()).unwrap_or_default()
        };
        let attributes: Vec<(String, String, String, String)> = node
            .attributes()
            .map(|a| {
                let q = qname_at(self.source, a.range_qname().start).to_owned();
                (a.namespace().unwrap_or_default().to_owned(), a.name().to_owned(), q, a.value().to_owned())
            })
            .collect();
        // The namespace declarations this element renders.
        let mut candidates: Vec<String> = Vec::new();
        match self.mode {
            C14nMode::Exclusive => {
                candidates.push(prefix_of(qname).to_owned());
                for (_, _, q, _) in &attributes {
                    let p = prefix_of(q);
                    if !p.is_empty() && p != "xml" {
                        candidates.push(p.to_owned());
                    }
                }
                for p in &self.inclusive {
                    let name = (!p.is_empty()).then_some(p.as_str());
                    if node.lookup_namespace_uri(name).is_some_and(|u| !u.is_empty()) {
                        candidates.push(p.clone());
                    }
                }
            }
            C14nMode::Inclusive => {
                candidates.extend(
                    node.namespaces()
                        .filter(|ns| ns.uri() != XML_NS)
                        .map(|ns| ns.name().unwrap_or_default().to_owned()),
                );
                if !rendered_uri("").is_empty() {
                    candidates.push(String::new());
                }
            }
        }
        candidates.sort();
        candidates.dedup();
        let mut declared: Vec<(String, String)> = Vec::new();
        for prefix in candidates {
            let uri = in_scope(&prefix);
            if uri != rendered_uri(&prefix) {
                declared.push((prefix, uri));
            }
        }
        self.out.push('<');
        self.out.push_str(qname);
        for (prefix, uri) in &declared {
            if prefix.is_empty() {
                self.out.push_str(" xmlns=\"");
            } else {
                self.out.push_str(" xmlns:");
                self.out.push_str(prefix);
                self.out.push_str("=\"");
            }
            escape_attribute(uri, &mut self.out);
            self.out.push('"');
        }
        let mut attributes = attributes;
        attributes.sort_by(|a, b| (a.0.as_str(), a.1.as_str()).cmp(&(b.0.as_str(), b.1.as_str())));
        for (_, _, q, value) in &attributes {
            self.out.push(' ');
            self.out.push_str(q);
            self.out.push_str("=\"");
            escape_attribute(value, &mut self.out);
            self.out.push('"');
        }
        self.out.push('>');
        let mut inner: Vec<(String, String)> = rendered.to_vec();
        inner.extend(declared);
        for c in node.children() {
            if c.is_element() {
                self.element(c, &inner);
            } else if c.is_text() {
                escape_text(c.text().unwrap_or_default(), &mut self.out);
            } else if let Some(pi) = c.pi() {
                self.out.push_str("<?");
                self.out.push_str(pi.target);
                if let Some(v) = pi.value {
                    self.out.push(' ');
                    self.out.push_str(v);
                }
                self.out.push_str("?>");
            }
        }
        self.out.push_str("</");
        self.out.push_str(qname);
        self.out.push('>');
    }
}

/// The canonical form of `node`'s subtree, without `skip`'s subtree.
pub fn canonicalize(
    source: &str,
    node: Node,
    mode: C14nMode,
    inclusive_prefixes: &[String],
    skip: Option<NodeId>,
) -> String {
    let mut c = Canonicalizer {
        source,
        mode,
        inclusive: inclusive_prefixes.iter().map(|p| if p == "#default" { String::new() } else { p.clone() }).collect(),
        skip,
        out: String::new(),
    };
    c.element(node, &[]);
    c.out
}

/// A canonicalization method element's algorithm and prefix list.
fn c14n_method(method: Node) -> Result<(C14nMode, Vec<String>)> {
    let algorithm = method.attribute("Algorithm").unwrap_or_default();
    let mode = match algorithm {
        EXC_C14N => C14nMode::Exclusive,
        C14N => C14nMode::Inclusive,
        _ => return Err(Error::Xml("the canonicalization method is not supported")),
    };
    let prefixes = method
        .children()
        .find(|c| c.is_element() && c.tag_name().name() == "InclusiveNamespaces")
        .and_then(|i| i.attribute("PrefixList"))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    Ok((mode, prefixes))
}

// --- signatures -------------------------------------------------------------------------------

/// An RSA public key from an X.509 certificate (DER).
pub struct CertificateKey {
    rsa_public_key: Vec<u8>,
}

impl CertificateKey {
    pub fn from_certificate_der(der: &[u8]) -> Result<Self> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|_| Error::Key("the certificate is not valid X.509"))?;
        let spki = cert.public_key();
        // rsaEncryption
        if spki.algorithm.algorithm.to_id_string() != "1.2.840.113549.1.1.1" {
            return Err(Error::Key("the certificate's key is not an RSA key"));
        }
        Ok(Self { rsa_public_key: spki.subject_public_key.data.to_vec() })
    }

    /// From the base64 text of an `X509Certificate` element or a PEM body.
    pub fn from_base64(text: &str) -> Result<Self> {
        let compact: String = text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>()
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = B64.decode(compact).map_err(|_| Error::Key("the certificate is not base64"))?;
        Self::from_certificate_der(&der)
    }

    fn verify(&self, algorithm: &'static dyn VerificationAlgorithm, message: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(algorithm, &self.rsa_public_key).verify(message, sig).is_ok()
    }
}

fn digest_algorithm(uri: &str) -> Result<&'static digest::Algorithm> {
    Ok(match uri {
        "http://www.w3.org/2000/09/xmldsig#sha1" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        "http://www.w3.org/2001/04/xmlenc#sha256" => &digest::SHA256,
        "http://www.w3.org/2001/04/xmlenc#sha512" => &digest::SHA512,
        _ => return Err(Error::Xml("the digest method is not supported")),
    })
}

fn signature_algorithm(uri: &str) -> Result<&'static dyn VerificationAlgorithm> {
    Ok(match uri {
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => &signature::RSA_PKCS1_2048_8192_SHA256,
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => &signature::RSA_PKCS1_2048_8192_SHA512,
        _ => return Err(Error::Xml("the signature method is not supported")),
    })
}

/// Whether `element` carries an enveloped signature (a `ds:Signature` child).
pub fn has_signature(element: Node) -> bool {
    child(element, DS, "Signature").is_some()
}

/// Verifies the enveloped signature of `element` (its `ds:Signature` child, whose single
/// reference must name `element` by its `ID`, an ID no other element of the document has) with
/// one of `keys`. Only what was verified can be trusted afterwards: the caller reads `element`.
pub fn verify_enveloped(source: &str, doc: &Document, element: Node, keys: &[CertificateKey]) -> Result<()> {
    let id = element.attribute("ID").filter(|i| !i.is_empty()).ok_or(Error::Xml("the signed element has no ID"))?;
    if doc.descendants().filter(|n| n.is_element() && n.attribute("ID") == Some(id)).count() != 1 {
        return Err(Error::Xml("the signed element's ID is not unique"));
    }
    let mut signatures = children(element, DS, "Signature");
    let signature = signatures.next().ok_or(Error::Xml("the element is not signed"))?;
    if signatures.next().is_some() {
        return Err(Error::Xml("the element has more than one signature"));
    }
    let signed_info = child(signature, DS, "SignedInfo").ok_or(Error::Xml("the signature has no SignedInfo"))?;
    let (info_mode, info_prefixes) =
        c14n_method(child(signed_info, DS, "CanonicalizationMethod").ok_or(Error::Xml("no CanonicalizationMethod"))?)?;
    let algorithm = signature_algorithm(
        child(signed_info, DS, "SignatureMethod").and_then(|m| m.attribute("Algorithm")).unwrap_or_default(),
    )?;
    let mut references = children(signed_info, DS, "Reference");
    let reference = references.next().ok_or(Error::Xml("the signature has no reference"))?;
    if references.next().is_some() {
        return Err(Error::Xml("the signature has more than one reference"));
    }
    if reference.attribute("URI") != Some(&format!("#{id}")) {
        return Err(Error::Xml("the signature does not reference the signed element"));
    }
    // Transforms: the enveloped signature, then one canonicalization (inclusive by default).
    let mut mode = (C14nMode::Inclusive, Vec::new());
    let mut enveloped = false;
    if let Some(transforms) = child(reference, DS, "Transforms") {
        for t in children(transforms, DS, "Transform") {
            match t.attribute("Algorithm").unwrap_or_default() {
                ENVELOPED => enveloped = true,
                _ => mode = c14n_method(t)?,
            }
        }
    }
    if !enveloped {
        return Err(Error::Xml("the signature is not an enveloped signature"));
    }
    let digest_alg = digest_algorithm(
        child(reference, DS, "DigestMethod").and_then(|m| m.attribute("Algorithm")).unwrap_or_default(),
    )?;
    let expected = base64_text(child(reference, DS, "DigestValue").ok_or(Error::Xml("no DigestValue"))?)?;
    let canonical = canonicalize(source, element, mode.0, &mode.1, Some(signature.id()));
    let actual = digest::digest(digest_alg, canonical.as_bytes());
    if !crate::seal::ct_eq(actual.as_ref(), &expected) {
        return Err(Error::Xml("the signed content was changed (digest mismatch)"));
    }
    let signed = canonicalize(source, signed_info, info_mode, &info_prefixes, None);
    let value = base64_text(child(signature, DS, "SignatureValue").ok_or(Error::Xml("no SignatureValue"))?)?;
    if keys.iter().any(|k| k.verify(algorithm, signed.as_bytes(), &value)) {
        Ok(())
    } else {
        Err(Error::Xml("the signature does not verify with the identity provider's certificate"))
    }
}

/// Verifies a detached RSA signature over bytes (the SAML HTTP-Redirect binding).
pub fn verify_detached(sig_alg: &str, message: &[u8], sig: &[u8], keys: &[CertificateKey]) -> Result<()> {
    let algorithm = signature_algorithm(sig_alg)?;
    if keys.iter().any(|k| k.verify(algorithm, message, sig)) {
        Ok(())
    } else {
        Err(Error::AuthFailed)
    }
}

/// RSA PKCS#1 v1.5 SHA-256 signature with a PKCS#8 key.
pub fn sign_rsa_sha256(pkcs8: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    let pair = signature::RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| Error::Key("invalid PKCS#8 RSA key"))?;
    let mut sig = vec![0u8; pair.public_modulus_len()];
    pair.sign(&signature::RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), message, &mut sig)
        .map_err(|_| Error::Key("RSA signing failed"))?;
    Ok(sig)
}

/// A self-signed X.509 certificate (DER) for a PKCS#8 RSA key, valid for ten years from
/// `year`: what a SAML provider is given to check signatures or encrypt to.
pub fn self_signed_certificate(pkcs8: &[u8], common_name: &str, year: i32) -> Result<Vec<u8>> {
    let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8.to_vec().into(), &rcgen::PKCS_RSA_SHA256)
        .map_err(|_| Error::Key("invalid PKCS#8 RSA key"))?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
    params.not_before = rcgen::date_time_ymd(year, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    let cert = params.self_signed(&key).map_err(|_| Error::Key("certificate generation failed"))?;
    Ok(cert.der().to_vec())
}

// --- encryption -------------------------------------------------------------------------------

/// Decrypts an `xenc:EncryptedData` element (inside an `EncryptedAssertion`, say) whose
/// content key was wrapped for `pkcs8` with RSA-OAEP; returns the plaintext XML.
pub fn decrypt(container: Node, pkcs8: &[u8]) -> Result<String> {
    use aws_lc_rs::rsa::{OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256};
    let data = if is(container, XENC, "EncryptedData") {
        container
    } else {
        child(container, XENC, "EncryptedData").ok_or(Error::Xml("no EncryptedData"))?
    };
    let method = child(data, XENC, "EncryptionMethod").and_then(|m| m.attribute("Algorithm")).unwrap_or_default();
    let encrypted_key = container
        .descendants()
        .find(|n| is(*n, XENC, "EncryptedKey"))
        .ok_or(Error::Xml("no EncryptedKey for this receiver"))?;
    let key_method = child(encrypted_key, XENC, "EncryptionMethod").ok_or(Error::Xml("no key EncryptionMethod"))?;
    let oaep = match key_method.attribute("Algorithm").unwrap_or_default() {
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p" => &OAEP_SHA1_MGF1SHA1,
        "http://www.w3.org/2009/xmlenc11#rsa-oaep" => {
            let digest = child(key_method, DS, "DigestMethod").and_then(|d| d.attribute("Algorithm"));
            let mgf = key_method
                .children()
                .find(|c| c.is_element() && c.tag_name().name() == "MGF")
                .and_then(|m| m.attribute("Algorithm"));
            match (digest, mgf) {
                (None | Some("http://www.w3.org/2000/09/xmldsig#sha1"), None) => &OAEP_SHA1_MGF1SHA1,
                (
                    Some("http://www.w3.org/2001/04/xmlenc#sha256"),
                    Some("http://www.w3.org/2009/xmlenc11#mgf1sha256"),
                ) => &OAEP_SHA256_MGF1SHA256,
                _ => return Err(Error::Xml("the key transport's digest is not supported")),
            }
        }
        _ => return Err(Error::Xml("the key transport algorithm is not supported")),
    };
    let cipher_value = |n: Node| -> Result<Vec<u8>> {
        let cd = child(n, XENC, "CipherData").ok_or(Error::Xml("no CipherData"))?;
        base64_text(child(cd, XENC, "CipherValue").ok_or(Error::Xml("no CipherValue"))?)
    };
    let wrapped = cipher_value(encrypted_key)?;
    let private = PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|_| Error::Key("invalid PKCS#8 RSA key"))?;
    let private = OaepPrivateDecryptingKey::new(private).map_err(|_| Error::Key("invalid RSA key"))?;
    let mut key_buf = vec![0u8; private.min_output_size()];
    let content_key = private
        .decrypt(oaep, &wrapped, &mut key_buf, None)
        .map_err(|_| Error::Xml("the content key was not encrypted for this receiver"))?
        .to_vec();
    let body = cipher_value(data)?;
    let plain = decrypt_content(method, &content_key, &body)?;
    String::from_utf8(plain).map_err(|_| Error::Xml("the decrypted content is not UTF-8"))
}

fn decrypt_content(method: &str, key: &[u8], body: &[u8]) -> Result<Vec<u8>> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
    use aws_lc_rs::cipher::{DecryptingKey, DecryptionContext, UnboundCipherKey, AES_128, AES_256};
    let wrong = || Error::Xml("the encrypted content does not decrypt");
    match method {
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc" | "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => {
            let alg = if method.ends_with("aes128-cbc") { &AES_128 } else { &AES_256 };
            if body.len() < 32 || body.len() % 16 != 0 {
                return Err(wrong());
            }
            let (iv, ciphertext) = body.split_at(16);
            let key = DecryptingKey::cbc(UnboundCipherKey::new(alg, key).map_err(|_| wrong())?).map_err(|_| wrong())?;
            let iv: [u8; 16] = iv.try_into().map_err(|_| wrong())?;
            let mut buf = ciphertext.to_vec();
            let plain = key.decrypt(&mut buf, DecryptionContext::Iv128(iv.into())).map_err(|_| wrong())?;
            // XML Encryption's padding: the last byte counts the padding bytes (ISO 10126).
            let pad = *plain.last().ok_or_else(wrong)? as usize;
            if pad == 0 || pad > 16 || pad > plain.len() {
                return Err(wrong());
            }
            let end = plain.len() - pad;
            Ok(plain[..end].to_vec())
        }
        "http://www.w3.org/2009/xmlenc11#aes128-gcm" | "http://www.w3.org/2009/xmlenc11#aes256-gcm" => {
            let alg = if method.ends_with("aes128-gcm") { &AES_128_GCM } else { &AES_256_GCM };
            if body.len() < 12 + 16 {
                return Err(wrong());
            }
            let (iv, sealed) = body.split_at(12);
            let key = LessSafeKey::new(UnboundKey::new(alg, key).map_err(|_| wrong())?);
            let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| wrong())?;
            let mut buf = sealed.to_vec();
            let plain = key.open_in_place(nonce, Aad::empty(), &mut buf).map_err(|_| wrong())?;
            Ok(plain.to_vec())
        }
        _ => Err(Error::Xml("the content encryption algorithm is not supported")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n(xml: &str, mode: C14nMode, pick: &str) -> String {
        let doc = parse(xml).unwrap();
        let node = doc.descendants().find(|n| n.is_element() && n.tag_name().name() == pick).unwrap();
        canonicalize(xml, node, mode, &[], None)
    }

    #[test]
    fn exclusive_renders_only_visibly_used_namespaces_in_sorted_order() {
        let xml = r#"<r:Root xmlns:r="urn:r" xmlns:x="urn:x" xmlns="urn:d"><a:A xmlns:a="urn:a" b="2" x:c="3" a="1"><B/>t&amp;&lt;&gt;"</a:A></r:Root>"#;
        assert_eq!(
            c14n(xml, C14nMode::Exclusive, "A"),
            r#"<a:A xmlns:a="urn:a" xmlns:x="urn:x" a="1" b="2" x:c="3"><B xmlns="urn:d"></B>t&amp;&lt;&gt;"</a:A>"#
        );
    }

    #[test]
    fn inclusive_renders_every_namespace_in_scope_at_the_apex() {
        let xml = r#"<r:Root xmlns:r="urn:r" xmlns:x="urn:x"><r:A q="a&#9;b"><r:B/></r:A></r:Root>"#;
        assert_eq!(
            c14n(xml, C14nMode::Inclusive, "A"),
            r#"<r:A xmlns:r="urn:r" xmlns:x="urn:x" q="a&#x9;b"><r:B></r:B></r:A>"#
        );
    }

    #[test]
    fn an_undeclared_default_namespace_is_rendered_empty_under_a_declared_one() {
        let xml = r#"<A xmlns="urn:d"><B xmlns=""/></A>"#;
        assert_eq!(c14n(xml, C14nMode::Exclusive, "A"), r#"<A xmlns="urn:d"><B xmlns=""></B></A>"#);
    }

    #[test]
    fn refuses_doctypes() {
        assert!(parse("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>").is_err());
    }
}
