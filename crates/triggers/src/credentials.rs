//! AWS credentials for signing Lambda Invoke calls: explicit, environment, shared file, dummy.

use std::path::PathBuf;

use crate::spec::AwsCredentials;

/// Emulators (LocalStack, SAM, the runtime interface emulator) accept any key; these are
/// LocalStack's conventional ones.
fn dummy() -> AwsCredentials {
    AwsCredentials::new("test", "test")
}

pub(crate) fn resolve(explicit: Option<&AwsCredentials>) -> AwsCredentials {
    if let Some(creds) = explicit {
        return creds.clone();
    }
    from_env().or_else(from_shared_file).unwrap_or_else(dummy)
}

fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn from_env() -> Option<AwsCredentials> {
    Some(AwsCredentials {
        access_key_id: non_empty_var("AWS_ACCESS_KEY_ID")?,
        secret_access_key: non_empty_var("AWS_SECRET_ACCESS_KEY")?,
        session_token: non_empty_var("AWS_SESSION_TOKEN"),
    })
}

fn from_shared_file() -> Option<AwsCredentials> {
    let path = match non_empty_var("AWS_SHARED_CREDENTIALS_FILE") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(non_empty_var("HOME")?).join(".aws").join("credentials"),
    };
    let text = std::fs::read_to_string(path).ok()?;
    let profile = non_empty_var("AWS_PROFILE").unwrap_or_else(|| "default".into());
    parse_profile(&text, &profile)
}

/// Reads one `[profile]` section of an INI-style credentials file.
pub(crate) fn parse_profile(text: &str, profile: &str) -> Option<AwsCredentials> {
    let mut in_section = false;
    let (mut key_id, mut secret, mut token) = (None, None, None);
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = name.trim() == profile;
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let value = value.trim().to_string();
            match key.trim().to_ascii_lowercase().as_str() {
                "aws_access_key_id" => key_id = Some(value),
                "aws_secret_access_key" => secret = Some(value),
                "aws_session_token" => token = Some(value),
                _ => {}
            }
        }
    }
    Some(AwsCredentials { access_key_id: key_id?, secret_access_key: secret?, session_token: token })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_profile_only() {
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n[other]\naws_access_key_id=C\naws_secret_access_key=D\naws_session_token=E\n";
        let d = parse_profile(text, "default").unwrap();
        assert_eq!((d.access_key_id.as_str(), d.secret_access_key.as_str(), d.session_token), ("A", "B", None));
        let o = parse_profile(text, "other").unwrap();
        assert_eq!(o.session_token.as_deref(), Some("E"));
        assert!(parse_profile(text, "missing").is_none());
    }

    #[test]
    fn debug_hides_secrets() {
        let mut c = AwsCredentials::new("AKIDEXAMPLE", "very-secret-key");
        c.session_token = Some("secret-token".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret-key") && !shown.contains("secret-token"), "{shown}");
    }
}
