//! Expressions to Rust. Each IR node becomes a Rust expression of type `Value` (errors leave
//! through `?`); arrow functions become closures over the same local slots the interpreter uses;
//! statically typed subexpressions (numbers, booleans) skip the dynamic value operations.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use wfc_runtime::value::{BinaryOp, UnaryOp};

use super::ident::hidden;
use crate::expr::Compiled;
use crate::expr::ir::{Argument, Body, Element, Expr, Function, LogicalOp, Name, Pattern, Property, Root, Statement, TemplatePart};

/// What is known at build time about the type of an expression's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StaticType {
    /// Always a number.
    Number,
    /// A number, `null` or `undefined` (a declared `number` field): arithmetic and comparisons
    /// convert it to a number exactly as `to_number` does, so they can be native; equality
    /// cannot (`null === 0` is false).
    Numeric,
    /// Always a string.
    String,
    /// Always a boolean.
    Bool,
    /// Known only when it runs.
    Dynamic,
}

impl StaticType {
    /// Whether arithmetic and comparisons on the value are those of its `to_number()`.
    fn converts_exactly(self) -> bool {
        matches!(self, StaticType::Number | StaticType::Numeric)
    }
}

/// What a program's declarations tell the code generator about the state its expressions
/// read: the fields that always hold a number, `null` or nothing, as `(root, field)` — declared
/// `number` state fields (every write is checked against the declaration) read through `this`
/// (unless a computed field of that name overlays it) or the legacy `state`, and declared
/// `number` inputs (checked at start).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateTypes {
    /// A handful of fields: looked up by a scan.
    numeric: Vec<(String, String)>,
}

impl StateTypes {
    /// The types of these `(root, field)` reads, each a number, `null` or `undefined`.
    pub fn numeric(fields: impl IntoIterator<Item = (String, String)>) -> StateTypes {
        StateTypes { numeric: fields.into_iter().collect() }
    }

    fn is_numeric(&self, root: &str, field: &str) -> bool {
        self.numeric.iter().any(|(r, f)| r == root && f == field)
    }
}

/// The fields a generated machine holds in typed structs, as its server-side steps'
/// expressions read them: each read of one (`this.count`, `state.count`, `computed.total`,
/// `inputs.limit`) is a read of its Rust place, passed to the function beside the scope.
pub(super) struct TypedFields {
    /// The fields.
    pub fields: Vec<TypedField>,
    /// The parameters after the scope that hold them (`state: &State, computed: &Computed,
    /// inputs: &Inputs`).
    pub params: TokenStream,
    /// For a computed field's transform: its sources' values, read as `input`.
    pub input: Option<SourcedInput>,
}

/// A transform's `input` held as its sources' values, a `[Value]` (`__wfc_input`), so that no
/// array is built for it: `input[k]` of a list `from` is the k-th source, a single `from`'s
/// `input` the one. The caller makes sure the transform reads `input` only so.
pub(super) struct SourcedInput {
    /// The slice.
    pub place: TokenStream,
    /// How many sources a list `from` has; `None` for a single `from`.
    pub list: Option<usize>,
}

/// One typed field.
pub(super) struct TypedField {
    /// The root it is read through (`this`, `state`, `computed`, `inputs`).
    pub root: String,
    /// Its name.
    pub field: String,
    /// Its value (`__wfc_state.count.value()`), a `Value`.
    pub read: TokenStream,
    /// Its number (`__wfc_state.count.number()`), an `f64`, for a declared number.
    pub number: Option<TokenStream>,
}

/// A function `fn <name>(scope) -> Result<Value, EvalError>` evaluating `compiled`, in a
/// program whose state has `types`.
pub fn expression_fn(name: &syn::Ident, compiled: &Compiled, runtime: &TokenStream, types: &StateTypes) -> TokenStream {
    function(name, compiled, runtime, types, None, Returns::Value)
}

/// A function of a generated machine's steps, `fn <name>(scope, typed fields) -> Result<_,
/// EvalError>`, that reads the typed fields where they are held.
pub(super) fn typed_fn(name: &syn::Ident, compiled: &Compiled, runtime: &TokenStream, types: &StateTypes, typed: &TypedFields, returns: Returns) -> TokenStream {
    function(name, compiled, runtime, types, Some(typed), returns)
}

/// What a generated function returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Returns {
    /// The expression's value.
    Value,
    /// Whether it is truthy, for a condition: no value is made of a native comparison.
    Truthiness,
}

