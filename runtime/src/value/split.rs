//! `String.prototype.split`: the method, and the pieces of a text found one at a time as
//! slices of it, which generated code walks and indexes without making a value of each piece
//! (`input.split('\n').filter(…)`, `const parts = line.split(/\s+/); parts[0]`).

use std::ops::Range;
use std::sync::Arc;

use super::{EvalError, RegExp, Value, from_units, number, units};

/// `s.split(separator, limit)`.
pub(super) fn split(s: &str, separator: &Value, limit: &Value) -> Result<Value, EvalError> {
    let limit = match limit {
        Value::Undefined => usize::MAX,
        other => other.to_number().max(0.0).min(u32::MAX as f64) as usize,
    };
    let parts: Vec<Value> = match Pieces::new(s, separator)? {
        Some(pieces) => pieces.take(limit).map(Value::string).collect(),
        None => {
            let mut parts = match separator {
                Value::RegExp(re) => split_with_groups(s, re)?,
                // The empty text: one part per UTF-16 unit (a lone surrogate half is no slice).
                _ => units(s).iter().map(|u| from_units(&[*u])).collect(),
            };
            parts.truncate(limit);
            parts
        }
    };
    super::budget::charge_items(parts.len())?;
    Ok(Value::array(parts))
}

/// The pieces of `text.split(separator)`, for generated code: `text` is the receiver's string
/// (see [`receiver_text`]), `separator` one that cuts slices (a non-empty text, a regex
/// without groups). The code generator only passes such separators; any other is reported,
/// not guessed at.
pub fn text_pieces<'a>(text: &'a str, separator: &Value) -> Result<Pieces<'a>, EvalError> {
    Pieces::new(text, separator)?.ok_or_else(|| EvalError::type_error(format!("split: {} does not cut text into slices", separator.to_js_string())))
}

/// The first `N` pieces of `text.split(separator)` (`None` past the last), for a list of
/// pieces read only at constant indices below `N`: the rest of the text is not even cut.
pub fn first_pieces<'a, const N: usize>(text: &'a str, separator: &Value) -> Result<[Option<&'a str>; N], EvalError> {
    let mut pieces = text_pieces(text, separator)?;
    Ok(std::array::from_fn(|_| pieces.next()))
}

/// The string a string method is called on: `receiver`'s text, or the error calling `method`
/// on anything else throws.
pub fn receiver_text<'a>(receiver: &'a Value, method: &str) -> Result<&'a str, EvalError> {
    match receiver {
        Value::String(text) => Ok(text),
        other => Err(EvalError::missing_method(other, method)),
    }
}

/// The pieces of a text split at a separator that cuts slices of it, found one at a time.
pub struct Pieces<'a> {
    text: &'a str,
    /// Where the next piece starts; `None` once the last one was given.
    start: Option<usize>,
    cutter: Cutter,
}

/// Where a text is cut.
enum Cutter {
    /// Nowhere: no separator (`split()`) leaves the text whole.
    Nowhere,
    /// At runs of JavaScript white space: `/\s+/`, the usual way to split words, without
    /// running the regex engine (JavaScript's `\s` is exactly its white space).
    WhiteSpace,
    /// At each occurrence of one ASCII byte (`'/'`, `'\n'`, `','`: the usual separators).
    Byte(u8),
    /// At each occurrence of a longer text.
    Text(Arc<str>),
    /// At a regex's matches, found beforehand.
    Matches(std::vec::IntoIter<Range<usize>>),
}

