//! Reading YAML text with serde-saphyr under input budgets, so that no file (a 50 MB blob,
//! an alias bomb, ten thousand levels of nesting) can make the compiler hang, exhaust memory
//! or overflow its stack. Every breach is reported as a diagnostic naming the limit.

use serde::de::DeserializeOwned;

use super::diagnostics as diag;
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// Largest workflow file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting of mappings and sequences accepted. Each nested step costs two levels, so
/// this allows about fifteen levels of steps inside steps, far more than a readable workflow
/// has. The bound keeps the recursive descent of the YAML reader within a 2 MiB thread stack
/// (test threads, async workers) even in debug builds, where each level costs ~40 KiB.
pub const MAX_DEPTH: usize = 32;
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
    serde_saphyr::from_str_with_options::<T>(text, options()).map_err(|error| to_diagnostic(text, &error))
}

fn to_diagnostic(text: &str, error: &serde_saphyr::Error) -> Diagnostic {
    use serde_saphyr::{Error, MessageFormatter};
    let mut original = error;
    while let Error::AliasError { error, .. } | Error::WithSnippet { error, .. } = original {
        original = error;
    }
    let formatted = serde_saphyr::DefaultMessageFormatter.format_message(original);
    // Positions are rendered by our own snippet; drop the library's copy of them.
    let message = match formatted.find(" at line ") {
        Some(cut) => &formatted[..cut],
        None => &formatted[..],
    };
    let span = error
        .location()
        .filter(|l| l.line() > 0)
        .map(|l| span_at(text, l.line() as usize, l.column() as usize, l.span().len() as usize))
        .unwrap_or_else(|| Span::point(text.len() as u32));
    match original {
        Error::DuplicateMappingKey { key, .. } => {
            let key = key.as_deref().unwrap_or("?");
            diag::yaml_syntax(span, &format!("the key `{key}` appears twice in the same mapping"))
        }
        Error::Budget { breach, .. } => diag::input_limit(span, &describe_breach(breach)),
        Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. } => diag::input_limit(span, message),
        // The parser's own guard against stack exhaustion, below the depth budget's.
        _ if message.contains("recursion limit exceeded") => diag::input_limit(span, &format!("nesting deeper than the parser's limit ({message})")),
        _ => diag::yaml_syntax(span, message),
    }
}

fn describe_breach(breach: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach;
    match breach {
        BudgetBreach::Depth { .. } => format!("nesting deeper than {MAX_DEPTH} levels"),
        BudgetBreach::Nodes { .. } => format!("more than {MAX_NODES} YAML nodes (aliases count as often as they are used)"),
        BudgetBreach::Aliases { .. } => format!("more than {MAX_ALIASES} alias uses"),
        BudgetBreach::Anchors { .. } => format!("more than {MAX_ALIASES} anchors"),
        BudgetBreach::ScalarBytes { .. } => format!("more than {MAX_FILE_BYTES} bytes of text in scalars"),
        BudgetBreach::Documents { .. } => "more than one YAML document".to_owned(),
        other => format!("the parser's input budget was exceeded ({other:?})"),
    }
}

/// The span of `len` characters from 1-based `line` and `column` (errors carry line and
/// column, not always byte offsets).
fn span_at(text: &str, line: usize, column: usize, len: usize) -> Span {
    let line_start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
    let rest = &text[line_start.min(text.len())..];
    let start = line_start + rest.chars().take(column.saturating_sub(1)).map(char::len_utf8).sum::<usize>();
    let end = start + text[start.min(text.len())..].chars().take(len).map(char::len_utf8).sum::<usize>();
    Span::new(start as u32, end as u32)
}
