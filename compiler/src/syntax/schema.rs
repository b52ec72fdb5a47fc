//! The format's JSON Schema, generated from the `Raw*` types, and the shape check that runs
//! it over a parsed document.
//!
//! The shape check runs before the document is turned into `Raw*` structs, on the spanned
//! [`Node`] tree, because a schema validator reports every mismatch at once while serde stops
//! at the first. Each validator error is mapped back to a span through its instance path and
//! turned into one of this stage's diagnostics.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use serde_json::Value;

use super::diagnostics as diag;
use super::node::{Node, NodeValue};
use super::raw::RawWorkflow;
use super::step_kind::StepKind;
use crate::diagnostic::Diagnostic;
use crate::span::Span;

const IDENTIFIER_RULE: &str = "use letters, digits and `_`, not starting with a digit";

/// The format's JSON Schema (draft-07), as `wfc schema` prints it.
pub fn format_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let generator = schemars::generate::SchemaSettings::draft07()
            .with_transform(schemars::transform::RecursiveTransform(forbid_null))
            .with_transform(schemars::transform::RecursiveTransform(enum_from_consts))
            .into_generator();
        let mut schema = generator.into_root_schema_for::<RawWorkflow>().to_value();
        add_validation_aliases(&mut schema);
        schema
    })
}

/// JSON Schema's own names for what `validation` checks (`minimum`, `maxLength`, `enum`, …) are
/// accepted as what they mean: serde aliases on [`RawValidation`](super::raw::RawValidation),
/// which schemars does not list, so they are added to its properties here.
fn add_validation_aliases(schema: &mut Value) {
    const ALIASES: [(&str, &str); 11] = [
        ("minLength", "min_length"),
        ("maxLength", "max_length"),
        ("minimum", "min"),
        ("maximum", "max"),
        ("enum", "allowed_values"),
        ("minItems", "min_items"),
        ("maxItems", "max_items"),
        ("exclusiveMinimum", "exclusive_min"),
        ("exclusiveMaximum", "exclusive_max"),
        ("multipleOf", "multiple_of"),
        ("uniqueItems", "unique_items"),
    ];
    let Some(Value::Object(properties)) = schema.pointer_mut("/definitions/RawValidation/properties") else { return };
    for (alias, field) in ALIASES {
        if let Some(mut property) = properties.get(field).cloned() {
            if let Value::Object(property) = &mut property {
                property.insert("description".into(), format!("JSON Schema's name for `{field}`.").into());
            }
            properties.insert(alias.into(), property);
        }
    }
}

/// An optional field may be left out, but not written as `null`: serde would read `null` as
/// "absent", and an empty `else_steps:` is more likely a mistake than a choice. schemars makes
/// every `Option` nullable; this undoes it.
fn forbid_null(schema: &mut schemars::Schema) {
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if let [single] = types.as_slice() {
            let single = single.clone();
            schema.insert("type".into(), single);
        }
    }
    let non_null = match schema.get("anyOf") {
        Some(Value::Array(options)) if options.len() == 2 => {
            let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
            options.iter().find(|v| !is_null(v)).filter(|_| options.iter().any(is_null)).cloned()
        }
        _ => None,
    };
    if let Some(Value::Object(inner)) = non_null {
        schema.remove("anyOf");
        for (key, value) in inner {
            schema.insert(key, value);
        }
    }
}

