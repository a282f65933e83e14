//! The KMS keys cognate holds, and the slice of the KMS API that custom sender functions need
//! to unwrap the data keys of the codes they receive (`Decrypt`, plus `Encrypt` and
//! `GenerateDataKey` for handlers and tools that also encrypt).
//!
//! A key is named by its ARN (a pool's `KMSKeyID`). Cognate holds a key for every well-formed
//! KMS key ARN: the key material is a subkey of the master key for that ARN, so
//! every server sharing the master key holds the same keys and nothing is stored. Ciphertext
//! blobs name their key, as KMS's do, so `Decrypt` needs no `KeyId`:
//! `0x01 | arn length u16 | arn | sealed data key` where the sealing binds the encryption
//! context serialised as the Encryption SDK does.

use cognate_api::arn::Arn;
use std::collections::BTreeMap;

use cognate_crypto::esdk;

use super::Service;

const BLOB_VERSION: u8 = 1;
const PURPOSE_PREFIX: &str = "kms-key:";

/// A KMS error: its `__type` and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsError {
    pub kind: &'static str,
    pub message: String,
}

impl KmsError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    fn invalid_ciphertext() -> Self {
        // KMS says nothing more, so a probe learns nothing about why.
        Self::new("InvalidCiphertextException", "")
    }
}

impl std::fmt::Display for KmsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

pub type KmsResult<T> = std::result::Result<T, KmsError>;

