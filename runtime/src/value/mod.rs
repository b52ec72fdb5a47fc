//! Values with JavaScript semantics: the one definition of what `a + b`, `a == b`, truthiness,
//! `String(x)` and property access mean, shared by the expression interpreter and by generated
//! code (so a workflow behaves the same interpreted and compiled).
//!
//! `undefined` is distinct from `null`; numbers are `f64` and print as JavaScript prints them;
//! strings measure and index in UTF-16 code units; arrays, objects and strings are reference
//! counted, so cloning a value is cheap. Arrays and objects are copy-on-write: an expression
//! cannot change a value that state (or another binding) still holds.

pub mod budget;
mod error;
pub mod json;
mod methods;
pub mod number;
mod object;
mod ops;
mod regexp;
mod split;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use error::{EvalError, ErrorKind};
pub use methods::{CALLBACK_METHODS, Callback, call_global, call_method, destructure_field, destructure_items, iterated_items, push, spread_into, spread_items};
pub use object::Object;
pub use ops::{BinaryOp, binary, loose_equals, remainder, same_value_zero, strict_equals, unary, UnaryOp};
pub use regexp::RegExp;
pub use split::{Pieces, first_pieces, receiver_text, text_pieces};

/// Where an expression's roots come from: `this`, `inputs`, `global`, `loop`, the legacy
/// `state`/`computed`, and the names a site adds (`input`, `stdout`, `item`, …). Both the
/// interpreter and generated code read roots only through this.
pub trait Scope {
    /// The value of root `name`; `undefined` if there is none.
    fn root(&self, name: &str) -> Value;

    /// `root.name` (`this.count`, `inputs.files`): what generated code reads for a member of
    /// a root, so a scope that holds its roots in parts can answer without assembling one.
    fn field(&self, root: &str, name: &str) -> Result<Value, EvalError> {
        self.root(root).get_named(name)
    }
}

/// A scope held in a map, for `wfc eval`, tests and the MCP transformation tester.
#[derive(Clone, Debug, Default)]
pub struct MapScope(pub std::collections::HashMap<String, Value>);

impl Scope for MapScope {
    fn root(&self, name: &str) -> Value {
        self.0.get(name).cloned().unwrap_or_default()
    }
}

/// A JavaScript value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// `undefined`: a missing property, an absent argument.
    #[default]
    Undefined,
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number (IEEE double).
    Number(f64),
    /// A string.
    String(Arc<str>),
    /// An array.
    Array(Arc<Vec<Value>>),
    /// A plain object.
    Object(Arc<Object>),
    /// A `Set`, values in insertion order.
    Set(Arc<Vec<Value>>),
    /// A regular expression literal.
    RegExp(Arc<RegExp>),
}

impl Value {
    /// A string value.
    pub fn string(text: impl Into<Arc<str>>) -> Value {
        Value::String(text.into())
    }

    /// An array value.
    pub fn array(items: Vec<Value>) -> Value {
        Value::Array(Arc::new(items))
    }

