//! The KMS keys cognate holds, and Encryption SDK messages wrapped with them, read back the way
//! a custom sender's KMS keyring does (KMS Decrypt with the message's encryption context).

use std::collections::BTreeMap;
use std::sync::Arc;

use cognate_core::ports::SystemClock;
use cognate_core::{Service, ServiceConfig};
use cognate_crypto::esdk;
use cognate_crypto::seal::MasterKey;
use cognate_store::SqlStore;

const KEY: &str = "arn:aws:kms:us-east-1:000000000000:key/1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b";
const OTHER: &str = "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000";

async fn service(dir: &tempfile::TempDir) -> Service {
    let store = SqlStore::connect(&format!("sqlite://{}/db?mode=rwc", dir.path().display())).await.unwrap();
    Service::new(
        Arc::new(store),
        Arc::new(SystemClock),
        ServiceConfig::new("us-east-1", "http://127.0.0.1:9229", MasterKey::generate().unwrap()),
    )
}

fn context(pool: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("userpool-id".to_owned(), pool.to_owned())])
}

#[tokio::test]
async fn blobs_open_only_under_their_key_and_context() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(&dir).await;
    let (arn, blob) = svc.kms_encrypt(KEY, b"data key", &context("p1")).unwrap();
    assert_eq!(arn, KEY);
    assert_eq!(svc.kms_decrypt(&blob, None, &context("p1")).unwrap(), (KEY.to_owned(), b"data key".to_vec()));
    assert_eq!(svc.kms_decrypt(&blob, Some(KEY), &context("p1")).unwrap().1, b"data key");
    // A bare key id names the key in this server's region and account.
    let id = KEY.rsplit('/').next().unwrap();
    assert_eq!(svc.kms_decrypt(&blob, Some(id), &context("p1")).unwrap().0, KEY);

    assert_eq!(svc.kms_decrypt(&blob, None, &context("p2")).unwrap_err().kind, "InvalidCiphertextException");
    assert_eq!(svc.kms_decrypt(&blob, Some(OTHER), &context("p1")).unwrap_err().kind, "IncorrectKeyException");
    // Pointing the blob at another key (one character of the ARN changed) does not open it.
    let mut edited = blob.clone();
    let at = 3 + KEY.len() - 1;
    edited[at] = if edited[at] == b'b' { b'c' } else { b'b' };
    assert_eq!(svc.kms_decrypt(&edited, None, &context("p1")).unwrap_err().kind, "InvalidCiphertextException");
    assert_eq!(svc.kms_decrypt(b"\x01\x00", None, &context("p1")).unwrap_err().kind, "InvalidCiphertextException");

    // A key served by another master key is a different key.
    let other_dir = tempfile::tempdir().unwrap();
    let other = service(&other_dir).await;
    assert_eq!(other.kms_decrypt(&blob, None, &context("p1")).unwrap_err().kind, "InvalidCiphertextException");

    for bad in [
        "alias/codes",
        "arn:aws:kms:us-east-1:000000000000:alias/codes",
        "arn:aws:kms:us-east-1:123:key/x",
        "arn:aws:s3:::bucket",
    ] {
        assert_eq!(svc.kms_encrypt(bad, b"k", &context("p1")).unwrap_err().kind, "NotFoundException", "{bad}");
    }
    let long = format!("arn:aws:kms:{}:000000000000:key/x", "a".repeat(70_000));
    assert!(svc.kms_encrypt(&long, b"k", &context("p1")).is_err());
}

#[tokio::test]
async fn encryption_sdk_messages_unwrap_through_kms_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(&dir).await;
    let message = esdk::encrypt(b"123456", &context("us-east-1_abc"), |data_key, full| {
        let (arn, blob) = svc.kms_encrypt(KEY, data_key, full).unwrap();
        Ok(esdk::EncryptedDataKey { provider_id: "aws-kms".into(), provider_info: arn, ciphertext: blob })
    })
    .unwrap();
    // As a strict KMS keyring does: only data keys from the expected key, unwrapped with the
    // message's full encryption context.
    let unwrap = |edk: &esdk::EncryptedDataKey, ctx: &BTreeMap<String, String>| {
        (edk.provider_id == "aws-kms" && edk.provider_info == KEY)
            .then(|| svc.kms_decrypt(&edk.ciphertext, Some(&edk.provider_info), ctx).ok().map(|(_, k)| k))
            .flatten()
    };
    let out = esdk::decrypt(&message, unwrap).unwrap();
    assert_eq!(out.plaintext, b"123456");
    assert_eq!(out.context["userpool-id"], "us-east-1_abc");
    assert!(out.context.contains_key(esdk::PUBLIC_KEY_CONTEXT));
}
