//! The syntax stage: workflow text to [`RawWorkflow`], a typed mirror of the YAML with a span
//! on every scalar. No semantics here — only "is this a workflow-shaped document?".
//!
//! Three passes over one parse, each reporting everything it finds before the next one runs:
//! 1. bytes to text (UTF-8, size limit) and text to a spanned [`Node`] tree (YAML syntax,
//!    input budgets);
//! 2. the shape check: the tree against the format's JSON Schema ([`format_schema`]), which
//!    finds every unknown field, missing field, wrong type and invalid value at once;
//! 3. the tree to [`RawWorkflow`] through serde, which cannot fail once the shape is right
//!    (if it does, that is reported too, never a panic).

mod diagnostics;
pub mod node;
pub mod raw;
mod recover;
mod schema;
pub mod step_kind;
mod typed;
mod yaml;

pub use node::{Node, NodeValue};
pub use raw::*;
pub use schema::format_schema;
pub use step_kind::StepKind;
pub use yaml::{MAX_ALIASES, MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::Source;
use crate::span::Span;

/// Turns file contents into a [`Source`], or reports why they are not workflow text.
/// `file_size` is the file's length on disk: a caller may read no more than
/// [`MAX_FILE_BYTES`] + 1 bytes of a huge file and still get the right size reported.
pub fn decode(name: &str, bytes: Vec<u8>, file_size: u64) -> Result<Source, Diagnostics> {
    let fail = |diagnostic| {
        let source = Source::new(name, "");
        let mut diagnostics = Diagnostics::new(&source);
        diagnostics.push(diagnostic);
        diagnostics
    };
    if bytes.len() > MAX_FILE_BYTES || file_size > MAX_FILE_BYTES as u64 {
        return Err(fail(diagnostics::file_too_large(file_size.max(bytes.len() as u64), MAX_FILE_BYTES)));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Source::new(name, text)),
        Err(error) => Err(fail(diagnostics::not_utf8(error.utf8_error().valid_up_to()))),
    }
}

/// Reads `source` as a YAML document with a span on every node, under the input budgets.
/// This is the syntax-only step, for tools that want the tree (the schema tests, an editor).
pub fn parse_document(source: &Source) -> Result<Node, Diagnostics> {
    let mut diagnostics = Diagnostics::new(source);
    if source.text().len() > MAX_FILE_BYTES {
        diagnostics.push(diagnostics::file_too_large(source.text().len() as u64, MAX_FILE_BYTES));
        return Err(diagnostics);
    }
    match yaml::load(source.text()) {
        Ok(Some(document)) if document.value != NodeValue::Null => Ok(document),
        Ok(_) => {
            diagnostics.push(diagnostics::empty_document(crate::span::Span::point(0)));
            Err(diagnostics)
        }
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            Err(diagnostics)
        }
    }
}

/// Reads one write of a `workflow_state_update` call's `updates` (written as data, in the
/// call's `parameters`) as the `state_update` it is; if it is not one, `report`s why.
pub(crate) fn read_state_update(node: &Node, report: impl FnOnce(Diagnostic)) -> Option<RawStateUpdate> {
    typed::from_node::<RawStateUpdate>(node)
        .map_err(|e| report(diagnostics::shape_mismatch(e.span.unwrap_or(node.span), "a workflow_state_update write", &e.message)))
        .ok()
}

/// Parses a workflow. On failure, every problem found is in the returned diagnostics, sorted.
pub fn parse(source: &Source) -> Result<RawWorkflow, Diagnostics> {
    let document = parse_document(source)?;
    let mut diagnostics = Diagnostics::new(source);
    diagnostics.extend(schema::check_shape(&document));
    if diagnostics.is_empty() {
        match typed::from_node::<RawWorkflow>(&document) {
            Ok(workflow) => return Ok(workflow),
            Err(error) => diagnostics.push(diagnostics::shape_mismatch(
                error.span.unwrap_or(document.span),
                "the workflow",
                &error.message,
            )),
        }
    }
    diagnostics.sort();
    Err(diagnostics)
}

/// After [`parse`] failed with `errors`: the workflow without the steps, inputs, computed fields
/// and sub-agent tasks they stand in, and the spans of what was taken out, for the check stage
/// to report the rest in the same run. `None` when that leaves nothing to check (an error
/// outside every such part, or text that is not YAML).
pub fn parse_around_errors(source: &Source, errors: &Diagnostics) -> Option<(RawWorkflow, Vec<Span>)> {
    let document = parse_document(source).ok()?;
    let spans: Vec<Span> = errors.iter().map(|d| d.primary.span).collect();
    recover::without_broken_parts(&document, &spans)
}
