//! A KMS-compatible endpoint (JSON 1.1, `X-Amz-Target: TrentService.*`) for the keys cognate
//! holds, so custom sender functions can unwrap their codes with the AWS Encryption SDK and a
//! KMS keyring, unchanged, once their SDK points at cognate (`AWS_ENDPOINT_URL_KMS`).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use cognate_core::service::{KmsError, KmsResult};
use cognate_core::Service;
use serde_json::{json, Map, Value};

pub(crate) const TARGET_PREFIX: &str = "TrentService.";

/// Answers one KMS call. `body` is the raw JSON request.
pub(crate) fn handle(service: &Service, operation: &str, body: &[u8]) -> Response {
    let result = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .ok_or_else(|| KmsError {
            kind: "SerializationException",
            message: "Request body is not a JSON object.".into(),
        })
        .and_then(|input| call(service, operation, &input));
    match result {
        Ok(v) => super::success(v.to_string().into_bytes()),
        Err(e) => super::WireError::new(StatusCode::BAD_REQUEST, e.kind, e.message).into_response(),
    }
}

fn call(service: &Service, operation: &str, input: &Map<String, Value>) -> KmsResult<Value> {
    let b64 = base64::engine::general_purpose::STANDARD;
    match operation {
        "Decrypt" => {
            check_algorithm(input)?;
            let blob = blob(input, "CiphertextBlob")?;
            let key_id = optional_string(input, "KeyId")?;
            let (arn, plaintext) = service.kms_decrypt(&blob, key_id, &context(input)?)?;
            Ok(json!({"KeyId": arn, "Plaintext": b64.encode(plaintext), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}))
        }
        "Encrypt" => {
            check_algorithm(input)?;
            let plaintext = blob(input, "Plaintext")?;
            let (arn, ciphertext) = service.kms_encrypt(key_id(input)?, &plaintext, &context(input)?)?;
            Ok(
                json!({"KeyId": arn, "CiphertextBlob": b64.encode(ciphertext), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
            )
        }
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
            let bytes = data_key_length(input)?;
            let (arn, plaintext, ciphertext) =
                service.kms_generate_data_key(key_id(input)?, bytes, &context(input)?)?;
            let mut out = json!({"KeyId": arn, "CiphertextBlob": b64.encode(ciphertext)});
            if operation == "GenerateDataKey" {
                out["Plaintext"] = json!(b64.encode(plaintext));
            }
            Ok(out)
        }
        "DescribeKey" => {
            let arn = service.kms_key_arn(key_id(input)?)?;
            let parsed = cognate_core::api::arn::Arn::parse(&arn);
            let id = parsed.and_then(|a| a.resource.strip_prefix("key/")).unwrap_or_default();
            let account = parsed.map_or("", |a| a.account);
            Ok(json!({"KeyMetadata": {
                "AWSAccountId": account,
                "KeyId": id,
                "Arn": arn,
                "Enabled": true,
                "KeyState": "Enabled",
                "KeyUsage": "ENCRYPT_DECRYPT",
                "KeySpec": "SYMMETRIC_DEFAULT",
                "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
                "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
                "Origin": "AWS_KMS",
                "KeyManager": "CUSTOMER",
                "MultiRegion": false,
                "Description": "A key held by cognate",
            }}))
        }
        _ => Err(KmsError {
            kind: "UnsupportedOperationException",
            message: format!(
                "cognate's KMS endpoint answers Decrypt, Encrypt, GenerateDataKey and DescribeKey, not {operation}."
            ),
        }),
    }
}

fn validation(message: impl Into<String>) -> KmsError {
    KmsError { kind: "ValidationException", message: message.into() }
}

fn key_id(input: &Map<String, Value>) -> KmsResult<&str> {
    optional_string(input, "KeyId")?.ok_or_else(|| {
        validation(
            "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
        )
    })
}

fn optional_string<'a>(input: &'a Map<String, Value>, member: &str) -> KmsResult<Option<&'a str>> {
    match input.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(_) => Err(validation(format!("{member} must be a non-empty string."))),
    }
}

fn blob(input: &Map<String, Value>, member: &str) -> KmsResult<Vec<u8>> {
    let text = optional_string(input, member)?
        .ok_or_else(|| validation(format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null")))?;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| KmsError { kind: "SerializationException", message: format!("{member} is not valid base64.") })
}

fn context(input: &Map<String, Value>) -> KmsResult<BTreeMap<String, String>> {
    match input.get("EncryptionContext") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(validation("EncryptionContext values must be strings.")),
            })
            .collect(),
        Some(_) => Err(validation("EncryptionContext must be a map of strings.")),
    }
}

fn check_algorithm(input: &Map<String, Value>) -> KmsResult<()> {
    match optional_string(input, "EncryptionAlgorithm")? {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some(_) => Err(KmsError {
            kind: "InvalidKeyUsageException",
            message: "cognate's keys are symmetric and support SYMMETRIC_DEFAULT only.".into(),
        }),
    }
}

fn data_key_length(input: &Map<String, Value>) -> KmsResult<usize> {
    let spec = optional_string(input, "KeySpec")?;
    let n = input.get("NumberOfBytes").filter(|v| !v.is_null());
    match (spec, n) {
        (Some(_), Some(_)) => Err(validation("Please specify either number of bytes or key spec.")),
        (Some("AES_256"), None) => Ok(32),
        (Some("AES_128"), None) => Ok(16),
        (Some(other), None) => Err(validation(format!(
            "1 validation error detected: Value '{other}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
        ))),
        (None, Some(n)) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| validation("NumberOfBytes must be an integer.")),
        (None, None) => Err(validation("Please specify either number of bytes or key spec.")),
    }
}