    /// JavaScript truthiness: false for `undefined`, `null`, `false`, `±0`, `NaN` and `""`.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Undefined | Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => !(*n == 0.0 || n.is_nan()),
            Value::String(s) => !s.is_empty(),
            Value::Array(_) | Value::Object(_) | Value::Set(_) | Value::RegExp(_) => true,
        }
    }

    /// `typeof`.
    pub fn type_of(&self) -> &'static str {
        match self {
            Value::Undefined => "undefined",
            Value::Null | Value::Array(_) | Value::Object(_) | Value::Set(_) | Value::RegExp(_) => "object",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
        }
    }

    /// `Number(x)`.
    #[inline]
    pub fn to_number(&self) -> f64 {
        match self {
            Value::Number(n) => *n,
            other => other.converted_to_number(),
        }
    }

    /// `to_number` of anything but a number.
    fn converted_to_number(&self) -> f64 {
        match self {
            Value::Undefined => f64::NAN,
            Value::Null => 0.0,
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::Number(n) => *n,
            Value::String(s) => number::parse_js_number(s),
            other => number::parse_js_number(&other.to_js_string()),
        }
    }

    /// `String(x)`: arrays join with `,` (holes, `null` and `undefined` as empty), plain
    /// objects are `[object Object]`.
    pub fn to_js_string(&self) -> String {
        match self {
            Value::Undefined => "undefined".to_owned(),
            Value::Null => "null".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => number::to_js_string(*n),
            Value::String(s) => s.to_string(),
            Value::Array(items) => join(items, ","),
            Value::Object(_) => "[object Object]".to_owned(),
            Value::Set(_) => "[object Set]".to_owned(),
            Value::RegExp(re) => re.to_string(),
        }
    }

    /// Appends [`Value::to_js_string`] to `out`: what a template builds its text with, without
    /// a string of its own for each part.
    pub fn push_js_string(&self, out: &mut String) {
        match self {
            Value::String(s) => out.push_str(s),
            Value::Number(n) => number::push_js_string(*n, out),
            other => out.push_str(&other.to_js_string()),
        }
    }

    /// Whether arrays and objects nest at most `max` levels deep in this value (a scalar is 0
    /// levels). The walk stops one level past `max`, so it is bounded however deep the value.
    pub fn nests_within(&self, max: usize) -> bool {
        match self {
            Value::Array(items) | Value::Set(items) => max > 0 && items.iter().all(|child| child.nests_within(max - 1)),
            Value::Object(object) => max > 0 && object.entries().all(|(_, child)| child.nests_within(max - 1)),
            _ => true,
        }
    }

    /// The value as a string if it is one, without conversion.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Reads property `key` (`value.key` / `value[key]`). Reading from `undefined` or `null` is
    /// a `TypeError`, as in JavaScript; a missing property is `undefined`.
    pub fn get(&self, key: &Value) -> Result<Value, EvalError> {
        match (self, key) {
            (Value::Array(items), Value::Number(n)) => Ok(index_of(*n).and_then(|i| items.get(i)).cloned().unwrap_or_default()),
            (Value::String(s), Value::Number(n)) => Ok(utf16_at(s, *n)),
            // A string key is the property name as it is: no conversion, no allocation.
            (_, Value::String(name)) => self.get_named(name),
            _ => self.get_named(&key.to_js_string()),
        }
    }

    /// Reads the property at array index `index` (`parts[0]`, an index known at build time),
    /// without building a key.
    pub fn get_index(&self, index: usize) -> Result<Value, EvalError> {
        match self {
            Value::Array(items) => Ok(items.get(index).cloned().unwrap_or_default()),
            other => other.get(&Value::Number(index as f64)),
        }
    }

    /// Reads a property by name (`value.name`, or `value[key]` once `key` is a string). A
    /// plain object's property, by far the most common read, is looked up where it is called.
    #[inline]
    pub fn get_named(&self, name: &str) -> Result<Value, EvalError> {
        match self {
            Value::Object(object) => Ok(object.get(name).cloned().unwrap_or_default()),
            other => other.read_named(name),
        }
    }

    /// [`Value::get_named`] for every kind of value (which `get_named` calls for all but plain
    /// objects).
    fn read_named(&self, name: &str) -> Result<Value, EvalError> {
        match self {
            Value::Undefined | Value::Null => {
                Err(EvalError::type_error(format!("Cannot read properties of {} (reading '{name}')", self.to_js_string())))
            }
            Value::String(s) => Ok(match name {
                "length" => Value::Number(utf16_len(s) as f64),
                other => array_index(other).map_or(Value::Undefined, |i| utf16_at(s, i as f64)),
            }),
            Value::Array(items) => Ok(match name {
                "length" => Value::Number(items.len() as f64),
                other => array_index(other).and_then(|i| items.get(i)).cloned().unwrap_or_default(),
            }),
            Value::Object(object) => Ok(object.get(name).cloned().unwrap_or_default()),
            Value::Set(items) => Ok(match name {
                "size" => Value::Number(items.len() as f64),
                _ => Value::Undefined,
            }),
            Value::RegExp(re) => Ok(match name {
                "source" => Value::string(re.source()),
                "flags" => Value::string(re.flags()),
                _ => Value::Undefined,
            }),
            Value::Bool(_) | Value::Number(_) => Ok(Value::Undefined),
        }
    }

    /// The value as JSON for state and for the wire. `undefined` has no JSON form and becomes
    /// `None` (an object property holding it is left out, an array item becomes `null`), as
    /// `JSON.stringify` does.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        json::to_json(self)
    }
}

impl From<&serde_json::Value> for Value {
    fn from(json: &serde_json::Value) -> Value {
        json::from_json(json)
    }
}

/// As its JSON ([`Value::to_json`]; `undefined` as `null`).
impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().unwrap_or_default().serialize(serializer)
    }
}

/// From any JSON.
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        serde_json::Value::deserialize(deserializer).map(|json| Value::from(&json))
    }
}

/// Appends a template piece (`{{ expr }}` amid text): `undefined` and `null` as nothing,
/// arrays and objects as JSON, anything else as `String(value)`.
pub fn push_template_piece(out: &mut String, value: &Value) {
    match value {
        Value::Undefined | Value::Null => {}
        Value::Array(_) | Value::Object(_) => out.push_str(&json::stringify(value, "").unwrap_or_default()),
        other => other.push_js_string(out),
    }
}

/// Where a template piece stands in a shell command line, which decides how it is quoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShellQuoting {
    /// Outside any quotes: the value becomes one single-quoted word.
    Word,
    /// Inside the author's double quotes: `$`, `` ` ``, `"` and `\` are escaped.
    DoubleQuoted,
    /// Inside the author's single quotes: a `'` closes, escapes and reopens them.
    SingleQuoted,
}

