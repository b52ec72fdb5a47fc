//! The one diagnostic type every stage reports with, its stable codes, and its renderings.
//!
//! A diagnostic is data: a code, a severity, a message, labelled spans, a help and a note. How
//! it is printed is decided here, once: [`Diagnostics::render_plain`] (no colour, width 80, for
//! snapshots and CI logs), [`Diagnostics::render_styled`] (for a terminal) and
//! [`Diagnostics::to_json`] (for editors, CI annotations and the `workflow_validate` tool).
//! The wording of each diagnostic lives in the `diagnostics.rs` file of the stage that emits it.

use std::fmt;

use crate::source::Source;
use crate::span::Span;

/// How bad a diagnostic is. Errors stop a workflow from being compiled; warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The workflow cannot be compiled.
    Error,
    /// The workflow compiles, but something in it is deprecated or suspicious.
    Warning,
}

impl Severity {
    /// `"error"` or `"warning"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = ($id:literal, $name:literal, $severity:ident), )*) => {
        /// A stable diagnostic code. `E01xx` are syntax (shape) errors, `E02xx` check errors,
        /// `E03xx` expression errors, `E09xx` bugs in wfc, `W02xx` warnings. Once shipped, a code keeps its meaning;
        /// `docs/diagnostics.md` lists them all (a test keeps that list complete).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in numeric order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as printed, e.g. `E0101`.
            pub fn id(self) -> &'static str {
                match self { $(Code::$variant => $id,)* }
            }

            /// The kebab-case name, e.g. `unknown-field`.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The severity every diagnostic with this code has.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }
        }
    };
}

