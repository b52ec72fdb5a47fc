//! Every diagnostic the expression compiler's problems become, one place for their wording.

use super::{ExprIssue, IssueKind};
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;
use crate::suggest::did_you_mean;

/// A problem the expression compiler found, at its place in the YAML source.
pub(crate) fn issue(span: Span, issue: ExprIssue) -> Diagnostic {
    let suggestion = |candidates: &[String]| {
        issue.subject.as_deref().and_then(|subject| did_you_mean(subject, candidates.iter().map(String::as_str)))
    };
    match &issue.kind {
        IssueKind::Syntax => Diagnostic::new(Code::ExpressionSyntax, format!("invalid expression: {}", issue.message), span)
            .with_label("here")
            .with_note("expressions are JavaScript; strings inside YAML strings need their own quotes"),
        IssueKind::SplicedTemplates { fix } => Diagnostic::new(Code::ExpressionSyntax, format!("invalid expression: {}", issue.message), span)
            .with_label("`{{ }}` spliced into an expression")
            .with_help(format!("put the whole expression in one `{{{{ }}}}`: `{fix}` (AroMCP pasted the values in as text)")),
        IssueKind::Unsupported => Diagnostic::new(Code::UnsupportedSyntax, issue.message.clone(), span)
            .with_label("not in the expression language")
            .with_note("workflow expressions are a side-effect-free subset of JavaScript (docs/expressions.md)"),
        IssueKind::UnknownName { candidates } => Diagnostic::new(Code::UnknownName, issue.message.clone(), span)
            .with_label("unknown name")
            .with_help_opt(suggestion(candidates)),
        IssueKind::UnknownFunction { candidates } => Diagnostic::new(Code::UnknownFunction, issue.message.clone(), span)
            .with_label("not a supported function")
            .with_help_opt(suggestion(candidates)),
        IssueKind::InvalidRegex => Diagnostic::new(Code::InvalidRegex, issue.message.clone(), span).with_label("invalid regular expression"),
        IssueKind::TooDeep => Diagnostic::new(Code::ExpressionTooDeep, issue.message.clone(), span)
            .with_label(format!("deeper than {} levels from here", super::MAX_NESTING))
            .with_help("split it: compute parts in `computed` fields or `const`s inside an arrow function"),
        IssueKind::UnsafeShellPlace { fix } => Diagnostic::new(Code::UnsafeShellTemplate, issue.message.clone(), span)
            .with_label("its value could run as a command here")
            .with_help(fix.clone()),
        IssueKind::MethodAsValue => Diagnostic::new(Code::MethodAsValue, issue.message.clone(), span)
            .with_label("not called")
            .with_help(format!(
                "call it (`.{}(…)`), or test the value's type instead (`typeof x === 'number'`, `Array.isArray(x)`): workflow expressions have no function values",
                issue.subject.as_deref().unwrap_or("method")
            )),
        IssueKind::Shorthand { full } => Diagnostic::new(Code::Shorthand, issue.message.clone(), span)
            .with_label(format!("reads `{full}`"))
            .with_help(format!("write `{full}`: AroMCP's bare names are read as it read them, but the full form says which one is meant")),
        IssueKind::OptionInjection => Diagnostic::new(Code::OptionInjection, issue.message.clone(), span)
            .with_label("could begin with `-`")
            .with_help("put `--` (or, for git, `--end-of-options`) before it, or write `--option={{ … }}`"),
        IssueKind::UnterminatedTemplate => Diagnostic::new(Code::UnterminatedTemplate, issue.message.clone(), span)
            .with_label("opened here")
            .with_help("close it with `}}`, or write `\\{{` for literal braces"),
        IssueKind::OperandTypes { help } => Diagnostic::new(Code::OperandTypes, issue.message.clone(), span).with_label("here").with_help(help.clone()),
        IssueKind::LegacyName { replacement } => Diagnostic::new(Code::LegacyPrefix, issue.message.clone(), span)
            .with_label(format!("uses `{}`", issue.subject.as_deref().unwrap_or("a legacy name")))
            .with_help(format!("write `{replacement}.` instead")),
    }
}

