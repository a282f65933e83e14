//! AWS Encryption SDK messages, as Cognito hands codes to custom email / SMS sender functions.
//!
//! Cognito emits message format version 1 with algorithm suite `0x0378`
//! (AES-256-GCM, HKDF-SHA384 key derivation, ECDSA P-384 signature, no key commitment), framed
//! content with 4096-byte frames, one encrypted data key and an encryption context holding
//! `userpool-id` plus the `aws-crypto-public-key` the suite adds. This module writes exactly that
//! shape, and reads it back (for tests and tools). Wrapping the data key is the caller's business:
//! a closure receives the data key and the full encryption context and returns the encrypted
//! data key, as a KMS `Encrypt` would.
//!
//! Layout (all integers big-endian), per the public message-format specification:
//!
//! ```text
//! header   = 0x01 0x80 | suite u16 | message id [16] | ctx len u16 | ctx
//!            | edk count u16 | (id len u16, id, info len u16, info, ct len u16, ct)*
//!            | content type 0x02 | reserved u32 = 0 | iv len u8 = 12 | frame len u32
//! auth     = iv [12] (zeros) | tag [16]        GCM over nothing, AAD = header
//! frame    = seq u32 | iv [12] | body [frame len] | tag [16]
//! final    = 0xFFFFFFFF | seq u32 | iv [12] | len u32 | body | tag [16]
//! footer   = sig len u16 | DER ECDSA signature over everything before it
//! ```

use std::collections::BTreeMap;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::encoding::{AsBigEndian, EcPublicKeyCompressedBin};
use aws_lc_rs::hkdf::{KeyType, Salt, HKDF_SHA384};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P384_SHA384_ASN1, ECDSA_P384_SHA384_ASN1_SIGNING,
};
use base64::Engine as _;

use crate::{Error, Result};

/// `ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384`.
pub const SUITE_ID: u16 = 0x0378;
/// The encryption-context key holding the signer's compressed public point (base64).
pub const PUBLIC_KEY_CONTEXT: &str = "aws-crypto-public-key";
const VERSION: u8 = 0x01;
const TYPE_CUSTOMER_AE: u8 = 0x80;
const CONTENT_FRAMED: u8 = 0x02;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;
const FRAME_LEN: u32 = 4096;
const FINAL_FRAME: u32 = 0xFFFF_FFFF;
const FRAME_AAD: &[u8] = b"AWSKMSEncryptionClient Frame";
const FINAL_FRAME_AAD: &[u8] = b"AWSKMSEncryptionClient Final Frame";

/// An encrypted data key: who wrapped it (`aws-kms` and the key ARN for KMS) and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedDataKey {
    pub provider_id: String,
    pub provider_info: String,
    pub ciphertext: Vec<u8>,
}

/// Encryption context as the SDK serialises it: pairs sorted by key bytes, each length-prefixed,
/// after a pair count. An empty context serialises to nothing. KMS binds the same bytes when
/// it wraps the data key.
pub fn serialize_context(context: &BTreeMap<String, String>) -> Result<Vec<u8>> {
    if context.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    put_u16(&mut out, context.len())?;
    for (k, v) in context {
        put_bytes16(&mut out, k.as_bytes())?;
        put_bytes16(&mut out, v.as_bytes())?;
    }
    Ok(out)
}

