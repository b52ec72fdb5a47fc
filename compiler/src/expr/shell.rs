//! Where each `{{ }}` of a server-side shell command stands in the `sh` syntax the author wrote
//! around it, so that its value is quoted for that place and never runs as a command.
//!
//! A value spliced as a bare word is single-quoted (`'…'`, a `'` inside as `'\''`); inside the
//! author's double quotes, `$`, `` ` ``, `"` and `\` are escaped with a backslash, which is all
//! `sh` treats specially there; inside the author's single quotes, a `'` closes, escapes and
//! reopens them. Places where no quoting keeps a value inert are refused at build time: a shell
//! comment (a newline in the value ends it), backticks (which take backslashes away once more)
//! and here-documents (whose text is expanded, quotes or not).
//!
//! A value that begins a word can begin with `-` and be read as an option (`git diff
//! {{ base }}` with `base=--output=FILE`); that is a warning unless `--` or `--end-of-options`
//! came before it in the same command.

use std::ops::Range;

use wfc_runtime::value::ShellQuoting;

use super::template::Piece;

/// Where a `{{ }}` stands in the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    /// How its value is quoted.
    pub(crate) quoting: ShellQuoting,
    /// Whether it begins a word that no `--` or `--end-of-options` precedes: its value could
    /// be read as an option.
    pub(crate) option_risk: bool,
}

/// A place where a value cannot be spliced safely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// After `#`: a newline in the value would end the comment.
    Comment,
    /// Inside `` `…` ``.
    Backticks,
    /// After `<<`: a here-document's text is expanded whatever the quotes.
    HereDocument,
}

impl Refusal {
    /// What is wrong, and the fix.
    pub(crate) fn explain(self) -> (&'static str, &'static str) {
        match self {
            Refusal::Comment => ("a `{{ }}` inside a shell comment cannot be made safe: a newline in its value ends the comment", "move it out of the comment, or drop the comment"),
            Refusal::Backticks => ("a `{{ }}` inside backticks cannot be quoted safely: backticks strip one level of backslashes", "write `$(…)` instead of backticks"),
            Refusal::HereDocument => ("a `{{ }}` after `<<` cannot be quoted safely: a here-document expands `$(…)` in its text whatever the quotes", "pass the value as an argument or through `printf '%s' {{ … }} |` instead"),
        }
    }
}

/// The quoting state of the text read so far.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Bare,
    Single,
    Double,
}

/// Each expression piece of `pieces`, in order: its range in the command, and its place.
pub(crate) fn places(pieces: &[Piece]) -> Vec<(Range<usize>, Result<Place, Refusal>)> {
    let mut scanner = Scanner { state: State::Bare, in_word: false, comment: false, backticks: false, here_document: false, options_ended: false, word: String::new(), escaped: false };
    let mut out = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => text.chars().for_each(|c| scanner.read(c)),
            Piece::Expr(range) => {
                out.push((range.clone(), scanner.place()));
                // The value is part of the word it stands in.
                scanner.in_word = true;
                scanner.word.push('\u{0}');
            }
        }
    }
    out
}

struct Scanner {
    state: State,
    /// Whether a word has begun (so a value here does not begin one).
    in_word: bool,
    comment: bool,
    backticks: bool,
    here_document: bool,
    /// Whether `--` or `--end-of-options` has been read as a word of this command.
    options_ended: bool,
    /// The bare word being read (to recognise `--`).
    word: String,
    /// Whether the last character was a backslash that escapes this one.
    escaped: bool,
}

impl Scanner {
    fn place(&self) -> Result<Place, Refusal> {
        if self.comment {
            return Err(Refusal::Comment);
        }
        if self.backticks {
            return Err(Refusal::Backticks);
        }
        if self.here_document {
            return Err(Refusal::HereDocument);
        }
        let quoting = match self.state {
            State::Bare => ShellQuoting::Word,
            State::Single => ShellQuoting::SingleQuoted,
            State::Double => ShellQuoting::DoubleQuoted,
        };
        // A quote that opened this word is where the value begins it.
        let begins_word = !self.in_word || (self.state != State::Bare && matches!(self.word.as_str(), "\"" | "'"));
        Ok(Place { quoting, option_risk: begins_word && !self.options_ended })
    }

