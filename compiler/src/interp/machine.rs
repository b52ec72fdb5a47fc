//! Workflows interpreted: the runtime's [`Instance`] over the ir, each expression evaluated by
//! walking its IR. Generated code runs the same `Instance` with compiled functions instead, so
//! the two back ends differ only in how an expression is evaluated.

use wfc_runtime::machine::Instance;
use wfc_runtime::machine::program::Expression;
use wfc_runtime::value::{EvalError, Object, Scope, Value, budget};

use super::expr::{eval, render};
use crate::ir::{IrExpr, Template};

/// A workflow or task instance run by the interpreter.
pub type Interpreted = Instance<IrExpr>;

impl Expression for IrExpr {
    fn eval(&self, scope: &dyn Scope) -> Result<Value, EvalError> {
        let evaluation = budget::Evaluation::start();
        evaluation.finish(match self {
            IrExpr::Expr(compiled) => eval(compiled, scope),
            IrExpr::Template(template) => render(template, scope),
            IrExpr::Value(value) => resolve(value, scope),
        })
    }
}

fn resolve(template: &Template, scope: &dyn Scope) -> Result<Value, EvalError> {
    Ok(match template {
        Template::Json(json) => Value::from(json),
        Template::Text(text) => render(text, scope)?,
        Template::Array(items) => Value::array(items.iter().map(|i| resolve(i, scope)).collect::<Result<_, _>>()?),
        Template::Object(entries) => {
            let mut object = Object::new();
            for (key, value) in entries {
                object.insert(key.as_str(), resolve(value, scope)?);
            }
            Value::Object(object.into())
        }
    })
}
