//! The expression IR: the JavaScript subset workflows use, with every name resolved at build
//! time (a local slot, a state scope, a JS global), so evaluating it does no name lookups.
//! Both back ends read this: the interpreter (`interp`) and the code generator (`codegen`).

use wfc_runtime::value::{BinaryOp, UnaryOp};

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `undefined`.
    Undefined,
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number literal.
    Number(f64),
    /// A string literal.
    String(String),
    /// A regular expression literal (checked to compile at build time).
    Regex {
        /// The pattern.
        source: String,
        /// The flags.
        flags: String,
    },
    /// A template literal: text and expressions alternating, stringified and joined.
    Template(Vec<TemplatePart>),
    /// `[a, ...b]`.
    Array(Vec<Element>),
    /// `{ a: 1, [k]: v, ...o }`.
    Object(Vec<Property>),
    /// A name that was resolved at build time.
    Name(Name),
    /// `object.name`, `object[key]`, `object?.name`.
    Member {
        /// What is read from.
        object: Box<Expr>,
        /// The property.
        property: Box<Expr>,
        /// `?.`: `undefined` instead of an error when `object` is `null`/`undefined`.
        optional: bool,
    },
    /// `object.method(args)` (a built-in method).
    MethodCall {
        /// The receiver.
        object: Box<Expr>,
        /// The method name.
        method: String,
        /// The arguments.
        args: Vec<Argument>,
        /// `?.` before the method name.
        optional: bool,
    },
    /// A call of a global function (`Math.max`, `parseInt`, `Object.keys`, `new Set`).
    GlobalCall {
        /// The dotted name.
        function: String,
        /// The arguments.
        args: Vec<Argument>,
    },
    /// A unary operator.
    Unary(UnaryOp, Box<Expr>),
    /// A binary operator.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `&&`, `||`, `??`: the right side runs only when needed.
    Logical(LogicalOp, Box<Expr>, Box<Expr>),
    /// `test ? then : otherwise`.
    Conditional(Box<Expr>, Box<Expr>, Box<Expr>),
    /// An arrow function called where it is written (`(() => { … })()`), with its arguments:
    /// the one place a function body runs other than as a built-in's callback.
    Invoke(Box<Function>, Vec<Expr>),
}

/// Part of a template literal.
#[derive(Clone, Debug, PartialEq)]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// `${expr}`.
    Expr(Expr),
}

/// An array literal element.
#[derive(Clone, Debug, PartialEq)]
pub enum Element {
    /// An item.
    Item(Expr),
    /// `...iterable`.
    Spread(Expr),
}

/// An object literal member.
#[derive(Clone, Debug, PartialEq)]
pub enum Property {
    /// `key: value` (or shorthand `key`).
    Static(String, Expr),
    /// `[key]: value`.
    Computed(Expr, Expr),
    /// `...object`.
    Spread(Expr),
}

/// `&&`, `||` or `??`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogicalOp {
    /// `&&`.
    And,
    /// `||`.
    Or,
    /// `??`.
    Nullish,
}

/// A call argument: a value or an arrow function (only built-ins are called, and the ones that
/// take a function take it as an argument, so functions never need to be values).
#[derive(Clone, Debug, PartialEq)]
pub enum Argument {
    /// A value.
    Value(Expr),
    /// `...array`.
    Spread(Expr),
    /// An arrow function.
    Function(Function),
}

/// An arrow function.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    /// One pattern per parameter.
    pub params: Vec<Pattern>,
    /// `=> expr` or `=> { statements }`.
    pub body: Body,
}

/// What an arrow function runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// An expression, whose value is returned.
    Expr(Box<Expr>),
    /// Statements; a missing `return` returns `undefined`.
    Block(Vec<Statement>),
}

/// A statement of a block body.
#[derive(Clone, Debug, PartialEq)]
pub enum Statement {
    /// `const`/`let` with an initializer.
    Declare(Pattern, Expr),
    /// `if (test) { … } else { … }`.
    If(Expr, Vec<Statement>, Vec<Statement>),
    /// `return expr;` (`return;` returns `undefined`).
    Return(Expr),
    /// An expression evaluated for its effect (`out.push(x)`).
    Expr(Expr),
    /// A `let` local or parameter given a new value: `x = e`, and `x += e`, `x++`, `x ??= e`
    /// written out as `x = x + e` and so on (the same for a local: reading it has no effect).
    Assign(usize, Expr),
    /// `for (const pattern of iterable) { … }`: the body once per item of an array or `Set`,
    /// or character of a string, as `[...iterable]` would list them.
    ForOf(Pattern, Expr, Vec<Statement>),
    /// `break` out of the innermost `for…of`.
    Break,
    /// `continue` with the innermost `for…of`'s next item.
    Continue,
}