fn function(name: &syn::Ident, compiled: &Compiled, runtime: &TokenStream, types: &StateTypes, typed: Option<&TypedFields>, returns: Returns) -> TokenStream {
    // Locals some statement gives a new value: none of them is held as a constant or a piece list.
    let assigned = compiled.expr.assigned_slots();
    let generator = Generator {
        types,
        typed,
        rt: quote!(#runtime::value),
        labels: std::cell::Cell::new(0),
        loops: std::cell::RefCell::default(),
        borrowed: std::cell::RefCell::default(),
        constant_strings: constant_string_lists(&compiled.expr, &assigned),
        piece_lists: piece_lists(&compiled.expr, &assigned),
    };
    let rt = &generator.rt;
    let (body, output) = match returns {
        Returns::Value => (generator.expr(&compiled.expr), quote!(#rt::Value)),
        Returns::Truthiness => (generator.boolean(&compiled.expr), quote!(bool)),
    };
    let scope = hidden("scope");
    let params = typed.map(|t| {
        let params = &t.params;
        quote!(, #params)
    });
    let slots_decl = (compiled.slots > 0).then(|| {
        let slots = hidden("slots");
        let n = compiled.slots;
        quote!(let mut #slots: ::std::vec::Vec<#rt::Value> = ::std::vec![#rt::Value::Undefined; #n];)
    });
    // Each `const` list of string literals is built once, for every evaluation, where all of
    // the function's blocks can read it.
    let mut constant_lists: Vec<usize> = generator.constant_strings.keys().copied().collect();
    constant_lists.sort();
    let constant_lists = constant_lists.into_iter().map(|slot| {
        let cell = constant_list_cell(slot);
        quote!(static #cell: ::std::sync::OnceLock<#rt::Value> = ::std::sync::OnceLock::new();)
    });
    quote! {
        #[allow(
            unused_variables, // a root a branch does not read
            unreachable_code, // statements after `return` in a block body, as written
            unused_parens, // every generated operation is parenthesized, so nesting never depends on precedence
            unused_braces, // every generated value is a block, for the same reason
            unused_labels, // an inlined arrow body is labelled whether or not it has a `return`
            clippy::all, // generated code is checked against node, not against style
        )]
        pub fn #name(#scope: &dyn #rt::Scope #params) -> ::core::result::Result<#output, #rt::EvalError> {
            #(#constant_lists)*
            #slots_decl
            ::core::result::Result::Ok(#body)
        }
    }
}

struct Generator<'a> {
    rt: TokenStream,
    types: &'a StateTypes,
    typed: Option<&'a TypedFields>,
    /// Counter for unique labels (of inlined bodies and `for…of` loops).
    labels: std::cell::Cell<usize>,
    /// The labels of the `for…of` loops around the statements being generated, innermost
    /// last: where `break` and `continue` go.
    loops: std::cell::RefCell<Vec<syn::Lifetime>>,
    /// Parameters of the inlined loop bodies being generated, by slot: each is borrowed from
    /// what is walked, so binding an item costs no reference counting (see [`Borrowed`]).
    borrowed: std::cell::RefCell<Vec<(usize, Borrowed)>>,
    /// Locals that only ever hold one array of string literals (`const exts = ['.ts', '.js']`),
    /// by slot: the array is built once (in a static, read in place, never stored in the slot)
    /// and `exts.includes(x)` becomes a `match` on the text.
    constant_strings: std::collections::HashMap<usize, Vec<String>>,
    /// Locals declared as a split of a text into slices (`const parts = line.split(/\s+/)`)
    /// that are only indexed with a constant (`parts[0]`) or walked (`parts.some(p => …)`):
    /// they hold the pieces as `&str`s (named by [`piece_list`]), and a value is made only of
    /// a piece that is read as one.
    piece_lists: PieceLists,
}

/// The piece list locals, by slot.
type PieceLists = std::collections::HashMap<usize, PieceList>;

/// What a piece list local holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PieceList {
    /// The first pieces, as an `[Option<&str>; N]`: one more than the highest index read (the
    /// text is cut no further).
    First(usize),
    /// Every piece, as a `Vec<&str>`, for a list that is walked.
    All,
}

/// How an inlined loop body's parameter is held.
#[derive(Clone)]
enum Borrowed {
    /// A `&Value` of the array walked.
    Value(syn::Ident),
    /// A `&str` piece of the text walked ([`LoopSource::Pieces`]): made a value only where one
    /// is needed, tested in place where a string test is all that is asked of it.
    Text(syn::Ident),
}

pub(super) fn f64_literal(n: f64) -> TokenStream {
    if n.is_nan() {
        quote!(f64::NAN)
    } else if n.is_infinite() {
        if n > 0.0 { quote!(f64::INFINITY) } else { quote!(f64::NEG_INFINITY) }
    } else if n == 0.0 && n.is_sign_negative() {
        quote!((-0.0f64))
    } else if n < 0.0 {
        let lit = Literal::f64_suffixed(-n);
        quote!((-#lit))
    } else {
        let lit = Literal::f64_suffixed(n);
        quote!(#lit)
    }
}

impl Generator<'_> {
    /// The typed field `object.property` reads, if it is one (`this.count` of a declared
    /// number in a generated machine's steps).
    fn typed_field(&self, object: &Expr, property: &Expr) -> Option<&TypedField> {
        let (Expr::Name(Name::Root(root)), Expr::String(field)) = (object, property) else { return None };
        self.typed?.fields.iter().find(|f| f.root == root.name() && f.field == *field)
    }

    /// The sourced `input` of a transform, if `root` is it.
    fn sourced_input(&self, root: &Root) -> Option<&SourcedInput> {
        if root.name() != "input" {
            return None;
        }
        self.typed?.input.as_ref()
    }

    /// For `input[k]` of a transform whose list `input` is held as its sources: the k-th
    /// source's place, or `None` past the last (`undefined`). The caller allows integer `k`
    /// only.
    fn sourced_item(&self, object: &Expr, property: &Expr) -> Option<Option<TokenStream>> {
        let (Expr::Name(Name::Root(root)), Expr::Number(k)) = (object, property) else { return None };
        let SourcedInput { place, list: Some(n) } = self.sourced_input(root)? else { return None };
        let k = *k as usize;
        Some((k < *n).then(|| quote!(#place[#k])))
    }

    /// The static type of `e`.
    fn static_type(&self, e: &Expr) -> StaticType {
        use StaticType::*;
        match e {
            Expr::Number(_) | Expr::Name(Name::NaN | Name::Infinity) => Number,
            Expr::String(_) | Expr::Template(_) => String,
            Expr::Bool(_) => Bool,
            Expr::Unary(UnaryOp::Not, _) => Bool,
            Expr::Unary(UnaryOp::Neg | UnaryOp::Plus, _) => Number,
            Expr::Unary(UnaryOp::TypeOf, _) => String,
            Expr::Binary(op, a, b) => match op {
                BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem | BinaryOp::Exp => Number,
                // Neither operand is a string (nor becomes one): a numeric addition.
                BinaryOp::Add => match (self.static_type(a), self.static_type(b)) {
                    (Number | Numeric | Bool, Number | Numeric | Bool) => Number,
                    (String, _) | (_, String) => String,
                    _ => Dynamic,
                },
                _ => Bool,
            },
            Expr::Logical(_, a, b) | Expr::Conditional(_, a, b) => match self.static_type(a) {
                same if same == self.static_type(b) => same,
                _ => Dynamic,
            },
            Expr::GlobalCall { function, .. } => match function.as_str() {
                "Number" | "parseInt" | "parseFloat" => Number,
                f if f.starts_with("Math.") => Number,
                "String" => String,
                "Boolean" | "isNaN" | "Array.isArray" | "Number.isInteger" => Bool,
                _ => Dynamic,
            },
            Expr::Member { object, property, optional: false } if self.static_type(object) == String && **property == Expr::String("length".into()) => {
                Number
            }
            Expr::Member { object, property, optional: false }
                if let (Expr::Name(Name::Root(root)), Expr::String(field)) = (object.as_ref(), property.as_ref())
                    && self.types.is_numeric(root.name(), field) =>
            {
                Numeric
            }
            _ => Dynamic,
        }
    }

    /// How a borrowed loop parameter is held, if `slot` is one.
    fn borrowed(&self, slot: usize) -> Option<Borrowed> {
        self.borrowed.borrow().iter().rev().find(|(s, _)| *s == slot).map(|(_, held)| held.clone())
    }

    /// The `&str` a local is, if it is a piece of a text being walked.
    fn text_local(&self, e: &Expr) -> Option<syn::Ident> {
        match e {
            Expr::Name(Name::Local(slot)) => match self.borrowed(*slot)? {
                Borrowed::Text(piece) => Some(piece),
                Borrowed::Value(_) => None,
            },
            _ => None,
        }
    }

    /// A local as a `&Value`, without cloning it.
    fn local_ref(&self, slot: usize) -> TokenStream {
        let slots = hidden("slots");
        if let Some(texts) = self.constant_strings.get(&slot) {
            let (rt, cell) = (&self.rt, constant_list_cell(slot));
            return quote!(#cell.get_or_init(|| #rt::Value::array(::std::vec![#(#rt::Value::string(#texts)),*])));
        }
        match self.borrowed(slot) {
            Some(Borrowed::Value(param)) => quote!(#param),
            Some(Borrowed::Text(piece)) => {
                let rt = &self.rt;
                quote!(&#rt::Value::string(#piece))
            }
            None => quote!(&#slots[#slot]),
        }
    }

    /// The receiver of a method call: a borrowed loop parameter is used in place (a
    /// `&Value`); anything else is evaluated and held by value.
    fn receiver(&self, object: &Expr) -> TokenStream {
        match object {
            Expr::Name(Name::Local(slot)) if matches!(self.borrowed(*slot), Some(Borrowed::Value(_))) || self.constant_strings.contains_key(slot) => {
                self.local_ref(*slot)
            }
            other => self.expr(other),
        }
    }

    /// `e` as a `&Value`: a local in place, anything else evaluated into a temporary.
    fn value_ref(&self, e: &Expr) -> TokenStream {
        match e {
            Expr::Name(Name::Local(slot)) => self.local_ref(*slot),
            other => self.owned_ref(other),
        }
    }

    /// `e` evaluated into a temporary, as a `&Value` (a local is copied, so what is evaluated
    /// after it may rebind it).
    fn owned_ref(&self, e: &Expr) -> TokenStream {
        let value = self.expr(e);
        quote!(&#value)
    }

    fn expr(&self, e: &Expr) -> TokenStream {
        let rt = &self.rt;
        match self.static_type(e) {
            StaticType::Number if !matches!(e, Expr::Number(_)) => {
                let n = self.number(e);
                return quote!(#rt::Value::Number(#n));
            }
            StaticType::Bool if !matches!(e, Expr::Bool(_)) => {
                let b = self.boolean(e);
                return quote!(#rt::Value::Bool(#b));
            }
            _ => {}
        }
        self.dynamic(e)
    }

    /// An `f64` for an expression whose static type is a number.
    fn number(&self, e: &Expr) -> TokenStream {
        match e {
            Expr::Number(n) => f64_literal(*n),
            Expr::Name(Name::NaN) => quote!(f64::NAN),
            Expr::Name(Name::Infinity) => quote!(f64::INFINITY),
            Expr::Unary(UnaryOp::Neg, a) if self.static_type(a).converts_exactly() => {
                let a = self.number(a);
                quote!((-#a))
            }
            Expr::Member { object, property, optional: false } if let Some(number) = self.typed_field(object, property).and_then(|f| f.number.as_ref()) => {
                number.clone()
            }
            Expr::Member { object, property, optional: false } if let Some(item) = self.sourced_item(object, property) => match item {
                Some(place) => quote!(#place.to_number()),
                None => quote!(f64::NAN),
            },
            // `-`, `*`, `/` and `%` convert both operands to numbers whatever they are (`+` only
            // when neither is or becomes a string).
            Expr::Binary(op @ (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem), a, b)
                if *op != BinaryOp::Add || (self.static_type(a).converts_exactly() && self.static_type(b).converts_exactly()) =>
            {
                let (a, b) = (self.number(a), self.number(b));
                match op {
                    BinaryOp::Add => quote!((#a + #b)),
                    BinaryOp::Sub => quote!((#a - #b)),
                    BinaryOp::Mul => quote!((#a * #b)),
                    BinaryOp::Div => quote!((#a / #b)),
                    _ => {
                        let rt = &self.rt;
                        quote!(#rt::remainder(#a, #b))
                    }
                }
            }
            other => {
                let v = self.dynamic(other);
                quote!(#v.to_number())
            }
        }
    }

    /// A `bool` for a condition: native when the operands' types allow, else truthiness.
    fn boolean(&self, e: &Expr) -> TokenStream {
        match e {
            Expr::Bool(b) => quote!(#b),
            // A local is tested in place, not copied out first.
            Expr::Name(Name::Local(slot)) => {
                let local = self.local_ref(*slot);
                quote!((#local).truthy())
            }
            // `a && b` is truthy when both are, `a || b` when either is (the operand returned
            // is the one that decided), each evaluated only when JavaScript would.
            Expr::Logical(op @ (LogicalOp::And | LogicalOp::Or), a, b) => {
                let (a, b) = (self.boolean(a), self.boolean(b));
                match op {
                    LogicalOp::And => quote!((#a && #b)),
                    _ => quote!((#a || #b)),
                }
            }
            Expr::Conditional(test, then, otherwise) => {
                let (test, then, otherwise) = (self.boolean(test), self.boolean(then), self.boolean(otherwise));
                quote!((if #test { #then } else { #otherwise }))
            }
            Expr::Unary(UnaryOp::Not, a) => {
                let a = self.boolean(a);
                quote!((!#a))
            }
            // Comparisons convert both sides to numbers (neither is a string); strict equality
            // of two numbers is `==` on them, but `null === 0` is not `0 == 0`.
            Expr::Binary(op @ (BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge), a, b)
                if self.static_type(a).converts_exactly() && self.static_type(b).converts_exactly() =>
            {
                let (a, b) = (self.number(a), self.number(b));
                match op {
                    BinaryOp::Lt => quote!((#a < #b)),
                    BinaryOp::Le => quote!((#a <= #b)),
                    BinaryOp::Gt => quote!((#a > #b)),
                    _ => quote!((#a >= #b)),
                }
            }
            Expr::Binary(op @ (BinaryOp::StrictEq | BinaryOp::StrictNe), a, b)
                if self.static_type(a) == StaticType::Number && self.static_type(b) == StaticType::Number =>
            {
                let (a, b) = (self.number(a), self.number(b));
                match op {
                    BinaryOp::StrictEq => quote!((#a == #b)),
                    _ => quote!((#a != #b)),
                }
            }
            Expr::Member { object, property, optional: false }
                if let Expr::String(name) = property.as_ref()
                    && !matches!(object.as_ref(), Expr::Name(Name::Root(_)))
                    && !has_optional_link(e) =>
            {
                // `result.success` as a condition: a plain object's property is tested where
                // it is, not copied out first.
                let (object, rt, found) = (self.value_ref(object), &self.rt, hidden("object"));
                quote!(match #object {
                    #rt::Value::Object(#found) => #found.get(#name).is_some_and(#rt::Value::truthy),
                    #found => #found.get_named(#name)?.truthy(),
                })
            }
            Expr::MethodCall { .. } if let Some(test) = self.text_test(e) => test,
            Expr::Binary(op @ (BinaryOp::StrictEq | BinaryOp::StrictNe), a, b)
                if let Some(test) = self.strictly_equals_literal(a, b).or_else(|| self.strictly_equals_literal(b, a)) =>
            {
                if *op == BinaryOp::StrictEq { test } else { quote!((!#test)) }
            }
            // Any other equality: the comparison itself, with no boolean value made of it.
            Expr::Binary(op @ (BinaryOp::StrictEq | BinaryOp::StrictNe | BinaryOp::LooseEq | BinaryOp::LooseNe), a, b) => {
                let (rt, left, right) = (&self.rt, hidden("left"), hidden("right"));
                let (a, b) = (self.expr(a), self.expr(b));
                let equals = match op {
                    BinaryOp::StrictEq | BinaryOp::StrictNe => quote!(#rt::strict_equals(&#left, &#right)),
                    _ => quote!(#rt::loose_equals(&#left, &#right)),
                };
                let test = quote!({ let #left = #a; let #right = #b; #equals });
                if matches!(op, BinaryOp::StrictEq | BinaryOp::LooseEq) { test } else { quote!((!#test)) }
            }
            other => {
                let v = self.dynamic(other);
                quote!(#v.truthy())
            }
        }
    }

    /// `piece.includes('x')`, `piece.startsWith('x')`, `piece.endsWith('x')` on a piece of a
    /// text being walked, and `list.includes(piece)` of a constant string list, as a `bool` of
    /// the `&str` (no value made of the piece).
    fn text_test(&self, e: &Expr) -> Option<TokenStream> {
        if let Expr::MethodCall { object, method, args, optional: false } = e
            && let (Expr::Name(Name::Local(list)), "includes", [Argument::Value(needle)]) = (object.as_ref(), method.as_str(), args.as_slice())
            && let Some(texts) = self.constant_strings.get(list)
        {
            let piece = self.text_local(needle)?;
            return Some(one_of(texts, quote!(#piece)));
        }
        let (object, test, sought) = literal_string_test(e)?;
        let piece = self.text_local(object)?;
        Some(quote!(#piece.#test(#sought)))
    }

    /// The receiver of `text.split(…)` as a `&str`: statements that hold its value (in
    /// `holder`, unless it is a piece already), and the `&str`. A receiver that is no string is
    /// the error `split` on it throws.
    fn split_text(&self, text: &Expr, holder: &syn::Ident) -> (TokenStream, TokenStream) {
        let rt = &self.rt;
        match self.text_local(text) {
            Some(piece) => (quote!(), quote!(#piece)),
            None => {
                let value = self.receiver(text);
                (quote!(let #holder = #value;), quote!(#rt::receiver_text(&#holder, "split")?))
            }
        }
    }

    /// `value === literal` as a pattern test on the value (`this.status === 'done'`), for a
    /// literal whose strict equality is one: no operator dispatch, no literal value built.
    fn strictly_equals_literal(&self, value: &Expr, literal: &Expr) -> Option<TokenStream> {
        let (rt, x) = (&self.rt, hidden("x"));
        let pattern = match literal {
            Expr::Number(n) => {
                let n = f64_literal(*n);
                quote!(#rt::Value::Number(#x) if *#x == #n)
            }
            Expr::String(text) => quote!(#rt::Value::String(#x) if &**#x == #text),
            Expr::Bool(b) => quote!(#rt::Value::Bool(#b)),
            Expr::Null => quote!(#rt::Value::Null),
            Expr::Undefined => quote!(#rt::Value::Undefined),
            _ => return None,
        };
        // A `match`, not `matches!`, so that the expanded code is formatted like the rest.
        let value = self.value_ref(value);
        Some(quote!(match #value { #pattern => true, _ => false }))
    }

    fn dynamic(&self, e: &Expr) -> TokenStream {
        let rt = &self.rt;
        let slots = hidden("slots");
        let scope = hidden("scope");
        match e {
            Expr::Undefined => quote!(#rt::Value::Undefined),
            Expr::Null => quote!(#rt::Value::Null),
            Expr::Bool(b) => quote!(#rt::Value::Bool(#b)),
            Expr::Number(n) => {
                let n = f64_literal(*n);
                quote!(#rt::Value::Number(#n))
            }
            Expr::String(s) => constant_string(rt, s),
            Expr::Array(elements) if !elements.is_empty() && elements.iter().all(is_constant_item) => {
                // A literal array of literals is built once; values are copy-on-write, so
                // sharing it is indistinguishable from building it afresh.
                let cell = super::ident::hidden_static("array");
                let items = elements.iter().filter_map(|e| match e {
                    Element::Item(Expr::String(s)) => Some(quote!(#rt::Value::string(#s))),
                    Element::Item(other) => Some(self.dynamic(other)),
                    Element::Spread(_) => None,
                });
                quote!({
                    static #cell: ::std::sync::OnceLock<#rt::Value> = ::std::sync::OnceLock::new();
                    #cell.get_or_init(|| #rt::Value::array(::std::vec![#(#items),*])).clone()
                })
            }
            Expr::Regex { source, flags } => {
                let cell = super::ident::hidden_static("regex");
                quote!({
                    static #cell: ::std::sync::OnceLock<::std::sync::Arc<#rt::RegExp>> = ::std::sync::OnceLock::new();
                    #rt::Value::RegExp(#cell
                        .get_or_init(|| ::std::sync::Arc::new(#rt::RegExp::new(#source, #flags).expect("the pattern was compiled when the workflow was checked")))
                        .clone())
                })
            }
            // A template with nothing to interpolate (`tool: fetch` in a step) is its text.
            Expr::Template(parts) if parts.iter().all(|part| matches!(part, TemplatePart::Text(_))) => {
                let text: String = parts.iter().filter_map(|part| if let TemplatePart::Text(t) = part { Some(t.as_str()) } else { None }).collect();
                constant_string(rt, &text)
            }
            Expr::Template(parts) => {
                let text = hidden("text");
                let room: usize = parts.iter().map(|part| if let TemplatePart::Text(t) = part { t.len() } else { INTERPOLATION_ROOM }).sum();
                let pushes = parts.iter().map(|part| match part {
                    TemplatePart::Text(t) => quote!(#text.push_str(#t);),
                    TemplatePart::Expr(e) => {
                        let v = self.expr(e);
                        quote!(#v.push_js_string(&mut #text);)
                    }
                });
                quote!({ let mut #text = ::std::string::String::with_capacity(#room); #(#pushes)* #rt::Value::string(#text) })
            }
            Expr::Array(elements) => {
                let items = hidden("items");
                let pushes = elements.iter().map(|element| match element {
                    Element::Item(e) => {
                        let v = self.expr(e);
                        quote!(#items.push(#v);)
                    }
                    Element::Spread(e) => {
                        let v = self.expr(e);
                        quote!(#items.extend(#rt::spread_items(&#v)?);)
                    }
                });
                if elements.is_empty() {
                    return quote!(#rt::Value::array(::std::vec::Vec::new()));
                }
                quote!({ let mut #items: ::std::vec::Vec<#rt::Value> = ::std::vec::Vec::new(); #(#pushes)* #rt::Value::array(#items) })
            }
            Expr::Object(properties) => {
                let object = hidden("object");
                let inserts = properties.iter().enumerate().map(|(i, property)| match property {
                    Property::Static(key, e) => {
                        // The key's shared string is made once, not at every evaluation; a name
                        // no earlier member can have set is added without a search.
                        let v = self.expr(e);
                        let cell = super::ident::hidden_static("key");
                        let is_new = properties[..i].iter().all(|earlier| matches!(earlier, Property::Static(other, _) if other != key));
                        let insert = if is_new { quote!(insert_new) } else { quote!(insert) };
                        quote!({
                            static #cell: ::std::sync::OnceLock<::std::sync::Arc<str>> = ::std::sync::OnceLock::new();
                            #object.#insert(#cell.get_or_init(|| ::std::sync::Arc::from(#key)).clone(), #v);
                        })
                    }
                    Property::Computed(key, e) => {
                        let (k, v) = (self.expr(key), self.expr(e));
                        let key = hidden("key");
                        quote!({ let #key = #k.to_js_string(); #object.insert(#key, #v); })
                    }
                    Property::Spread(e) => {
                        let v = self.expr(e);
                        quote!(#rt::spread_into(&mut #object, &#v);)
                    }
                });
                let new_object = match properties.iter().filter(|p| !matches!(p, Property::Spread(_))).count() {
                    0 => quote!(#rt::Object::new()),
                    named => quote!(#rt::Object::with_capacity(#named)),
                };
                quote!({ let mut #object = #new_object; #(#inserts)* #rt::Value::Object(::std::sync::Arc::new(#object)) })
            }
            Expr::Name(Name::Local(slot)) if self.constant_strings.contains_key(slot) => {
                let list = self.local_ref(*slot);
                quote!(#list.clone())
            }
            Expr::Name(Name::Local(slot)) => match self.borrowed(*slot) {
                Some(Borrowed::Value(param)) => quote!(#param.clone()),
                Some(Borrowed::Text(piece)) => quote!(#rt::Value::string(#piece)),
                None => quote!(#slots[#slot].clone()),
            },
            Expr::Name(Name::Root(root)) if let Some(SourcedInput { place, list: None }) = self.sourced_input(root) => quote!(#place[0].clone()),
            Expr::Name(Name::Root(root)) => {
                let name = root.name();
                quote!(#scope.root(#name))
            }
            Expr::Name(Name::NaN) => quote!(#rt::Value::Number(f64::NAN)),
            Expr::Name(Name::Infinity) => quote!(#rt::Value::Number(f64::INFINITY)),
            Expr::Member { .. } | Expr::MethodCall { .. } if has_optional_link(e) => {
                let chain = self.chain(e);
                quote!(#chain.unwrap_or_default())
            }
            Expr::Member { object, property, optional: false }
                if let (Expr::Name(Name::Local(slot)), Some(index)) = (object.as_ref(), constant_index(property))
                    && let Some(list) = self.piece_lists.get(slot) =>
            {
                let pieces = piece_list(*slot);
                let piece = match list {
                    PieceList::First(_) => quote!(#pieces[#index]),
                    PieceList::All => quote!(#pieces.get(#index).copied()),
                };
                quote!(#piece.map_or(#rt::Value::Undefined, #rt::Value::string))
            }
            Expr::Member { object, property, optional: false } if let Some(field) = self.typed_field(object, property) => field.read.clone(),
            Expr::Member { object, property, optional: false } if let Some(item) = self.sourced_item(object, property) => match item {
                Some(place) => quote!(#place.clone()),
                None => quote!(#rt::Value::Undefined),
            },
            Expr::Member { object, property, .. }
                if let (Expr::Name(Name::Root(root)), Expr::String(name)) = (object.as_ref(), property.as_ref()) =>
            {
                // `this.count`: the scope reads the field where it is kept.
                let root = root.name();
                let scope = hidden("scope");
                quote!(#scope.field(#root, #name)?)
            }
            Expr::Member { object, property, .. } => {
                // A local is read in place (no reference count traffic) unless evaluating the
                // key could rebind it.
                let object = if writes_locals(property) { self.owned_ref(object) } else { self.value_ref(object) };
                let object_name = hidden("object");
                let read = self.property_read(&object_name, property);
                quote!({ let #object_name: &#rt::Value = #object; #read? })
            }
            Expr::MethodCall { .. } if let Some(test) = self.text_test(e) => quote!(#rt::Value::Bool(#test)),
            Expr::MethodCall { object, method, args, .. } => {
                if let Some((source, f, g)) = fusable_filter_map(e, &self.piece_lists) {
                    return self.array_method(source, "filter", f, Some(g));
                }
                if let [Argument::Function(f)] = args.as_slice()
                    && WALKS.contains(&method.as_str())
                {
                    return self.array_method(object, method, f, None);
                }
                let (values, callback) = self.arguments(args);
                let (target, call_args, needle) = (hidden("target"), hidden("call_args"), hidden("needle"));
                if let (Expr::Name(Name::Local(slot)), "push") = (object.as_ref(), method.as_str()) {
                    return quote!({ let #call_args = #values; #rt::push(&mut #slots[#slot], &#call_args)? });
                }
                let object_expr = object.as_ref();
                let generic = quote!({ let #call_args = #values; #rt::call_method(&#target, #method, &#call_args, #callback)? });
                let receiver = self.receiver(object_expr);
                match (method.as_str(), args.as_slice()) {
                    ("includes", [Argument::Value(needle_expr)]) if let Expr::Name(Name::Local(slot)) = object_expr
                        && let Some(texts) = self.constant_strings.get(slot) =>
                    {
                        // Only a string can equal one of the texts (SameValueZero).
                        let (needle_ref, sought) = (self.value_ref(needle_expr), hidden("sought"));
                        let found = one_of(texts, quote!(&**#sought));
                        quote!(#rt::Value::Bool(match #needle_ref { #rt::Value::String(#sought) => #found, _ => false }))
                    }
                    (name, [Argument::Value(needle_expr)]) if let Some(test) = str_test(name) => {
                        // String tests (and array `includes`) without dispatch; anything else
                        // goes to the runtime, which knows every receiver.
                        let (text, sought, items) = (hidden("text"), hidden("sought"), hidden("items"));
                        let test = quote!(#text.#test(&**#sought));
                        let array_arm = (method == "includes").then(|| {
                            quote!((#rt::Value::Array(#items), _) => #rt::Value::Bool(#items.iter().any(|#text| #rt::same_value_zero(#text, #needle))),)
                        });
                        // Both operands are only read: a local is borrowed in place (no reference
                        // count traffic) unless evaluating the needle could rebind a local.
                        let target_ref = match object_expr {
                            Expr::Name(Name::Local(slot)) if !writes_locals(needle_expr) => self.local_ref(*slot),
                            _ => quote!(&#receiver),
                        };
                        let needle_ref = self.value_ref(needle_expr);
                        quote!({
                            let #target = #target_ref;
                            let #needle = #needle_ref;
                            match (#target, #needle) {
                                (#rt::Value::String(#text), #rt::Value::String(#sought)) => #rt::Value::Bool(#test),
                                #array_arm
                                _ => {
                                    let #call_args = [#needle.clone()];
                                    #rt::call_method(#target, #method, &#call_args, ::core::option::Option::None)?
                                }
                            }
                        })
                    }
                    _ => quote!({ let #target = #receiver; #generic }),
                }
            }
            Expr::GlobalCall { function, args } => {
                let (values, callback) = self.arguments(args);
                let call_args = hidden("call_args");
                quote!({ let #call_args = #values; #rt::call_global(#function, &#call_args, #callback)? })
            }
            Expr::Unary(op, a) => {
                let (op, a) = (unary_op(*op), self.expr(a));
                quote!(#rt::unary(#rt::UnaryOp::#op, &#a))
            }
            Expr::Binary(op, a, b) => {
                let (op, a, b) = (binary_op(*op), self.expr(a), self.expr(b));
                let (left, right) = (hidden("left"), hidden("right"));
                quote!({ let #left = #a; let #right = #b; #rt::binary(#rt::BinaryOp::#op, &#left, &#right)? })
            }
            Expr::Logical(op, a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                let left = hidden("left");
                let take_left = match op {
                    LogicalOp::And => quote!(!#left.truthy()),
                    LogicalOp::Or => quote!(#left.truthy()),
                    LogicalOp::Nullish => quote!(!matches!(#left, #rt::Value::Undefined | #rt::Value::Null)),
                };
                quote!({ let #left = #a; if #take_left { #left } else { #b } })
            }
            Expr::Conditional(test, then, otherwise) => {
                let (test, then, otherwise) = (self.boolean(test), self.expr(then), self.expr(otherwise));
                quote!(if #test { #then } else { #otherwise })
            }
            Expr::Invoke(f, args) => self.invoke(f, args),
        }
    }

    /// `(params => body)(args)` inlined: the arguments evaluated in order, the parameters bound
    /// to them, and the body as a value (a block body is a labelled block `return` breaks).
    fn invoke(&self, f: &Function, args: &[Expr]) -> TokenStream {
        let rt = &self.rt;
        let arguments: Vec<syn::Ident> = (0..args.len()).map(|i| format_ident!("__wfc_argument{}_{i}", self.labels.get())).collect();
        let label = self.next_label("invoked");
        let evaluated = args.iter().zip(&arguments).map(|(arg, name)| {
            let value = self.expr(arg);
            quote!(let #name: #rt::Value = #value;)
        });
        let binds = f.params.iter().enumerate().map(|(i, p)| match arguments.get(i) {
            Some(name) => self.bind(p, quote!(#name)),
            None => self.bind(p, quote!(#rt::Value::Undefined)),
        });
        let body = match &f.body {
            Body::Expr(e) => self.expr(e),
            Body::Block(statements) => {
                let statements = self.statements(statements, Exit::Value(&label));
                quote!(#label: { #statements #rt::Value::Undefined })
            }
        };
        quote!({ #(#evaluated)* #(#binds)* #body })
    }

    /// A label no other generated block or loop of the function has.
    fn next_label(&self, kind: &str) -> syn::Lifetime {
        let label = syn::Lifetime::new(&format!("'__wfc_{kind}{}", self.labels.get()), proc_macro2::Span::call_site());
        self.labels.set(self.labels.get() + 1);
        label
    }

    /// Reading `property` from the `Value` named `object`, as a `Result`: a name known at build
    /// time is looked up as it is, without building a key value.
    fn property_read(&self, object: &syn::Ident, property: &Expr) -> TokenStream {
        match property {
            Expr::String(name) => quote!(#object.get_named(#name)),
            // An array index known at build time (`parts[0]`): no key value, no conversion.
            _ if let Some(index) = constant_index(property) => quote!(#object.get_index(#index)),
            other => {
                let key = self.expr(other);
                quote!(#object.get(&#key))
            }
        }
    }

    /// A member access or method call as an `Option<Value>`: `None` when an optional link met
    /// `null`/`undefined`, ending the whole chain with `undefined`.
    fn chain(&self, e: &Expr) -> TokenStream {
        let rt = &self.rt;
        let slots = hidden("slots");
        let target = hidden("target");
        let object_of = |object: &Expr| match object {
            Expr::Member { .. } | Expr::MethodCall { .. } => self.chain(object),
            other => {
                let v = self.expr(other);
                quote!(::core::option::Option::Some(#v))
            }
        };
        let nullish = quote!(matches!(#target, #rt::Value::Undefined | #rt::Value::Null));
        match e {
            Expr::Member { object, property, optional } => {
                let (object, read) = (object_of(object), self.property_read(&target, property));
                let guard = if *optional { quote!(if #nullish { ::core::option::Option::None } else) } else { quote!() };
                quote!(match #object {
                    ::core::option::Option::None => ::core::option::Option::None,
                    ::core::option::Option::Some(#target) => #guard { ::core::option::Option::Some(#read?) },
                })
            }
            Expr::MethodCall { object, method, args, optional } => {
                let (values, callback) = self.arguments(args);
                let call_args = hidden("call_args");
                if let (Expr::Name(Name::Local(slot)), "push") = (object.as_ref(), method.as_str()) {
                    return quote!({ let #call_args = #values; ::core::option::Option::Some(#rt::push(&mut #slots[#slot], &#call_args)?) });
                }
                let object = object_of(object);
                let guard = if *optional { quote!(if #nullish { ::core::option::Option::None } else) } else { quote!() };
                quote!(match #object {
                    ::core::option::Option::None => ::core::option::Option::None,
                    ::core::option::Option::Some(#target) => #guard {
                        let #call_args = #values;
                        ::core::option::Option::Some(#rt::call_method(&#target, #method, &#call_args, #callback)?)
                    },
                })
            }
            other => {
                let v = self.expr(other);
                quote!(::core::option::Option::Some(#v))
            }
        }
    }

    /// The value arguments as a `Vec<Value>` expression, and the callback (or `None`).
    fn arguments(&self, args: &[Argument]) -> (TokenStream, TokenStream) {
        let rt = &self.rt;
        let list = hidden("list");
        let mut callback = quote!(::core::option::Option::None);
        let pushes: Vec<TokenStream> = args
            .iter()
            .filter_map(|arg| match arg {
                Argument::Value(e) => {
                    let v = self.expr(e);
                    Some(quote!(#list.push(#v);))
                }
                Argument::Spread(e) => {
                    let v = self.expr(e);
                    Some(quote!(#list.extend(#rt::spread_items(&#v)?);))
                }
                Argument::Function(f) => {
                    let closure = self.function(f);
                    callback = quote!(::core::option::Option::Some(&mut #closure));
                    None
                }
            })
            .collect();
        let has_spread = args.iter().any(|a| matches!(a, Argument::Spread(_)));
        if has_spread {
            return (quote!({ let mut #list: ::std::vec::Vec<#rt::Value> = ::std::vec::Vec::new(); #(#pushes)* #list }), callback);
        }
        let values = args.iter().filter_map(|arg| match arg {
            Argument::Value(e) => Some(self.expr(e)),
            _ => None,
        });
        let values: Vec<TokenStream> = values.collect();
        let n = values.len();
        (quote!([#(#values),*] as [#rt::Value; #n]), callback)
    }

    /// `object.method(f)` for the array methods that take a function — and, with `then_map`,
    /// `object.filter(f).map(then_map)` in one pass — as a loop inlined for an array receiver,
    /// for `Object.entries(o)`'s pairs walked without building them, or for the pieces of
    /// `text.split(separator)` walked as slices. Any other receiver goes to the runtime's
    /// methods, which handle every receiver.
    fn array_method(&self, object: &Expr, method: &str, f: &Function, then_map: Option<&Function>) -> TokenStream {
        let rt = &self.rt;
        let (target, items) = (hidden("target"), hidden("items"));
        let call = |receiver: &syn::Ident, method: &str, f: &Function| {
            let closure = self.function(f);
            quote!(#rt::call_method(&#receiver, #method, &[], ::core::option::Option::Some(&mut #closure))?)
        };
        let generic = match then_map {
            None => call(&target, method, f),
            Some(g) => {
                let filtered = hidden("filtered");
                let (filter, map) = (call(&target, "filter", f), call(&filtered, "map", g));
                quote!({ let #filtered = #filter; #map })
            }
        };
        match walked(object, f, &self.piece_lists) {
            Walked::Pieces { text, separator } => {
                // No fallback: a receiver that is no string is `split`'s error.
                let (hold, text) = self.split_text(text, &target);
                let separator = self.expr(separator);
                let inline = self.inline_loop(method, f, LoopSource::Pieces, then_map);
                quote!({ #hold let #items = #rt::text_pieces(#text, &#separator)?; #inline })
            }
            Walked::PieceList(slot) => {
                let (pieces, inline) = (piece_list(slot), self.inline_loop(method, f, LoopSource::Pieces, then_map));
                quote!({ let #items = #pieces.iter().copied(); #inline })
            }
            Walked::Entries(entries_of) => {
                let inline = self.inline_loop(method, f, LoopSource::Entries, then_map);
                let value = self.expr(entries_of);
                let object_name = hidden("object");
                quote!({
                    let #object_name = #value;
                    match &#object_name {
                        #rt::Value::Object(#items) => #inline,
                        _ => {
                            let #target = #rt::call_global("Object.entries", &[#object_name.clone()], ::core::option::Option::None)?;
                            #generic
                        }
                    }
                })
            }
            Walked::Array => {
                let receiver = self.receiver(object);
                let inline = self.inline_loop(method, f, LoopSource::Array, then_map);
                quote!({ let #target = #receiver; match &#target { #rt::Value::Array(#items) => #inline, _ => #generic } })
            }
        }
    }

    /// `items.filter(x => …)` and its kin as a plain loop over the array, the arrow's body
    /// inlined: no closure, no argument array, no method lookup. Same results as the runtime's
    /// methods (which handle every receiver that is not an array). A filter with `then_map`
    /// maps each item it keeps as it keeps it (see [`fusable_filter_map`]).
    fn inline_loop(&self, method: &str, f: &Function, source: LoopSource, then_map: Option<&Function>) -> TokenStream {
        let rt = &self.rt;
        let (items, item, index, out, result) = (hidden("items"), hidden("item"), hidden("index"), hidden("out"), hidden("result"));
        let (key, property) = (hidden("key"), hidden("property"));
        let header = match source {
            LoopSource::Array => quote!(for (#index, #item) in #items.iter().enumerate()),
            LoopSource::Pieces => quote!(for (#index, #item) in #items.enumerate()),
            LoopSource::Entries => quote!(for (#index, (#key, #property)) in #items.entries().enumerate()),
        };
        // The evaluation budget, as the runtime's methods charge it: every item up front where
        // their number is known, each piece of a split text as it is cut.
        let (charge_all, charge_each) = match source {
            LoopSource::Array | LoopSource::Entries => (quote!(#rt::budget::charge_operations(#items.len())?;), quote!()),
            LoopSource::Pieces => (quote!(), quote!(#rt::budget::charge_operations(1)?;)),
        };
        let element = self.element(source);
        // A test (`filter`, `some`, …) is evaluated as a `bool`, not as a value then tested.
        let is_test = matches!(method, "filter" | "some" | "every" | "find" | "findIndex");
        let (binds, body) = self.inlined_function(f, source, quote!(#rt::Value::Number(#index as f64)), is_test);
        let (init, step, finish) = match method {
            "filter" => {
                let keep = match then_map {
                    None => quote!(#out.push(#element);),
                    Some(map) => {
                        // The mapped item's index is its place in the filtered array.
                        let (binds, body) = self.inlined_function(map, source, quote!(#rt::Value::Number(#out.len() as f64)), false);
                        let mapped = hidden("mapped");
                        quote!(#(#binds)* let #mapped: #rt::Value = #body; #out.push(#mapped);)
                    }
                };
                (quote!(let mut #out = ::std::vec::Vec::new();), quote!(if #result { #keep }), quote!(#rt::Value::array(#out)))
            }
            "map" => {
                let init = match source {
                    // Pieces are found as they are walked: how many there are is not known.
                    LoopSource::Pieces => quote!(let mut #out = ::std::vec::Vec::new();),
                    _ => quote!(let mut #out = ::std::vec::Vec::with_capacity(#items.len());),
                };
                (init, quote!(#out.push(#result);), quote!(#rt::Value::array(#out)))
            }
            "some" => (quote!(let mut #out = false;), quote!(if #result { #out = true; break; }), quote!(#rt::Value::Bool(#out))),
            "every" => (quote!(let mut #out = true;), quote!(if !#result { #out = false; break; }), quote!(#rt::Value::Bool(#out))),
            "find" => (quote!(let mut #out = #rt::Value::Undefined;), quote!(if #result { #out = #element; break; }), quote!(#out)),
            "findIndex" => (quote!(let mut #out = -1.0;), quote!(if #result { #out = #index as f64; break; }), quote!(#rt::Value::Number(#out))),
            _ => (quote!(), quote!(let _ = #result;), quote!(#rt::Value::Undefined)),
        };
        let result_type = if is_test { quote!(bool) } else { quote!(#rt::Value) };
        quote!({
            #charge_all
            #init
            #header {
                #charge_each
                #(#binds)*
                let #result: #result_type = #body;
                #step
            }
            #finish
        })
    }

    /// The current element of a loop over `source` as a value: the array item, the piece of
    /// text, or the `[key, value]` pair (made only where this is used).
    fn element(&self, source: LoopSource) -> TokenStream {
        let rt = &self.rt;
        let (item, key, property) = (hidden("item"), hidden("key"), hidden("property"));
        match source {
            LoopSource::Array => quote!(#item.clone()),
            LoopSource::Pieces => quote!(#rt::Value::string(#item)),
            LoopSource::Entries => quote!(#rt::Value::array(::std::vec![#rt::Value::String(#key.clone()), #property.clone()])),
        }
    }

    /// An arrow function inlined into a loop over `source`: the statements binding its
    /// parameters to the current element (`item`, or the pair `key`/`property`), to
    /// `position` and to the array walked; and its body as a value, or as a `bool` if it is a
    /// `test` (a block body is a labelled block that `return` breaks out of).
    fn inlined_function(&self, f: &Function, source: LoopSource, position: TokenStream, test: bool) -> (Vec<TokenStream>, TokenStream) {
        let rt = &self.rt;
        let (items, item, key, property) = (hidden("items"), hidden("item"), hidden("key"), hidden("property"));
        let label = self.next_label("body");
        let element = self.element(source);
        // Parameters that borrow from what is walked instead of being copied into a slot: the
        // item itself, or a pair's value, unless the body appends to it.
        let mut borrowed_here = Vec::new();
        let mut borrow = |slot: usize, from: TokenStream| {
            let param = format_ident!("__wfc_param{}_{}", self.labels.get(), slot);
            borrowed_here.push(slot);
            if source == LoopSource::Pieces {
                self.borrowed.borrow_mut().push((slot, Borrowed::Text(param.clone())));
                quote!(let #param: &str = #from;)
            } else {
                self.borrowed.borrow_mut().push((slot, Borrowed::Value(param.clone())));
                quote!(let #param: &#rt::Value = #from;)
            }
        };
        let binds: Vec<TokenStream> = f
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| match (i, p, source) {
                (0, Pattern::Array(parts), LoopSource::Entries) => {
                    let binds = parts.iter().take(2).enumerate().filter_map(|(k, part)| match (k, part.as_ref()?) {
                        // A key nobody reads is not turned into a value.
                        (0, Pattern::Local(slot)) if !reads_local(&f.body, *slot) => None,
                        (0, part) => Some(self.bind(part, quote!(#rt::Value::String(#key.clone())))),
                        (_, Pattern::Local(slot)) if !writes_in_body(&f.body, *slot) => Some(borrow(*slot, quote!(#property))),
                        (_, part) => Some(self.bind(part, quote!(#property.clone()))),
                    });
                    let holes = parts.iter().skip(2).flatten().map(|part| self.bind(part, quote!(#rt::Value::Undefined)));
                    quote!(#(#binds)* #(#holes)*)
                }
                (0, Pattern::Local(slot), LoopSource::Array | LoopSource::Pieces) if !writes_in_body(&f.body, *slot) => borrow(*slot, quote!(#item)),
                // Destructured in place: the item is only read.
                (0, p @ Pattern::Array(_), LoopSource::Array) => self.bind(p, quote!(#item)),
                (0, p, _) => self.bind(p, element.clone()),
                (1, p, _) => self.bind(p, position.clone()),
                (2, p, _) => self.bind(p, quote!(#rt::Value::Array(#items.clone()))),
                (_, p, _) => self.bind(p, quote!(#rt::Value::Undefined)),
            })
            .collect();
        let body = match (&f.body, test) {
            (Body::Expr(e), true) => self.boolean(e),
            (Body::Expr(e), false) => self.expr(e),
            (Body::Block(statements), true) => {
                let statements = self.statements(statements, Exit::Test(&label));
                quote!(#label: { #statements false })
            }
            (Body::Block(statements), false) => {
                let statements = self.statements(statements, Exit::Value(&label));
                quote!(#label: { #statements #rt::Value::Undefined })
            }
        };
        self.borrowed.borrow_mut().retain(|(s, _)| !borrowed_here.contains(s));
        (binds, body)
    }

    fn function(&self, f: &Function) -> TokenStream {
        let rt = &self.rt;
        let args = hidden("args");
        let binds = f.params.iter().enumerate().map(|(i, p)| self.bind(p, quote!(#args.get(#i).cloned().unwrap_or_default())));
        let body = match &f.body {
            Body::Expr(e) => {
                let v = self.expr(e);
                quote!(::core::result::Result::Ok(#v))
            }
            Body::Block(statements) => {
                let statements = self.statements(statements, Exit::Closure);
                quote!(#statements ::core::result::Result::Ok(#rt::Value::Undefined))
            }
        };
        quote!(|#args: &[#rt::Value]| -> ::core::result::Result<#rt::Value, #rt::EvalError> { #(#binds)* #body })
    }

    /// Statements of a block body, whose `return` goes where `exit` says.
    fn statements(&self, statements: &[Statement], exit: Exit) -> TokenStream {
        let out = statements.iter().map(|statement| match statement {
            // Read from its static instead (see `constant_strings`).
            Statement::Declare(Pattern::Local(slot), _) if self.constant_strings.contains_key(slot) => quote!(),
            Statement::Declare(Pattern::Local(slot), split)
                if let Some(&list) = self.piece_lists.get(slot)
                    && let Some((text, separator)) = slicing_split(split) =>
            {
                let (rt, pieces, holder) = (&self.rt, piece_list(*slot), format_ident!("__wfc_text{slot}"));
                let (hold, text) = self.split_text(text, &holder);
                let separator = self.expr(separator);
                let pieces = match list {
                    PieceList::First(count) => {
                        quote!(let #pieces: [::core::option::Option<&str>; #count] = #rt::first_pieces(#text, &#separator)?;)
                    }
                    PieceList::All => quote!(let #pieces: ::std::vec::Vec<&str> = #rt::text_pieces(#text, &#separator)?.collect();),
                };
                quote!(#hold #pieces)
            }
            Statement::Declare(pattern, e) => {
                let v = self.expr(e);
                self.bind(pattern, v)
            }
            Statement::Expr(e) => {
                let v = self.expr(e);
                quote!(let _ = #v;)
            }
            Statement::Return(e) => match exit {
                Exit::Closure => {
                    let v = self.expr(e);
                    quote!(return ::core::result::Result::Ok(#v);)
                }
                Exit::Value(label) => {
                    let v = self.expr(e);
                    quote!(break #label (#v);)
                }
                Exit::Test(label) => {
                    let b = self.boolean(e);
                    quote!(break #label (#b);)
                }
            },
            Statement::If(test, then, otherwise) => {
                let (test, then, otherwise) = (self.boolean(test), self.statements(then, exit), self.statements(otherwise, exit));
                quote!(if #test { #then } else { #otherwise })
            }
            Statement::Assign(slot, e) => {
                // Evaluated before the slot is written: the value may read the slot.
                let (v, slots, assigned) = (self.expr(e), hidden("slots"), hidden("assigned"));
                quote!({ let #assigned = #v; #slots[#slot] = #assigned; })
            }
            Statement::ForOf(pattern, iterable, body) => {
                let (rt, iterated, element) = (&self.rt, hidden("iterated"), hidden("element"));
                let label = self.next_label("loop");
                let iterable = self.expr(iterable);
                let bind = self.bind(pattern, quote!(#element.clone()));
                self.loops.borrow_mut().push(label.clone());
                let body = self.statements(body, exit);
                self.loops.borrow_mut().pop();
                quote!({
                    let #iterated = #iterable;
                    #label: for #element in #rt::iterated_items(&#iterated)?.iter() { #bind #body }
                })
            }
            Statement::Break | Statement::Continue => {
                let label = self.loops.borrow().last().cloned().expect("`break` and `continue` are lowered only inside a `for…of`");
                if matches!(statement, Statement::Break) { quote!(break #label;) } else { quote!(continue #label;) }
            }
        });
        quote!(#(#out)*)
    }

    /// Statements that bind `value` to `pattern`.
    fn bind(&self, pattern: &Pattern, value: TokenStream) -> TokenStream {
        let rt = &self.rt;
        let slots = hidden("slots");
        match pattern {
            Pattern::Local(slot) => quote!(#slots[#slot] = #value;),
            Pattern::Ignore => quote!(let _ = #value;),
            Pattern::Array(items) => {
                let list = format_ident!("__wfc_items{}", items.len());
                let binds = items.iter().enumerate().filter_map(|(i, item)| {
                    item.as_ref().map(|p| self.bind(p, quote!(#list.get(#i).cloned().unwrap_or_default())))
                });
                let source = hidden("source");
                quote!({ let #source = #value; let #list = #rt::destructure_items(&#source)?; #(#binds)* })
            }
            Pattern::Object(fields) => {
                let source = hidden("source");
                let binds = fields.iter().map(|(key, p)| self.bind(p, quote!(#rt::destructure_field(&#source, #key)?)));
                quote!({ let #source = #value; #(#binds)* })
            }
        }
    }
}

/// Where a block body's `return` goes.
#[derive(Clone, Copy)]
enum Exit<'a> {
    /// Out of the arrow's closure, as `Ok(value)`.
    Closure,
    /// Out of the arrow's body inlined into a loop: the labelled block's value.
    Value(&'a syn::Lifetime),
    /// Out of a test's arrow inlined into a loop (`filter`, `some`, …): the value's
    /// truthiness, as the labelled block's `bool`.
    Test(&'a syn::Lifetime),
}

/// What an inlined array-method loop walks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LoopSource {
    /// The items of an array.
    Array,
    /// The `[key, value]` pairs of an object, as `Object.entries` would list them.
    Entries,
    /// The pieces of a text split into slices of it, as `&str`s.
    Pieces,
}

/// What `object.method(f)` loops over, and what that is computed from.
enum Walked<'a> {
    /// The array `object` is.
    Array,
    /// The pairs of `Object.entries(o)`, with `o`.
    Entries(&'a Expr),
    /// The pieces of `text.split(separator)`, with a separator that cuts slices.
    Pieces { text: &'a Expr, separator: &'a Expr },
    /// The pieces a piece list local holds (see `Generator::piece_lists`).
    PieceList(usize),
}

impl Walked<'_> {
    /// The kind of element the loop binds.
    fn source(&self) -> LoopSource {
        match self {
            Walked::Array => LoopSource::Array,
            Walked::Entries(_) => LoopSource::Entries,
            Walked::Pieces { .. } | Walked::PieceList(_) => LoopSource::Pieces,
        }
    }
}

/// What `object.method(f)` walks: a walked piece list, the pairs of `Object.entries(o)`, the
/// pieces of a split at a separator that cuts slices, or (anything else) the array `object` is
/// expected to be. Only arrows of at most two parameters walk something other than an array.
fn walked<'a>(object: &'a Expr, f: &Function, piece_lists: &PieceLists) -> Walked<'a> {
    match object {
        Expr::Name(Name::Local(slot)) if piece_lists.get(slot) == Some(&PieceList::All) && f.params.len() <= 2 => Walked::PieceList(*slot),
        Expr::GlobalCall { function, args } if function == "Object.entries" && f.params.len() <= 2 => match args.as_slice() {
            [Argument::Value(entries_of)] => Walked::Entries(entries_of),
            _ => Walked::Array,
        },
        // The third parameter is the whole array, which walking pieces one at a time never makes.
        split if f.params.len() <= 2 && let Some((text, separator)) = slicing_split(split) => Walked::Pieces { text, separator },
        _ => Walked::Array,
    }
}

/// Whether splitting at `separator` cuts a text into slices of it, whatever the text: a
/// non-empty text literal, or a regex literal without groups (no `(` at all, to be sure
/// without parsing it: a group's capture would be a piece too, and could be `undefined`).
fn is_slicing(separator: &Expr) -> bool {
    match separator {
        Expr::String(text) => !text.is_empty(),
        Expr::Regex { source, .. } => !source.contains('('),
        _ => false,
    }
}

/// A property that is an array index known at build time (`parts[0]`).
fn constant_index(property: &Expr) -> Option<usize> {
    match property {
        Expr::Number(n) if n.fract() == 0.0 && (0.0..4_294_967_295.0).contains(n) => Some(*n as usize),
        _ => None,
    }
}

/// The `str` method doing what the string test `method` does without a position argument:
/// `includes`, `startsWith`, `endsWith`.
fn str_test(method: &str) -> Option<syn::Ident> {
    Some(format_ident!(
        "{}",
        match method {
            "includes" => "contains",
            "startsWith" => "starts_with",
            "endsWith" => "ends_with",
            _ => return None,
        }
    ))
}

/// `x.includes('s')`, `x.startsWith('s')`, `x.endsWith('s')`, with a literal: the receiver,
/// the `str` method and the literal.
fn literal_string_test(e: &Expr) -> Option<(&Expr, syn::Ident, &String)> {
    let Expr::MethodCall { object, method, args, optional: false } = e else { return None };
    let [Argument::Value(Expr::String(sought))] = args.as_slice() else { return None };
    Some((object, str_test(method)?, sought))
}

/// `text.split(separator)` with one separator that cuts slices of any text (see
/// [`is_slicing`]): the text and the separator.
fn slicing_split(e: &Expr) -> Option<(&Expr, &Expr)> {
    let Expr::MethodCall { object, method, args, optional: false } = e else { return None };
    match (method.as_str(), args.as_slice()) {
        ("split", [Argument::Value(separator)]) if is_slicing(separator) => Some((object, separator)),
        _ => None,
    }
}

/// Whether the `&str` `sought` is one of `texts`, as a `match` (each text is a pattern once: a
/// repeated one would be unreachable).
fn one_of(texts: &[String], sought: TokenStream) -> TokenStream {
    let mut distinct: Vec<&String> = texts.iter().collect();
    distinct.sort();
    distinct.dedup();
    match distinct.is_empty() {
        true => quote!(false),
        false => quote!(match #sought { #(#distinct)|* => true, _ => false }),
    }
}

/// The array methods inlined as loops over what they walk.
const WALKS: [&str; 7] = ["filter", "map", "some", "every", "find", "findIndex", "forEach"];

/// Most pieces a piece list holds (on the stack): a list read at a higher index is an array.
const MAX_PIECES_HELD: usize = 64;

/// The array holding piece list local `slot` (see `Generator::piece_lists`).
fn piece_list(slot: usize) -> syn::Ident {
    format_ident!("__wfc_pieces{}", slot)
}

/// The locals declared as `text.split(separator)` with a slicing separator and read only as
/// `local[constant]` or as the receiver of an array method walking it with an arrow of at most
/// two parameters (every read of the slot anywhere is one of these: every binding has a slot of
/// its own, so nothing else writes or reads it).
fn piece_lists(e: &Expr, assigned: &std::collections::HashSet<usize>) -> PieceLists {
    let mut declared = Vec::new();
    e.for_each_block(&mut |statements| {
        for statement in statements {
            if let Statement::Declare(Pattern::Local(slot), split) = statement
                && slicing_split(split).is_some()
                && !assigned.contains(slot)
            {
                declared.push(*slot);
            }
        }
    });
    declared
        .into_iter()
        .filter_map(|slot| {
            let local = Expr::Name(Name::Local(slot));
            // Each index read and walk also meets the local itself, once.
            let (mut reads, mut known_reads, mut count, mut walked) = (0, 0, 0, false);
            e.walk(&mut |e| {
                match e {
                    Expr::Member { object, property, optional: false }
                        if **object == local && let Some(index) = constant_index(property) =>
                    {
                        known_reads += 1;
                        count = count.max(index + 1);
                    }
                    Expr::MethodCall { object, method, args, optional: false }
                        if **object == local
                            && WALKS.contains(&method.as_str())
                            && matches!(args.as_slice(), [Argument::Function(f)] if f.params.len() <= 2) =>
                    {
                        known_reads += 1;
                        walked = true;
                    }
                    e if *e == local => reads += 1,
                    _ => {}
                }
                true
            });
            let list = if walked { PieceList::All } else { PieceList::First(count) };
            (reads == known_reads && (walked || count <= MAX_PIECES_HELD)).then_some((slot, list))
        })
        .collect()
}

/// `source.filter(f).map(g)` as `(source, f, g)` when mapping each kept item as it is kept
/// gives the same result, or the same error, as two passes: nothing in either function appends
/// to a local (so neither sees an effect of the other), at most one of them can throw (so the
/// first error met is the one two passes would meet), and `g` does not ask for the filtered
/// array (which one pass never builds).
fn fusable_filter_map<'a>(e: &'a Expr, piece_lists: &PieceLists) -> Option<(&'a Expr, &'a Function, &'a Function)> {
    let Expr::MethodCall { object, method, args, optional: false } = e else { return None };
    let ("map", [Argument::Function(g)]) = (method.as_str(), args.as_slice()) else { return None };
    let Expr::MethodCall { object: source, method: inner, args: inner_args, optional: false } = object.as_ref() else { return None };
    let ("filter", [Argument::Function(f)]) = (inner.as_str(), inner_args.as_slice()) else { return None };
    let kind = walked(source, f, piece_lists).source();
    let appends = |f: &Function| f.body.any(|e| matches!(e, Expr::MethodCall { method, .. } if method == "push"));
    let both_may_throw = may_throw(f, kind) && may_throw(g, kind);
    let fusable = g.params.len() <= 2 && !appends(f) && !appends(g) && !both_may_throw;
    fusable.then_some((source, f, g))
}

/// Whether calling `f` on the elements of `source` might throw (`false` is a proof, `true` a
/// maybe): when a parameter destructures something that may not be destructurable, or the body
/// reads a property, calls a method or global (other than a string test of a piece of text:
/// `line.includes('x')`), tests `in`, or spreads into an array.
fn may_throw(f: &Function, source: LoopSource) -> bool {
    let simple = |p: &Pattern| matches!(p, Pattern::Local(_) | Pattern::Ignore);
    let binding_may_throw = f.params.iter().enumerate().any(|(i, p)| match (i, p, source) {
        // An entry is always a `[key, value]` pair.
        (0, Pattern::Array(parts), LoopSource::Entries) => !parts.iter().flatten().all(simple),
        (_, p, _) => !simple(p),
    });
    // The parameter that is always a string, if any.
    let text = match (source, f.params.first()) {
        (LoopSource::Pieces, Some(Pattern::Local(slot))) => Some(*slot),
        _ => None,
    };
    fn statements_may_throw(statements: &[Statement], text: Option<usize>) -> bool {
        statements.iter().any(|statement| match statement {
            Statement::Declare(pattern, e) => !matches!(pattern, Pattern::Local(_) | Pattern::Ignore) || expr_may_throw(e, text),
            Statement::Expr(e) | Statement::Return(e) => expr_may_throw(e, text),
            Statement::If(test, then, otherwise) => {
                expr_may_throw(test, text) || statements_may_throw(then, text) || statements_may_throw(otherwise, text)
            }
            Statement::Assign(_, e) => expr_may_throw(e, text),
            // What is walked may not be iterable.
            Statement::ForOf(..) => true,
            Statement::Break | Statement::Continue => false,
        })
    }
    fn expr_may_throw(e: &Expr, text: Option<usize>) -> bool {
        e.any(|e| match e {
            e if literal_string_test(e).is_some_and(|(object, _, _)| matches!(*object, Expr::Name(Name::Local(slot)) if Some(slot) == text)) => false,
            Expr::Member { .. } | Expr::MethodCall { .. } | Expr::GlobalCall { .. } | Expr::Binary(BinaryOp::In, ..) | Expr::Invoke(..) => true,
            Expr::Array(elements) => elements.iter().any(|element| matches!(element, Element::Spread(_))),
            _ => false,
        })
    }
    binding_may_throw
        || match &f.body {
            Body::Expr(e) => expr_may_throw(e, text),
            Body::Block(statements) => statements_may_throw(statements, text),
        }
}

/// Whether evaluating `e` can assign a local slot: an arrow function binds its parameters,
/// `push` appends to a local, an invoked function binds and assigns.
fn writes_locals(e: &Expr) -> bool {
    e.any(|e| match e {
        Expr::MethodCall { method, .. } if method == "push" => true,
        Expr::MethodCall { args, .. } | Expr::GlobalCall { args, .. } => args.iter().any(|a| matches!(a, Argument::Function(_))),
        Expr::Invoke(..) => true,
        _ => false,
    })
}

/// The static holding constant list local `slot`'s array.
fn constant_list_cell(slot: usize) -> syn::Ident {
    format_ident!("__WFC_CONSTANT_LIST_{}", slot)
}

/// The locals declared once with an array of string literals and never appended to nor
/// assigned, by slot (every binding has a slot of its own, so nothing else writes them).
fn constant_string_lists(e: &Expr, assigned: &std::collections::HashSet<usize>) -> std::collections::HashMap<usize, Vec<String>> {
    let mut found = std::collections::HashMap::new();
    e.for_each_block(&mut |statements| {
        for statement in statements {
            if let Statement::Declare(Pattern::Local(slot), Expr::Array(elements)) = statement
                && !assigned.contains(slot)
            {
                let texts: Option<Vec<String>> = elements
                    .iter()
                    .map(|element| match element {
                        Element::Item(Expr::String(text)) => Some(text.clone()),
                        _ => None,
                    })
                    .collect();
                if let Some(texts) = texts {
                    found.insert(*slot, texts);
                }
            }
        }
    });
    e.walk(&mut |e| {
        if let Expr::MethodCall { object, method, .. } = e
            && method == "push"
            && let Expr::Name(Name::Local(slot)) = **object
        {
            found.remove(&slot);
        }
        true
    });
    found
}

/// Whether `body` reads local `slot` anywhere, nested functions included.
fn reads_local(body: &Body, slot: usize) -> bool {
    body.any(|e| *e == Expr::Name(Name::Local(slot)))
}

/// Whether `body` appends to local `slot` (`x.push(…)`) or assigns it, anywhere, nested
/// functions included: then it cannot be borrowed from what a loop walks.
fn writes_in_body(body: &Body, slot: usize) -> bool {
    body.assigns(slot) || body.any(|e| matches!(e, Expr::MethodCall { object, method, .. } if method == "push" && **object == Expr::Name(Name::Local(slot))))
}

/// A literal that can be built once for all evaluations.
fn is_constant_item(element: &Element) -> bool {
    matches!(element, Element::Item(Expr::String(_) | Expr::Number(_) | Expr::Bool(_) | Expr::Null | Expr::Undefined))
}

/// Whether a member/call chain has a `?.` link (then it needs the short-circuiting form).
fn has_optional_link(e: &Expr) -> bool {
    match e {
        Expr::Member { object, optional, .. } | Expr::MethodCall { object, optional, .. } => *optional || has_optional_link(object),
        _ => false,
    }
}

fn unary_op(op: UnaryOp) -> syn::Ident {
    format_ident!("{}", format!("{op:?}"))
}

fn binary_op(op: BinaryOp) -> syn::Ident {
    format_ident!("{}", format!("{op:?}"))
}

/// Bytes reserved per interpolated value when a template's text buffer is sized: most values
/// (counters, names, short ids) fit, so most texts are built without growing.
pub(super) const INTERPOLATION_ROOM: usize = 16;

/// A string's value (`rt` is the runtime's `value` module), made once and shared: a literal,
/// or text with nothing to interpolate.
pub(super) fn constant_string(rt: &TokenStream, text: &str) -> TokenStream {
    let cell = super::ident::hidden_static("text");
    quote!({
        static #cell: ::std::sync::OnceLock<#rt::Value> = ::std::sync::OnceLock::new();
        #cell.get_or_init(|| #rt::Value::string(#text)).clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{Names, Root, compile};

    /// The generated code for `text`, in a program whose `this.count` and `this.limit` are
    /// declared numbers.
    fn generated(text: &str) -> String {
        let names = Names::default().with("input", Root::Named("input".into())).with("this", Root::This);
        let mut issues = Vec::new();
        let compiled = compile(text, &names, &mut issues).unwrap_or_else(|| panic!("{issues:?}"));
        let types = StateTypes::numeric([("this".to_owned(), "count".to_owned()), ("this".to_owned(), "limit".to_owned())]);
        let tokens = expression_fn(&format_ident!("expression"), &compiled, &quote!(::wfc_runtime), &types);
        super::super::format(tokens).expect("generated code parses")
    }

    #[test]
    fn generated_code_snapshots() {
        for (name, text) in [
            ("arithmetic_is_native", "(1 + 2) * 3 < 10 ? 'small' : 'big'"),
            ("dynamic_operands", "this.total + 1"),
            ("declared_numbers_are_native", "this.count < this.limit && this.count % 2 === 0 ? this.count + 1 : this.count === this.limit"),
            ("filter_with_block_body", "input.filter(file => { const parts = file.split('/'); return !parts.includes('node_modules') && file.endsWith('.ts'); })"),
            ("destructuring_and_optional_chain", "Object.entries(input || {}).filter(([_, r]) => !r?.success).map(([f]) => f)"),
            ("literals_spread_and_templates", "({ ...input, list: [...this.items, /a+/g], text: `n=${this.n}` })"),
            ("local_push", "input.reduce((out, x) => { const copy = out; copy.push(x); return copy; }, [])"),
            ("pushed_parameter_is_copied", "input.map(xs => { xs.push(1); return xs.length; })"),
            ("constant_list_includes", "input.filter(part => { const skip = ['dist', 'build']; return !skip.includes(part); })"),
            ("constant_list_walked", "input.filter(file => { const exts = ['.ts', '.js']; return exts.some(ext => file.endsWith(ext)); })"),
        ] {
            insta::assert_snapshot!(name, generated(text), text);
        }
    }
}
