//! What a `user_input` step does with an answer: convert it to the step's `input_type`, then
//! check it against the step's rules. A refused answer is re-asked (up to `max_retries`) with
//! the message from here.

use serde::{Deserialize, Serialize};

use crate::value::{RegExp, Value, strict_equals, utf16_len};

/// Type of a `user_input` answer: what the answer is converted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum InputType {
    /// Any text.
    String,
    /// A number.
    Number,
    /// yes/no, true/false, 1/0, on/off.
    Boolean,
    /// One of `choices`.
    Choice,
    /// A JSON value.
    Json,
}

impl InputType {
    /// The name as written in a workflow.
    pub fn name(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Number => "number",
            InputType::Boolean => "boolean",
            InputType::Choice => "choice",
            InputType::Json => "json",
        }
    }
}

/// The rules an answer must meet. Borrowed from the step, so generated code keeps them in
/// statics.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rules<'a> {
    /// Whether an empty answer is refused.
    pub required: bool,
    /// The choices of a `choice` input.
    pub choices: &'a [Value],
    /// The only values allowed.
    pub allowed_values: &'a [Value],
    /// A pattern a text answer must match (ECMAScript syntax).
    pub pattern: Option<&'a RegExp>,
    /// Lengths, numbers and list sizes.
    pub bounds: Bounds,
    /// What each item of a list answer must satisfy (compiled from its JSON Schema).
    pub items: Option<&'a jsonschema::Validator>,
    /// What to say instead of the built-in message when the pattern does not match.
    pub message: Option<&'a str>,
}

/// The lengths, numbers and list sizes an answer (or an input) must keep: `validation`'s
/// keywords that are plain data, the same from the checked workflow through the program to the
/// check here (JSON Schema's `minLength`, `minimum`, `exclusiveMinimum`, `multipleOf`,
/// `minItems`, `uniqueItems`, … mean the same).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Bounds {
    /// Fewest characters of a text answer.
    pub min_length: Option<u32>,
    /// Most characters of a text answer.
    pub max_length: Option<u32>,
    /// Smallest number.
    pub min: Option<f64>,
    /// Largest number.
    pub max: Option<f64>,
    /// What a number must be greater than.
    pub exclusive_min: Option<f64>,
    /// What a number must be less than.
    pub exclusive_max: Option<f64>,
    /// What a number must be a whole multiple of.
    pub multiple_of: Option<f64>,
    /// Whether the items of a list answer must differ from each other (as JSON values).
    pub unique_items: bool,
    /// Fewest items of a list answer.
    pub min_items: Option<u32>,
    /// Most items of a list answer.
    pub max_items: Option<u32>,
}

/// Converts `answer` to `input_type`. Non-text answers of the right type pass through.
pub fn convert(input_type: InputType, answer: &Value) -> Result<Value, String> {
    let text = match answer {
        Value::String(text) => text.trim().to_owned(),
        other => return convert_value(input_type, other),
    };
    match input_type {
        InputType::String | InputType::Choice => Ok(Value::string(text)),
        InputType::Number => match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Value::Number(n)),
            _ => Err(format!("`{text}` is not a number")),
        },
        InputType::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "on" => Ok(Value::Bool(true)),
            "false" | "no" | "n" | "0" | "off" => Ok(Value::Bool(false)),
            _ => Err(format!("`{text}` is not yes or no (true/yes/y/1/on or false/no/n/0/off)")),
        },
        InputType::Json => crate::value::json::parse(&text).map_err(|e| format!("the answer is not JSON: {}", e.message)),
    }
}

fn convert_value(input_type: InputType, answer: &Value) -> Result<Value, String> {
    match (input_type, answer) {
        // No answer: `validate` decides whether one was required.
        (_, Value::Undefined | Value::Null) => Ok(Value::Undefined),
        (InputType::String, other) => Ok(Value::string(other.to_js_string())),
        (InputType::Number, Value::Number(n)) if n.is_finite() => Ok(answer.clone()),
        (InputType::Boolean, Value::Bool(_)) | (InputType::Choice | InputType::Json, _) => Ok(answer.clone()),
        _ => Err(format!("expected a {} answer", input_type_name(input_type))),
    }
}

fn input_type_name(input_type: InputType) -> &'static str {
    match input_type {
        InputType::String => "text",
        InputType::Number => "number",
        InputType::Boolean => "yes/no",
        InputType::Choice => "choice",
        InputType::Json => "JSON",
    }
}

/// Whether `n` is a whole multiple of `step` (> 0), allowing for the rounding of decimal
/// fractions (`0.3` is a multiple of `0.1`, as JSON Schema validators take it).
fn is_multiple(n: f64, step: f64) -> bool {
    let quotient = n / step;
    quotient.is_finite() && (quotient - quotient.round()).abs() <= 1e-9 * quotient.abs().max(1.0)
}