/// A binding pattern.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    /// A name, bound to a local slot.
    Local(usize),
    /// `[a, , b]`.
    Array(Vec<Option<Pattern>>),
    /// `{ a, b: c }`.
    Object(Vec<(String, Pattern)>),
    /// A parameter or element that is ignored (`_` is still bound, so this is only for holes).
    Ignore,
}

/// A resolved name.
#[derive(Clone, Debug, PartialEq)]
pub enum Name {
    /// A local variable (arrow parameter or `const`), by slot.
    Local(usize),
    /// A root the evaluation environment provides (`this`, `inputs`, `input`, `stdout`, …).
    Root(Root),
    /// `NaN`.
    NaN,
    /// `Infinity`.
    Infinity,
}

/// The names an expression can read from its workflow.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Root {
    /// `this`: state fields and computed fields, computed winning.
    This,
    /// `global`: variables shared by a workflow and its sub-agent tasks.
    Global,
    /// `inputs` (and the legacy `raw`).
    Inputs,
    /// `loop`: `item`, `index`, `iteration` and custom variable names of enclosing loops.
    Loop,
    /// The legacy `state` tier.
    State,
    /// The legacy `computed` tier.
    Computed,
    /// Any other name the site defines: `input` in a transform, `stdout`/`result`/`response`
    /// in a state-update value, `item`/`task_id` and task inputs in a sub-agent, and so on.
    Named(String),
}

impl Root {
    /// The root called `name`: one of the workflow's scopes, or a site-defined name.
    pub fn from_name(name: &str) -> Root {
        match name {
            "this" => Root::This,
            "global" => Root::Global,
            "inputs" => Root::Inputs,
            "loop" => Root::Loop,
            "state" => Root::State,
            "computed" => Root::Computed,
            other => Root::Named(other.to_owned()),
        }
    }

    /// The name a [`wfc_runtime::value::Scope`] is asked for.
    pub fn name(&self) -> &str {
        match self {
            Root::This => "this",
            Root::Global => "global",
            Root::Inputs => "inputs",
            Root::Loop => "loop",
            Root::State => "state",
            Root::Computed => "computed",
            Root::Named(name) => name,
        }
    }
}

impl Expr {
    /// Calls `visit` on this expression and, where it answers `true`, on the expressions
    /// inside it — arrow-function bodies included — depth first, in source order. The one
    /// walk over the tree for every question asked of it (what state it reads, whether it
    /// appends to a local).
    pub fn walk(&self, visit: &mut impl FnMut(&Expr) -> bool) {
        if !visit(self) {
            return;
        }
        match self {
            Expr::Template(parts) => {
                for part in parts {
                    if let TemplatePart::Expr(e) = part {
                        e.walk(visit);
                    }
                }
            }
            Expr::Array(elements) => {
                for Element::Item(e) | Element::Spread(e) in elements {
                    e.walk(visit);
                }
            }
            Expr::Object(properties) => {
                for property in properties {
                    match property {
                        Property::Static(_, value) | Property::Spread(value) => value.walk(visit),
                        Property::Computed(key, value) => {
                            key.walk(visit);
                            value.walk(visit);
                        }
                    }
                }
            }
            Expr::Member { object, property, .. } => {
                object.walk(visit);
                property.walk(visit);
            }
            Expr::MethodCall { object, args, .. } => {
                object.walk(visit);
                walk_arguments(args, visit);
            }
            Expr::GlobalCall { args, .. } => walk_arguments(args, visit),
            Expr::Unary(_, e) => e.walk(visit),
            Expr::Binary(_, left, right) | Expr::Logical(_, left, right) => {
                left.walk(visit);
                right.walk(visit);
            }
            Expr::Conditional(test, then, otherwise) => {
                test.walk(visit);
                then.walk(visit);
                otherwise.walk(visit);
            }
            Expr::Invoke(function, args) => {
                for arg in args {
                    arg.walk(visit);
                }
                function.body.walk(visit);
            }
            Expr::Undefined | Expr::Null | Expr::Bool(_) | Expr::Number(_) | Expr::String(_) | Expr::Regex { .. } | Expr::Name(_) => {}
        }
    }
}

impl Expr {
    /// Whether `test` holds for this expression or one inside it (arrow-function bodies
    /// included); the walk stops testing at the first that does.
    pub fn any(&self, test: impl FnMut(&Expr) -> bool) -> bool {
        let mut found = false;
        self.walk(&mut first_match(&mut found, test));
        found
    }
}

/// [`Expr::any`] over every expression of `statements`.
pub fn any_in_statements(statements: &[Statement], test: impl FnMut(&Expr) -> bool) -> bool {
    let mut found = false;
    walk_statements(statements, &mut first_match(&mut found, test));
    found
}