/// Encrypts `plaintext` into a signed, framed format-v1 message under suite 0x0378. `wrap` gets
/// the fresh data key and the complete encryption context (with the public key added) and
/// returns the one encrypted data key the message carries.
pub fn encrypt(
    plaintext: &[u8],
    context: &BTreeMap<String, String>,
    wrap: impl FnOnce(&[u8], &BTreeMap<String, String>) -> Result<EncryptedDataKey>,
) -> Result<Vec<u8>> {
    if context.contains_key(PUBLIC_KEY_CONTEXT) {
        return Err(Error::InvalidInput("encryption context key aws-crypto-public-key is reserved"));
    }
    let signer = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_ASN1_SIGNING).map_err(|_| Error::Key("ECDSA P-384"))?;
    let public: EcPublicKeyCompressedBin<'static> =
        signer.public_key().as_be_bytes().map_err(|_| Error::Key("ECDSA P-384"))?;
    let mut context = context.clone();
    context.insert(PUBLIC_KEY_CONTEXT.to_owned(), base64::engine::general_purpose::STANDARD.encode(public.as_ref()));

    let mut data_key = [0u8; KEY_LEN];
    crate::random::fill(&mut data_key)?;
    let mut message_id = [0u8; 16];
    crate::random::fill(&mut message_id)?;
    let edk = wrap(&data_key, &context);
    let key = derive_key(&data_key, &message_id);
    data_key.fill(0);
    let (edk, key) = (edk?, key?);

    let mut out = Vec::with_capacity(512 + plaintext.len());
    out.push(VERSION);
    out.push(TYPE_CUSTOMER_AE);
    out.extend_from_slice(&SUITE_ID.to_be_bytes());
    out.extend_from_slice(&message_id);
    let ctx = serialize_context(&context)?;
    put_bytes16(&mut out, &ctx)?;
    put_u16(&mut out, 1)?;
    put_bytes16(&mut out, edk.provider_id.as_bytes())?;
    put_bytes16(&mut out, edk.provider_info.as_bytes())?;
    put_bytes16(&mut out, &edk.ciphertext)?;
    out.push(CONTENT_FRAMED);
    out.extend_from_slice(&0u32.to_be_bytes());
    out.push(IV_LEN as u8);
    out.extend_from_slice(&FRAME_LEN.to_be_bytes());

    let header_iv = [0u8; IV_LEN];
    let mut nothing = [0u8; 0];
    let tag = seal(&key, header_iv, &out, &mut nothing)?;
    out.extend_from_slice(&header_iv);
    out.extend_from_slice(&tag);

    let chunks = frame_chunks(plaintext);
    let last = chunks.len() - 1;
    for (i, chunk) in chunks.into_iter().enumerate() {
        let seq = u32::try_from(i + 1).map_err(|_| Error::InvalidInput("message too long"))?;
        let iv = frame_iv(seq);
        let mut body = chunk.to_vec();
        let is_final = i == last;
        let aad = frame_aad(&message_id, is_final, seq, body.len());
        let tag = seal(&key, iv, &aad, &mut body)?;
        if is_final {
            out.extend_from_slice(&FINAL_FRAME.to_be_bytes());
        }
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&iv);
        if is_final {
            out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        }
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
    }

    let signature = signer.sign(&SystemRandom::new(), &out).map_err(|_| Error::Key("ECDSA P-384"))?;
    put_bytes16(&mut out, signature.as_ref())?;
    Ok(out)
}

/// A message read back by [`decrypt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    pub plaintext: Vec<u8>,
    /// The full encryption context, `aws-crypto-public-key` included.
    pub context: BTreeMap<String, String>,
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
}