impl<'a> Pieces<'a> {
    /// The pieces, if they all are slices of `text`: a separator that is no text or regex
    /// (`undefined`: the whole text), a non-empty text (or a value taken as its text), or a
    /// regex without capture groups. `None` for the empty text (which splits into UTF-16
    /// units) and for a regex with groups (whose captures join the pieces).
    fn new(text: &'a str, separator: &Value) -> Result<Option<Pieces<'a>>, EvalError> {
        let cutter = match separator {
            Value::Undefined => Cutter::Nowhere,
            Value::RegExp(re) if re.white_space_runs() => Cutter::WhiteSpace,
            Value::RegExp(re) => {
                let Some(matches) = re.match_ranges(text)? else { return Ok(None) };
                // An empty text is no text to cut: its one piece is dropped if the regex
                // matches it.
                if text.is_empty() && !matches.is_empty() {
                    return Ok(Some(Pieces { text, start: None, cutter: Cutter::Nowhere }));
                }
                let mut cuts = Cuts::in_text(text);
                let kept: Vec<Range<usize>> = matches.into_iter().filter(|whole| cuts.keep(whole)).collect();
                Cutter::Matches(kept.into_iter())
            }
            Value::String(separator) if separator.is_empty() => return Ok(None),
            Value::String(separator) => Cutter::at_text(Arc::clone(separator)),
            other => match other.to_js_string() {
                separator if separator.is_empty() => return Ok(None),
                separator => Cutter::at_text(separator.into()),
            },
        };
        Ok(Some(Pieces { text, start: Some(0), cutter }))
    }
}

/// How many bytes a one-byte cut is looked for in plainly before memchr is called.
const NEAR: usize = 8;

impl Cutter {
    /// A cutter at a non-empty text. An ASCII byte never falls inside a multi-byte
    /// character, so every cut at one is a character boundary.
    fn at_text(separator: Arc<str>) -> Cutter {
        match separator.as_bytes() {
            [byte] if byte.is_ascii() => Cutter::Byte(*byte),
            _ => Cutter::Text(separator),
        }
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let start = self.start?;
        let cut = match &mut self.cutter {
            Cutter::Nowhere => None,
            Cutter::WhiteSpace => white_space_run(self.text, start),
            Cutter::Byte(byte) => {
                // A cut is often near (a path's next '/'): the first bytes are scanned plainly,
                // which costs less than memchr's set-up; beyond them memchr's SIMD search takes
                // over (command output cut into lines).
                let rest = &self.text.as_bytes()[start..];
                let near = rest[..rest.len().min(NEAR)].iter().position(|b| b == byte);
                let found = near.or_else(|| memchr::memchr(*byte, rest.get(NEAR..)?).map(|at| NEAR + at));
                found.map(|at| start + at..start + at + 1)
            }
            Cutter::Text(separator) => self.text[start..].find(&**separator).map(|at| start + at..start + at + separator.len()),
            Cutter::Matches(matches) => matches.next(),
        };
        Some(match cut {
            Some(cut) => {
                self.start = Some(cut.end);
                &self.text[start..cut.start]
            }
            None => {
                self.start = None;
                &self.text[start..]
            }
        })
    }
}

/// Which of a regex's matches, in order, `split` cuts a text at: JavaScript tries a match at
/// each position before the end, and one that ends where the last piece ended (an empty match
/// there) cuts nothing.
struct Cuts {
    /// Where the last piece ended.
    last: usize,
    len: usize,
}

impl Cuts {
    fn in_text(text: &str) -> Cuts {
        Cuts { last: 0, len: text.len() }
    }

