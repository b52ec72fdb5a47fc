//! Errors an expression can throw, named after the JavaScript error they stand for, so that a
//! workflow's `on_error` handling and the tests against node agree on what failed.

use std::fmt;

use super::Value;

/// Which JavaScript error an [`EvalError`] corresponds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Reading a property of `undefined`/`null`, calling what is not a function.
    TypeError,
    /// `JSON.parse` of text that is not JSON; an invalid regular expression.
    SyntaxError,
    /// A numeric argument out of range (`toFixed(200)`, `padStart` too long).
    RangeError,
    /// A limit of the evaluator was reached (result too large, recursion too deep).
    LimitError,
}

impl ErrorKind {
    /// The JavaScript constructor name (`"TypeError"`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::TypeError => "TypeError",
            ErrorKind::SyntaxError => "SyntaxError",
            ErrorKind::RangeError => "RangeError",
            ErrorKind::LimitError => "RangeError",
        }
    }
}

/// An error thrown while evaluating an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError {
    /// Which error.
    pub kind: ErrorKind,
    /// What happened, worded like node's message where there is one.
    pub message: String,
}

impl EvalError {
    /// A `TypeError`.
    pub fn type_error(message: impl Into<String>) -> Self {
        EvalError { kind: ErrorKind::TypeError, message: message.into() }
    }

    /// A `SyntaxError`.
    pub fn syntax_error(message: impl Into<String>) -> Self {
        EvalError { kind: ErrorKind::SyntaxError, message: message.into() }
    }

    /// A `RangeError`.
    pub fn range_error(message: impl Into<String>) -> Self {
        EvalError { kind: ErrorKind::RangeError, message: message.into() }
    }

    /// An evaluator limit.
    pub fn limit(message: impl Into<String>) -> Self {
        EvalError { kind: ErrorKind::LimitError, message: message.into() }
    }

    /// What calling a method `receiver` does not have throws: reading it fails first (from
    /// `undefined` or `null`, with the property read's own error); otherwise calling what was
    /// read fails.
    pub(crate) fn missing_method(receiver: &Value, name: &str) -> Self {
        receiver.get_named(name).err().unwrap_or_else(|| EvalError::not_a_function(receiver, name))
    }

    /// Calling `receiver.name`, which is not a function.
    pub(crate) fn not_a_function(receiver: &Value, name: &str) -> Self {
        let shown = match receiver {
            Value::String(_) => "string",
            Value::Array(_) => "array",
            other => other.type_of(),
        };
        EvalError::type_error(format!("{shown}.{name} is not a function"))
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for EvalError {}
