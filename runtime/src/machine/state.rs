//! The state tiers of one instance — `inputs`, `this` (declared and written fields), the
//! cached computed values and `global` — and the views expressions read (`this` is state ∪
//! computed, computed wins).

use std::cell::OnceCell;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::update::describe;
use crate::value::{Object, Value};

/// The JSON type of an input or a state field (`state_schema`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Text.
    String,
    /// A number (an IEEE double, as in JavaScript).
    Number,
    /// `true` or `false`.
    Boolean,
    /// A mapping of names to values.
    Object,
    /// A list of values.
    Array,
}

impl FieldType {
    /// The value a text given for a field of type `declared` stands for (a command-line
    /// `--input`, a prompt argument): the text itself for a `string`, otherwise its JSON if it
    /// parses (`3`, `true`, `[1, 2]`), else the text.
    pub fn value_of_text(declared: Option<FieldType>, text: &str) -> serde_json::Value {
        match declared {
            Some(FieldType::String) => serde_json::Value::String(text.to_owned()),
            _ => serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_owned())),
        }
    }

    /// The name as written in a workflow.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::Object => "object",
            FieldType::Array => "array",
        }
    }

    /// Whether `value` may be stored in a field of this type (`null` may go anywhere: it is
    /// how a workflow says "not yet").
    pub fn accepts(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (_, Value::Null)
                | (FieldType::String, Value::String(_))
                | (FieldType::Number, Value::Number(_))
                | (FieldType::Boolean, Value::Bool(_))
                | (FieldType::Object, Value::Object(_))
                | (FieldType::Array, Value::Array(_))
        )
    }

    /// Why `value` may not be stored at `path`, declared `declared` (`None` when it may, or
    /// when nothing is declared): the one check of starts, writes and restores.
    pub fn refusal(declared: Option<FieldType>, path: impl FnOnce() -> String, value: &Value) -> Option<String> {
        declared.filter(|t| !t.accepts(value)).map(|t| t.mismatch(&path(), value))
    }

    /// The message for a value this type refuses.
    pub fn mismatch(self, path: &str, value: &Value) -> String {
        format!("`{path}` is declared {}, but the value written is {} ({})", self.name(), describe(value), brief(value))
    }
}

fn brief(value: &Value) -> String {
    let text = value.to_json().map_or_else(|| "undefined".to_owned(), |j| j.to_string());
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// The state of one instance. Tiers are shared (an expression reading `inputs` or a copy of the
/// state taken for an all-or-nothing write costs a reference count, not a copy); writes go
/// through [`State::tier_mut`], which copies a tier only while it is shared and forgets the
/// cached `this` view.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// `inputs.*`, fixed at start.
    pub inputs: Arc<Object>,
    /// `this.*` fields written by the workflow (and their initial values).
    pub state: Arc<Object>,
    /// Computed fields' cached values.
    pub computed: Arc<Object>,
    /// `global.*`.
    pub global: Arc<Object>,
    this: OnceCell<Value>,
}

/// A tier that can be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// `inputs.*` (written only when the instance starts).
    Inputs,
    /// `this.*`.
    State,
    /// Computed values (written only by the machine's refresh).
    Computed,
    /// `global.*`.
    Global,
}

impl State {
    /// The `this` view: state fields overlaid by computed ones.
    pub fn this(&self) -> Value {
        if self.computed.is_empty() {
            return Value::Object(Arc::clone(&self.state));
        }
        self.this
            .get_or_init(|| {
                let mut view = (*self.state).clone();
                for (key, value) in self.computed.entries() {
                    view.insert(key.clone(), value.clone());
                }
                Value::Object(view.into())
            })
            .clone()
    }

    /// `root.name` for a state root, read from its tier without building the `this` view;
    /// `None` if `root` is not one.
    pub fn field(&self, root: &str, name: &str) -> Option<Value> {
        let tier = match root {
            "this" => return Some(self.computed.get(name).or_else(|| self.state.get(name)).cloned().unwrap_or_default()),
            "inputs" => &self.inputs,
            "global" => &self.global,
            "state" => &self.state,
            "computed" => &self.computed,
            _ => return None,
        };
        Some(tier.get(name).cloned().unwrap_or_default())
    }

    /// A tier to write to.
    pub fn tier_mut(&mut self, tier: Tier) -> &mut Object {
        self.this.take();
        Arc::make_mut(match tier {
            Tier::Inputs => &mut self.inputs,
            Tier::State => &mut self.state,
            Tier::Computed => &mut self.computed,
            Tier::Global => &mut self.global,
        })
    }

    /// The value of a state root: `this`, `inputs`, `global` and the legacy `state`/`computed`.
    pub fn root(&self, name: &str) -> Option<Value> {
        Some(match name {
            "this" => self.this(),
            "inputs" => Value::Object(Arc::clone(&self.inputs)),
            "global" => Value::Object(Arc::clone(&self.global)),
            "state" => Value::Object(Arc::clone(&self.state)),
            "computed" => Value::Object(Arc::clone(&self.computed)),
            _ => return None,
        })
    }

    /// Every tier as JSON: `{inputs, state, computed, global}`.
    pub fn to_json(&self) -> serde_json::Value {
        let tier = |object: &Arc<Object>| Value::Object(Arc::clone(object)).to_json().unwrap_or_default();
        serde_json::json!({
            "inputs": tier(&self.inputs),
            "state": tier(&self.state),
            "computed": tier(&self.computed),
            "global": tier(&self.global),
        })
    }

    /// The tiers back from [`State::to_json`].
    pub fn from_json(json: &serde_json::Value) -> State {
        let tier = |name: &str| match json.get(name).map(Value::from) {
            Some(Value::Object(object)) => object,
            _ => Arc::default(),
        };
        State { inputs: tier("inputs"), state: tier("state"), computed: tier("computed"), global: tier("global"), this: OnceCell::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_is_state_overlaid_by_computed_and_follows_writes() {
        let mut state = State::default();
        state.tier_mut(Tier::State).insert("a", Value::Number(1.0));
        state.tier_mut(Tier::State).insert("b", Value::Number(2.0));
        state.tier_mut(Tier::Computed).insert("b", Value::Number(20.0));
        assert_eq!(state.this().to_json().expect("JSON").to_string(), r#"{"a":1,"b":20}"#);
        state.tier_mut(Tier::State).insert("a", Value::Number(5.0));
        assert_eq!(state.this().get_named("a").expect("read").to_number(), 5.0);
        assert_eq!(State::from_json(&state.to_json()).this().to_json(), state.this().to_json());
        assert_eq!(state.field("this", "b").expect("a root").to_number(), 20.0);
        assert_eq!(state.field("state", "b").expect("a root").to_number(), 2.0);
        assert!(matches!(state.field("global", "none"), Some(Value::Undefined)));
        assert!(state.field("loop", "item").is_none());
    }

    #[test]
    fn declared_types_refuse_other_values_but_null() {
        assert!(FieldType::Number.accepts(&Value::Number(1.0)) && FieldType::Number.accepts(&Value::Null));
        assert!(!FieldType::Number.accepts(&Value::string("1")));
        assert_eq!(FieldType::Number.mismatch("this.count", &Value::string("1")), "`this.count` is declared number, but the value written is string (\"1\")");
    }
}
