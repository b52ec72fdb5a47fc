//! The nesting limit, checked on the text before anything recursive sees it.
//!
//! The parser, the lowering, the checks, the interpreter and the generated code all recurse
//! over an expression's tree, so its depth must be bounded before the parser runs: 1,500
//! nested `[`, 5,000 `!` or a chain of 20,000 `+` would otherwise overflow a thread's stack and
//! take the whole server down with it. This scan walks the tokens once, without recursion, and
//! bounds the depth of any tree the text can parse into: every bracket opens a level, and within
//! a level every operator, `.`, keyword operator and closed bracket group (`f()()`, `a[0][1]`)
//! can add one more, until a `,` or `;` starts a sibling. The bound is loose for long flat
//! chains (`a + b + c` counts as three), which is what a limit on a workflow's expressions
//! should be: no readable expression comes near it.

use std::ops::Range;

/// The deepest nesting an expression may have, counted as [`check`] counts it.
pub const MAX_NESTING: usize = 64;

/// Where the text first nests deeper than [`MAX_NESTING`].
#[derive(Debug, PartialEq)]
pub(crate) struct TooDeep(pub(crate) Range<usize>);

/// Checks that `text` nests at most [`MAX_NESTING`] levels deep.
pub(crate) fn check(text: &str) -> Result<(), TooDeep> {
    let bytes = text.as_bytes();
    // One entry per open bracket (the level outside any bracket first): how much the level
    // has added so far, and whether it is a `${` inside a template literal.
    let mut levels: Vec<(usize, bool)> = vec![(0, false)];
    let mut depth = 0; // the sum of what the open levels add, plus one per bracket
    let mut at = 0;
    let grow = |levels: &mut Vec<(usize, bool)>, depth: &mut usize, at: usize, by: usize| -> Result<(), TooDeep> {
        if let Some(level) = levels.last_mut() {
            level.0 += by;
        }
        *depth += by;
        if *depth > MAX_NESTING { Err(TooDeep(at..at + 1)) } else { Ok(()) }
    };
    while at < bytes.len() {
        let byte = bytes[at];
        match byte {
            b'\'' | b'"' => at = skip_string(bytes, at, byte),
            b'`' => {
                match skip_template(bytes, at + 1) {
                    TemplateEnd::Closed(end) => at = end,
                    TemplateEnd::Substitution(open) => {
                        depth += 1;
                        levels.push((0, true));
                        if depth > MAX_NESTING {
                            return Err(TooDeep(open..open + 2));
                        }
                        at = open + 2;
                    }
                }
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                levels.push((0, false));
                if depth > MAX_NESTING {
                    return Err(TooDeep(at..at + 1));
                }
            }
            b')' | b']' | b'}' => {
                if levels.len() > 1 {
                    let (added, in_template) = levels.pop().expect("more than one level");
                    depth -= added + 1;
                    if in_template && byte == b'}' {
                        // Back inside the template literal: skip to its end or next `${`.
                        match skip_template(bytes, at + 1) {
                            TemplateEnd::Closed(end) => at = end,
                            TemplateEnd::Substitution(open) => {
                                depth += 1;
                                levels.push((0, true));
                                at = open + 2;
                            }
                        }
                        continue;
                    }
                    // The closed group may be called or indexed again: `f()()`, `a[0][1]`.
                    grow(&mut levels, &mut depth, at, 1)?;
                }
            }
            b',' | b';' => {
                if let Some(level) = levels.last_mut() {
                    depth -= level.0;
                    level.0 = 0;
                }
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'$' => {
                let end = at + bytes[at..].iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$')).count();
                if matches!(&text[at..end], "typeof" | "void" | "delete" | "new" | "await" | "yield" | "in" | "instanceof" | "of" | "async") {
                    grow(&mut levels, &mut depth, at, 1)?;
                }
                at = end;
                continue;
            }
            // A run of operator characters is one operator (`!==`, `=>`, `&&`, `?.`), except
            // that prefix operators stack (`!!x`, `+-x`) and count each.
            _ if is_operator(byte) => {
                let stacks = matches!(byte, b'!' | b'~' | b'+' | b'-');
                if stacks || at == 0 || !is_operator(bytes[at - 1]) {
                    grow(&mut levels, &mut depth, at, 1)?;
                }
            }
            _ => {}
        }
        at += 1;
    }
    Ok(())
}

fn is_operator(byte: u8) -> bool {
    matches!(byte, b'+' | b'-' | b'*' | b'/' | b'%' | b'!' | b'~' | b'&' | b'|' | b'^' | b'<' | b'>' | b'=' | b'?' | b':' | b'.')
}

/// The index just past the string literal opened by `quote` at `start`.
fn skip_string(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut at = start + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b if b == quote => return at,
            _ => at += 1,
        }
    }
    at
}

enum TemplateEnd {
    /// The index just past the closing backtick.
    Closed(usize),
    /// The index of a `${`.
    Substitution(usize),
}

/// Scans template literal text from `at` to its closing backtick or its next `${`.
fn skip_template(bytes: &[u8], mut at: usize) -> TemplateEnd {
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'`' => return TemplateEnd::Closed(at + 1),
            b'$' if bytes.get(at + 1) == Some(&b'{') => return TemplateEnd::Substitution(at),
            _ => at += 1,
        }
    }
    TemplateEnd::Closed(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_expressions_pass() {
        for text in [
            "this.items.filter(x => x.done && !x.skipped).map(x => `${x.name}: ${x.size / 1024} KB`).join(', ')",
            "[1, 2, 3].reduce((a, b) => a + b, 0) > 3 ? 'big' : 'small'",
            "{ a: 1, b: [1, 2, { c: 'x)' }] }",
            "'(((((((' + \"[[[[[[\" + `{{{{`",
        ] {
            assert_eq!(check(text), Ok(()), "{text}");
        }
        let flat_list = format!("[{}]", vec!["a + 1"; 500].join(", "));
        assert_eq!(check(&flat_list), Ok(()), "siblings do not add up");
    }

    #[test]
    fn deep_text_is_refused_where_it_gets_too_deep() {
        let brackets = "[".repeat(1_500);
        assert_eq!(check(&brackets), Err(TooDeep(MAX_NESTING..MAX_NESTING + 1)));
        assert!(check(&"!".repeat(5_000)).is_err());
        assert!(check(&format!("1{}", "+1".repeat(20_000))).is_err());
        assert!(check(&format!("x{}", ".a".repeat(1_000))).is_err());
        assert!(check(&format!("f{}", "()".repeat(1_000))).is_err());
        assert!(check(&"a ? b : ".repeat(1_000)).is_err());
        assert!(check(&"typeof ".repeat(1_000)).is_err());
        assert!(check(&"`${".repeat(1_000)).is_err());
        assert!(check(&"x => ".repeat(1_000)).is_err());
    }

    #[test]
    fn the_limit_itself_is_allowed() {
        let at_limit = format!("{}1{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert_eq!(check(&at_limit), Ok(()));
        let past = format!("{}1{}", "(".repeat(MAX_NESTING + 1), ")".repeat(MAX_NESTING + 1));
        assert!(check(&past).is_err());
    }
}
