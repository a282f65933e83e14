//! Identifier formats Cognito clients see: pool ids, client ids, secrets, request ids.

use rand::distributions::{Alphanumeric, Distribution, Uniform};
use rand::Rng;

const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Whether `s` has the shape of an AWS region name (`us-east-1`, `eu-central-2`,
/// `us-gov-west-1`, `ap-southeast-4`).
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let lower = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    match parts.as_slice() {
        [area, rest @ .., number] if area.len() == 2 && lower(area) && !rest.is_empty() && rest.len() <= 2 => {
            rest.iter().all(|p| lower(p)) && !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// The region a pool id names (`eu-west-1` of `eu-west-1_AbCdEfGhI`), if it names one.
pub fn region_of_pool(pool_id: &str) -> Option<&str> {
    pool_id.split_once('_').map(|(r, _)| r).filter(|r| is_region(r))
}

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
