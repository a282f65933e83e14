//! Keyset paging shared by the List* operations. The token carries the last key of the page,
//! with a checksum, so that a token cognate never issued is refused as Cognito refuses it rather
//! than read as a position in the list.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sha2::Digest;

use crate::error::{CognitoError, Result};

const CHECK_LEN: usize = 4;

/// A page request: how many, and after which key.
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: usize,
    pub after: Option<String>,
    /// The token given, when it is not one cognate issued.
    invalid: Option<String>,
}

fn check(key: &[u8]) -> [u8; CHECK_LEN] {
    let digest = sha2::Sha256::digest([b"cognate-page\n".as_slice(), key].concat());
    let mut out = [0u8; CHECK_LEN];
    out.copy_from_slice(&digest[..CHECK_LEN]);
    out
}

/// The token for a page that starts after `key`.
fn encode(key: &str) -> String {
    let mut bytes = key.as_bytes().to_vec();
    bytes.extend_from_slice(&check(key.as_bytes()));
    B64.encode(bytes)
}

/// The key a token carries, if it is one cognate issued.
fn decode(token: &str) -> Option<String> {
    let bytes = B64.decode(token).ok()?;
    if bytes.len() < CHECK_LEN {
        return None;
    }
    let (key, sum) = bytes.split_at(bytes.len() - CHECK_LEN);
    if sum != check(key) {
        return None;
    }
    String::from_utf8(key.to_vec()).ok()
}

impl Page {
    /// A page request, noting a token that does not decode.
    fn new(limit: Option<i32>, default: usize, token: Option<&str>) -> Self {
        let token = token.filter(|t| !t.is_empty());
        let decoded = token.map(|t| decode(t).ok_or(t));
        Self {
            limit: limit.map_or(default, |l| l.max(1) as usize),
            after: decoded.clone().map(|d| d.unwrap_or_else(str::to_owned)),
            invalid: decoded.and_then(|d| d.err()).map(str::to_owned),
        }
    }

    /// A page request whose token must be one cognate issued: any other is an
    /// InvalidParameterException, as Cognito answers a paging marker it does not know.
    pub fn checked(limit: Option<i32>, default: usize, token: Option<&str>) -> Result<Self> {
        let page = Self::new(limit, default, token);
        match &page.invalid {
            Some(token) => Err(invalid_token(token)),
            None => Ok(page),
        }
    }

    /// Fetch one extra row to know whether another page follows; trims `items` and returns the
    /// token for the next page, if any.
    pub fn finish<T>(&self, items: &mut Vec<T>, key: impl Fn(&T) -> String) -> Option<String> {
        if items.len() > self.limit {
            items.truncate(self.limit);
            items.last().map(|item| encode(&key(item)))
        } else {
            None
        }
    }

    /// The refusal of this page's token by a list it does not belong to (a token of another
    /// kind of list that cognate did issue).
    pub fn refused(&self) -> CognitoError {
        invalid_token(&self.after.as_deref().map(encode).unwrap_or_default())
    }

    pub fn fetch_limit(&self) -> usize {
        self.limit + 1
    }
}

/// Cognito's ListUsers answers "Paging marker TOKEN is invalid for request REQUEST-ID"; the
/// request id is the wire layer's, which the service does not see, so it is left out here.
fn invalid_token(token: &str) -> CognitoError {
    CognitoError::invalid_parameter(format!("Paging marker {token} is invalid."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_strangers_are_refused() {
        let mut items = vec!["a", "b", "c"];
        let page = Page::checked(Some(2), 60, None).unwrap();
        let token = page.finish(&mut items, |s| s.to_string()).unwrap();
        assert_eq!(items, ["a", "b"]);
        assert_eq!(Page::checked(Some(2), 60, Some(&token)).unwrap().after.as_deref(), Some("b"));
        for bad in ["b", "garbage", "AAAA", "!!!"] {
            let e = Page::checked(None, 60, Some(bad)).unwrap_err();
            assert_eq!(e.kind, crate::error::ErrorKind::InvalidParameter);
        }
        assert!(Page::checked(None, 60, Some("")).unwrap().after.is_none());
    }
}