impl Body {
    /// [`Expr::any`] over every expression of the body.
    pub fn any(&self, test: impl FnMut(&Expr) -> bool) -> bool {
        let mut found = false;
        self.walk(&mut first_match(&mut found, test));
        found
    }

    /// [`Expr::walk`] over every expression of the body.
    pub fn walk(&self, visit: &mut impl FnMut(&Expr) -> bool) {
        match self {
            Body::Expr(e) => e.walk(visit),
            Body::Block(statements) => walk_statements(statements, visit),
        }
    }
}

/// A walk visitor that records in `found` whether `test` held anywhere, and stops descending
/// once it has.
fn first_match<'a>(found: &'a mut bool, mut test: impl FnMut(&Expr) -> bool + 'a) -> impl FnMut(&Expr) -> bool + 'a {
    move |e| {
        *found = *found || test(e);
        !*found
    }
}

fn walk_arguments(args: &[Argument], visit: &mut impl FnMut(&Expr) -> bool) {
    for arg in args {
        match arg {
            Argument::Value(e) | Argument::Spread(e) => e.walk(visit),
            Argument::Function(function) => function.body.walk(visit),
        }
    }
}

fn walk_statements(statements: &[Statement], visit: &mut impl FnMut(&Expr) -> bool) {
    for statement in statements {
        match statement {
            Statement::Declare(_, e) | Statement::Return(e) | Statement::Expr(e) | Statement::Assign(_, e) => e.walk(visit),
            Statement::If(test, then, otherwise) => {
                test.walk(visit);
                walk_statements(then, visit);
                walk_statements(otherwise, visit);
            }
            Statement::ForOf(_, iterable, body) => {
                iterable.walk(visit);
                walk_statements(body, visit);
            }
            Statement::Break | Statement::Continue => {}
        }
    }
}

impl Expr {
    /// Calls `visit` with every list of statements in this expression — the block bodies of
    /// arrow functions, and the branches and loop bodies inside them — outermost first.
    pub fn for_each_block(&self, visit: &mut impl FnMut(&[Statement])) {
        self.walk(&mut |e| {
            blocks_of_functions_in(e, visit);
            true
        });
    }

    /// The local slots some statement in this expression assigns (`x = …`, `x += …`, `x++`):
    /// every other local is bound once and never changes.
    pub fn assigned_slots(&self) -> std::collections::HashSet<usize> {
        let mut slots = std::collections::HashSet::new();
        self.for_each_block(&mut |list| slots.extend(assignments(list)));
        slots
    }
}

impl Body {
    /// [`Expr::for_each_block`] over the body: its own statements, then every block inside.
    pub fn for_each_block(&self, visit: &mut impl FnMut(&[Statement])) {
        if let Body::Block(list) = self {
            nested_blocks(list, visit);
        }
        self.walk(&mut |e| {
            blocks_of_functions_in(e, visit);
            true
        });
    }

    /// Whether a statement of the body, or of a function inside it, assigns local `slot`.
    pub fn assigns(&self, slot: usize) -> bool {
        let mut found = false;
        self.for_each_block(&mut |list| found = found || assignments(list).any(|s| s == slot));
        found
    }
}

/// The slots the statements of `list` itself assign.
fn assignments(list: &[Statement]) -> impl Iterator<Item = usize> + '_ {
    list.iter().filter_map(|statement| match statement {
        Statement::Assign(slot, _) => Some(*slot),
        _ => None,
    })
}

/// `list` and the statement lists nested in it (branches, loop bodies), outermost first.
fn nested_blocks(list: &[Statement], visit: &mut impl FnMut(&[Statement])) {
    visit(list);
    for statement in list {
        match statement {
            Statement::If(_, then, otherwise) => {
                nested_blocks(then, visit);
                nested_blocks(otherwise, visit);
            }
            Statement::ForOf(_, _, body) => nested_blocks(body, visit),
            _ => {}
        }
    }
}

/// The block bodies of the functions `e` itself holds (its arrow arguments, or the function
/// it invokes), with their nested blocks; functions deeper in are met by the walk.
fn blocks_of_functions_in(e: &Expr, visit: &mut impl FnMut(&[Statement])) {
    let mut body_blocks = |body: &Body| {
        if let Body::Block(list) = body {
            nested_blocks(list, visit);
        }
    };
    match e {
        Expr::MethodCall { args, .. } | Expr::GlobalCall { args, .. } => {
            for arg in args {
                if let Argument::Function(f) = arg {
                    body_blocks(&f.body);
                }
            }
        }
        Expr::Invoke(f, _) => body_blocks(&f.body),
        _ => {}
    }
}