impl Service {
    /// The ARN of the key `key_id` names: a key ARN, or a bare key id in this server's region
    /// and account. Aliases are not held.
    pub fn kms_key_arn(&self, key_id: &str) -> KmsResult<String> {
        let cfg = &self.config;
        let arn = if key_id.starts_with("arn:") {
            key_id.to_owned()
        } else if key_id.starts_with("alias/") {
            return Err(KmsError::new(
                "NotFoundException",
                format!("Alias arn:aws:kms:{}:{}:{key_id} is not found.", cfg.region, cfg.account_id),
            ));
        } else {
            format!("arn:aws:kms:{}:{}:key/{key_id}", cfg.region, cfg.account_id)
        };
        let parsed = Arn::parse(&arn);
        if parsed.is_some_and(|a| a.service == "kms" && a.resource.starts_with("alias/")) {
            return Err(KmsError::new("NotFoundException", format!("Alias {arn} is not found.")));
        }
        let region_ok = |s: &str| {
            (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        let well_formed = parsed.is_some_and(|a| {
            a.service == "kms"
                && region_ok(a.region)
                && a.account.len() == 12
                && a.account.bytes().all(|b| b.is_ascii_digit())
                && a.resource.strip_prefix("key/").is_some_and(|id| {
                    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        });
        if !well_formed {
            return Err(KmsError::new("NotFoundException", format!("Invalid keyId '{key_id}'")));
        }
        Ok(arn)
    }

    /// Wraps `plaintext` (at most 4096 bytes, as KMS allows) under the key `key_id` names,
    /// bound to `context`. Returns the key ARN and the ciphertext blob.
    pub fn kms_encrypt(
        &self,
        key_id: &str,
        plaintext: &[u8],
        context: &BTreeMap<String, String>,
    ) -> KmsResult<(String, Vec<u8>)> {
        if plaintext.is_empty() || plaintext.len() > 4096 {
            return Err(KmsError::new(
                "ValidationException",
                "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and 4096",
            ));
        }
        let arn = self.kms_key_arn(key_id)?;
        let aad = esdk::serialize_context(context)
            .map_err(|_| KmsError::new("ValidationException", "Encryption context is too large."))?;
        let sealed = self
            .master()
            .seal(&format!("{PURPOSE_PREFIX}{arn}"), &aad, plaintext)
            .map_err(|_| KmsError::new("KMSInternalException", "Internal error."))?;
        // Well-formed ARNs are far shorter than the length field allows.
        let arn_len = u16::try_from(arn.len()).map_err(|_| KmsError::new("NotFoundException", "Invalid keyId"))?;
        let mut blob = Vec::with_capacity(3 + arn.len() + sealed.len());
        blob.push(BLOB_VERSION);
        blob.extend_from_slice(&arn_len.to_be_bytes());
        blob.extend_from_slice(arn.as_bytes());
        blob.extend_from_slice(&sealed);
        Ok((arn, blob))
    }

    /// Unwraps a blob from [`Service::kms_encrypt`]. With `key_id`, the blob's key must be that
    /// key (`IncorrectKeyException` otherwise). Any other mismatch, including the encryption
    /// context, is `InvalidCiphertextException`.
    pub fn kms_decrypt(
        &self,
        blob: &[u8],
        key_id: Option<&str>,
        context: &BTreeMap<String, String>,
    ) -> KmsResult<(String, Vec<u8>)> {
        let (arn, sealed) = split_blob(blob).ok_or_else(KmsError::invalid_ciphertext)?;
        if let Some(key_id) = key_id {
            if self.kms_key_arn(key_id)? != arn {
                return Err(KmsError::new(
                    "IncorrectKeyException",
                    "The key ID in the request does not identify a CMK that can perform this operation.",
                ));
            }
        }
        self.kms_key_arn(&arn).map_err(|_| KmsError::invalid_ciphertext())?;
        let aad = esdk::serialize_context(context).map_err(|_| KmsError::invalid_ciphertext())?;
        let plaintext = self
            .master()
            .open(&format!("{PURPOSE_PREFIX}{arn}"), &aad, sealed)
            .map_err(|_| KmsError::invalid_ciphertext())?;
        Ok((arn, plaintext))
    }

    /// A fresh data key of `bytes` bytes, returned in plaintext and wrapped under `key_id`.
    pub fn kms_generate_data_key(
        &self,
        key_id: &str,
        bytes: usize,
        context: &BTreeMap<String, String>,
    ) -> KmsResult<(String, Vec<u8>, Vec<u8>)> {
        if !(1..=1024).contains(&bytes) {
            return Err(KmsError::new(
                "ValidationException",
                "1 validation error detected: Value at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024",
            ));
        }
        let key = cognate_crypto::random::bytes(bytes)
            .map_err(|_| KmsError::new("KMSInternalException", "Internal error."))?;
        let (arn, blob) = self.kms_encrypt(key_id, &key, context)?;
        Ok((arn, key, blob))
    }

    /// An Encryption SDK message of `plaintext` for the pool's custom sender functions: suite
    /// 0x0378, context `userpool-id`, the data key wrapped by `key_id` as KMS would.
    pub(crate) fn esdk_message(&self, key_id: &str, pool_id: &str, plaintext: &[u8]) -> KmsResult<Vec<u8>> {
        let context = BTreeMap::from([("userpool-id".to_owned(), pool_id.to_owned())]);
        let mut failure = None;
        let message = esdk::encrypt(plaintext, &context, |data_key, full_context| {
            match self.kms_encrypt(key_id, data_key, full_context) {
                Ok((arn, blob)) => {
                    Ok(esdk::EncryptedDataKey { provider_id: "aws-kms".into(), provider_info: arn, ciphertext: blob })
                }
                Err(e) => {
                    failure = Some(e);
                    Err(cognate_crypto::Error::Key("KMS"))
                }
            }
        });
        message.map_err(|e| failure.unwrap_or_else(|| KmsError::new("KMSInternalException", e.to_string())))
    }
}

fn split_blob(blob: &[u8]) -> Option<(String, &[u8])> {
    let (&version, rest) = blob.split_first()?;
    if version != BLOB_VERSION || rest.len() < 2 {
        return None;
    }
    let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
    let arn = rest.get(2..2 + len)?;
    let arn = std::str::from_utf8(arn).ok()?.to_owned();
    Some((arn, &rest[2 + len..]))
}
