//! The expression language: the JavaScript subset of aromcp-reference.md §5.3, parsed with oxc at
//! build time and lowered to a small IR ([`ir::Expr`]) with every name resolved. Templates
//! (`{{ expr }}` in strings) are split by [`template::scan`]. Problems are returned as
//! [`ExprIssue`]s with byte ranges in the expression text; the check stage maps them to YAML
//! lines and columns.

mod depth;
pub(crate) mod diagnostics;
pub mod ir;
mod reads;
mod lower;
mod shell;
pub mod template;

use std::ops::Range;

pub use depth::MAX_NESTING;
pub use ir::{Expr, Root};
pub use wfc_runtime::value::ShellQuoting;

/// A name an expression may read from its workflow, and what it resolves to.
#[derive(Clone, Debug, PartialEq)]
pub struct RootName {
    /// The identifier (`this`, `inputs`, `stdout`, `item`).
    pub name: String,
    /// What it reads.
    pub root: Root,
    /// For legacy names (`state`, `computed`, `raw`): the name to write instead.
    pub legacy_of: Option<String>,
}

/// The names visible at an expression site.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Names {
    /// Identifiers that resolve to workflow data.
    pub roots: Vec<RootName>,
    /// What `loop.<name>` may read, innermost loop first (empty outside loops).
    pub loop_names: Vec<String>,
    /// Any other bare identifier reads a field of the step's result (`success` in an
    /// `mcp_call` update value), so none is unknown.
    pub open: bool,
    /// Extra advice for an unknown name at this kind of site.
    pub unknown_hint: Option<String>,
    /// Bare names that read a member of a root, AroMCP's shorthand: `item` for `loop.item`
    /// inside a `foreach`, `file_path` for `inputs.file_path` at the top level. Each read warns
    /// and names the full form. `(bare name, root, member)`.
    pub shorthands: Vec<(String, Root, String)>,
    /// The declared types of fields read by name (`this.count`: `(Root::This, "count",
    /// Number)`), for the warnings on operations their types make meaningless.
    pub types: Vec<(Root, String, wfc_runtime::machine::FieldType)>,
}

impl Names {
    /// Adds a root name.
    pub fn with(mut self, name: &str, root: Root) -> Self {
        self.roots.push(RootName { name: name.to_owned(), root, legacy_of: None });
        self
    }

    /// Adds a legacy root name that warns and names its replacement.
    pub fn with_legacy(mut self, name: &str, root: Root, replacement: &str) -> Self {
        self.roots.push(RootName { name: name.to_owned(), root, legacy_of: Some(replacement.to_owned()) });
        self
    }
}

/// What kind of problem an [`ExprIssue`] is.
#[derive(Clone, Debug, PartialEq)]
pub enum IssueKind {
    /// The text does not parse as a JavaScript expression.
    Syntax,
    /// A construct outside the subset.
    Unsupported,
    /// A name that is not defined at this site (with the names that are).
    UnknownName {
        /// Names in scope, for "did you mean".
        candidates: Vec<String>,
    },
    /// Text with `{{ }}`s spliced into it where one whole expression is expected (a
    /// condition): does not parse, and `fix` is the one-template form.
    SplicedTemplates {
        /// The expression in one `{{ }}`.
        fix: String,
    },
    /// A function or method the language does not have.
    UnknownFunction {
        /// The ones it has.
        candidates: Vec<String>,
    },
    /// A regular expression literal that does not compile.
    InvalidRegex,
    /// A `{{` without its `}}`.
    UnterminatedTemplate,
    /// Nesting deeper than [`MAX_NESTING`].
    TooDeep,
    /// A `{{ }}` in a shell command where no quoting keeps its value inert (with the fix).
    UnsafeShellPlace {
        /// How to write it instead.
        fix: String,
    },
    /// A `{{ }}` that begins a shell word with no `--` before it: a value starting with `-`
    /// would be read as an option (a warning).
    OptionInjection,
    /// An operation the known types of its operands make meaningless (a warning).
    OperandTypes {
        /// What to write instead.
        help: String,
    },
    /// A legacy name (a warning).
    LegacyName {
        /// What to write instead.
        replacement: String,
    },
    /// A built-in method read as a value instead of called.
    MethodAsValue,
    /// A bare name read as shorthand for a root's member (a warning).
    Shorthand {
        /// The full form (`loop.item`, `inputs.file_path`).
        full: String,
    },
}

impl IssueKind {
    /// Whether the issue stops compilation (everything but legacy names, shorthands and
    /// option injection).
    pub fn is_error(&self) -> bool {
        !matches!(self, IssueKind::LegacyName { .. } | IssueKind::OptionInjection | IssueKind::Shorthand { .. } | IssueKind::OperandTypes { .. })
    }
}

