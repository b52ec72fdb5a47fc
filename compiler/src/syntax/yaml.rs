//! YAML text to a spanned [`Node`] tree, under input budgets so that no file (a 50 MB blob,
//! an alias bomb, ten thousand levels of nesting) can make the compiler hang, exhaust memory or
//! overflow its stack. Every breach is a diagnostic naming the limit.
//!
//! The tree is built from the events of granit-parser, the YAML parser serde-saphyr is made on
//! (and re-exports). Going through serde-saphyr's serde layer would cost about two and a half
//! times the parse itself per file, and `wfc check` of a catalog is meant to be instant. Plain
//! scalars are resolved by the YAML 1.2 core schema, as serde-saphyr resolves them.
#![allow(clippy::result_large_err, reason = "the error is the one diagnostic that stops loading a file, built at most once per file")]

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, ScanError};

use super::diagnostics as diag;
use super::node::{Node, NodeValue};
use crate::diagnostic::Diagnostic;
use crate::span::{Span, Spanned};

/// Largest workflow file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting of mappings and sequences accepted. Each nested step costs two levels, so
/// this allows about fifteen levels of steps inside steps, far more than a readable workflow
/// has. The bound keeps every recursive walk of the tree (serde, the shape check, dropping it)
/// well within a 2 MiB thread stack, even in debug builds.
pub const MAX_DEPTH: usize = 32;
/// Most YAML nodes accepted in one file, counting every copy an alias makes.
pub const MAX_NODES: usize = 250_000;
/// Most alias uses (`*name`) accepted in one file.
pub const MAX_ALIASES: usize = 1_000;

/// Reads the single YAML document in `text`; `None` if the text holds no document.
pub(crate) fn load(text: &str) -> Result<Option<Node>, Diagnostic> {
    let mut loader = Loader { stack: Vec::new(), anchors: HashMap::new(), nodes: 0, aliases: 0, documents: 0, root: None };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|error| scan_error(text, &error))?;
        let span = Span::new(offset(text, &span.start), offset(text, &span.end));
        loader.event(event, span)?;
    }
    Ok(loader.root)
}

fn offset(text: &str, marker: &serde_saphyr::granit_parser::Marker) -> u32 {
    let bytes = marker.byte_offset().unwrap_or_else(|| text.char_indices().nth(marker.index()).map_or(text.len(), |(i, _)| i));
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

fn scan_error(text: &str, error: &ScanError) -> Diagnostic {
    let at = Span::point(offset(text, error.marker()));
    let message = error.info();
    if message.contains("recursion limit") {
        diag::input_limit(at, &format!("nesting deeper than the parser's limit ({message})"))
    } else {
        diag::yaml_syntax(at, &message)
    }
}

/// A collection being read, with what has been read of it so far.
enum Open {
    Seq { items: Vec<Node>, start: u32, anchor: usize },
    Map { entries: Vec<(Spanned<String>, Node)>, key: Option<Spanned<String>>, start: u32, anchor: usize },
}

struct Loader {
    stack: Vec<Open>,
    /// Anchored nodes and how many nodes each contains (an alias costs that many).
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    aliases: usize,
    documents: usize,
    root: Option<Node>,
}

impl Loader {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Diagnostic> {
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(diag::input_limit(span, "more than one YAML document (`---`) in the file"));
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                self.count(1, span)?;
                let forced_string = tag.as_ref().is_some_and(|t| t.is_yaml_core_schema_tag("str"));
                let value = if style == ScalarStyle::Plain && !forced_string { resolve_plain(&value) } else { NodeValue::String(value.into_owned()) };
                self.finish(Node { value, span }, anchor, 1)?;
            }
            Event::SequenceStart(_, anchor, _) => self.open(Open::Seq { items: Vec::new(), start: span.start, anchor }, span)?,
            Event::MappingStart(_, anchor, _) => {
                self.open(Open::Map { entries: Vec::new(), key: None, start: span.start, anchor }, span)?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = self.stack.pop() else { return Err(diag::yaml_syntax(span, "unbalanced collection end")) };
                let (value, start, anchor) = match open {
                    Open::Seq { items, start, anchor } => (NodeValue::Seq(items), start, anchor),
                    Open::Map { entries, start, anchor, .. } => (NodeValue::Map(merge_keys(entries)), start, anchor),
                };
                let node = Node { value, span: Span::new(start, span.end.max(start)) };
                let size = if anchor == 0 { 0 } else { node_count(&node) };
                self.finish(node, anchor, size)?;
            }
            Event::Alias(id) => {
                self.aliases += 1;
                if self.aliases > MAX_ALIASES {
                    return Err(diag::input_limit(span, &format!("more than {MAX_ALIASES} alias uses")));
                }
                let Some((node, size)) = self.anchors.get(&id) else {
                    return Err(diag::yaml_syntax(span, "an alias refers to an anchor that is not defined before it"));
                };
                let (mut node, size) = (node.clone(), *size);
                self.count(size, span)?;
                node.span = span;
                self.finish(node, 0, size)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn count(&mut self, nodes: usize, span: Span) -> Result<(), Diagnostic> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES {
            return Err(diag::input_limit(span, &format!("more than {MAX_NODES} YAML nodes (aliases count as often as they are used)")));
        }
        Ok(())
    }

    fn open(&mut self, open: Open, span: Span) -> Result<(), Diagnostic> {
        self.count(1, span)?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(diag::input_limit(span, &format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.stack.push(open);
        Ok(())
    }

    /// Places a completed node: as the document, a sequence item, a mapping key or a value.
    fn finish(&mut self, node: Node, anchor: usize, size: usize) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size.max(1)));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(map_key(node)?),
                Some(name) => {
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.value == name.value) {
                        return Err(diag::duplicate_key(name.span, &name.value, first.span));
                    }
                    entries.push((name, node));
                }
            },
        }
        Ok(())
    }
}

