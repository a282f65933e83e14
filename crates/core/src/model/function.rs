//! Functions deployed through the Lambda API: their configuration and code package.

use super::Doc;

/// One deployed function. `config` is the Lambda `FunctionConfiguration` document the API
/// answers with (minus what the columns hold); `code` is the zip package as uploaded.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFunction {
    pub name: String,
    pub config: Doc,
    pub code: Vec<u8>,
    /// Lowercase hex SHA-256 of `code`; names the unpacked folder on each server.
    pub code_sha256: String,
    /// Changes on every write (Lambda's `RevisionId`).
    pub revision_id: String,
    pub updated_ms: i64,
}
