//! State writes: a path below a tier (`this.results[3].name`) and an operation (`set`,
//! `increment`, `decrement`, `multiply`, `append`, `merge`, `delete`), applied to a tier's
//! object. Intermediate objects are created as needed; array indices must exist (a write never
//! grows an array by index). A failed write leaves the object as it was.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::value::{Object, Value};

/// How a state write combines its value with the current one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Replace.
    Set,
    /// Add (default 1).
    Increment,
    /// Subtract (default 1).
    Decrement,
    /// Multiply.
    Multiply,
    /// Push onto an array, creating it if absent.
    Append,
    /// Shallow-merge an object into an object.
    Merge,
    /// Remove the field.
    Delete,
}

impl Operation {
    /// Whether a `value` must be written with this operation.
    pub fn needs_value(self) -> bool {
        !matches!(self, Operation::Increment | Operation::Decrement | Operation::Delete)
    }

    /// The name as written in a workflow.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Set => "set",
            Operation::Increment => "increment",
            Operation::Decrement => "decrement",
            Operation::Multiply => "multiply",
            Operation::Append => "append",
            Operation::Merge => "merge",
            Operation::Delete => "delete",
        }
    }
}

/// One step of a write path below its tier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A property name (shared with the machine's write path it comes from).
    Field(Arc<str>),
    /// An index into an existing array.
    Index(usize),
}

impl Segment {
    /// The segment for a computed key: an integer-valued number indexes, anything else names
    /// a property by its string form.
    pub fn from_value(key: &Value) -> Segment {
        match key {
            Value::Number(n) if *n >= 0.0 && n.fract() == 0.0 && *n < u32::MAX as f64 => Segment::Index(*n as usize),
            other => Segment::Field(other.to_js_string().into()),
        }
    }
}

/// Applies `operation` with `value` at `path` (non-empty) inside `root`.
pub fn apply(root: &mut Object, path: &[Segment], operation: Operation, value: Value) -> Result<(), String> {
    let (first, rest) = path.split_first().ok_or("the path names no field")?;
    let Segment::Field(name) = first else { return Err("a tier has fields, not indices".to_owned()) };
    if rest.is_empty() {
        let current = root.get(name).cloned().unwrap_or_default();
        match combine(current, operation, value)? {
            Some(new) => root.insert(Arc::clone(name), new),
            None => drop(root.remove(name)),
        }
        return Ok(());
    }
    let mut child = match root.get(name) {
        Some(Value::Undefined | Value::Null) | None => Value::Object(Object::new().into()),
        Some(existing) => existing.clone(),
    };
    apply_in(&mut child, rest, operation, value)?;
    root.insert(Arc::clone(name), child);
    Ok(())
}

fn apply_in(target: &mut Value, path: &[Segment], operation: Operation, value: Value) -> Result<(), String> {
    let (segment, rest) = path.split_first().expect("apply_in is called with a non-empty path");
    match (target, segment) {
        (Value::Object(object), Segment::Field(name)) => {
            let object = Arc::make_mut(object);
            let mut path = vec![Segment::Field(name.clone())];
            path.extend_from_slice(rest);
            apply(object, &path, operation, value)
        }
        (Value::Object(object), Segment::Index(i)) => {
            let object = Arc::make_mut(object);
            let mut path = vec![Segment::Field(i.to_string().into())];
            path.extend_from_slice(rest);
            apply(object, &path, operation, value)
        }
        (Value::Array(items), Segment::Index(i)) => {
            let len = items.len();
            let items = Arc::make_mut(items);
            let slot = items.get_mut(*i).ok_or_else(|| format!("index {i} is out of bounds (the array has {len} items)"))?;
            if rest.is_empty() {
                match combine(std::mem::take(slot), operation, value)? {
                    Some(new) => *slot = new,
                    None => drop(items.remove(*i)),
                }
                return Ok(());
            }
            if matches!(slot, Value::Undefined | Value::Null) {
                *slot = Value::Object(Object::new().into());
            }
            apply_in(slot, rest, operation, value)
        }
        (Value::Array(_), Segment::Field(name)) => Err(format!("cannot set property `{name}` of an array")),
        (other, segment) => {
            let what = match segment {
                Segment::Field(name) => format!("property `{name}`"),
                Segment::Index(i) => format!("index {i}"),
            };
            Err(format!("cannot set {what} of a {} value", describe(other)))
        }
    }
}