/// Mapping keys are scalars, kept as the text they denote.
fn map_key(node: Node) -> Result<Spanned<String>, Diagnostic> {
    let text = match node.value {
        NodeValue::String(s) => s,
        NodeValue::Null => "null".to_owned(),
        NodeValue::Bool(b) => b.to_string(),
        NodeValue::Integer(i) => i.to_string(),
        NodeValue::Float(f) => f.to_string(),
        NodeValue::Seq(_) | NodeValue::Map(_) => {
            return Err(diag::yaml_syntax(node.span, "a mapping key must be a scalar, not a sequence or mapping"));
        }
    };
    Ok(Spanned::new(text, node.span))
}

/// Applies YAML merge keys: `<<: *base` (or a list of them) adds the entries of the merged
/// mappings that the mapping does not set itself.
fn merge_keys(entries: Vec<(Spanned<String>, Node)>) -> Vec<(Spanned<String>, Node)> {
    if !entries.iter().any(|(k, _)| k.value == "<<") {
        return entries;
    }
    let (merges, mut own): (Vec<_>, Vec<_>) = entries.into_iter().partition(|(k, v)| {
        k.value == "<<" && matches!(&v.value, NodeValue::Map(_) | NodeValue::Seq(_))
    });
    for (_, merged) in merges {
        let sources = match merged.value {
            NodeValue::Seq(items) => items,
            other => vec![Node { value: other, span: merged.span }],
        };
        for source in sources {
            if let NodeValue::Map(source_entries) = source.value {
                for (key, value) in source_entries {
                    if !own.iter().any(|(k, _)| k.value == key.value) {
                        own.push((key, value));
                    }
                }
            }
        }
    }
    own
}

fn node_count(node: &Node) -> usize {
    1 + match &node.value {
        NodeValue::Seq(items) => items.iter().map(node_count).sum(),
        NodeValue::Map(entries) => entries.iter().map(|(_, v)| 1 + node_count(v)).sum(),
        _ => 0,
    }
}

