//! Regular expression literals with ECMAScript semantics (regress), every match run within the
//! evaluation budget: regress backtracks, and a pattern like `(a+)+$` takes time exponential in
//! its text, so each match counts its steps as operations of the budget and fails with a
//! `RangeError` when they run out (wfc's copy of regress, vendor/regress, counts them).

use std::fmt;

use super::{EvalError, budget};

/// A compiled `/source/flags` literal.
#[derive(Debug)]
pub struct RegExp {
    regex: regress::Regex,
    source: String,
    flags: String,
}

impl RegExp {
    /// Compiles `/source/flags`; a bad pattern is a `SyntaxError`, as in JavaScript.
    pub fn new(source: &str, flags: &str) -> Result<RegExp, EvalError> {
        let engine_flags: String = flags.chars().filter(|c| "imsuy".contains(*c)).collect();
        let regex = regress::Regex::with_flags(source, engine_flags.as_str())
            .map_err(|e| EvalError::syntax_error(format!("Invalid regular expression: /{source}/{flags}: {e}")))?;
        Ok(RegExp { regex, source: source.to_owned(), flags: flags.to_owned() })
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The flags as written.
    pub fn flags(&self) -> &str {
        &self.flags
    }

    /// Whether this is `/\s+/` (without `y`, `u` or `v`): runs of JavaScript white space,
    /// which `split` cuts at without running the regex engine.
    pub(crate) fn white_space_runs(&self) -> bool {
        self.source == "\\s+" && !self.flags.contains(['y', 'u', 'v'])
    }

    /// Whether the `g` flag is set.
    pub fn global(&self) -> bool {
        self.flags.contains('g')
    }

    /// `test(text)`. Outside an evaluation (a `validation_pattern` checking an answer) it runs
    /// under a budget of its own.
    pub fn is_match(&self, text: &str) -> Result<bool, EvalError> {
        let evaluation = budget::Evaluation::start();
        evaluation.finish(budget::regex_steps(|| self.regex.find(text).is_some()))
    }

    /// Byte ranges of every match; `None` if the pattern has capture groups (which
    /// [`RegExp::matches`] reports).
    pub(crate) fn match_ranges(&self, text: &str) -> Result<Option<Vec<std::ops::Range<usize>>>, EvalError> {
        budget::regex_steps(|| self.regex.find_iter(text).map(|m| m.captures.is_empty().then(|| m.range())).collect())
    }

    /// Byte ranges of the whole match and of each capture group, for every match (or the first).
    pub(crate) fn matches(&self, text: &str, all: bool) -> Result<Vec<Vec<Option<std::ops::Range<usize>>>>, EvalError> {
        budget::regex_steps(|| {
            let mut out = Vec::new();
            for m in self.regex.find_iter(text) {
                let mut groups = vec![Some(m.range())];
                groups.extend(m.groups().skip(1));
                out.push(groups);
                if !all {
                    break;
                }
            }
            out
        })
    }
}

impl fmt::Display for RegExp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/{}", self.source, self.flags)
    }
}