/// A problem in an expression, at a byte range of its text.
#[derive(Clone, Debug, PartialEq)]
pub struct ExprIssue {
    /// What kind.
    pub kind: IssueKind,
    /// The message.
    pub message: String,
    /// Where, in the expression's text.
    pub range: Range<usize>,
    /// The misspelled name, for suggestions.
    pub subject: Option<String>,
}

impl ExprIssue {
    pub(crate) fn new(kind: IssueKind, message: impl Into<String>, range: Range<usize>) -> Self {
        ExprIssue { kind, message: message.into(), range, subject: None }
    }

    pub(crate) fn with_subject(mut self, subject: &str) -> Self {
        self.subject = Some(subject.to_owned());
        self
    }

    fn shifted(mut self, by: usize) -> Self {
        self.range = self.range.start + by..self.range.end + by;
        self
    }
}

/// A compiled expression: the IR and how many local slots evaluating it needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Compiled {
    /// The expression.
    pub expr: Expr,
    /// Local variable slots (arrow parameters, `const`s).
    pub slots: usize,
}

/// Compiles one expression. Warnings (legacy names) go to `issues` alongside errors; the
/// result is `None` if any issue is an error.
pub fn compile(text: &str, names: &Names, issues: &mut Vec<ExprIssue>) -> Option<Compiled> {
    lower::lower(text, names, issues).map(|l| Compiled { expr: l.expr, slots: l.slots })
}

/// A compiled template string: literal text and expressions, or one expression whose value
/// keeps its type (`"{{ this.files }}"` is the array, not its text).
#[derive(Clone, Debug, PartialEq)]
pub enum CompiledTemplate {
    /// The whole string is one `{{ }}`.
    Value(Compiled),
    /// Text with expressions spliced in as strings.
    Parts(Vec<CompiledPart>),
}

/// A piece of a compiled template.
#[derive(Clone, Debug, PartialEq)]
pub enum CompiledPart {
    /// Literal text.
    Text(String),
    /// An expression, stringified as JavaScript's `String()` would (objects as JSON).
    Expr(Compiled),
    /// An expression spliced into a shell command: stringified as [`CompiledPart::Expr`],
    /// then quoted for where it stands in the command line, so a value cannot inject commands.
    ShellQuoted(Compiled, ShellQuoting),
}

/// Compiles a server-side shell command: a template whose every `{{ }}` spliced into text is
/// quoted for its place in the `sh` syntax around it (see `shell.rs`); places no quoting makes
/// safe are errors, values that could be read as options warnings. A command that is exactly
/// one `{{ }}` is the whole command line, by the author's choice, and stays as it is.
pub fn compile_shell_command(text: &str, names: &Names, issues: &mut Vec<ExprIssue>) -> Option<CompiledTemplate> {
    let compiled = compile_template(text, names, issues)?;
    let CompiledTemplate::Parts(parts) = compiled else { return Some(compiled) };
    let pieces = template::scan(text).ok()?;
    // The template's expression parts and the scan's expression pieces are the same, in order.
    let mut places = shell::places(&pieces).into_iter();
    let mut failed = false;
    let parts = parts
        .into_iter()
        .map(|part| {
            let CompiledPart::Expr(compiled) = part else { return part };
            let (range, place) = places.next().expect("a place for every expression of the template");
            match place {
                Ok(place) => {
                    if place.option_risk {
                        issues.push(ExprIssue::new(
                            IssueKind::OptionInjection,
                            "this value begins a word of the command, so a value starting with `-` would be read as an option",
                            range,
                        ));
                    }
                    CompiledPart::ShellQuoted(compiled, place.quoting)
                }
                Err(refusal) => {
                    let (message, fix) = refusal.explain();
                    issues.push(ExprIssue::new(IssueKind::UnsafeShellPlace { fix: fix.to_owned() }, message, range));
                    failed = true;
                    CompiledPart::ShellQuoted(compiled, ShellQuoting::Word)
                }
            }
        })
        .collect();
    (!failed).then_some(CompiledTemplate::Parts(parts))
}