codes! {
    /// The file is not valid YAML.
    YamlSyntax = ("E0100", "yaml-syntax", Error),
    /// A mapping has a key the format does not define.
    UnknownField = ("E0101", "unknown-field", Error),
    /// A required field is absent.
    MissingField = ("E0102", "missing-field", Error),
    /// A field holds a value of the wrong type.
    WrongType = ("E0103", "wrong-type", Error),
    /// A field holds a value outside its allowed set.
    InvalidValue = ("E0104", "invalid-value", Error),
    /// A name or id does not have the required form.
    InvalidName = ("E0105", "invalid-name", Error),
    /// A number is outside its allowed range.
    OutOfRange = ("E0106", "out-of-range", Error),
    /// A step's `type` is not one of the 13 step types.
    UnknownStepType = ("E0107", "unknown-step-type", Error),
    /// A field belongs to other step types, not to this one.
    FieldNotAllowed = ("E0108", "field-not-allowed", Error),
    /// A sub-agent task has both or neither of `prompt_template` and `steps`.
    TaskBody = ("E0109", "task-body", Error),
    /// The file exceeds an input budget (size, nesting, nodes, aliases).
    InputLimit = ("E0110", "input-limit", Error),
    /// The file is not UTF-8 text.
    NotUtf8 = ("E0111", "not-utf8", Error),
    /// The file holds no YAML document.
    EmptyDocument = ("E0112", "empty-document", Error),
    /// Two steps share an id.
    DuplicateStepId = ("E0201", "duplicate-step-id", Error),
    /// The workflow name has more than one `:` namespace separator.
    InvalidWorkflowName = ("E0202", "invalid-workflow-name", Error),
    /// `break` is not inside a `while_loop` or `foreach`.
    BreakOutsideLoop = ("E0203", "break-outside-loop", Error),
    /// `continue` is not inside a `while_loop` or `foreach`.
    ContinueOutsideLoop = ("E0204", "continue-outside-loop", Error),
    /// `parallel_foreach.sub_agent_task` names no task in `sub_agent_tasks`.
    UnknownSubAgentTask = ("E0205", "unknown-sub-agent-task", Error),
    /// A computed field's `from` names nothing that is declared.
    UnknownComputedSource = ("E0206", "unknown-computed-source", Error),
    /// Computed fields depend on each other in a cycle.
    ComputedCycle = ("E0207", "computed-cycle", Error),
    /// `on_error: use_fallback` is written without a `fallback`.
    MissingFallback = ("E0208", "missing-fallback", Error),
    /// An input's `default` does not have the input's `type`.
    DefaultTypeMismatch = ("E0209", "default-type-mismatch", Error),
    /// A state update writes to `inputs.*`, which are read-only after start.
    WriteToInput = ("E0210", "write-to-input", Error),
    /// A state update writes to a computed field.
    WriteToComputed = ("E0211", "write-to-computed", Error),
    /// A state update path is empty, has an empty segment or an unknown scope.
    InvalidWritePath = ("E0212", "invalid-write-path", Error),
    /// A state update has no `value` although its operation needs one.
    MissingUpdateValue = ("E0213", "missing-update-value", Error),
    /// A `response_schema` or `expected_response` is not a valid JSON Schema.
    InvalidResponseSchema = ("E0214", "invalid-response-schema", Error),
    /// An `input_type: choice` input has no `choices`.
    MissingChoices = ("E0215", "missing-choices", Error),
    /// A `validation.pattern` is not a valid regular expression.
    InvalidPattern = ("E0216", "invalid-pattern", Error),
    /// An `mcp_call` to `workflow_state_update` has no `parameters.updates` list.
    StateUpdateWithoutUpdates = ("E0217", "state-update-without-updates", Error),
    /// A write's value has a type its target's declared type does not take.
    WriteTypeMismatch = ("E0218", "write-type-mismatch", Error),
    /// A read below a level of an `agent_response`'s `response_schema` that does not list it.
    UnknownResponseField = ("E0219", "unknown-response-field", Error),
    /// A `{{` template is never closed.
    UnterminatedTemplate = ("E0301", "unterminated-template", Error),
    /// An expression is not valid JavaScript.
    ExpressionSyntax = ("E0302", "expression-syntax", Error),
    /// An expression reads a name that is not defined where it stands.
    UnknownName = ("E0303", "unknown-name", Error),
    /// An expression uses JavaScript outside the supported subset.
    UnsupportedSyntax = ("E0304", "unsupported-syntax", Error),
    /// An expression calls a function or method the language does not have.
    UnknownFunction = ("E0305", "unknown-function", Error),
    /// A regular expression literal does not compile.
    InvalidRegex = ("E0306", "invalid-regex", Error),
    /// An expression nests deeper than the compiler accepts.
    ExpressionTooDeep = ("E0307", "expression-too-deep", Error),
    /// A `{{ }}` stands where no shell quoting keeps its value from running as a command.
    UnsafeShellTemplate = ("E0308", "unsafe-shell-template", Error),
    /// An expression reads `this.x` or `inputs.x` that nothing declares or writes.
    UndeclaredRead = ("E0309", "undeclared-read", Error),
    /// A built-in method is read as a value instead of called.
    MethodAsValue = ("E0310", "method-as-value", Error),
    /// The workflow name has no `namespace:` part.
    NameWithoutNamespace = ("W0201", "name-without-namespace", Warning),
    /// The version is not `MAJOR.MINOR.PATCH`.
    NonSemverVersion = ("W0202", "non-semver-version", Warning),
    /// A legacy `state.`, `computed.` or `raw.` prefix is used.
    LegacyPrefix = ("W0203", "legacy-prefix", Warning),
    /// `default_state` uses the legacy flat form.
    LegacyDefaultState = ("W0205", "legacy-default-state", Warning),
    /// A state update writes a top-level field that nothing declares.
    UndeclaredWrite = ("W0206", "undeclared-write", Warning),
    /// A field the reference accepts on this step type and ignores (`execution_context` off a
    /// shell_command).
    FieldWithoutEffect = ("W0207", "field-without-effect", Warning),
    /// A state-update value written without `{{ }}` reads like an expression over state.
    LiteralLooksLikeExpression = ("W0208", "literal-looks-like-expression", Warning),
    /// A bare name read as shorthand for a loop variable or an input.
    Shorthand = ("W0209", "shorthand-name", Warning),
    /// A shell command splices a value where it begins a word, with no `--` before it.
    OptionInjection = ("W0301", "option-injection", Warning),
    /// An operation that the known types of its operands make meaningless (`.length` of a
    /// number, arithmetic on a boolean, a string compared with a number).
    OperandTypes = ("W0302", "operand-types", Warning),
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A span with a short text, shown under the source line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// What is pointed at.
    pub span: Span,
    /// A few words about it; may be empty.
    pub text: String,
}

