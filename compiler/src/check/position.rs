//! Where a byte of a scalar's value stands in the YAML source. Quotes, escapes (`\"`, `\n`,
//! `\u00e9`), block-scalar headers and indentation make the two differ; diagnostics inside
//! expressions must still point at the right line and column.

/// For each byte offset `0..=value.len()` of `value`, the byte offset in `written` (the
/// scalar's source text) where it stands; `None` if the two cannot be aligned.
pub(crate) fn value_offsets(written: &str, value: &str) -> Option<Vec<usize>> {
    if written == value {
        return Some((0..=value.len()).collect());
    }
    let double_quoted = written.starts_with('"');
    let mut i = match written.as_bytes().first() {
        Some(b'"' | b'\'') => 1,
        // A block scalar's content starts on the line after its `|`/`>` header.
        Some(b'|' | b'>') => written.find('\n').map_or(written.len(), |n| n + 1),
        _ => 0,
    };
    let mut offsets = Vec::with_capacity(value.len() + 1);
    for c in value.chars() {
        loop {
            let rest = written.get(i..)?;
            if rest.is_empty() {
                return None;
            }
            if rest.starts_with(c) {
                offsets.extend(std::iter::repeat_n(i, c.len_utf8()));
                i += c.len_utf8();
                break;
            }
            if double_quoted && rest.starts_with('\\') {
                let width = match rest.as_bytes().get(1) {
                    Some(b'x') => 4,
                    Some(b'u') => 6,
                    Some(b'U') => 10,
                    Some(b'\n') => {
                        // An escaped line break joins lines; it stands for no character.
                        i += 2;
                        continue;
                    }
                    _ => 2,
                };
                offsets.extend(std::iter::repeat_n(i, c.len_utf8()));
                i += width.min(rest.len());
                break;
            }
            // Indentation, line folding, quote doubling: source text with no value byte.
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    offsets.push(i);
    Some(offsets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(written: &str, value: &str, needle: &str) -> String {
        let at = value.find(needle).expect("needle in value");
        let offsets = value_offsets(written, value).expect("aligned");
        written[offsets[at]..offsets[at + needle.len()]].to_owned()
    }

    #[test]
    fn plain_and_quoted_scalars() {
        assert_eq!(find("a + thsi.b", "a + thsi.b", "thsi"), "thsi");
        assert_eq!(find("\"{{ thsi.x }}\"", "{{ thsi.x }}", "thsi"), "thsi");
        assert_eq!(find("'it''s thsi'", "it's thsi", "thsi"), "thsi");
    }

    #[test]
    fn escapes_in_double_quoted_scalars() {
        let written = r#""{{ ok ? {\"a\": 1} : thsi.b }}""#;
        let value = r#"{{ ok ? {"a": 1} : thsi.b }}"#;
        assert_eq!(find(written, value, "thsi"), "thsi");
        assert_eq!(find(r#""\u00e9 thsi""#, "é thsi", "thsi"), "thsi");
    }

    #[test]
    fn block_scalars() {
        let written = "|\n    input.split('\\n')\n      .filter(x => thsi)\n";
        let value = "input.split('\\n')\n  .filter(x => thsi)\n";
        assert_eq!(find(written, value, "thsi"), "thsi");
    }
}
