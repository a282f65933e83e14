//! The line protocol between the server and a node/python worker.
//!
//! Requests go down the worker's fd 3, replies come up its fd 4, one JSON object per line.
//! JSON encoders never emit a raw newline, so a newline always ends a frame.

use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Lambda's synchronous response limit; the frame limit leaves room for the envelope.
pub(crate) const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
pub(crate) const MAX_FRAME: usize = MAX_PAYLOAD + 64 * 1024;

/// One line from a worker.
#[derive(Debug, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(crate) enum Frame {
    /// The handler module loaded; requests may follow.
    Ready,
    /// The handler module failed to load; the worker exits next.
    InitError {
        error: Value,
    },
    /// Output from the handler.
    Log {
        d: String,
    },
    Result {
        id: String,
        payload: Value,
    },
    Error {
        id: String,
        error: Value,
        /// The worker is about to exit (uncaught exception) and must not be reused.
        #[serde(default)]
        fatal: bool,
    },
    /// The handler's result could not be serialised.
    Invalid {
        id: String,
        message: String,
    },
}

/// Encodes one request line.
pub(crate) fn request_line(id: &str, deadline_epoch_ms: u128, event: &Value) -> Result<Vec<u8>, serde_json::Error> {
    let mut line = Vec::with_capacity(128);
    line.extend_from_slice(b"{\"id\":");
    serde_json::to_writer(&mut line, id)?;
    line.extend_from_slice(format!(",\"deadline\":{deadline_epoch_ms},\"event\":").as_bytes());
    serde_json::to_writer(&mut line, event)?;
    line.extend_from_slice(b"}\n");
    Ok(line)
}

pub(crate) enum ReadError {
    Eof,
    TooLarge,
    Io,
    Malformed,
}

/// Reads one frame, refusing lines longer than `MAX_FRAME` so a runaway worker cannot
/// make the server buffer without bound.
pub(crate) async fn read_frame<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> Result<Frame, ReadError> {
    line.clear();
    loop {
        let available = reader.fill_buf().await.map_err(|_| ReadError::Io)?;
        if available.is_empty() {
            return Err(ReadError::Eof);
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(pos) => {
                line.extend_from_slice(&available[..pos]);
                reader.consume(pos + 1);
                break;
            }
            None => {
                let n = available.len();
                line.extend_from_slice(available);
                reader.consume(n);
            }
        }
        if line.len() > MAX_FRAME {
            return Err(ReadError::TooLarge);
        }
    }
    if line.len() > MAX_FRAME {
        return Err(ReadError::TooLarge);
    }
    serde_json::from_slice(line).map_err(|_| ReadError::Malformed)
}

/// Pulls Lambda's `errorType` / `errorMessage` out of an error payload.
pub(crate) fn error_fields(error: &Value) -> (Option<String>, String) {
    let error_type = error.get("errorType").and_then(Value::as_str).map(str::to_string);
    let message = match error.get("errorMessage") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => error.to_string(),
    };
    (error_type, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_split_on_newlines_and_reject_garbage() {
        let data: &[u8] = b"{\"t\":\"ready\"}\n{\"t\":\"log\",\"d\":\"a\\nb\"}\nnot json\n";
        let mut reader = tokio::io::BufReader::new(data);
        let mut buf = Vec::new();
        assert!(matches!(read_frame(&mut reader, &mut buf).await, Ok(Frame::Ready)));
        match read_frame(&mut reader, &mut buf).await {
            Ok(Frame::Log { d }) => assert_eq!(d, "a\nb"),
            _ => panic!("expected a log frame"),
        }
        assert!(matches!(read_frame(&mut reader, &mut buf).await, Err(ReadError::Malformed)));
        assert!(matches!(read_frame(&mut reader, &mut buf).await, Err(ReadError::Eof)));
    }

    #[test]
    fn request_line_is_one_line() {
        let line = request_line("r-1", 42, &serde_json::json!({"a": "x\ny"})).unwrap();
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["event"]["a"], "x\ny");
        assert_eq!(v["deadline"], 42);
    }
}