/// The new value of a field, or `None` to remove it.
pub fn combine(current: Value, operation: Operation, value: Value) -> Result<Option<Value>, String> {
    let number = |v: &Value, role: &str| match v {
        Value::Number(n) => Ok(*n),
        Value::Undefined if role == "field" => Ok(0.0),
        other => Err(format!("{} needs a number, but the {role} is a {}", operation.name(), describe(other))),
    };
    let amount = |value: &Value| if matches!(value, Value::Undefined) { Ok(1.0) } else { number(value, "value") };
    Ok(Some(match operation {
        Operation::Set => value,
        Operation::Delete => return Ok(None),
        Operation::Increment => Value::Number(number(&current, "field")? + amount(&value)?),
        Operation::Decrement => Value::Number(number(&current, "field")? - amount(&value)?),
        Operation::Multiply => Value::Number(number(&current, "field")? * number(&value, "value")?),
        Operation::Append => match current {
            Value::Undefined | Value::Null => Value::array(vec![value]),
            Value::Array(mut items) => {
                std::sync::Arc::make_mut(&mut items).push(value);
                Value::Array(items)
            }
            other => return Err(format!("append needs an array, but the field is a {}", describe(&other))),
        },
        Operation::Merge => match (current, value) {
            (Value::Undefined | Value::Null, value @ Value::Object(_)) => value,
            (Value::Object(mut into), Value::Object(from)) => {
                let target = std::sync::Arc::make_mut(&mut into);
                for (key, item) in from.entries() {
                    target.insert(key.clone(), item.clone());
                }
                Value::Object(into)
            }
            (current, value) => {
                return Err(format!(
                    "merge needs two objects, but the field is a {} and the value a {}",
                    describe(&current),
                    describe(&value)
                ));
            }
        },
    }))
}


/// A tier a step can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteTier {
    /// `this.*`.
    State,
    /// `global.*`.
    Global,
}

/// Most segments a written path may have (`this.a.b[0]` has three): writing creates the
/// objects along it, and everything that reads state walks them.
pub const MAX_PATH_SEGMENTS: usize = 32;

/// How deep arrays and objects may nest in a value written to state. Every record is read back
/// by a JSON parser that stops at 128 levels, and the record's own levels come on top.
pub const MAX_VALUE_DEPTH: usize = 100;

/// A client's write path (`workflow_update_state`): `this.results[2].name`, the legacy
/// `state.count`, or `global.seen`. Reading tiers (`computed`, `inputs`, `loop`) are refused
/// with the reason.
pub fn parse_path(text: &str) -> Result<(WriteTier, Vec<Segment>), String> {
    let (root, below) = split_root(text);
    let tier = match root {
        "this" | "state" => WriteTier::State,
        "global" => WriteTier::Global,
        "computed" => return Err(format!("`{text}` is a computed field: write the state it is computed from")),
        "inputs" | "raw" => return Err(format!("`{text}` is an input: inputs are fixed when the workflow starts")),
        "loop" => return Err(format!("`{text}` is a loop variable: only the loop sets it")),
        _ => return Err(format!("`{text}` is not a writable path: write `this.<field>` or `global.<field>`")),
    };
    let segments = parse_segments(text, below)?;
    if !matches!(segments.first(), Some(Segment::Field(_))) {
        return Err(format!("`{text}` names no field"));
    }
    Ok((tier, segments))
}

/// A dotted path's root name (`this`, `inputs`, …) and the rest (`.results[2].name`).
pub fn split_root(text: &str) -> (&str, &str) {
    text.split_at(text.find(['.', '[']).unwrap_or(text.len()))
}

/// The segments of `below`, the part of path `text` after its root: `.name` and `[index]`.
pub fn parse_segments(text: &str, below: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut rest = below;
    while !rest.is_empty() {
        if segments.len() == MAX_PATH_SEGMENTS {
            return Err(format!("`{}…` has more than {MAX_PATH_SEGMENTS} segments", &text[..text.len().min(64)]));
        }
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return Err(format!("`{text}` has an empty field name"));
            }
            segments.push(Segment::Field(after[..end].into()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or_else(|| format!("`{text}` has an unclosed `[`"))?;
            let index = after[..end].trim().parse().map_err(|_| format!("`{text}`: `[{}]` is not an array index", &after[..end]))?;
            segments.push(Segment::Index(index));
            rest = &after[end + 1..];
        } else {
            return Err(format!("`{text}` is not a path: expected `.` or `[` after `{}`", &text[..text.len() - rest.len()]));
        }
    }
    Ok(segments)
}