/// One problem found in a workflow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The stable code; it also decides the severity.
    pub code: Code,
    /// One plain sentence, lowercase, no trailing period.
    pub message: String,
    /// The main place the problem is.
    pub primary: Label,
    /// Other places that explain it (the first definition of a duplicate id, say).
    pub secondary: Vec<Label>,
    /// What to do about it ("did you mean `inputs`?").
    pub help: Option<String>,
    /// Background the reader may need.
    pub note: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with `code` and `message`, pointing at `span`.
    pub fn new(code: Code, message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            primary: Label { span, text: String::new() },
            secondary: Vec::new(),
            help: None,
            note: None,
        }
    }

    /// The severity of this diagnostic's code.
    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    /// Sets the text shown under the primary span.
    pub fn with_label(mut self, text: impl Into<String>) -> Self {
        self.primary.text = text.into();
        self
    }

    /// Adds a secondary span with a text.
    pub fn with_secondary(mut self, span: Span, text: impl Into<String>) -> Self {
        self.secondary.push(Label { span, text: text.into() });
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the help line if there is one.
    pub fn with_help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// Sets the note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// All diagnostics found in one source, in a deterministic order once [`Diagnostics::sort`]ed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics {
    source: Source,
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// No diagnostics yet for `source`.
    pub fn new(source: &Source) -> Self {
        Diagnostics { source: source.clone(), items: Vec::new() }
    }

    /// The source the spans point into.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Adds one.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Adds several.
    pub fn extend(&mut self, diagnostics: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(diagnostics);
    }

    /// The diagnostics, in the order they were found (or sorted, after [`Diagnostics::sort`]).
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Number of diagnostics.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// True if any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.severity() == Severity::Error).count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.items.iter().filter(|d| d.severity() == Severity::Warning).count()
    }

    /// Sorts by position, then severity, then code, so output is stable whatever order the
    /// checks ran in; exact duplicates (the same code, message and span) are dropped.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            (a.primary.span.start, a.severity(), a.code, a.primary.span.end, &a.message).cmp(&(
                b.primary.span.start,
                b.severity(),
                b.code,
                b.primary.span.end,
                &b.message,
            ))
        });
        self.items.dedup();
    }

    /// Every diagnostic rendered without colour at width 80, as snapshots and CI logs show them.
    pub fn render_plain(&self) -> String {
        let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(80)
            .with_links(false);
        self.render_with(&handler)
    }

    /// Every diagnostic rendered for a terminal, with colour if `color` is set.
    pub fn render_styled(&self, color: bool) -> String {
        let theme = if color { miette::GraphicalTheme::unicode() } else { miette::GraphicalTheme::unicode_nocolor() };
        let handler = miette::GraphicalReportHandler::new_themed(theme).with_links(false);
        self.render_with(&handler)
    }

    fn render_with(&self, handler: &miette::GraphicalReportHandler) -> String {
        let mut out = String::new();
        for diagnostic in &self.items {
            let report = Report { diagnostic, source: &self.source };
            // Writing into a String cannot fail; an error here could only come from a broken
            // Display impl, and then the plain message is still worth showing.
            if handler.render_report(&mut out, &report).is_err() {
                out.push_str(&diagnostic.message);
                out.push('\n');
            }
        }
        out
    }

    /// The diagnostics as JSON objects with file, 1-based line and column of the start and
    /// end, severity, code, name, message, label, hint and note.
    pub fn to_json(&self) -> Vec<serde_json::Value> {
        self.items
            .iter()
            .map(|d| {
                let Region { line, column, end_line, end_column } = self.region(d);
                serde_json::json!({
                    "file": self.source.name(),
                    "line": line,
                    "column": column,
                    "end_line": end_line,
                    "end_column": end_column,
                    "severity": d.severity().as_str(),
                    "code": d.code.id(),
                    "name": d.code.name(),
                    "message": d.message,
                    "label": d.primary.text,
                    "hint": d.help,
                    "note": d.note,
                })
            })
            .collect()
    }

    /// Where `d` stands in this file, as every machine-readable format reports it.
    fn region(&self, d: &Diagnostic) -> Region {
        let (line, column) = self.source.line_column(d.primary.span.start);
        let (end_line, end_column) = self.source.line_column(d.primary.span.end);
        Region { line, column, end_line, end_column }
    }

    /// The diagnostics as GitHub Actions workflow commands (`::error file=…,line=…::message`),
    /// one per line, so that a CI run shows each at its line in the pull request.
    pub fn render_github(&self) -> String {
        // Workflow commands escape `%`, CR and LF in the message, and `:` and `,` as well in
        // property values.
        let data = |text: &str| text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
        let property = |text: &str| data(text).replace(':', "%3A").replace(',', "%2C");
        let mut out = String::new();
        for d in &self.items {
            let Region { line, column, end_line, end_column } = self.region(d);
            let command = d.severity().as_str();
            let mut message = d.message.clone();
            if let Some(help) = &d.help {
                message.push_str(&format!("\nhelp: {help}"));
            }
            out.push_str(&format!(
                "::{command} file={},line={line},col={column},endLine={end_line},endColumn={end_column},title={}::{}\n",
                property(self.source.name()),
                property(&format!("{} {}", d.code.id(), d.code.name())),
                data(&message),
            ));
        }
        out
    }
}

