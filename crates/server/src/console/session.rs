//! The console's session in `secure` mode: a cookie sealed with the master key (AES-256-GCM under
//! a key of its own purpose), naming the access key that signed in and when the session ends.
//!
//! A session also carries a fingerprint of the key's secret (a keyed hash, never the secret), so
//! removing an access key from `cognate.toml` or changing its secret ends its sessions at the
//! next restart. Signing out clears the cookie in the browser; a copy of it taken before stays
//! valid until it expires, as with any stateless session, so sessions are short (8 hours).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use cognate_crypto::seal::{ct_eq, MasterKey};
use serde::{Deserialize, Serialize};

use crate::auth::AccessKeys;

/// The cookie's name.
pub const COOKIE: &str = "cognate_console";
/// How long a session lasts.
pub const LIFETIME_MS: i64 = 8 * 60 * 60 * 1000;
/// The cookie's scope: the console only (the JSON API never sees it).
const PATH: &str = "/_cognate/console";
const SEAL_PURPOSE: &str = "console-session";
const FINGERPRINT_PURPOSE: &str = "console-session-key";
const SECRET_PURPOSE: &str = "console-sign-in";
const AAD: &[u8] = b"cognate-console";

/// A signed-in console session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The access key id that signed in.
    #[serde(rename = "k")]
    pub key_id: String,
    /// When the session ends (ms since the epoch).
    #[serde(rename = "e")]
    pub expires_ms: i64,
    /// A keyed hash of the key's id and secret when it signed in.
    #[serde(rename = "f")]
    fingerprint: String,
}

fn fingerprint(master: &MasterKey, key_id: &str, secret: &str) -> String {
    let mut data = Vec::with_capacity(key_id.len() + 1 + secret.len());
    data.extend_from_slice(key_id.as_bytes());
    data.push(0);
    data.extend_from_slice(secret.as_bytes());
    B64URL.encode(&master.keyed_hash(FINGERPRINT_PURPOSE, &data)[..16])
}

/// Whether `secret` is the secret of access key `key_id`. The secrets are compared as keyed
/// hashes of equal length, in constant time; an unknown id costs the same work as a known one.
pub fn secret_matches(master: &MasterKey, keys: &AccessKeys, key_id: &str, secret: &str) -> bool {
    let expected = keys.secret(key_id);
    let want = master.keyed_hash(SECRET_PURPOSE, expected.unwrap_or("\u{0}no such key").as_bytes());
    let got = master.keyed_hash(SECRET_PURPOSE, secret.as_bytes());
    ct_eq(&want, &got) && expected.is_some()
}

/// A new session for `key_id` (which must be one of `keys`), sealed for the cookie.
pub fn seal(master: &MasterKey, keys: &AccessKeys, key_id: &str, now_ms: i64) -> Option<String> {
    let secret = keys.secret(key_id)?;
    let session = Session {
        key_id: key_id.to_owned(),
        expires_ms: now_ms + LIFETIME_MS,
        fingerprint: fingerprint(master, key_id, secret),
    };
    let plain = serde_json::to_vec(&session).ok()?;
    let sealed = master.seal(SEAL_PURPOSE, AAD, &plain).ok()?;
    Some(B64URL.encode(sealed))
}

/// The session a cookie value holds, if it is genuine, unexpired, and its key still exists with
/// the secret it signed in with.
pub fn open(master: &MasterKey, keys: &AccessKeys, value: &str, now_ms: i64) -> Option<Session> {
    if value.len() > 1024 {
        return None;
    }
    let sealed = B64URL.decode(value).ok()?;
    let plain = master.open(SEAL_PURPOSE, AAD, &sealed).ok()?;
    let session: Session = serde_json::from_slice(&plain).ok()?;
    if session.expires_ms <= now_ms {
        return None;
    }
    let secret = keys.secret(&session.key_id)?;
    let current = fingerprint(master, &session.key_id, secret);
    ct_eq(current.as_bytes(), session.fingerprint.as_bytes()).then_some(session)
}