/// A value's type as users read it in messages (`array`, not JavaScript's `object`).
pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::Undefined => "missing",
        Value::Null => "null",
        Value::Array(_) => "array",
        Value::Set(_) => "set",
        Value::RegExp(_) => "regular expression",
        other => other.type_of(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str) -> Segment {
        Segment::Field(name.into())
    }

    fn json(object: &Object) -> String {
        Value::Object(object.clone().into()).to_json().expect("JSON").to_string()
    }

    #[test]
    fn set_creates_intermediate_objects_and_indexes_existing_arrays() {
        let mut root = Object::new();
        apply(&mut root, &[field("a"), field("b")], Operation::Set, Value::Number(1.0)).expect("set");
        apply(&mut root, &[field("list")], Operation::Set, Value::array(vec![Value::Null])).expect("set");
        apply(&mut root, &[field("list"), Segment::Index(0), field("x")], Operation::Set, Value::Bool(true)).expect("set");
        assert_eq!(json(&root), r#"{"a":{"b":1},"list":[{"x":true}]}"#);
        let error = apply(&mut root, &[field("list"), Segment::Index(3)], Operation::Set, Value::Null).expect_err("out of bounds");
        assert_eq!(error, "index 3 is out of bounds (the array has 1 items)");
    }

    #[test]
    fn operations_combine_with_what_is_there() {
        let mut root = Object::new();
        apply(&mut root, &[field("n")], Operation::Increment, Value::Undefined).expect("increment");
        apply(&mut root, &[field("n")], Operation::Increment, Value::Number(4.0)).expect("increment");
        apply(&mut root, &[field("n")], Operation::Multiply, Value::Number(3.0)).expect("multiply");
        apply(&mut root, &[field("n")], Operation::Decrement, Value::Undefined).expect("decrement");
        apply(&mut root, &[field("l")], Operation::Append, Value::string("a")).expect("append");
        apply(&mut root, &[field("l")], Operation::Append, Value::string("b")).expect("append");
        let mut patch = Object::new();
        patch.insert("k", Value::Bool(true));
        apply(&mut root, &[field("o")], Operation::Merge, Value::Object(patch.into())).expect("merge");
        apply(&mut root, &[field("l"), Segment::Index(0)], Operation::Delete, Value::Undefined).expect("delete");
        assert_eq!(json(&root), r#"{"n":14,"l":["b"],"o":{"k":true}}"#);
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        let mut root = Object::new();
        root.insert("s", Value::string("text"));
        let before = json(&root);
        assert_eq!(
            apply(&mut root, &[field("s")], Operation::Increment, Value::Undefined).expect_err("not a number"),
            "increment needs a number, but the field is a string"
        );
        assert_eq!(apply(&mut root, &[field("s"), field("x")], Operation::Set, Value::Null).expect_err("scalar"), "cannot set property `x` of a string value");
        assert_eq!(json(&root), before);
    }

    #[test]
    fn client_paths_name_a_writable_tier_and_fields() {
        assert_eq!(parse_path("this.results[2].name"), Ok((WriteTier::State, vec![field("results"), Segment::Index(2), field("name")])));
        assert_eq!(parse_path("state.count"), Ok((WriteTier::State, vec![field("count")])));
        assert_eq!(parse_path("global.seen"), Ok((WriteTier::Global, vec![field("seen")])));
        for (path, reason) in [
            ("computed.doubled", "computed field"),
            ("inputs.name", "fixed when the workflow starts"),
            ("loop.item", "only the loop sets it"),
            ("count", "write `this.<field>`"),
            ("this", "names no field"),
            ("this..x", "empty field name"),
            ("this.x[a]", "not an array index"),
            ("this.x[1", "unclosed"),
        ] {
            let error = parse_path(path).expect_err(path);
            assert!(error.contains(reason), "{path}: {error}");
        }
    }
}