/// Where a diagnostic's primary span starts and ends: 1-based lines and columns.
struct Region {
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
}

/// A SARIF 2.1.0 log of every diagnostic of `files`, for code-scanning uploads: one run of the
/// tool `wfc`, a rule per code that occurs, a result per diagnostic at its file, line and column.
pub fn sarif<'a>(files: impl IntoIterator<Item = &'a Diagnostics>) -> serde_json::Value {
    let mut rules: Vec<Code> = Vec::new();
    let mut results = Vec::new();
    for diagnostics in files {
        for d in &diagnostics.items {
            if !rules.contains(&d.code) {
                rules.push(d.code);
            }
            let Region { line, column, end_line, end_column } = diagnostics.region(d);
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                text.push_str(&format!(" (help: {help})"));
            }
            results.push(serde_json::json!({
                "ruleId": d.code.id(),
                "level": d.severity().as_str(),
                "message": {"text": text},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": diagnostics.source.name()},
                    "region": {"startLine": line, "startColumn": column, "endLine": end_line, "endColumn": end_column},
                }}],
            }));
        }
    }
    rules.sort_by_key(|code| code.id());
    let rules: Vec<serde_json::Value> = rules
        .iter()
        .map(|code| serde_json::json!({"id": code.id(), "name": code.name(), "defaultConfiguration": {"level": code.severity().as_str()}}))
        .collect();
    serde_json::json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {"name": "wfc", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "results": results,
        }],
    })
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// A diagnostic paired with its source, in the shape miette renders.
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: &'a Source,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.diagnostic.fmt(f)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        let code = self.diagnostic.code;
        Some(Box::new(format!("{}({})", code.id(), code.name())))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity() {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        let d = self.diagnostic;
        match (&d.help, &d.note) {
            (None, None) => None,
            (Some(help), None) => Some(Box::new(help)),
            (None, Some(note)) => Some(Box::new(format!("note: {note}"))),
            (Some(help), Some(note)) => Some(Box::new(format!("{help}\nnote: {note}"))),
        }
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let to_miette = |label: &Label, primary: bool| {
            let text = (!label.text.is_empty()).then(|| label.text.clone());
            let span = miette::SourceSpan::new((label.span.start as usize).into(), label.span.len() as usize);
            if primary { miette::LabeledSpan::new_primary_with_span(text, span) } else { miette::LabeledSpan::new_with_span(text, span) }
        };
        let d = self.diagnostic;
        Some(Box::new(
            std::iter::once(to_miette(&d.primary, true)).chain(d.secondary.iter().map(move |l| to_miette(l, false))),
        ))
    }
}

