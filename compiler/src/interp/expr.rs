//! Evaluating the expression IR. Every operator and method is the runtime's
//! (`wfc_runtime::value`), so interpreted and compiled workflows mean the same thing.

use std::sync::Arc;

use wfc_runtime::value::{self, EvalError, Object, Scope, Value};

use crate::expr::ir::{Argument, Body, Element, Expr, Function, LogicalOp, Name, Pattern, Property, Statement, TemplatePart};
use crate::expr::{Compiled, CompiledPart, CompiledTemplate};

/// Evaluates a compiled expression.
pub fn eval(compiled: &Compiled, env: &dyn Scope) -> Result<Value, EvalError> {
    let mut interpreter = Interpreter { env, slots: vec![Value::Undefined; compiled.slots] };
    interpreter.expr(&compiled.expr)
}

/// Evaluates a template string: a single `{{ }}` keeps its value's type; otherwise each piece
/// is turned into text (`undefined`/`null` as nothing, arrays and objects as JSON).
pub fn render(template: &CompiledTemplate, env: &dyn Scope) -> Result<Value, EvalError> {
    match template {
        CompiledTemplate::Value(compiled) => eval(compiled, env),
        CompiledTemplate::Parts(parts) => {
            let mut out = String::new();
            for part in parts {
                match part {
                    CompiledPart::Text(text) => out.push_str(text),
                    CompiledPart::Expr(compiled) => value::push_template_piece(&mut out, &eval(compiled, env)?),
                    CompiledPart::ShellQuoted(compiled, quoting) => value::push_shell_quoted(&mut out, &eval(compiled, env)?, *quoting),
                }
            }
            Ok(Value::string(out))
        }
    }
}

struct Interpreter<'e> {
    env: &'e dyn Scope,
    slots: Vec<Value>,
}

/// How a block of statements ended.
enum Flow {
    Next,
    Return(Value),
    Break,
    Continue,
}

