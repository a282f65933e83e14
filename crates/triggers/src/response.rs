//! Reading remote answers with a size ceiling and mapping transport failures.

use crate::error::InvokeFailure;
use crate::protocol::MAX_PAYLOAD;

pub(crate) enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads a response body, refusing more than Lambda's 6 MB payload limit.
pub(crate) async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > MAX_PAYLOAD as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_PAYLOAD {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Maps a transport error. The URL is stripped because webhook URLs can carry tokens.
pub(crate) fn transport_error(err: reqwest::Error) -> InvokeFailure {
    if err.is_timeout() {
        return InvokeFailure::Timeout { logs: String::new() };
    }
    let kind = if err.is_connect() { "connection failed" } else { "request failed" };
    let err = err.without_url();
    let mut detail = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    InvokeFailure::unreachable(format!("{kind}: {detail}"))
}

pub(crate) fn body_error(err: BodyError) -> InvokeFailure {
    match err {
        BodyError::TooLarge => InvokeFailure::InvalidResponse {
            message: format!("Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes)."),
            logs: String::new(),
        },
        BodyError::Transport(e) => transport_error(e),
    }
}