/// Compiles a string that may hold `{{ }}` templates. Issue ranges are in `text`.
pub fn compile_template(text: &str, names: &Names, issues: &mut Vec<ExprIssue>) -> Option<CompiledTemplate> {
    let pieces = match template::scan(text) {
        Ok(pieces) => pieces,
        Err(template::Unterminated(at)) => {
            issues.push(ExprIssue::new(IssueKind::UnterminatedTemplate, "this `{{` is never closed with `}}`", at..at + 2));
            return None;
        }
    };
    let mut compile_at = |range: Range<usize>| {
        let mut local = Vec::new();
        let compiled = compile(&text[range.clone()], names, &mut local);
        issues.extend(local.into_iter().map(|i| i.shifted(range.start)));
        compiled
    };
    if let Some(range) = template::whole_expression(text) {
        return compile_at(range).map(CompiledTemplate::Value);
    }
    let mut parts = Vec::new();
    let mut failed = false;
    for piece in pieces {
        match piece {
            template::Piece::Text(t) => parts.push(CompiledPart::Text(t)),
            template::Piece::Expr(range) => match compile_at(range) {
                Some(compiled) => parts.push(CompiledPart::Expr(compiled)),
                None => failed = true,
            },
        }
    }
    (!failed).then_some(CompiledTemplate::Parts(parts))
}

/// Compiles a condition or `items` expression, which may be written bare or wrapped in one
/// `{{ }}`. Issue ranges are in `text`.
pub fn compile_wrapped(text: &str, names: &Names, issues: &mut Vec<ExprIssue>) -> Option<Compiled> {
    match template::whole_expression(text) {
        Some(range) => {
            let mut local = Vec::new();
            let compiled = compile(&text[range.clone()], names, &mut local);
            issues.extend(local.into_iter().map(|i| i.shifted(range.start)));
            compiled
        }
        None => {
            let mut local = Vec::new();
            let compiled = compile(text, names, &mut local);
            // `'{{ a }}' < 5`: the reference spliced text into JavaScript; one `{{ }}` holding
            // the whole expression is what it meant.
            if let Some(fix) = one_template(text)
                && let Some(first) = local.iter_mut().find(|i| i.kind == IssueKind::Syntax)
            {
                first.kind = IssueKind::SplicedTemplates { fix };
            }
            issues.extend(local);
            compiled
        }
    }
}

/// `text` with its `{{ }}`s (and the quotes around a quoted one) taken out and the whole put
/// in one `{{ }}`, if it has any: `'{{ this.a }}' === 'x'` gives `{{ this.a === 'x' }}`.
fn one_template(text: &str) -> Option<String> {
    let mut parts: Vec<(bool, String)> = template::scan(text)
        .ok()?
        .into_iter()
        .map(|piece| match piece {
            template::Piece::Text(t) => (false, t),
            template::Piece::Expr(range) => (true, text[range].trim().to_owned()),
        })
        .collect();
    if !parts.iter().any(|(expr, _)| *expr) {
        return None;
    }
    // A `{{ }}` between two of the same quote was a string's content: the quotes go too.
    for i in 1..parts.len().saturating_sub(1) {
        let quote = parts[i - 1].1.chars().last().filter(|c| ['\'', '"'].contains(c));
        if let Some(quote) = quote
            && parts[i].0
            && !parts[i - 1].0
            && !parts[i + 1].0
            && parts[i + 1].1.starts_with(quote)
        {
            parts[i - 1].1.pop();
            parts[i + 1].1.remove(0);
        }
    }
    let joined: String = parts.into_iter().map(|(_, t)| t).collect();
    Some(format!("{{{{ {} }}}}", joined.trim()))
}