/// The YAML 1.2 core schema's reading of a plain scalar: null, a boolean, an integer
/// (decimal, `0o` octal, `0x` hex), a float (with `.inf` and `.nan`), or else a string.
fn resolve_plain(text: &str) -> NodeValue {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeValue::Null,
        "true" | "True" | "TRUE" => return NodeValue::Bool(true),
        "false" | "False" | "FALSE" => return NodeValue::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return NodeValue::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return NodeValue::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return NodeValue::Float(f64::NAN),
        _ => {}
    }
    let integer = |digits: &str, radix: u32| {
        (!digits.is_empty() && digits.chars().all(|c| c.is_digit(radix))).then(|| {
            i64::from_str_radix(digits, radix).map_or_else(|_| NodeValue::Float(u64::from_str_radix(digits, radix).map_or(f64::INFINITY, |v| v as f64)), NodeValue::Integer)
        })
    };
    if let Some(hex) = text.strip_prefix("0x") {
        return integer(hex, 16).unwrap_or_else(|| NodeValue::String(text.to_owned()));
    }
    if let Some(octal) = text.strip_prefix("0o") {
        return integer(octal, 8).unwrap_or_else(|| NodeValue::String(text.to_owned()));
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().map_or_else(|_| NodeValue::Float(text.parse().unwrap_or(f64::NAN)), NodeValue::Integer);
    }
    if is_core_float(unsigned)
        && let Ok(value) = text.parse::<f64>()
    {
        return NodeValue::Float(value);
    }
    NodeValue::String(text.to_owned())
}

/// A YAML 1.2 core-schema float: a decimal literal (the same grammar as JavaScript's) that has
/// a fraction or an exponent; plain digits are integers.
fn is_core_float(text: &str) -> bool {
    wfc_runtime::value::number::is_decimal_literal(text) && (text.contains('.') || text.contains(['e', 'E']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> NodeValue {
        load(text).expect("loads").expect("a document").value
    }

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        assert_eq!(resolve_plain("~"), NodeValue::Null);
        assert_eq!(resolve_plain("True"), NodeValue::Bool(true));
        assert_eq!(resolve_plain("yes"), NodeValue::String("yes".into()));
        assert_eq!(resolve_plain("-12"), NodeValue::Integer(-12));
        assert_eq!(resolve_plain("0x1F"), NodeValue::Integer(31));
        assert_eq!(resolve_plain("0o17"), NodeValue::Integer(15));
        assert_eq!(resolve_plain("1.5e3"), NodeValue::Float(1500.0));
        assert_eq!(resolve_plain(".5"), NodeValue::Float(0.5));
        assert_eq!(resolve_plain("1.0.0"), NodeValue::String("1.0.0".into()));
        assert_eq!(resolve_plain("1e"), NodeValue::String("1e".into()));
        assert_eq!(resolve_plain("99999999999999999999"), NodeValue::Float(1e20));
    }

    #[test]
    fn quoted_scalars_stay_strings_and_spans_are_byte_ranges() {
        let node = load("a: \"1\"\nb: é\n").expect("loads").expect("document");
        let entries = node.as_map().expect("a mapping");
        assert_eq!(entries[0].1.value, NodeValue::String("1".into()));
        assert_eq!(entries[1].0.span, Span::new(7, 8));
        assert_eq!(entries[1].1.span, Span::new(10, 12));
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let node = load("base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\n").expect("loads").expect("document");
        let merged = node.get("use").expect("use");
        assert_eq!(merged.get("x").map(|n| &n.value), Some(&NodeValue::Integer(1)));
        assert_eq!(merged.get("y").map(|n| &n.value), Some(&NodeValue::Integer(3)));
    }

    #[test]
    fn limits_and_errors_are_diagnostics() {
        assert!(load("a: 1\na: 2\n").is_err());
        assert!(load("a: 1\n---\nb: 2\n").is_err());
        assert!(load(&format!("{}{}", "[".repeat(40), "]".repeat(40))).is_err());
        assert!(load("a: *nothing\n").is_err());
        assert_eq!(load("# only a comment\n").expect("loads"), None);
        assert_eq!(value("[1, two]"), NodeValue::Seq(vec![Node::detached(NodeValue::Integer(1)), Node::detached(NodeValue::String("two".into()))]));
    }
}