impl Interpreter<'_> {
    fn expr(&mut self, e: &Expr) -> Result<Value, EvalError> {
        Ok(match e {
            Expr::Undefined => Value::Undefined,
            Expr::Null => Value::Null,
            Expr::Bool(b) => Value::Bool(*b),
            Expr::Number(n) => Value::Number(*n),
            Expr::String(s) => Value::string(s.as_str()),
            Expr::Regex { source, flags } => Value::RegExp(Arc::new(value::RegExp::new(source, flags)?)),
            Expr::Template(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        TemplatePart::Text(t) => out.push_str(t),
                        TemplatePart::Expr(e) => self.expr(e)?.push_js_string(&mut out),
                    }
                }
                Value::string(out)
            }
            Expr::Array(elements) => {
                let mut items = Vec::with_capacity(elements.len());
                for element in elements {
                    match element {
                        Element::Item(e) => items.push(self.expr(e)?),
                        Element::Spread(e) => items.extend(value::spread_items(&self.expr(e)?)?),
                    }
                }
                Value::array(items)
            }
            Expr::Object(properties) => {
                let mut object = Object::new();
                for property in properties {
                    match property {
                        Property::Static(key, e) => object.insert(key.as_str(), self.expr(e)?),
                        Property::Computed(key, e) => {
                            let key = self.expr(key)?.to_js_string();
                            object.insert(key, self.expr(e)?);
                        }
                        Property::Spread(e) => value::spread_into(&mut object, &self.expr(e)?),
                    }
                }
                Value::Object(Arc::new(object))
            }
            Expr::Name(Name::Local(slot)) => self.slots[*slot].clone(),
            Expr::Name(Name::Root(root)) => self.env.root(root.name()),
            Expr::Name(Name::NaN) => Value::Number(f64::NAN),
            Expr::Name(Name::Infinity) => Value::Number(f64::INFINITY),
            Expr::Member { .. } | Expr::MethodCall { .. } => self.chain(e)?.unwrap_or_default(),
            Expr::GlobalCall { function, args } => {
                let (values, callback) = self.arguments(args)?;
                match callback {
                    Some(f) => value::call_global(function, &values, Some(&mut |a: &[Value]| self.call(f, a))),
                    None => value::call_global(function, &values, None),
                }?
            }
            Expr::Unary(op, e) => value::unary(*op, &self.expr(e)?),
            Expr::Binary(op, a, b) => {
                let a = self.expr(a)?;
                let b = self.expr(b)?;
                value::binary(*op, &a, &b)?
            }
            Expr::Logical(op, a, b) => {
                let a = self.expr(a)?;
                let take_left = match op {
                    LogicalOp::And => !a.truthy(),
                    LogicalOp::Or => a.truthy(),
                    LogicalOp::Nullish => !matches!(a, Value::Undefined | Value::Null),
                };
                if take_left { a } else { self.expr(b)? }
            }
            Expr::Conditional(test, then, otherwise) => {
                if self.expr(test)?.truthy() { self.expr(then)? } else { self.expr(otherwise)? }
            }
            Expr::Invoke(function, args) => {
                let values = args.iter().map(|arg| self.expr(arg)).collect::<Result<Vec<_>, _>>()?;
                self.call(function, &values)?
            }
        })
    }

    /// A member access or method call; `None` when an optional link (`?.`) met
    /// `null`/`undefined`, which ends the whole chain with `undefined`.
    fn chain(&mut self, e: &Expr) -> Result<Option<Value>, EvalError> {
        let object_of = |this: &mut Self, object: &Expr| match object {
            Expr::Member { .. } | Expr::MethodCall { .. } => this.chain(object),
            other => this.expr(other).map(Some),
        };
        match e {
            Expr::Member { object, property, optional } => {
                let Some(target) = object_of(self, object)? else { return Ok(None) };
                if *optional && matches!(target, Value::Undefined | Value::Null) {
                    return Ok(None);
                }
                let key = self.expr(property)?;
                target.get(&key).map(Some)
            }
            Expr::MethodCall { object, method, args, optional } => {
                if method == "push"
                    && let Expr::Name(Name::Local(slot)) = object.as_ref()
                {
                    let (values, _) = self.arguments(args)?;
                    return value::push(&mut self.slots[*slot], &values).map(Some);
                }
                let Some(receiver) = object_of(self, object)? else { return Ok(None) };
                if *optional && matches!(receiver, Value::Undefined | Value::Null) {
                    return Ok(None);
                }
                let (values, callback) = self.arguments(args)?;
                let result = match callback {
                    Some(f) => value::call_method(&receiver, method, &values, Some(&mut |a: &[Value]| self.call(f, a))),
                    None => value::call_method(&receiver, method, &values, None),
                };
                result.map(Some)
            }
            other => self.expr(other).map(Some),
        }
    }

    /// Evaluates value arguments; a function argument is passed on separately.
    fn arguments<'f>(&mut self, args: &'f [Argument]) -> Result<(Vec<Value>, Option<&'f Function>), EvalError> {
        let mut values = Vec::with_capacity(args.len());
        let mut callback = None;
        for arg in args {
            match arg {
                Argument::Value(e) => values.push(self.expr(e)?),
                Argument::Spread(e) => values.extend(value::spread_items(&self.expr(e)?)?),
                Argument::Function(f) => callback = Some(f),
            }
        }
        Ok((values, callback))
    }

    fn call(&mut self, function: &Function, args: &[Value]) -> Result<Value, EvalError> {
        for (i, pattern) in function.params.iter().enumerate() {
            self.bind(pattern, args.get(i).cloned().unwrap_or_default())?;
        }
        match &function.body {
            Body::Expr(e) => self.expr(e),
            Body::Block(statements) => match self.block(statements)? {
                Flow::Return(value) => Ok(value),
                // `break`/`continue` are only lowered inside a loop of the same body.
                Flow::Next | Flow::Break | Flow::Continue => Ok(Value::Undefined),
            },
        }
    }

    fn block(&mut self, statements: &[Statement]) -> Result<Flow, EvalError> {
        for statement in statements {
            match statement {
                Statement::Declare(pattern, e) => {
                    let value = self.expr(e)?;
                    self.bind(pattern, value)?;
                }
                Statement::Expr(e) => {
                    self.expr(e)?;
                }
                Statement::Return(e) => return Ok(Flow::Return(self.expr(e)?)),
                Statement::If(test, then, otherwise) => {
                    let branch = if self.expr(test)?.truthy() { then } else { otherwise };
                    match self.block(branch)? {
                        Flow::Next => {}
                        jump => return Ok(jump),
                    }
                }
                Statement::Assign(slot, e) => self.slots[*slot] = self.expr(e)?,
                Statement::ForOf(pattern, iterable, body) => {
                    let iterable = self.expr(iterable)?;
                    for item in value::iterated_items(&iterable)?.iter() {
                        self.bind(pattern, item.clone())?;
                        match self.block(body)? {
                            Flow::Next | Flow::Continue => {}
                            Flow::Break => break,
                            Flow::Return(value) => return Ok(Flow::Return(value)),
                        }
                    }
                }
                Statement::Break => return Ok(Flow::Break),
                Statement::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Next)
    }

    fn bind(&mut self, pattern: &Pattern, value: Value) -> Result<(), EvalError> {
        match pattern {
            Pattern::Local(slot) => self.slots[*slot] = value,
            Pattern::Ignore => {}
            Pattern::Array(items) => {
                let values = value::destructure_items(&value)?;
                for (i, item) in items.iter().enumerate() {
                    if let Some(item) = item {
                        self.bind(item, values.get(i).cloned().unwrap_or_default())?;
                    }
                }
            }
            Pattern::Object(fields) => {
                for (key, field) in fields {
                    let item = value::destructure_field(&value, key)?;
                    self.bind(field, item)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{Names, Root, compile};

    fn run(text: &str, input: Value) -> Result<String, String> {
        let names = Names::default().with("input", Root::Named("input".into()));
        let mut issues = Vec::new();
        let compiled = compile(text, &names, &mut issues).ok_or_else(|| format!("{issues:?}"))?;
        let env = value::MapScope(std::collections::HashMap::from([("input".to_owned(), input)]));
        eval(&compiled, &env).map(|v| value::json::stringify(&v, "").unwrap_or_else(|| "undefined".into())).map_err(|e| e.to_string())
    }

    #[test]
    fn corpus_shaped_transforms() {
        let files = value::json::parse(r#"["src/a.ts", "node_modules/x.js", "README.md", "lib/b.js"]"#).expect("json");
        let code = "input.filter(file => { const parts = file.split('/'); const excluded = parts.some(p => ['node_modules'].includes(p)); return !excluded && ['.ts', '.js'].some(ext => file.endsWith(ext)); })";
        assert_eq!(run(code, files).as_deref(), Ok(r#"["src/a.ts","lib/b.js"]"#));
        let results = value::json::parse(r#"{"a": {"success": true}, "b": {"success": false}}"#).expect("json");
        assert_eq!(run("Object.entries(input || {}).filter(([_, r]) => !r.success).map(([f, _]) => f)", results).as_deref(), Ok(r#"["b"]"#));
    }

    #[test]
    fn locals_push_and_optional_chains() {
        assert!(run("(() => 1)", Value::Null).is_err());
        assert_eq!(run("[1, 2, 3].reduce((acc, x) => { const out = acc; out.push(x * 2); return out; }, [])", Value::Null).as_deref(), Ok("[2,4,6]"));
        assert_eq!(run("input?.a.b.c", Value::Null).as_deref(), Ok("undefined"));
        assert!(run("input.a", Value::Undefined).is_err_and(|e| e.contains("Cannot read properties of undefined")));
    }
}