/// The names a workflow expression sees outside any special site: its state scopes, the legacy
/// prefixes, and `loop` when loops enclose it.
pub fn workflow_names(loop_names: &[String]) -> Names {
    let mut names = Names::default()
        .with("this", Root::This)
        .with("global", Root::Global)
        .with("inputs", Root::Inputs)
        .with_legacy("state", Root::State, "this")
        .with_legacy("computed", Root::Computed, "this")
        .with_legacy("raw", Root::Inputs, "inputs");
    if !loop_names.is_empty() {
        names = names.with("loop", Root::Loop);
        names.loop_names = loop_names.to_vec();
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str, names: &Names) -> Vec<String> {
        let mut issues = Vec::new();
        compile(text, names, &mut issues);
        issues.into_iter().map(|i| format!("{}@{}..{}", i.message, i.range.start, i.range.end)).collect()
    }

    #[test]
    fn resolves_names_and_reports_unknown_ones_where_they_are() {
        let names = workflow_names(&[]);
        assert!(errors("this.a + inputs.b", &names).is_empty());
        assert_eq!(errors("thsi.a", &names), ["`thsi` is not defined here@0..4"]);
        assert_eq!(errors("x.map(y => y + z)", &Names::default().with("x", Root::Named("x".into()))), ["`z` is not defined here@15..16"]);
    }

    #[test]
    fn spliced_templates_get_the_one_template_form() {
        assert_eq!(one_template("{{ this.a }} < 5").as_deref(), Some("{{ this.a < 5 }}"));
        assert_eq!(one_template("'{{ this.status }}' === 'done'").as_deref(), Some("{{ this.status === 'done' }}"));
        assert_eq!(one_template("\"{{ a }}\" && {{ b }}").as_deref(), Some("{{ a && b }}"));
        assert_eq!(one_template("this.a < 5"), None);
        let mut issues = Vec::new();
        compile_wrapped("{{ this.a }} < 5", &workflow_names(&[]), &mut issues);
        assert!(matches!(&issues[0].kind, IssueKind::SplicedTemplates { fix } if fix == "{{ this.a < 5 }}"), "{issues:?}");
    }

    #[test]
    fn refuses_constructs_outside_the_subset() {
        let names = Names::default().with("input", Root::Named("input".into()));
        assert_eq!(errors("input = 1", &names), ["assignment is not supported in workflow expressions@0..9"]);
        assert_eq!(errors("eval('1')", &names), ["`eval` is not supported in workflow expressions@0..9"]);
        assert_eq!(errors("new Map()", &names), ["`new` of anything but `Set` is not supported in workflow expressions@0..9"]);
        assert!(errors("new Date()", &names)[0].starts_with("`new Date` is not supported: an expression must give the same value"));
        assert_eq!(errors("(() => { const n = 1; n++; return n; })()", &names), ["`n` is declared `const` and cannot be assigned (declare it with `let`)@22..23"]);
        assert_eq!(errors("(() => { for (const x of input) {} continue; })()", &names), ["`continue` outside a `for…of` loop@35..44"]);
        assert_eq!(
            errors("(() => { for (const x of input) { input.map(y => { break; }); } })()", &names),
            ["`break` outside a `for…of` loop@51..57"],
            "a callback's body is a function of its own"
        );
        assert_eq!(errors("input.frobnicate()", &names), ["`.frobnicate()` is not a supported method@6..16"]);
    }

    #[test]
    fn loop_variables_are_checked_against_enclosing_loops() {
        assert_eq!(errors("loop.item", &workflow_names(&[])), ["`loop` is only defined inside a `while_loop` or `foreach`@0..4"]);
        assert!(errors("loop.item", &workflow_names(&["item".into(), "index".into()])).is_empty());
        assert_eq!(errors("loop.iteration", &workflow_names(&["item".into()])), ["no enclosing loop defines `loop.iteration` (defined here: `loop.item`; a foreach names its item with `variable_name`)@5..14"]);
    }

    #[test]
    fn no_input_runs_as_a_command_wherever_the_author_quoted_it() {
        use wfc_runtime::value::{MapScope, Value};
        let names = Names::default().with("v", Root::Named("v".into()));
        let hostile = ["x\" ; echo pwned ; \"", "x' ; echo pwned ; '", "$(echo pwned)", "`echo pwned`", "a\\\"b", "\n echo pwned", "-rf", "it's \"$HOME\""];
        for command in ["printf '%s' {{ v }}", "printf '%s' \"{{ v }}\"", "printf '%s' \"pre {{ v }} post\"", "printf '%s' 'pre {{ v }} post'", "printf '%s' x{{ v }}y"] {
            let mut issues = Vec::new();
            let template = compile_shell_command(command, &names, &mut issues).expect("compiles");
            for value in hostile {
                let scope = MapScope([("v".to_owned(), Value::string(value))].into());
                let line = crate::interp::render(&template, &scope).expect("renders").to_js_string();
                let output = std::process::Command::new("sh").arg("-c").arg(&line).output().expect("sh runs");
                let printed = String::from_utf8_lossy(&output.stdout);
                let expected = match command {
                    c if c.contains("pre ") => format!("pre {value} post"),
                    c if c.contains("x{{") => format!("x{value}y"),
                    _ => value.to_owned(),
                };
                assert_eq!(printed, expected, "{command} with {value:?} ran as {line}");
            }
        }
    }

    #[test]
    fn templates_keep_types_or_splice_text() {
        let names = workflow_names(&[]);
        let mut issues = Vec::new();
        assert!(matches!(compile_template("{{ this.files }}", &names, &mut issues), Some(CompiledTemplate::Value(_))));
        assert!(matches!(compile_template("n={{ this.n }}", &names, &mut issues), Some(CompiledTemplate::Parts(p)) if p.len() == 2));
        assert!(compile_template("n={{ thsi.n }}", &names, &mut issues).is_none());
        assert_eq!(issues[0].range, 5..9);
    }
}