    /// Whether the next match, `whole`, cuts.
    fn keep(&mut self, whole: &Range<usize>) -> bool {
        let cuts = whole.start < self.len && whole.end != self.last;
        if cuts {
            self.last = whole.end;
        }
        cuts
    }
}

/// `s.split(re)` for a regex with capture groups: each match's groups join the pieces.
fn split_with_groups(s: &str, re: &RegExp) -> Result<Vec<Value>, EvalError> {
    let matches = re.matches(s, true)?;
    if s.is_empty() {
        return Ok(if matches.is_empty() { vec![Value::string(s)] } else { Vec::new() });
    }
    let mut cuts = Cuts::in_text(s);
    let mut parts = Vec::new();
    let mut last = 0;
    for groups in &matches {
        let Some(whole) = groups[0].clone() else { continue };
        if !cuts.keep(&whole) {
            continue;
        }
        parts.push(Value::string(&s[last..whole.start]));
        parts.extend(groups[1..].iter().map(|g| g.clone().map_or(Value::Undefined, |r| Value::string(&s[r]))));
        last = whole.end;
    }
    parts.push(Value::string(&s[last..]));
    Ok(parts)
}

/// The next run of JavaScript white space in `s` at or after byte `from`. Bytes that cannot
/// start white space (ASCII letters, digits, punctuation, UTF-8 continuation bytes: `!` to
/// `0xbf`, one comparison) are skipped in one tight scan; only ASCII control characters and
/// space and the lead bytes of multi-byte characters are looked at closely.
fn white_space_run(s: &str, from: usize) -> Option<Range<usize>> {
    let bytes = s.as_bytes();
    let may_start_white_space = |b: u8| !(b'!'..0xc0).contains(&b);
    let mut at = from;
    while let Some(skip) = bytes[at..].iter().position(|&b| may_start_white_space(b)) {
        at += skip;
        let mut end = at;
        while end < s.len() {
            match white_space_at(s, end) {
                0 => break,
                width => end += width,
            }
        }
        if end > at {
            return Some(at..end);
        }
        at += 1;
    }
    None
}

/// The length in bytes of the white space character at byte `at` of `s`, or 0 if there is
/// none (another character, or the middle of one).
fn white_space_at(s: &str, at: usize) -> usize {
    match s.as_bytes()[at] {
        b if is_ascii_white_space(b) => 1,
        0..0xc0 => 0,
        _ => s[at..].chars().next().filter(|c| number::is_js_whitespace(*c)).map_or(0, char::len_utf8),
    }
}

/// JavaScript's white space among ASCII bytes: tab, line feed, vertical tab, form feed,
/// carriage return, space.
fn is_ascii_white_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regex(source: &str) -> Value {
        Value::RegExp(Arc::new(RegExp::new(source, "").expect("re")))
    }

    #[test]
    fn splitting_at_text_cuts_short_and_long_texts_alike() {
        let long = "ab/é/".repeat(100);
        for text in ["", "/", "a//b/", "é/😀/x", long.as_str()] {
            for separator in ["/", "é/", "//"] {
                let expected: Vec<&str> = text.split(separator).collect();
                assert_eq!(text_pieces(text, &Value::string(separator)).expect("slicing").collect::<Vec<_>>(), expected, "{text}");
            }
        }
    }

    #[test]
    fn splitting_at_white_space_keeps_the_outer_empty_parts_as_the_regex_does() {
        fn words(text: &str) -> Vec<&str> {
            text_pieces(text, &regex("\\s+")).expect("slicing").collect()
        }
        assert_eq!(words(" a \t b "), ["", "a", "b", ""]);
        assert_eq!(words(""), [""]);
        assert_eq!(words("  "), ["", ""]);
        assert_eq!(words("é\u{3000}b\u{feff}c"), ["é", "b", "c"]);
        // NEL is white space to Rust, not to JavaScript.
        assert_eq!(words("a\u{85}b"), ["a\u{85}b"]);
        // Other control characters are looked at, and are not white space.
        assert_eq!(words("a\u{1}b\u{1f} c"), ["a\u{1}b\u{1f}", "c"]);
    }

    #[test]
    fn first_pieces_stop_at_the_last_piece() {
        let [a, b, c] = first_pieces::<3>("x y", &regex("\\s+")).expect("slicing");
        assert_eq!((a, b, c), (Some("x"), Some("y"), None));
        assert!(text_pieces("a(b", &regex("(\\()")).is_err(), "a group's capture is no slice");
        assert!(receiver_text(&Value::Number(1.0), "split").is_err());
    }
}