/// Appends a template piece to a shell command line: its text as [`push_template_piece`]
/// writes it, quoted for where it stands, so that `sh` reads it as text of that word and runs
/// nothing in it, whatever it holds.
pub fn push_shell_quoted(out: &mut String, value: &Value, quoting: ShellQuoting) {
    let mut text = String::new();
    push_template_piece(&mut text, value);
    match quoting {
        ShellQuoting::Word => {
            out.push('\'');
            out.push_str(&text.replace('\'', "'\\''"));
            out.push('\'');
        }
        ShellQuoting::SingleQuoted => out.push_str(&text.replace('\'', "'\\''")),
        ShellQuoting::DoubleQuoted => {
            for c in text.chars() {
                if matches!(c, '$' | '`' | '"' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
        }
    }
}

/// `Array.prototype.join` over the items' string forms.
pub(crate) fn join(items: &[Value], separator: &str) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        if !matches!(item, Value::Undefined | Value::Null) {
            let text = item.to_js_string();
            // `String(array)` cannot fail, so a spent budget ends the text early and the
            // evaluation fails as a whole (budget::Evaluation::finish).
            if budget::charge_bytes(text.len() + separator.len()).is_err() {
                break;
            }
            out.push_str(&text);
        }
    }
    out
}

/// UTF-16 view of a string, for the index-based string methods.
pub(crate) fn units(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// A string from UTF-16 code units (a lone surrogate becomes U+FFFD).
pub(crate) fn from_units(units: &[u16]) -> Value {
    Value::string(String::from_utf16_lossy(units))
}

/// A canonical array index (`"0"`, `"12"`, not `"01"` or `"-1"`).
pub(crate) fn array_index(key: &str) -> Option<usize> {
    let valid = !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) && (key == "0" || !key.starts_with('0'));
    valid.then(|| key.parse().ok()).flatten()
}

/// A number usable as an array index.
pub(crate) fn index_of(n: f64) -> Option<usize> {
    (n >= 0.0 && n.fract() == 0.0 && n < 4_294_967_295.0).then_some(n as usize)
}

/// Length in UTF-16 code units, as `.length` measures strings.
pub fn utf16_len(s: &str) -> usize {
    if s.is_ascii() { s.len() } else { s.chars().map(char::len_utf16).sum() }
}

/// `s[i]`: the UTF-16 code unit at `i` as a one-unit string (half of a surrogate pair becomes
/// U+FFFD, since strings here are UTF-8), or `undefined`.
fn utf16_at(s: &str, n: f64) -> Value {
    let Some(i) = index_of(n) else { return Value::Undefined };
    if s.is_ascii() {
        return s.get(i..=i).map_or(Value::Undefined, Value::string);
    }
    let mut position = 0;
    for c in s.chars() {
        let width = c.len_utf16();
        if i < position + width {
            return Value::string(if width == 1 { c.to_string() } else { '\u{fffd}'.to_string() });
        }
        position += width;
    }
    Value::Undefined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_keeps_any_text_inert_where_it_stands() {
        let quoted = |value: Value, quoting: ShellQuoting| {
            let mut out = String::from("echo ");
            push_shell_quoted(&mut out, &value, quoting);
            out
        };
        assert_eq!(quoted(Value::string("a b"), ShellQuoting::Word), "echo 'a b'");
        assert_eq!(quoted(Value::string("x'; rm -rf /; echo '"), ShellQuoting::Word), r#"echo 'x'\''; rm -rf /; echo '\'''"#);
        assert_eq!(quoted(Value::Number(3.0), ShellQuoting::Word), "echo '3'");
        assert_eq!(quoted(Value::Null, ShellQuoting::Word), "echo ''");
        assert_eq!(quoted(Value::string("x\" ; touch pwned ; \"$(id)`id`\\"), ShellQuoting::DoubleQuoted), r#"echo x\" ; touch pwned ; \"\$(id)\`id\`\\"#);
        assert_eq!(quoted(Value::string("it's"), ShellQuoting::SingleQuoted), r#"echo it'\''s"#);
    }

    #[test]
    fn truthiness_and_typeof() {
        for falsy in [Value::Undefined, Value::Null, Value::Bool(false), Value::Number(-0.0), Value::Number(f64::NAN), Value::string("")] {
            assert!(!falsy.truthy(), "{falsy:?}");
        }
        assert!(Value::array(vec![]).truthy());
        assert_eq!(Value::Null.type_of(), "object");
    }

    #[test]
    fn strings_measure_utf16() {
        let s = Value::string("a😀b");
        assert_eq!(s.get_named("length").map(|v| v.to_number()).ok(), Some(4.0));
        assert_eq!(s.get(&Value::Number(3.0)).ok().and_then(|v| v.as_str().map(str::to_owned)), Some("b".to_owned()));
    }

    #[test]
    fn reading_from_undefined_is_a_type_error() {
        let error = Value::Undefined.get_named("x").expect_err("TypeError");
        assert_eq!(error.kind, ErrorKind::TypeError);
        assert_eq!(error.message, "Cannot read properties of undefined (reading 'x')");
    }

    #[test]
    fn arrays_print_joined() {
        let v = Value::array(vec![Value::Number(1.0), Value::Null, Value::string("x")]);
        assert_eq!(v.to_js_string(), "1,,x");
    }
}