/// Decrypts and verifies a message of the shape [`encrypt`] writes (format v1, suite 0x0378,
/// framed). `unwrap` receives each encrypted data key with the context and returns the data key
/// for the first one it can open. Failures name no plaintext: [`Error::AuthFailed`],
/// [`Error::InvalidInput`] or (key derivation) [`Error::Key`].
pub fn decrypt(
    message: &[u8],
    mut unwrap: impl FnMut(&EncryptedDataKey, &BTreeMap<String, String>) -> Option<Vec<u8>>,
) -> Result<Decrypted> {
    let mut r = Reader { buf: message, pos: 0 };
    if r.u8()? != VERSION || r.u8()? != TYPE_CUSTOMER_AE || r.u16()? != SUITE_ID {
        return Err(Error::InvalidInput("not an ESDK v1 message with suite 0x0378"));
    }
    let message_id: [u8; 16] = r.take(16)?.try_into().map_err(|_| Error::InvalidInput("message id"))?;
    let ctx_len = r.u16()? as usize;
    let context = parse_context(r.take(ctx_len)?)?;
    let mut edks = Vec::new();
    for _ in 0..r.u16()? {
        let provider_id = String::from_utf8(r.bytes16()?.to_vec()).map_err(|_| Error::InvalidInput("provider id"))?;
        let provider_info =
            String::from_utf8(r.bytes16()?.to_vec()).map_err(|_| Error::InvalidInput("provider info"))?;
        let ciphertext = r.bytes16()?.to_vec();
        edks.push(EncryptedDataKey { provider_id, provider_info, ciphertext });
    }
    if r.u8()? != CONTENT_FRAMED || r.u32()? != 0 || r.u8()? as usize != IV_LEN {
        return Err(Error::InvalidInput("unsupported content type"));
    }
    let frame_len = r.u32()? as usize;
    let header_end = r.pos;
    let data_key = edks.iter().find_map(|edk| unwrap(edk, &context)).ok_or(Error::AuthFailed)?;
    let key = derive_key(&data_key, &message_id)?;
    let header_iv: [u8; IV_LEN] = r.take(IV_LEN)?.try_into().map_err(|_| Error::AuthFailed)?;
    let mut tag = r.take(TAG_LEN)?.to_vec();
    open(&key, header_iv, &message[..header_end], &mut tag)?;

    let mut plaintext = Vec::new();
    let mut expected_seq = 1u32;
    loop {
        let first = r.u32()?;
        let is_final = first == FINAL_FRAME;
        let seq = if is_final { r.u32()? } else { first };
        if seq != expected_seq {
            return Err(Error::AuthFailed);
        }
        let iv: [u8; IV_LEN] = r.take(IV_LEN)?.try_into().map_err(|_| Error::AuthFailed)?;
        let len = if is_final { r.u32()? as usize } else { frame_len };
        if len > frame_len {
            return Err(Error::AuthFailed);
        }
        let mut body = r.take(len + TAG_LEN)?.to_vec();
        let aad = frame_aad(&message_id, is_final, seq, len);
        open(&key, iv, &aad, &mut body)?;
        plaintext.extend_from_slice(&body[..len]);
        if is_final {
            break;
        }
        expected_seq = expected_seq.checked_add(1).ok_or(Error::AuthFailed)?;
    }
    let signed_end = r.pos;
    let signature = r.bytes16()?;
    if r.pos != message.len() {
        return Err(Error::InvalidInput("trailing bytes after the signature"));
    }
    let public = context
        .get(PUBLIC_KEY_CONTEXT)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or(Error::AuthFailed)?;
    UnparsedPublicKey::new(&ECDSA_P384_SHA384_ASN1, public)
        .verify(&message[..signed_end], signature)
        .map_err(|_| Error::AuthFailed)?;
    Ok(Decrypted { plaintext, context, encrypted_data_keys: edks })
}

/// Regular frames for every full 4096-byte chunk that is not the last, then the final frame
/// with the rest (empty only for an empty plaintext).
fn frame_chunks(plaintext: &[u8]) -> Vec<&[u8]> {
    let n = FRAME_LEN as usize;
    let mut chunks: Vec<&[u8]> = plaintext.chunks(n).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    chunks
}

fn frame_iv(seq: u32) -> [u8; IV_LEN] {
    let mut iv = [0u8; IV_LEN];
    iv[IV_LEN - 4..].copy_from_slice(&seq.to_be_bytes());
    iv
}

fn frame_aad(message_id: &[u8; 16], is_final: bool, seq: u32, len: usize) -> Vec<u8> {
    let label = if is_final { FINAL_FRAME_AAD } else { FRAME_AAD };
    let mut aad = Vec::with_capacity(16 + label.len() + 12);
    aad.extend_from_slice(message_id);
    aad.extend_from_slice(label);
    aad.extend_from_slice(&seq.to_be_bytes());
    aad.extend_from_slice(&(len as u64).to_be_bytes());
    aad
}

struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// The suite's content key: HKDF-SHA384 without salt, info = suite id || message id.
fn derive_key(data_key: &[u8], message_id: &[u8; 16]) -> Result<LessSafeKey> {
    let suite = SUITE_ID.to_be_bytes();
    let info: [&[u8]; 2] = [&suite, message_id];
    let mut key = [0u8; KEY_LEN];
    Salt::new(HKDF_SHA384, &[])
        .extract(data_key)
        .expand(&info, Len(KEY_LEN))
        .and_then(|okm| okm.fill(&mut key))
        .map_err(|_| Error::Key("HKDF"))?;
    let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| Error::Key("AES-256-GCM"));
    key.fill(0);
    Ok(LessSafeKey::new(unbound?))
}

fn seal(key: &LessSafeKey, iv: [u8; IV_LEN], aad: &[u8], in_out: &mut [u8]) -> Result<[u8; TAG_LEN]> {
    let tag = key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(aad), in_out)
        .map_err(|_| Error::Key("AES-256-GCM"))?;
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(tag.as_ref());
    Ok(out)
}