    fn end_word(&mut self) {
        if matches!(self.word.as_str(), "--" | "--end-of-options") {
            self.options_ended = true;
        }
        self.word.clear();
        self.in_word = false;
    }

    fn read(&mut self, c: char) {
        if self.comment {
            if c == '\n' {
                self.comment = false;
                self.end_word();
                self.options_ended = false;
            }
            return;
        }
        if self.escaped {
            self.escaped = false;
            self.in_word = true;
            self.word.push(c);
            return;
        }
        match (self.state, c) {
            (State::Bare | State::Double, '\\') => self.escaped = true,
            (State::Single, '\'') => self.state = State::Bare,
            (State::Single, _) => {}
            (State::Double, '"') => self.state = State::Bare,
            (State::Double, '`') | (State::Bare, '`') => self.backticks = !self.backticks,
            (State::Double, _) => {}
            (State::Bare, '\'') => self.state = State::Single,
            (State::Bare, '"') => self.state = State::Double,
            (State::Bare, '#') if !self.in_word => self.comment = true,
            (State::Bare, ' ' | '\t') => {
                self.end_word();
                return;
            }
            // A new command: options may start again.
            (State::Bare, '\n' | ';' | '|' | '&' | '(' | ')') => {
                self.end_word();
                self.options_ended = false;
                return;
            }
            (State::Bare, '<') if self.word.ends_with('<') => self.here_document = true,
            (State::Bare, _) => {}
        }
        self.in_word = true;
        self.word.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::template::scan;

    fn placed(command: &str) -> Vec<Result<(ShellQuoting, bool), Refusal>> {
        places(&scan(command).expect("scans")).into_iter().map(|(_, p)| p.map(|p| (p.quoting, p.option_risk))).collect()
    }

    #[test]
    fn each_value_is_quoted_for_where_it_stands() {
        use ShellQuoting::*;
        assert_eq!(placed("echo {{ a }}"), [Ok((Word, true))]);
        assert_eq!(placed("echo \"hello {{ a }}\""), [Ok((DoubleQuoted, false))]);
        assert_eq!(placed("echo \"{{ a }}\""), [Ok((DoubleQuoted, true))]);
        assert_eq!(placed("echo 'it is {{ a }}'"), [Ok((SingleQuoted, false))]);
        assert_eq!(placed("echo x{{ a }}"), [Ok((Word, false))]);
        assert_eq!(placed("echo $(cat {{ a }})"), [Ok((Word, true))]);
        assert_eq!(placed("echo \"it's {{ a }}\" '\"{{ b }}'"), [Ok((DoubleQuoted, false)), Ok((SingleQuoted, false))]);
    }

    #[test]
    fn options_end_at_a_double_dash_for_one_command() {
        assert_eq!(placed("git diff -- {{ a }}")[0], Ok((ShellQuoting::Word, false)));
        assert_eq!(placed("git diff --end-of-options {{ a }}...HEAD")[0], Ok((ShellQuoting::Word, false)));
        assert_eq!(placed("cargo x --manifest-path={{ a }}")[0], Ok((ShellQuoting::Word, false)));
        assert_eq!(placed("rm -- x; ls {{ a }}")[0], Ok((ShellQuoting::Word, true)));
    }

    #[test]
    fn unsafe_places_are_refused() {
        assert_eq!(placed("true # {{ a }}"), [Err(Refusal::Comment)]);
        assert_eq!(placed("echo `cat {{ a }}`"), [Err(Refusal::Backticks)]);
        assert_eq!(placed("cat <<EOF\n{{ a }}\nEOF"), [Err(Refusal::HereDocument)]);
        assert_eq!(placed("echo a#{{ b }}"), [Ok((ShellQuoting::Word, false))], "# inside a word is no comment");
        assert_eq!(placed("echo \\\"{{ b }}"), [Ok((ShellQuoting::Word, false))], "an escaped quote opens nothing");
    }
}