/// schemars writes a documented unit enum as `oneOf` of `const`s; a plain `enum` lets the
/// validator report "not one of these values" instead of "matched none of the alternatives".
/// The variants' docs are kept in the description.
fn enum_from_consts(schema: &mut schemars::Schema) {
    let Some(Value::Array(options)) = schema.get("oneOf") else { return };
    let values: Option<Vec<(Value, Option<String>)>> = options
        .iter()
        .map(|o| Some((o.get("const")?.clone(), o.get("description").and_then(Value::as_str).map(str::to_owned))))
        .collect();
    let Some(values) = values else { return };
    let docs: Vec<String> = values
        .iter()
        .filter_map(|(value, doc)| Some(format!("`{}`: {}", value.as_str()?, doc.as_deref()?)))
        .collect();
    schema.remove("oneOf");
    schema.insert("type".into(), Value::from("string"));
    schema.insert("enum".into(), Value::Array(values.into_iter().map(|(v, _)| v).collect()));
    if !docs.is_empty() {
        let description = schema.get("description").and_then(Value::as_str).map(|d| format!("{d}\n")).unwrap_or_default();
        schema.insert("description".into(), Value::from(format!("{description}{}", docs.join("; "))));
    }
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::draft7::new(format_schema()).expect("the schema generated from the Raw types is a valid draft-07 schema")
    })
}

/// Every place where `document` does not have the format's shape.
pub(crate) fn check_shape(document: &Node) -> Vec<Diagnostic> {
    let instance = document.to_json();
    let validator = validator();
    if validator.is_valid(&instance) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for error in validator.iter_errors(&instance) {
        let path: Vec<Segment> = error.instance_path().segments().map(Segment::from).collect();
        let schema_path: Vec<String> = error.schema_path().segments().map(|s| s.to_string()).collect();
        let Some(node) = node_at(document, &path) else { continue };
        let context = Context { document, path: &path, node };
        context.diagnose(error.kind(), &schema_path, &mut out);
    }
    out
}

/// One step of an instance path.
#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl From<LocationSegment<'_>> for Segment {
    fn from(segment: LocationSegment<'_>) -> Self {
        match segment {
            LocationSegment::Property(name) => Segment::Key(name.into_owned()),
            LocationSegment::Index(i) => Segment::Index(i),
        }
    }
}

fn node_at<'a>(root: &'a Node, path: &[Segment]) -> Option<&'a Node> {
    path.iter().try_fold(root, |node, segment| match (segment, &node.value) {
        (Segment::Key(key), NodeValue::Map(_)) => node.get(key),
        (Segment::Index(i), NodeValue::Seq(items)) => items.get(*i),
        _ => None,
    })
}

/// The schema object at a validator's schema path, following `$ref`s as the validator did.
fn schema_at<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(root, |schema, segment| {
        if segment == "$ref" {
            let pointer = schema.get("$ref")?.as_str()?.strip_prefix('#')?;
            root.pointer(pointer)
        } else {
            match schema {
                Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
                _ => schema.get(segment),
            }
        }
    })
}

const STEP_LISTS: [&str; 4] = ["steps", "then_steps", "else_steps", "body"];

/// Where an error is: the document, the path to the offending node, and the node.
struct Context<'a> {
    document: &'a Node,
    path: &'a [Segment],
    node: &'a Node,
}

