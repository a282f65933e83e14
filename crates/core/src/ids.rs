//! Identifier formats Cognito clients see: pool ids, client ids, secrets, request ids.

use rand::distributions::{Alphanumeric, Distribution, Uniform};
use rand::Rng;

const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// `<region>_<9 alphanumerics>`, e.g. `us-east-1_AbCdEfGhI`.
pub fn pool_id(region: &str) -> String {
    let mut rng = rand::thread_rng();
    let suffix: String = (0..9).map(|_| rng.sample(Alphanumeric) as char).collect();
    format!("{region}_{suffix}")
}

fn lower_alnum(len: usize) -> String {
    let mut rng = rand::thread_rng();
    let pick = Uniform::from(0..LOWER_ALNUM.len());
    (0..len).map(|_| LOWER_ALNUM[pick.sample(&mut rng)] as char).collect()
}

/// App client ids are 26 lowercase alphanumerics.
pub fn client_id() -> String {
    lower_alnum(26)
}

/// Client secrets are 51 lowercase alphanumerics (Cognito's are 51–52).
pub fn client_secret() -> String {
    lower_alnum(51)
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}
