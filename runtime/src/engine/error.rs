//! What a tool call fails with: a code agents branch on, and a message people read.

use serde::Serialize;

/// The kinds of failure a tool call reports, as the `code` of its error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// Something named does not exist.
    NotFound,
    /// The arguments are wrong, or not what the instance can take now.
    InvalidInput,
    /// The operation could not be done.
    OperationFailed,
    /// A server limit was reached.
    LimitExceeded,
    /// Resuming under another definition needs `force`.
    DefinitionChanged,
    /// The store could not keep what the request did: the instance stands where it stood.
    StoreFailed,
    /// The instance would outgrow `--max-state-bytes`: the step was not applied.
    StateTooLarge,
    /// The checkpoint could not be kept.
    CheckpointFailed,
}

impl ErrorCode {
    /// The code as clients see it (`NOT_FOUND`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::InvalidInput => "INVALID_INPUT",
            ErrorCode::OperationFailed => "OPERATION_FAILED",
            ErrorCode::LimitExceeded => "LIMIT_EXCEEDED",
            ErrorCode::DefinitionChanged => "DEFINITION_CHANGED",
            ErrorCode::StoreFailed => "STORE_FAILED",
            ErrorCode::StateTooLarge => "STATE_TOO_LARGE",
            ErrorCode::CheckpointFailed => "CHECKPOINT_FAILED",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a tool call failed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// What went wrong, naming the workflow, instance, task or step.
    pub message: String,
}

impl ToolError {
    /// A failure of kind `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ToolError { code, message: message.into() }
    }

    /// Something named does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        ToolError::new(ErrorCode::NotFound, message)
    }

    /// The arguments are wrong, or not what the instance can take now.
    pub fn invalid(message: impl Into<String>) -> Self {
        ToolError::new(ErrorCode::InvalidInput, message)
    }

    /// The operation could not be done.
    pub fn failed(message: impl Into<String>) -> Self {
        ToolError::new(ErrorCode::OperationFailed, message)
    }

    /// A server limit was reached.
    pub fn limit(message: impl Into<String>) -> Self {
        ToolError::new(ErrorCode::LimitExceeded, message)
    }

    /// The store could not keep what the request did.
    pub fn store(message: impl Into<String>) -> Self {
        ToolError::new(ErrorCode::StoreFailed, message)
    }

    /// Whether the request's changes were dropped: the instance goes on from its last commit.
    pub(crate) fn reverts(&self) -> bool {
        matches!(self.code, ErrorCode::StoreFailed | ErrorCode::StateTooLarge)
    }
}