impl Context<'_> {
    fn diagnose(&self, kind: &ValidationErrorKind, schema_path: &[String], out: &mut Vec<Diagnostic>) {
        let node = self.node;
        let keyword_parent = &schema_path[..schema_path.len().saturating_sub(1)];
        let schema = schema_at(format_schema(), keyword_parent);
        match kind {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                self.unknown_fields(unexpected, schema_path, schema, out);
            }
            ValidationErrorKind::Required { property } => {
                let field = property.as_str().unwrap_or_default();
                let first_key = node.as_map().and_then(|m| m.first()).map(|(key, _)| key.span);
                let span = self.key_span().or(first_key).unwrap_or(node.span);
                out.push(diag::missing_field(span, field, &self.describe_owner(self.path, node)));
            }
            ValidationErrorKind::Type { .. } => {
                let expected = schema.and_then(|s| s.get("type")).map_or_else(|| "something else".to_owned(), describe_types);
                out.push(diag::wrong_type(node.span, &self.describe_field(), &expected, &describe_found(node)));
            }
            ValidationErrorKind::Enum { options } => {
                let found = node.as_str().map_or_else(|| node.to_json().to_string(), str::to_owned);
                if self.is_step_type_field() {
                    out.push(diag::unknown_step_type(node.span, &found));
                } else {
                    let options: Vec<&str> = options.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                    out.push(diag::invalid_value(node.span, &self.describe_field(), &found, &options));
                }
            }
            ValidationErrorKind::Pattern { .. } => {
                let found = node.as_str().unwrap_or_default();
                let (what, rule) = match self.last_key() {
                    Some("id") => ("step id", IDENTIFIER_RULE),
                    Some("name") if self.path.len() == 1 => {
                        ("workflow name", "use `namespace:name` with letters, digits, `_` and `-` in each part")
                    }
                    _ => ("name", IDENTIFIER_RULE),
                };
                out.push(diag::invalid_name(node.span, what, found, rule));
            }
            ValidationErrorKind::PropertyNames { .. } => {
                for (key, _) in node.as_map().unwrap_or_default() {
                    if !is_identifier(&key.value) {
                        let what = format!("{} name", self.describe_entry_kind());
                        out.push(diag::invalid_name(key.span, &what, &key.value, IDENTIFIER_RULE));
                    }
                }
            }
            ValidationErrorKind::Minimum { limit } => {
                out.push(diag::out_of_range(node.span, &self.describe_field(), &format!("at least {limit}"), &describe_found(node)));
            }
            ValidationErrorKind::ExclusiveMinimum { limit } => {
                out.push(diag::out_of_range(node.span, &self.describe_field(), &format!("greater than {limit}"), &describe_found(node)));
            }
            ValidationErrorKind::MinItems { limit } => {
                out.push(diag::too_few_items(node.span, &self.describe_field(), *limit));
            }
            ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::OneOfMultipleValid { .. }
                if matches!(self.path, [.., Segment::Key(group), Segment::Key(_)] if group == "sub_agent_tasks") =>
            {
                let both = matches!(kind, ValidationErrorKind::OneOfMultipleValid { .. });
                let span = self.key_span().unwrap_or(node.span);
                out.push(diag::task_body(span, self.last_key().unwrap_or("?"), both));
            }
            other => {
                out.push(diag::shape_mismatch(node.span, &self.describe_field(), &format!("{other:?}")));
            }
        }
    }

    fn unknown_fields(&self, unexpected: &[String], schema_path: &[String], schema: Option<&Value>, out: &mut Vec<Diagnostic>) {
        let node = self.node;
        let step_kind = self.step_kind();
        if Self::is_step(self.path) && step_kind.is_none() {
            // Which fields are right depends on the type; its error says all there is to say.
            return;
        }
        let in_step_rule = schema_path.iter().any(|s| s == "then");
        for field in unexpected {
            let span = node.as_map().unwrap_or_default().iter().find(|(k, _)| &k.value == field).map_or(node.span, |(k, _)| k.span);
            if in_step_rule {
                // A field no step type takes is reported once, as unknown, by the base rule.
                let kinds: Vec<&str> = StepKind::kinds_with_field(field).iter().map(|k| k.name()).collect();
                if let (false, Some(kind)) = (kinds.is_empty(), step_kind) {
                    out.push(diag::field_not_allowed(span, field, kind.name(), &kinds));
                }
                continue;
            }
            let candidates: Vec<&str> = match step_kind {
                Some(kind) => super::step_kind::COMMON_FIELDS
                    .iter()
                    .chain(kind.required_fields())
                    .chain(kind.optional_fields())
                    .copied()
                    .collect(),
                None => schema
                    .and_then(|s| s.get("properties"))
                    .and_then(Value::as_object)
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default(),
            };
            out.push(diag::unknown_field(span, field, &self.describe_owner(self.path, node), &candidates));
        }
    }

    fn last_key(&self) -> Option<&str> {
        match self.path.last() {
            Some(Segment::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// The span of the key under which the current node stands, if it stands under one.
    fn key_span(&self) -> Option<Span> {
        let (last, parent) = self.path.split_last()?;
        let Segment::Key(key) = last else { return None };
        let parent = node_at(self.document, parent)?;
        parent.as_map()?.iter().find(|(k, _)| &k.value == key).map(|(k, _)| k.span)
    }

    fn is_step(path: &[Segment]) -> bool {
        matches!(path, [.., Segment::Key(list), Segment::Index(_)] if STEP_LISTS.contains(&list.as_str()))
    }

    fn is_step_type_field(&self) -> bool {
        matches!(self.path.split_last(), Some((Segment::Key(k), parent)) if k == "type" && Self::is_step(parent))
    }

    /// The step type of the current node, if it is a step with a valid `type`.
    fn step_kind(&self) -> Option<StepKind> {
        if !Self::is_step(self.path) {
            return None;
        }
        self.node.get("type").and_then(Node::as_str).and_then(StepKind::from_name)
    }

    /// "step `greet`", "input `name`", "the workflow": the object a field belongs to.
    fn describe_owner(&self, path: &[Segment], node: &Node) -> String {
        if path.is_empty() {
            return "the workflow".to_owned();
        }
        if Self::is_step(path) {
            return match (node.get("type").and_then(Node::as_str), node.get("id").and_then(Node::as_str)) {
                (Some(kind), Some(id)) => format!("{kind} step `{id}`"),
                (None, Some(id)) => format!("step `{id}`"),
                _ => "a step".to_owned(),
            };
        }
        match path {
            [.., Segment::Key(group), Segment::Key(name)] => match group.as_str() {
                "inputs" => format!("input `{name}`"),
                "computed" => format!("computed field `{name}`"),
                "sub_agent_tasks" => format!("sub-agent task `{name}`"),
                _ => format!("`{name}`"),
            },
            [.., Segment::Key(name)] => format!("`{name}`"),
            [.., Segment::Key(list), Segment::Index(i)] => format!("item {} of `{list}`", i + 1),
            _ => "this value".to_owned(),
        }
    }

    /// "`timeout`", "item 2 of `choices`": how to name the current value in a message.
    fn describe_field(&self) -> String {
        match self.path {
            [] => "the workflow".to_owned(),
            [.., Segment::Key(key)] => format!("`{key}`"),
            [.., Segment::Key(list), Segment::Index(i)] if STEP_LISTS.contains(&list.as_str()) => {
                format!("step {} of `{list}`", i + 1)
            }
            [.., Segment::Key(list), Segment::Index(i)] => format!("item {} of `{list}`", i + 1),
            [.., Segment::Index(i)] => format!("item {}", i + 1),
        }
    }

    /// "input", "computed field", "sub-agent task": what the keys of the current map name.
    fn describe_entry_kind(&self) -> &'static str {
        match self.last_key() {
            Some("inputs") => "input",
            Some("computed") => "computed field",
            Some("sub_agent_tasks") => "sub-agent task",
            Some("state") => "state field",
            _ => "field",
        }
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// "a string", "a string or an array" from a schema's `type`.
fn describe_types(types: &Value) -> String {
    let article = |t: &str| match t {
        "array" | "integer" | "object" => format!("an {t}"),
        _ => format!("a {t}"),
    };
    match types {
        Value::String(t) => article(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).map(article).collect::<Vec<_>>().join(" or "),
        _ => "something else".to_owned(),
    }
}

fn describe_found(node: &Node) -> String {
    match &node.value {
        NodeValue::String(s) if s.chars().count() <= 30 => format!("the string \"{s}\""),
        NodeValue::Integer(i) => format!("{i}"),
        NodeValue::Float(f) => format!("{f}"),
        NodeValue::Bool(b) => format!("`{b}`"),
        _ => format!("{} {}", if node.type_name() == "array" || node.type_name() == "object" || node.type_name() == "integer" { "an" } else { "a" }, node.type_name()),
    }
}