/// `value` written so that two values are equal as JSON exactly when they are written the same:
/// object keys sorted (their order does not matter), numbers as `to_json` made them (`1` and
/// `1.0` alike).
fn canonical_json(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                canonical_json(item, out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Checks a converted answer against the rules.
pub fn validate(value: &Value, rules: &Rules) -> Result<(), String> {
    let empty = matches!(value, Value::Undefined | Value::Null) || value.as_str().is_some_and(str::is_empty);
    if empty {
        return if rules.required { Err("an answer is required".to_owned()) } else { Ok(()) };
    }
    let listed = |list: &[Value]| list.is_empty() || list.iter().any(|allowed| strict_equals(allowed, value));
    if !listed(rules.choices) || !listed(rules.allowed_values) {
        let list = if rules.choices.is_empty() { rules.allowed_values } else { rules.choices };
        let options: Vec<String> = list.iter().map(Value::to_js_string).collect();
        return Err(format!("`{}` is not one of: {}", value.to_js_string(), options.join(", ")));
    }
    if let Some(text) = value.as_str() {
        let length = utf16_len(text);
        if let Some(min) = rules.bounds.min_length.filter(|min| length < *min as usize) {
            return Err(format!("the answer is {length} characters long; at least {min} are needed"));
        }
        if let Some(max) = rules.bounds.max_length.filter(|max| length > *max as usize) {
            return Err(format!("the answer is {length} characters long; at most {max} are allowed"));
        }
        // A pattern that backtracks past the evaluation budget on this answer refuses it
        // rather than stalling the server (docs/security.md).
        if let Some(pattern) = rules.pattern
            && !pattern.is_match(text).map_err(|e| format!("the answer could not be checked against /{}/: {}", pattern.source(), e.message))?
        {
            return Err(rules.message.map_or_else(|| format!("the answer does not match /{}/", pattern.source()), str::to_owned));
        }
    }
    if rules.bounds.min_items.is_some() || rules.bounds.max_items.is_some() || rules.items.is_some() || rules.bounds.unique_items {
        let Value::Array(items) = value else { return Err(format!("`{}` is not a list", value.to_js_string())) };
        if let Some(min) = rules.bounds.min_items.filter(|min| items.len() < *min as usize) {
            return Err(format!("the list has {} item(s); at least {min} are needed", items.len()));
        }
        if let Some(max) = rules.bounds.max_items.filter(|max| items.len() > *max as usize) {
            return Err(format!("the list has {} item(s); at most {max} are allowed", items.len()));
        }
        if rules.bounds.unique_items {
            // One pass, each item keyed by its canonical JSON: comparing every pair would let a
            // long list stall the server.
            let mut seen = std::collections::HashMap::with_capacity(items.len());
            for (second, item) in items.iter().enumerate() {
                let item = item.to_json().unwrap_or_default();
                let mut key = String::new();
                canonical_json(&item, &mut key);
                if let Some(first) = seen.insert(key, second) {
                    return Err(format!("items {first} and {second} of the list are the same, {item}; the items must differ"));
                }
            }
        }
        if let Some(schema) = rules.items {
            for (index, item) in items.iter().enumerate() {
                if let Some(error) = schema.iter_errors(&item.to_json().unwrap_or_default()).next() {
                    return Err(format!("item {index} of the list: {error}"));
                }
            }
        }
    }
    if let Value::Number(n) = value {
        if let Some(min) = rules.bounds.min.filter(|min| n < min) {
            return Err(format!("{} is less than the minimum, {}", value.to_js_string(), Value::Number(min).to_js_string()));
        }
        if let Some(max) = rules.bounds.max.filter(|max| n > max) {
            return Err(format!("{} is more than the maximum, {}", value.to_js_string(), Value::Number(max).to_js_string()));
        }
        if let Some(bound) = rules.bounds.exclusive_min.filter(|bound| n <= bound) {
            return Err(format!("{} is not more than {}", value.to_js_string(), Value::Number(bound).to_js_string()));
        }
        if let Some(bound) = rules.bounds.exclusive_max.filter(|bound| n >= bound) {
            return Err(format!("{} is not less than {}", value.to_js_string(), Value::Number(bound).to_js_string()));
        }
        if let Some(step) = rules.bounds.multiple_of.filter(|step| !is_multiple(*n, *step)) {
            return Err(format!("{} is not a multiple of {}", value.to_js_string(), Value::Number(step).to_js_string()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_convert_to_their_type() {
        assert_eq!(convert(InputType::Number, &Value::string(" 2.5 ")).map(|v| v.to_number()), Ok(2.5));
        assert_eq!(convert(InputType::Number, &Value::string("two")).map(|_| ()), Err("`two` is not a number".to_owned()));
        assert!(matches!(convert(InputType::Boolean, &Value::string("Yes")), Ok(Value::Bool(true))));
        assert!(matches!(convert(InputType::Boolean, &Value::Bool(false)), Ok(Value::Bool(false))));
        assert!(matches!(convert(InputType::Json, &Value::string("[1]")), Ok(Value::Array(_))));
        assert_eq!(convert(InputType::String, &Value::Number(3.0)).map(|v| v.to_js_string()), Ok("3".to_owned()));
        assert!(convert(InputType::Number, &Value::string("1e999")).is_err());
    }

    #[test]
    fn rules_refuse_with_a_reason() {
        let choices = [Value::string("a"), Value::string("b")];
        let rules = Rules { required: true, choices: &choices, ..Rules::default() };
        assert_eq!(validate(&Value::string(""), &rules), Err("an answer is required".to_owned()));
        assert_eq!(validate(&Value::string("c"), &rules), Err("`c` is not one of: a, b".to_owned()));
        assert_eq!(validate(&Value::string("a"), &rules), Ok(()));
        let pattern = RegExp::new("^[a-z]+$", "").expect("pattern");
        let rules = Rules { pattern: Some(&pattern), bounds: Bounds { max_length: Some(3), ..Bounds::default() }, ..Rules::default() };
        assert_eq!(validate(&Value::string("abcd"), &rules), Err("the answer is 4 characters long; at most 3 are allowed".to_owned()));
        assert_eq!(validate(&Value::string("A1"), &rules), Err("the answer does not match /^[a-z]+$/".to_owned()));
        let rules = Rules { bounds: Bounds { min: Some(1.0), max: Some(10.0), ..Bounds::default() }, ..Rules::default() };
        assert_eq!(validate(&Value::Number(11.0), &rules), Err("11 is more than the maximum, 10".to_owned()));
    }

    #[test]
    fn json_schema_number_and_list_keywords_mean_what_they_mean_there() {
        let rules = Rules { bounds: Bounds { exclusive_min: Some(0.0), exclusive_max: Some(1.0), ..Bounds::default() }, ..Rules::default() };
        assert_eq!(validate(&Value::Number(0.0), &rules), Err("0 is not more than 0".to_owned()));
        assert_eq!(validate(&Value::Number(1.0), &rules), Err("1 is not less than 1".to_owned()));
        assert_eq!(validate(&Value::Number(0.5), &rules), Ok(()));
        let rules = Rules { bounds: Bounds { multiple_of: Some(0.1), ..Bounds::default() }, ..Rules::default() };
        assert_eq!(validate(&Value::Number(0.3), &rules), Ok(()), "0.3 / 0.1 is 2.9999999999999996 in doubles");
        assert_eq!(validate(&Value::Number(0.35), &rules), Err("0.35 is not a multiple of 0.1".to_owned()));
        let rules = Rules { bounds: Bounds { multiple_of: Some(5.0), ..Bounds::default() }, ..Rules::default() };
        assert_eq!(validate(&Value::Number(-15.0), &rules), Ok(()));
        let rules = Rules { bounds: Bounds { unique_items: true, ..Bounds::default() }, ..Rules::default() };
        let list = |json: &str| Value::from(&serde_json::from_str::<serde_json::Value>(json).expect("json"));
        assert_eq!(validate(&list(r#"[1, {"a": 1, "b": 2}, 2]"#), &rules), Ok(()));
        assert_eq!(
            validate(&list(r#"[{"a": 1, "b": [2]}, 3, {"b": [2], "a": 1.0}]"#), &rules),
            Err(r#"items 0 and 2 of the list are the same, {"b":[2],"a":1}; the items must differ"#.to_owned()),
            "equal as JSON: key order and 1 vs 1.0 do not matter"
        );
        assert_eq!(validate(&Value::string("x"), &rules), Err("`x` is not a list".to_owned()));
        // A long list is checked in one pass.
        let long = Value::array((0..200_000).map(|n| Value::Number(n as f64)).chain([Value::Number(7.0)]).collect());
        assert_eq!(validate(&long, &rules), Err("items 7 and 200000 of the list are the same, 7; the items must differ".to_owned()));
    }

    #[test]
    fn a_pattern_that_backtracks_without_bound_refuses_the_answer_in_bounded_time() {
        // 1.9 s at 26 characters before, doubling with each one.
        let pattern = RegExp::new("^(a+)+$", "").expect("pattern");
        let rules = Rules { pattern: Some(&pattern), ..Rules::default() };
        let started = std::time::Instant::now();
        let refused = validate(&Value::string(format!("{}b", "a".repeat(60))), &rules).expect_err("refused");
        assert!(refused.contains("could not be checked") && refused.contains("--max-eval-operations"), "{refused}");
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());
        assert_eq!(validate(&Value::string("aaaa"), &rules), Ok(()), "an ordinary answer still matches");
    }
}
