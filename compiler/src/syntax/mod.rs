//! The syntax stage: workflow text to [`RawWorkflow`], a typed mirror of the YAML with a span
//! on every scalar. No semantics here — only "is this a workflow-shaped document?".
//!
//! Three passes, each reporting everything it finds before the next one runs:
//! 1. bytes to text (UTF-8, size limit) and text to a spanned [`Node`] tree (YAML syntax,
//!    input budgets);
//! 2. the shape check: the tree against the format's JSON Schema ([`format_schema`]), which
//!    finds every unknown field, missing field, wrong type and invalid value at once;
//! 3. the tree's text to [`RawWorkflow`] through serde, which cannot fail once the shape is right
//!    (if it does, that is reported too, never a panic).

mod diagnostics;
pub mod node;
pub mod raw;
mod schema;
pub mod step_kind;
mod yaml;

pub use node::{Node, NodeValue};
pub use raw::*;
pub use schema::format_schema;
pub use step_kind::StepKind;
pub use yaml::{MAX_ALIASES, MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES};

use crate::diagnostic::Diagnostics;
use crate::source::Source;

/// Turns file contents into a [`Source`], or reports why they are not workflow text.
pub fn decode(name: &str, bytes: Vec<u8>) -> Result<Source, Diagnostics> {
    let fail = |diagnostic| {
        let source = Source::new(name, "");
        let mut diagnostics = Diagnostics::new(&source);
        diagnostics.push(diagnostic);
        diagnostics
    };
    if bytes.len() > MAX_FILE_BYTES {
        return Err(fail(diagnostics::file_too_large(bytes.len(), MAX_FILE_BYTES)));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Source::new(name, text)),
        Err(error) => Err(fail(diagnostics::not_utf8(error.utf8_error().valid_up_to()))),
    }
}

/// Parses a workflow. On failure, every problem found is in the returned diagnostics.
pub fn parse(source: &Source) -> Result<RawWorkflow, Diagnostics> {
    let mut diagnostics = Diagnostics::new(source);
    let fail = |mut diagnostics: Diagnostics| {
        diagnostics.sort();
        Err(diagnostics)
    };
    if source.text().len() > MAX_FILE_BYTES {
        diagnostics.push(diagnostics::file_too_large(source.text().len(), MAX_FILE_BYTES));
        return fail(diagnostics);
    }
    let document: Option<Node> = match yaml::from_str(source.text()) {
        Ok(document) => document,
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            return fail(diagnostics);
        }
    };
    let Some(document) = document.filter(|d| d.value != NodeValue::Null) else {
        diagnostics.push(diagnostics::empty_document(crate::span::Span::point(0)));
        return fail(diagnostics);
    };
    diagnostics.extend(schema::check_shape(&document));
    if diagnostics.has_errors() {
        return fail(diagnostics);
    }
    match yaml::from_str::<RawWorkflow>(source.text()) {
        Ok(workflow) => Ok(workflow),
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            fail(diagnostics)
        }
    }
}