/// Lets miette read snippets straight from the source, labelled with the file name.
impl miette::SourceCode for Source {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let contents = self.text().read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name().to_string(),
            contents.data(),
            *contents.span(),
            contents.line(),
            contents.column(),
            contents.line_count(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_grouped_by_stage() {
        let mut ids: Vec<_> = Code::ALL.iter().map(|c| c.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), Code::ALL.len());
        for code in Code::ALL {
            let prefix = if code.severity() == Severity::Warning { 'W' } else { 'E' };
            assert!(code.id().starts_with(prefix), "{code:?}");
        }
    }

    #[test]
    fn json_has_positions_of_start_and_end() {
        let source = Source::new("w.yaml", "name: x\nsteps: []\n");
        let mut diagnostics = Diagnostics::new(&source);
        diagnostics.push(Diagnostic::new(Code::WrongType, "bad", Span::new(15, 17)).with_help("fix it"));
        let json = &diagnostics.to_json()[0];
        assert_eq!(json["line"], 2);
        assert_eq!(json["column"], 8);
        assert_eq!(json["end_column"], 10);
        assert_eq!(json["code"], "E0103");
        assert_eq!(json["hint"], "fix it");
    }

    #[test]
    fn sarif_has_a_rule_per_code_and_a_result_per_diagnostic() {
        let source = Source::new("w.yaml", "name: x\nsteps: []\n");
        let mut diagnostics = Diagnostics::new(&source);
        diagnostics.push(Diagnostic::new(Code::WrongType, "bad", Span::new(15, 17)).with_help("fix it"));
        diagnostics.push(Diagnostic::new(Code::WrongType, "worse", Span::new(0, 4)));
        let log = sarif([&diagnostics]);
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"].as_array().map(Vec::len), Some(1));
        assert_eq!(run["tool"]["driver"]["rules"][0]["name"], "wrong-type");
        let result = &run["results"][0];
        assert_eq!((result["ruleId"].as_str(), result["level"].as_str()), (Some("E0103"), Some("error")));
        assert_eq!(result["message"]["text"], "bad (help: fix it)");
        let region = &result["locations"][0]["physicalLocation"]["region"];
        assert_eq!((region["startLine"].as_u64(), region["startColumn"].as_u64(), region["endColumn"].as_u64()), (Some(2), Some(8), Some(10)));
        assert_eq!(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "w.yaml");
    }

    #[test]
    fn github_annotations_escape_what_workflow_commands_read() {
        let source = Source::new("dir/a:b.yaml", "name: x\nsteps: []\n");
        let mut diagnostics = Diagnostics::new(&source);
        diagnostics.push(Diagnostic::new(Code::UndeclaredWrite, "typo?", Span::new(0, 4)));
        diagnostics.push(Diagnostic::new(Code::WrongType, "100% bad\nhere", Span::new(15, 17)).with_help("fix it"));
        assert_eq!(
            diagnostics.render_github(),
            "::warning file=dir/a%3Ab.yaml,line=1,col=1,endLine=1,endColumn=5,title=W0206 undeclared-write::typo?\n\
             ::error file=dir/a%3Ab.yaml,line=2,col=8,endLine=2,endColumn=10,title=E0103 wrong-type::100%25 bad%0Ahere%0Ahelp: fix it\n"
        );
    }
}
