//! `{{ expr }}` templates: a scanner that knows JavaScript strings and braces, so
//! `{{ ok ? {"a": 1} : {} }}` is one template, and `\{{` writes literal braces.

use std::ops::Range;

/// A piece of a template string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Literal text (with `\{{` already turned into `{{`).
    Text(String),
    /// The expression inside `{{ }}`, as a byte range of the template string.
    Expr(Range<usize>),
}

/// A `{{` whose `}}` never comes, at this byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unterminated(pub usize);

/// Splits `text` into literal text and expressions.
pub fn scan(text: &str) -> Result<Vec<Piece>, Unterminated> {
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    let mut literal_start = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"\\{{") {
            literal.push_str(&text[literal_start..i]);
            literal.push_str("{{");
            i += 3;
            literal_start = i;
            continue;
        }
        if bytes[i..].starts_with(b"{{") {
            literal.push_str(&text[literal_start..i]);
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            let start = i + 2;
            let end = find_close(text, start).ok_or(Unterminated(i))?;
            pieces.push(Piece::Expr(start..end));
            i = end + 2;
            literal_start = i;
            continue;
        }
        i += 1;
    }
    literal.push_str(&text[literal_start..]);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

/// The offset of the `}}` that closes an expression starting at `start`: outside strings,
/// template literals and regular expressions, and with every `{` of the expression closed.
fn find_close(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b'}' if bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// If `text` is exactly one template (`"{{ x }}"`, surrounding white space allowed), the range of
/// its expression: such a string keeps the value's type instead of becoming text.
pub fn whole_expression(text: &str) -> Option<Range<usize>> {
    let trimmed_start = text.len() - text.trim_start().len();
    let pieces = scan(text.trim()).ok()?;
    match pieces.as_slice() {
        [Piece::Expr(range)] => Some(range.start + trimmed_start..range.end + trimmed_start),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exprs(text: &str) -> Vec<&str> {
        scan(text)
            .expect("terminated")
            .into_iter()
            .filter_map(|p| match p {
                Piece::Expr(r) => Some(&text[r]),
                Piece::Text(_) => None,
            })
            .collect()
    }

    #[test]
    fn braces_and_strings_inside_templates() {
        assert_eq!(exprs(r#"{{ ok ? {"a": 1} : {} }}"#), [r#" ok ? {"a": 1} : {} "#]);
        assert_eq!(exprs("a {{ '}}' + x }} b {{y}}"), [" '}}' + x ", "y"]);
        assert_eq!(exprs("{{ `${a}}` }}"), [" `${a}}` "]);
    }

    #[test]
    fn escaped_braces_and_unterminated_templates() {
        assert_eq!(scan(r"\{{ not }} {{x}}").expect("ok")[0], Piece::Text("{{ not }} ".into()));
        assert_eq!(scan("a {{ b"), Err(Unterminated(2)));
    }

    #[test]
    fn whole_templates_keep_their_type() {
        assert_eq!(whole_expression("  {{ this.files }} "), Some(4..16));
        assert_eq!(whole_expression("{{ a }} and {{ b }}"), None);
        assert_eq!(whole_expression("plain"), None);
    }
}
