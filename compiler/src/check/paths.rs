//! State paths as written in `path`, `store_result`, `store_response` and computed `from`:
//! `this.results.lint`, `this.items[0]`, `global.files['a.ts']`, `this.results[{{ loop.item }}]`.

use super::model::PathSegment;

/// A path split into its root (`this`, `inputs`, …) and the segments below it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ParsedPath {
    pub(crate) root: String,
    pub(crate) segments: Vec<PathSegment>,
}

/// Splits `text` into segments, or says what is wrong with it.
pub(crate) fn parse_path(written: &str) -> Result<ParsedPath, String> {
    let text = written.trim();
    // Every piece below is a slice of `written`: its address says where it stands.
    let at = |piece: &str| piece.as_ptr() as usize - written.as_ptr() as usize;
    if text.is_empty() {
        return Err("the path is empty".to_owned());
    }
    let mut segments = Vec::new();
    let mut rest = text;
    let mut first = true;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let end = find_closing_bracket(after).ok_or("a `[` is never closed")?;
            let inner = after[..end].trim();
            segments.push(bracket_segment(inner, at(inner))?);
            rest = &after[end + 1..];
            continue;
        }
        if !first {
            rest = rest.strip_prefix('.').ok_or_else(|| format!("expected `.` or `[` before `{rest}`"))?;
        }
        first = false;
        let (segment, remainder) = take_field(rest);
        if segment.is_empty() {
            return Err("it has an empty segment (`..`, or a `.` at the start or end)".to_owned());
        }
        segments.push(if segment.contains("{{") {
            PathSegment::Dynamic { key: segment.to_owned(), at: at(segment) }
        } else {
            PathSegment::Field(segment.to_owned())
        });
        rest = remainder;
    }
    match segments.remove(0) {
        PathSegment::Field(root) => Ok(ParsedPath { root, segments }),
        _ => Err("it must start with a scope name such as `this`".to_owned()),
    }
}

/// A field name up to the next `.` or `[` that is not inside a `{{ }}` template.
fn take_field(text: &str) -> (&str, &str) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"{{") {
            i = text[i..].find("}}").map_or(bytes.len(), |end| i + end + 2);
            continue;
        }
        if bytes[i] == b'.' || bytes[i] == b'[' {
            break;
        }
        i += 1;
    }
    (&text[..i], &text[i..])
}

fn find_closing_bracket(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') if depth == 0 => return Some(i),
            (None, ']') => depth -= 1,
            _ => {}
        }
    }
    None
}

fn bracket_segment(inner: &str, at: usize) -> Result<PathSegment, String> {
    if inner.is_empty() {
        return Err("it has an empty `[]`".to_owned());
    }
    if let Ok(index) = inner.parse::<usize>() {
        return Ok(PathSegment::Index(index));
    }
    let quoted = inner.len() >= 2
        && ((inner.starts_with('\'') && inner.ends_with('\'')) || (inner.starts_with('"') && inner.ends_with('"')));
    if quoted && !inner[1..inner.len() - 1].contains(['\'', '"']) {
        return Ok(PathSegment::Field(inner[1..inner.len() - 1].to_owned()));
    }
    Ok(PathSegment::Dynamic { key: inner.to_owned(), at })
}

/// The first segment below the root, if it is a plain field name.
pub(crate) fn first_field(segments: &[PathSegment]) -> Option<&str> {
    match segments.first() {
        Some(PathSegment::Field(name)) => Some(name),
        _ => None,
    }
}

/// The segments after the first, as plain strings (dynamic parts are kept as written).
pub(crate) fn rest_as_strings(segments: &[PathSegment]) -> Vec<String> {
    segments
        .iter()
        .skip(1)
        .map(|s| match s {
            PathSegment::Field(f) | PathSegment::Dynamic { key: f, .. } => f.clone(),
            PathSegment::Index(i) => i.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use PathSegment::*;

    fn ok(text: &str) -> (String, Vec<PathSegment>) {
        let parsed = parse_path(text).expect(text);
        (parsed.root, parsed.segments)
    }

    #[test]
    fn splits_dots_and_brackets() {
        assert_eq!(ok("this.a.b"), ("this".into(), vec![Field("a".into()), Field("b".into())]));
        assert_eq!(ok("this.a[2]"), ("this".into(), vec![Field("a".into()), Index(2)]));
        assert_eq!(ok("global.f['a.ts']"), ("global".into(), vec![Field("f".into()), Field("a.ts".into())]));
        let key = |at| Dynamic { key: "{{ loop.item }}".into(), at };
        assert_eq!(ok("this.r[{{ loop.item }}]"), ("this".into(), vec![Field("r".into()), key(7)]));
        assert_eq!(ok(" this.r.{{ loop.item }}"), ("this".into(), vec![Field("r".into()), key(8)]));
        assert_eq!(ok("this.r[ {{ loop.item }} ]"), ("this".into(), vec![Field("r".into()), key(8)]));
        assert_eq!(ok("this"), ("this".into(), vec![]));
        assert_eq!(ok("this.é.ü"), ("this".into(), vec![Field("é".into()), Field("ü".into())]));
    }

    #[test]
    fn rejects_empty_segments_and_open_brackets() {
        for bad in ["", "this..a", "this.a.", ".a", "this.a[", "this.a[]"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }
}
