//! Reading YAML text with serde-saphyr under input budgets, so that no file (a 50 MB blob,
//! an alias bomb, ten thousand levels of nesting) can make the compiler hang, exhaust memory
//! or overflow its stack. Every breach is reported as a diagnostic naming the limit.

use serde::de::DeserializeOwned;

use super::diagnostics as diag;
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// Largest workflow file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting of mappings and sequences accepted (a step nested in a conditional in a
/// loop costs about two levels per step).
pub const MAX_DEPTH: usize = 96;
/// Most YAML nodes accepted in one file.
pub const MAX_NODES: usize = 250_000;
/// Most alias uses (`*name`) accepted in one file.
pub const MAX_ALIASES: usize = 1_000;

fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = MAX_NODES;
    budget.max_aliases = MAX_ALIASES;
    budget.max_anchors = MAX_ALIASES;
    budget.max_total_scalar_bytes = MAX_FILE_BYTES;
    budget.max_documents = 1;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    options
}

/// Deserializes one YAML document from `text`, or says where and why it cannot.
pub(crate) fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Diagnostic> {
    serde_saphyr::from_str_with_options::<T>(text, options()).map_err(|error| {
        let span = error.location().map_or_else(|| Span::point(text.len() as u32), |l| Span::from_location(&l));
        let message = error.to_string();
        let message = message.lines().next().unwrap_or_default().trim_end_matches('.');
        if matches!(error, serde_saphyr::Error::Budget { .. }) {
            diag::input_limit(span, message)
        } else {
            diag::yaml_syntax(span, message)
        }
    })
}