/// Opens `ciphertext || tag` in place; the plaintext is the first `len - 16` bytes afterwards.
fn open(key: &LessSafeKey, iv: [u8; IV_LEN], aad: &[u8], in_out: &mut [u8]) -> Result<()> {
    key.open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(aad), in_out)
        .map(|_| ())
        .map_err(|_| Error::AuthFailed)
}

fn parse_context(bytes: &[u8]) -> Result<BTreeMap<String, String>> {
    let mut context = BTreeMap::new();
    if bytes.is_empty() {
        return Ok(context);
    }
    let mut r = Reader { buf: bytes, pos: 0 };
    for _ in 0..r.u16()? {
        let k = String::from_utf8(r.bytes16()?.to_vec()).map_err(|_| Error::InvalidInput("encryption context"))?;
        let v = String::from_utf8(r.bytes16()?.to_vec()).map_err(|_| Error::InvalidInput("encryption context"))?;
        if context.insert(k, v).is_some() {
            return Err(Error::InvalidInput("duplicate encryption context key"));
        }
    }
    if r.pos != bytes.len() {
        return Err(Error::InvalidInput("encryption context"));
    }
    Ok(context)
}

fn put_u16(out: &mut Vec<u8>, n: usize) -> Result<()> {
    let n = u16::try_from(n).map_err(|_| Error::InvalidInput("field longer than 65535 bytes"))?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

fn put_bytes16(out: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    put_u16(out, bytes.len())?;
    out.extend_from_slice(bytes);
    Ok(())
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(Error::InvalidInput("truncated"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn bytes16(&mut self) -> Result<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555";

    /// A stand-in for KMS: the data key travels XOR-ed with a byte, bound to the context length.
    fn wrap(key: &[u8], ctx: &BTreeMap<String, String>) -> Result<EncryptedDataKey> {
        let mut ct: Vec<u8> = key.iter().map(|b| b ^ 0x5a).collect();
        ct.push(serialize_context(ctx)?.len() as u8);
        Ok(EncryptedDataKey { provider_id: "aws-kms".into(), provider_info: ARN.into(), ciphertext: ct })
    }

    fn unwrap(edk: &EncryptedDataKey, ctx: &BTreeMap<String, String>) -> Option<Vec<u8>> {
        let (key, len) = edk.ciphertext.split_at(KEY_LEN);
        (len == [serialize_context(ctx).ok()?.len() as u8]).then(|| key.iter().map(|b| b ^ 0x5a).collect())
    }

    fn pool_context() -> BTreeMap<String, String> {
        BTreeMap::from([("userpool-id".to_owned(), "us-east-1_abc".to_owned())])
    }

    #[test]
    fn header_starts_like_cognito_messages() {
        let m = encrypt(b"982921", &pool_context(), wrap).unwrap();
        assert_eq!(&m[..4], &[0x01, 0x80, 0x03, 0x78]);
        // Base64 of a Cognito code begins "AYADe".
        assert!(base64::engine::general_purpose::STANDARD.encode(&m).starts_with("AYADe"));
    }

    #[test]
    fn round_trips_short_and_multi_frame_plaintexts() {
        for len in [0usize, 6, 4095, 4096, 4097, 10_000] {
            let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let m = encrypt(&plaintext, &pool_context(), wrap).unwrap();
            let d = decrypt(&m, unwrap).unwrap();
            assert_eq!(d.plaintext, plaintext, "length {len}");
            assert_eq!(d.context["userpool-id"], "us-east-1_abc");
            assert!(d.context.contains_key(PUBLIC_KEY_CONTEXT));
            assert_eq!(d.encrypted_data_keys[0].provider_info, ARN);
        }
    }

    #[test]
    fn any_flipped_bit_fails() {
        let m = encrypt(b"123456", &pool_context(), wrap).unwrap();
        for i in (0..m.len()).step_by(7) {
            let mut bad = m.clone();
            bad[i] ^= 0x01;
            assert!(decrypt(&bad, unwrap).is_err(), "byte {i}");
        }
    }

    #[test]
    fn a_reserved_context_key_is_refused() {
        let ctx = BTreeMap::from([(PUBLIC_KEY_CONTEXT.to_owned(), "x".to_owned())]);
        assert!(encrypt(b"1", &ctx, wrap).is_err());
    }
}