/// The value of the console's cookie in a request's `Cookie` headers.
pub fn cookie_of(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for a new session. `secure`: the server's public URL is https.
pub fn set_cookie(value: &str, secure: bool) -> String {
    let max_age = LIFETIME_MS / 1000;
    format!("{COOKIE}={value}; Path={PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{}", secure_attr(secure))
}

/// `Set-Cookie` that ends the session in the browser.
pub fn clear_cookie(secure: bool) -> String {
    format!("{COOKIE}=; Path={PATH}; Max-Age=0; HttpOnly; SameSite=Strict{}", secure_attr(secure))
}

fn secure_attr(secure: bool) -> &'static str {
    if secure {
        "; Secure"
    } else {
        ""
    }
}

/// Failed sign-ins per client address (IPv6 per /64): after [`Failures::MAX`] failures within
/// [`Failures::WINDOW_MS`], the address may not try again until the window has passed.
#[derive(Default)]
pub struct Failures {
    by_address: Mutex<HashMap<u128, (u32, i64)>>,
}

impl Failures {
    pub const MAX: u32 = 10;
    pub const WINDOW_MS: i64 = 5 * 60 * 1000;
    /// Addresses remembered at most; the oldest windows are forgotten first.
    const CAPACITY: usize = 10_000;

    fn key(ip: IpAddr) -> u128 {
        match ip {
            IpAddr::V4(v4) => u32::from(v4) as u128,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => u32::from(v4) as u128,
                // The top bit marks IPv6, so no /64 collides with an IPv4 address.
                None => (u128::from(v6) >> 64) | (1 << 127),
            },
        }
    }

    /// How long (ms) `ip` must wait before it may try again; None: it may try now.
    pub fn wait(&self, ip: IpAddr, now_ms: i64) -> Option<i64> {
        let map = self.by_address.lock().unwrap_or_else(|e| e.into_inner());
        let &(count, since) = map.get(&Self::key(ip))?;
        let until = since + Self::WINDOW_MS;
        (count >= Self::MAX && until > now_ms).then_some(until - now_ms)
    }

    /// Counts a failed sign-in from `ip`.
    pub fn record(&self, ip: IpAddr, now_ms: i64) {
        let mut map = self.by_address.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::CAPACITY {
            map.retain(|_, (_, since)| *since + Self::WINDOW_MS > now_ms);
            if map.len() >= Self::CAPACITY {
                let oldest = map.iter().min_by_key(|(_, (_, since))| *since).map(|(k, _)| *k);
                if let Some(k) = oldest {
                    map.remove(&k);
                }
            }
        }
        let entry = map.entry(Self::key(ip)).or_insert((0, now_ms));
        if entry.1 + Self::WINDOW_MS <= now_ms {
            *entry = (0, now_ms);
        }
        entry.0 += 1;
    }

    /// Forgets `ip`'s failures (it signed in).
    pub fn clear(&self, ip: IpAddr) {
        self.by_address.lock().unwrap_or_else(|e| e.into_inner()).remove(&Self::key(ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> AccessKeys {
        AccessKeys::from_pairs([
            ("AKIDONE".to_owned(), "secret-one".to_owned()),
            ("AKIDTWO".to_owned(), "two".to_owned()),
        ])
    }

    fn master() -> MasterKey {
        MasterKey::from_bytes(&[7u8; 32]).unwrap()
    }

    #[test]
    fn a_sealed_session_opens_until_it_expires() {
        let (m, k) = (master(), keys());
        let value = seal(&m, &k, "AKIDONE", 1_000).unwrap();
        let s = open(&m, &k, &value, 1_000).unwrap();
        assert_eq!((s.key_id.as_str(), s.expires_ms), ("AKIDONE", 1_000 + LIFETIME_MS));
        assert!(open(&m, &k, &value, 1_000 + LIFETIME_MS - 1).is_some());
        assert!(open(&m, &k, &value, 1_000 + LIFETIME_MS).is_none());
        // Sealed, not signed: neither the key id nor the fingerprint can be read from it.
        assert!(
            !value.contains("AKIDONE") && !String::from_utf8_lossy(&B64URL.decode(&value).unwrap()).contains("AKID")
        );
        assert!(seal(&m, &k, "AKIDNONE", 1_000).is_none());
    }

    #[test]
    fn forged_tampered_or_foreign_cookies_do_not_open() {
        let (m, k) = (master(), keys());
        let value = seal(&m, &k, "AKIDONE", 0).unwrap();
        let mut bytes = B64URL.decode(&value).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(open(&m, &k, &B64URL.encode(&bytes), 0).is_none());
        let other = MasterKey::from_bytes(&[8u8; 32]).unwrap();
        assert!(open(&other, &k, &value, 0).is_none());
        for junk in ["", "x", "!!!", &"A".repeat(2000)] {
            assert!(open(&m, &k, junk, 0).is_none(), "{junk}");
        }
        // A value sealed for another purpose (say, the hosted session) is not a console session.
        let plain = serde_json::to_vec(&serde_json::json!({"k": "AKIDONE", "e": i64::MAX, "f": "x"})).unwrap();
        let foreign = B64URL.encode(m.seal("hosted-session", AAD, &plain).unwrap());
        assert!(open(&m, &k, &foreign, 0).is_none());
    }

    #[test]
    fn a_removed_key_or_a_changed_secret_ends_its_sessions() {
        let m = master();
        let value = seal(&m, &keys(), "AKIDONE", 0).unwrap();
        let rotated = AccessKeys::from_pairs([("AKIDONE".to_owned(), "secret-new".to_owned())]);
        assert!(open(&m, &rotated, &value, 0).is_none());
        let removed = AccessKeys::from_pairs([("AKIDTWO".to_owned(), "two".to_owned())]);
        assert!(open(&m, &removed, &value, 0).is_none());
    }

    #[test]
    fn secrets_are_checked_exactly() {
        let (m, k) = (master(), keys());
        assert!(secret_matches(&m, &k, "AKIDONE", "secret-one"));
        assert!(!secret_matches(&m, &k, "AKIDONE", "secret-on"));
        assert!(!secret_matches(&m, &k, "AKIDONE", "two"));
        assert!(!secret_matches(&m, &k, "AKIDNONE", "secret-one"));
        assert!(!secret_matches(&m, &k, "AKIDNONE", "\u{0}no such key"));
        assert!(!secret_matches(&m, &k, "", ""));
    }

    #[test]
    fn cookies() {
        let set = set_cookie("abc", true);
        assert_eq!(
            set,
            "cognate_console=abc; Path=/_cognate/console; Max-Age=28800; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!set_cookie("abc", false).contains("Secure"));
        assert!(clear_cookie(false).starts_with("cognate_console=; ") && clear_cookie(false).contains("Max-Age=0"));
        let mut h = axum::http::HeaderMap::new();
        h.insert("cookie", "a=1; cognate_console=v1; b=2".parse().unwrap());
        assert_eq!(cookie_of(&h), Some("v1"));
        h.insert("cookie", "cognate_consolex=v".parse().unwrap());
        assert_eq!(cookie_of(&h), None);
    }

    #[test]
    fn failed_sign_ins_wait_after_too_many() {
        let f = Failures::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for i in 0..Failures::MAX {
            assert_eq!(f.wait(ip, 10), None, "{i}");
            f.record(ip, 10);
        }
        assert_eq!(f.wait(ip, 10), Some(Failures::WINDOW_MS));
        assert_eq!(f.wait(other, 10), None);
        assert_eq!(f.wait(ip, 10 + Failures::WINDOW_MS), None);
        // A new window starts once the old one has passed.
        f.record(ip, 10 + Failures::WINDOW_MS);
        assert_eq!(f.wait(ip, 10 + Failures::WINDOW_MS), None);
        f.clear(ip);
        assert_eq!(f.wait(ip, 20), None);
        // IPv6 addresses count per /64; an IPv4-mapped address as its IPv4 one.
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();
        for _ in 0..Failures::MAX {
            f.record(a, 0);
        }
        assert!(f.wait(b, 0).is_some());
        assert_eq!(Failures::key("::ffff:192.0.2.1".parse().unwrap()), Failures::key(ip));
    }
}
