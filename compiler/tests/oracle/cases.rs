//! The conformance corpus: expressions and the data they run on, shared by the interpreter's
//! conformance test and the compiled fixture crate (`fixtures/compiled`), so the
//! interpreter, the generated code and node are all judged on the same cases.

use std::path::Path;

use wfc_compiler::Source;
use wfc_compiler::expr::template::{Piece, scan};
use wfc_compiler::expr::{Names, Root};
use wfc_compiler::syntax::{Node, NodeValue, parse_document};

/// One expression to evaluate, with its data written as JavaScript literals.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The expression.
    pub expr: String,
    /// A JavaScript literal bound to `input`.
    pub input: String,
    /// Other roots (`this`, `inputs`, `loop`, `stdout`, …) as JavaScript literals.
    pub scope: Vec<(String, String)>,
}

impl Case {
    pub fn new(expr: impl Into<String>, input: impl Into<String>) -> Self {
        Case { expr: expr.into(), input: input.into(), scope: Vec::new() }
    }
}

/// `../shared/corpus/aromcp` beside the workspace root (the directory holding `Cargo.lock`),
/// whichever crate of the workspace is asking, if it is there. A clone with nothing beside it
/// runs without the corpus: what needs it is skipped and says so on stderr. With
/// `WFC_REQUIRE_CORPUS` set (`.ci/run` sets it) a missing corpus is an error instead, so CI
/// never skips it.
pub fn corpus_dir() -> Option<std::path::PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.ancestors().find(|dir| dir.join("Cargo.lock").exists()).expect("the workspace root holds Cargo.lock");
    let dir = root.join("../shared/corpus/aromcp");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(std::env::var_os("WFC_REQUIRE_CORPUS").is_none(), "WFC_REQUIRE_CORPUS is set, but the AroMCP corpus is not at {}", dir.display());
    eprintln!("skipped: the AroMCP corpus is not at {} (clone this repository beside shared/ to run what reads it)", dir.display());
    None
}

/// Every case: the operator matrix, the built-ins, and the AroMCP corpus's expressions.
pub fn all_cases() -> Vec<Case> {
    operator_cases().into_iter().chain(method_cases()).chain(corpus_cases()).collect()
}

/// The names a case's expression sees: `input` and its scope (the loop variables are the keys
/// of the `loop` literal, which is always a plain object literal here).
pub fn names_for(case: &Case) -> Names {
    let mut names = Names::default().with("input", Root::Named("input".into()));
    for (name, text) in &case.scope {
        if name == "loop" {
            names.loop_names = object_literal_keys(text);
        }
        names = names.with(name, Root::from_name(name));
    }
    names
}

/// The keys of a `({a: 1, b: 'x'})` literal, in order.
fn object_literal_keys(text: &str) -> Vec<String> {
    let inner = text.trim().trim_start_matches("({").trim_end_matches("})");
    inner.split(',').filter_map(|field| field.split(':').next()).map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect()
}

const VALUES: &[&str] = &[
    "0", "-0", "1", "1.5", "-7", "NaN", "Infinity", "''", "'0'", "'1'", "'abc'", "'10'", "'9'", " ' 12 '",
    "true", "false", "null", "undefined", "[]", "[1]", "[1, 2]", "{}", "({a: 1})", "'é😀'",
];

pub fn operator_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for a in VALUES {
        for b in VALUES {
            for op in ["+", "==", "<", "===", "-"] {
                cases.push(Case::new(format!("input[0] {op} input[1]"), format!("[{a}, {b}]")));
            }
        }
        for op in ["!", "-", "+", "typeof "] {
            cases.push(Case::new(format!("{op}input"), *a));
        }
        for op in ["*", "/", "%", "**", "<=", ">", ">=", "!=", "!==", "&&", "||", "??"] {
            cases.push(Case::new(format!("input {op} 2"), *a));
            cases.push(Case::new(format!("3 {op} input"), *a));
        }
        // Strict equality with a literal, which compiles to a pattern test.
        for literal in ["0", "-0", "1.5", "NaN", "'abc'", "''", "true", "null", "undefined"] {
            cases.push(Case::new(format!("input === {literal}"), *a));
            cases.push(Case::new(format!("{literal} !== input"), *a));
        }
        cases.push(Case::new("input ? 'yes' : 'no'", *a));
        cases.push(Case::new("String(input)", *a));
        cases.push(Case::new("Number(input)", *a));
        cases.push(Case::new("JSON.stringify(input)", *a));
        cases.push(Case::new("`<${input}>`", *a));
        cases.push(Case::new("[input].join('-')", *a));
        cases.push(Case::new("input?.length", *a));
        cases.push(Case::new("input.length", *a));
    }
    cases
}

/// Built-ins on edge cases: (expression, inputs it runs against).
const METHOD_CASES: &[(&str, &[&str])] = &[
    ("input.filter(x => x > 1)", &["[1, 2, 3]", "[]", "['2', 0, NaN]"]),
    ("input.map((x, i) => x * i)", &["[1, 2, 3]", "[]"]),
    ("input.reduce((a, b) => a + b, 0)", &["[1, 2, 3]", "[]", "['a', 'b']"]),
    ("input.reduce((a, b) => a + b)", &["[1, 2, 3]", "[]"]),
    ("input.some(x => x === 2)", &["[1, 2]", "[]"]),
    ("input.every(x => x > 0)", &["[1, 2]", "[]", "[0]"]),
    ("input.find(x => x.id === 2)", &["[{id: 1}, {id: 2, n: 'b'}]", "[]"]),
    ("input.findIndex(x => x === 'b')", &["['a', 'b']", "['a']"]),
    ("input.includes(NaN)", &["[NaN]", "[1]"]),
    ("input.includes(2)", &["[1, 2]", "'a2'"]),
    ("input.indexOf(2)", &["[1, 2, 2]", "[NaN]"]),
    ("input.slice(1)", &["[1, 2, 3]", "'hello'", "'😀ab'"]),
    ("input.slice(-2, -1)", &["[1, 2, 3]", "'hello'"]),
    ("input.slice(2, 1)", &["[1, 2, 3]"]),
    ("input.concat([4], 5, [[6]])", &["[1]"]),
    ("input.join()", &["[1, null, undefined, [2, 3]]", "[]"]),
    ("input.join(' | ')", &["['a', 'b']"]),
    ("input.sort()", &["[10, 9, 1, 100]", "['b', 'a', 'B', undefined, 'é']", "[true, false, null]"]),
    ("input.sort((a, b) => a - b)", &["[10, 9, 1, 100]", "[3, 1, 2]"]),
    ("input.sort((a, b) => b.n - a.n).map(x => x.k)", &["[{k: 'a', n: 1}, {k: 'b', n: 3}, {k: 'c', n: 3}]"]),
    ("input.flatMap(x => [x, x * 10])", &["[1, 2]"]),
    ("input.flatMap(x => x)", &["[[1], 2, [[3]]]"]),
    ("input.reduce((out, x) => { const copy = out; copy.push(x + 1); return copy; }, [])", &["[1, 2]"]),
    ("input.map(x => { const out = []; out.push(x, x); return out; })", &["[1, 2]"]),
    ("input.length", &["[1, 2]", "'😀'", "'é'", "''"]),
    ("input.split(',')", &["'a,b,,c'", "''", "'abc'"]),
    ("input.split('')", &["'abc'", "''"]),
    ("input.split(/\\s+/)", &["'a  b\\tc'", "' lead'", "''", "'trail  '", "'   '", "'x\\u00a0y\\u2028z\\ufeffw'"]),
    ("input.split(/\\s+/u)", &["' a b'"]),
    ("input.split(/(,)/)", &["'a,b'"]),
    ("input.split(',', 2)", &["'a,b,c'"]),
    ("input.trim()", &["'  x \\n'", "'\\u00a0y\\t'"]),
    ("input.startsWith('ab')", &["'abc'", "'xab'"]),
    ("input.endsWith('.ts')", &["'a.ts'", "'a.tsx'"]),
    ("input.includes('b')", &["'abc'", "'xyz'"]),
    ("input.toUpperCase()", &["'abc é ß'"]),
    ("input.toLowerCase()", &["'ABC É'"]),
    ("input.substring(1, 3)", &["'hello'", "'h'"]),
    ("input.substring(3, 1)", &["'hello'"]),
    ("input.substring(-5, 2)", &["'hello'"]),
    ("input.replace('a', 'b')", &["'aaa'", "'xyz'"]),
    ("input.replace(/a/g, 'b')", &["'aaa'"]),
    ("input.replace(/(\\w+)@(\\w+)/, '$2 at $1')", &["'me@host'"]),
    ("input.replace('x', '$&$&')", &["'axb'"]),
    ("input.match(/\\d+/)", &["'ab12cd34'", "'none'"]),
    ("input.match(/\\d+/g)", &["'ab12cd34'", "'none'"]),
    ("input.indexOf('c')", &["'abcabc'", "'xyz'"]),
    ("input.padStart(5, '0')", &["'42'", "'123456'"]),
    ("input.padStart(6, 'ab')", &["'1'"]),
    ("input.padEnd(4)", &["'a'"]),
    ("input.localeCompare('b')", &["'a'", "'b'", "'c'"]),
    ("input.toString()", &["'s'", "[1, [2]]", "true"]),
    ("input.at(-1)", &["[1, 2, 3]", "[]"]),
    ("input.toFixed(2)", &["1.005", "2.5", "-1.5", "0", "-0.001", "1e21", "123.456"]),
    ("input.toFixed(0)", &["2.5", "0.5", "-0.5", "1.45"]),
    ("input.toString(16)", &["255", "-255"]),
    ("Object.keys(input)", &["({b: 1, a: 2, 10: 3, 2: 4})", "[5, 6]", "'ab'", "null"]),
    ("Object.values(input)", &["({b: 1, a: 2, 10: 3, 2: 4})"]),
    ("Object.entries(input)", &["({x: 1, y: [2]})", "{}"]),
    ("Object.assign({}, input, {z: 1})", &["({a: 1})", "null"]),
    ("Object.fromEntries(input)", &["[['a', 1], ['b', 2]]"]),
    ("JSON.parse(input)", &["'{\"a\": [1, 2.5, null], \"b\": \"x\"}'", "'[1,'", "'\"\\\\u00e9\"'", "'{\"2\":1,\"1\":2}'"]),
    ("JSON.stringify(input)", &["({a: undefined, b: [undefined, NaN], c: 'q\"\\n'})", "undefined", "-0", "1e21"]),
    ("JSON.stringify(input, null, 2)", &["({a: [1, {}], b: {}})"]),
    ("Math.min(...input)", &["[3, 1, 2]", "[]", "['2', 1]", "[NaN, 1]"]),
    ("Math.max(...input)", &["[3, 1, 2]", "[]", "[-0, 0]"]),
    ("Math.round(input)", &["2.5", "-2.5", "0.49999999999999994", "-0.4", "1e16"]),
    ("Math.floor(input)", &["-1.5", "'3.7'"]),
    ("Math.ceil(input)", &["-1.5", "1.2"]),
    ("Math.abs(input)", &["-3", "'-2'", "null"]),
    ("parseInt(input)", &["'42px'", "'0x1A'", "'  -7.9'", "'abc'", "3.99", "''"]),
    ("parseInt(input, 16)", &["'ff'", "'0xff'"]),
    ("parseFloat(input)", &["'3.14abc'", "'.5'", "'-1e3x'", "'x'", "'Infinityx'"]),
    ("isNaN(input)", &["'abc'", "'12'", "undefined", "null"]),
    ("Number(input)", &["' 12 '", "'1e3'", "'0b101'", "'12px'", "[5]", "[1, 2]"]),
    ("Boolean(input)", &["''", "'0'", "[]"]),
    ("Array.isArray(input)", &["[]", "{}"]),
    ("Array.from(input)", &["'ab'", "new Set([1, 1, 2])", "({length: 2, 0: 'a'})"]),
    ("Array.from(input, (x, i) => x + i)", &["[1, 2]"]),
    ("new Set(input).size", &["[1, 1, '1', NaN, NaN]", "'hello'"]),
    ("new Set(input).has(2)", &["[1, 2]", "[]"]),
    ("[...new Set(input)]", &["[3, 1, 3, 2]"]),
    ("[...input, 9]", &["[1, 2]", "'ab'"]),
    ("({...input, z: 1})", &["({a: 1, z: 0})", "[7, 8]", "null"]),
    ("({[input]: 1, ['k' + input]: 2})", &["'x'", "3"]),
    ("`${input.a}-${input.b ?? 'none'}`", &["({a: 1})", "({a: null, b: 0})"]),
    ("input?.a?.b", &["null", "({a: null})", "({a: {b: 2}})"]),
    ("input.a.b", &["({})"]),
    ("input['a-b']", &["({'a-b': 1})"]),
    ("'a' in input", &["({a: undefined})", "{}", "[1]", "'abc'"]),
    ("0 in input", &["[1]", "[]"]),
    ("input.map(([k, v]) => k + v)", &["[['a', 1], ['b', 2]]"]),
    ("input.map(({a, b: c}) => a + c)", &["[{a: 1, b: 2}]", "[null]"]),
    ("input.filter(x => { if (x > 2) { return true; } else if (x === 1) { return true; } return false; })", &["[1, 2, 3]"]),
    ("input.map(x => { let y = x * 2; return y; })", &["[1, 2]"]),
    ("input[1]", &["[1, 2]", "[1]", "'abc'", "'😀'", "({1: 'x'})", "null", "5"]),
    ("input[-0] + input[4294967294]", &["[7]"]),
    ("({a: input, b: 2, a: 3, ...{b: 4}, c: 5, d: 6, c: 7})", &["1"]),
    ("input.filter(x => x.length)", &["['', 'a', [], [0], {length: 0}, {length: 2}]", "[1, true]", "[null]"]),
    ("input.some(x => x.a.b) || input.every(x => x.a)", &["[{a: {b: 0}}, {a: {}}]", "[{a: null}]", "[{}]"]),
    ("input.find(x => x.k) ?? input.findIndex(x => !x.k)", &["[{k: 0}, {k: 'y'}]", "[{k: ''}, 5]", "[]"]),
    ("input.filter(x => { if (x) { return x && 'y'; } return x || 0; })", &["[0, 1, '', 'a', null]"]),
    ("input.filter(x => x ? x.a : x === 0)", &["[0, {a: 1}, {a: 0}, null, '']"]),
    ("input.filter(x => { const y = x; })", &["[1, 2]"]),
    ("input.every(x => { const y = x.n; return y ?? x.m; })", &["[{n: 0, m: 1}]", "[{n: null, m: 1}, {m: 'a'}]"]),
    ("input.map(x => { const l = ['a', 'b', 'a']; return l.includes(x) ? l : l.length; })", &["['a', 'c', 1]"]),
    ("input.filter(x => { const l = ['.ts', '']; return [1].some(y => l.some(e => x.endsWith(e)) && !l.includes(x)); })", &["['a.ts', '', 'b']"]),
    ("input.map(x => { const none = []; return none.includes(x) || none.concat([x]).length; })", &["[1]"]),
    // filter then map, run as one pass where that cannot be told apart from two.
    ("input.filter(x => x.ok).map((x, i) => i)", &["[{ok: 1}, {ok: 0}, {ok: 1}]", "[{ok: 1}, null, {ok: 1}]", "'ab'"]),
    ("input.filter(x => x > 1).map((x, i, all) => all.length)", &["[1, 2, 3]"]),
    ("input.filter(x => x.a).map(x => x.b.c)", &["[{a: 1, b: null}, null]", "[{a: 1, b: {c: 2}}, {a: 0}]"]),
    ("input.filter(x => typeof x === 'string').map(s => s.toUpperCase())", &["['a', 1, 'b']", "[1]"]),
    ("Object.entries(input).filter(([k, v]) => v !== 2).map(([k], i) => k + i)", &["({a: 1, b: 2, c: 3})", "{}", "[5, 2]"]),
    ("Object.entries(input || {}).filter(([_, r]) => !r.success).map(([file, _]) => file)", &["({x: {success: true}, y: {}})", "({x: null})"]),
    ("input.filter(x => x).map(x => { const out = []; out.push(x); return out; })", &["[0, 1]"]),
    // Pieces of a split text walked as slices, and lists of them read by constant index.
    ("input.split('\\n').filter(l => l.includes('x')).map(l => { const p = l.split(/\\s+/); return [p[0], p[2], p[9]]; })", &["'a x b\\nc d\\n x  y '", "''", "'x'", "5", "null", "['a x']"]),
    ("input.split(',').map((s, i, all) => s + i + all.length)", &["'a,b,,c'", "','", "'é,😀'"]),
    ("input.split(/,\\s*/).filter(s => s.startsWith('a') || s.endsWith('z'))", &["'ab, cz,  az,b'", "'a'"]),
    ("input.split('ab').find(s => s.endsWith('c'))", &["'xcabycabz'", "'abab'"]),
    ("input.split(/x*/).map(s => s)", &["'axxbxc'", "''"]),
    ("[input.split(/b*/), input.split(/(b*)/), input.split(/,/), input.split(/(?:)/, 2)]", &["'abbc'", "'b'", "'bb'", "''", "'a,b'"]),
    ("input.split('/').findIndex(s => s.includes(''))", &["'a/b'"]),
    ("input.split(' ').some(w => w.length > 3)", &["'a bb cccc'", "'a b'"]),
    ("input.split(' ').every(w => w === w.trim())", &["'a b'"]),
    ("input.map(t => { const p = t.split('='); if (p[1]) { const q = p[1].split(':'); return q[1]; } return p[0]; })", &["['a=b:c', 'd', 'e=']", "[1]", "[null]"]),
    ("input.map(t => { const p = t.split('-'); return p.length + p[0]; })", &["['a-b', '']"]),
    ("input.filter(f => { const skip = ['node_modules', '', 'node_modules']; const p = f.split('/'); return !p.some(x => skip.includes(x)) && p[0] !== 'x'; })", &["['a/b', 'node_modules/x', 'x/y', 'a//b', '', 'b']", "[1]", "[null]"]),
    ("input.map(t => { const p = t.split(','); return p.map((x, i) => x + i).concat([p[5], p.find(w => w.startsWith('b'))]); })", &["['a,b,c', '', 'bb']"]),
    ("input.map(t => { const p = t.split(','); return p.map((x, i, all) => all.length); })", &["['a,b,c', '']"]),
    ("input.map(t => { const p = t.split(' '); const q = t.split(' '); return p.every(w => w) ? q[0] : q[1]; })", &["['a b', 'a  b', ' a']"]),
    ("input.map(t => { const p = t.split(/(-)/); return p[1]; })", &["['a-b', 'c']"]),
    ("input.split('\\n').filter(l => l.includes('a')).map(l => l.toUpperCase())", &["'ab\\ncd\\nba'"]),
    ("input.split('\\n').filter(l => l.length > 1).map(l => l.x.y)", &["'ab\\nc'", "'a'"]),
    ("input.x.y", &["({x: null})", "({})"]),
    ("input.map(x => x.length)", &["['a', 'bb', '😀']"]),
    ("typeof input.length", &["[]", "'x'"]),
    ("input / 0", &["1", "-1", "0"]),
    ("input % 3", &["-7", "7.5", "'8'"]),
    ("0.1 + 0.2 + input", &["0"]),
    ("input * 1e21", &["1", "1.5"]),
    ("input / 3", &["1", "2"]),
    ("input.repeat(3)", &["'ab'"]),
    ("input.charAt(1)", &["'abc'", "''"]),
    ("input.replaceAll('a', 'b')", &["'aXa'"]),
    ("input.trimStart() + '|' + input.trimEnd()", &["'  a  '"]),
    ("Number.isInteger(input)", &["5", "5.5", "'5'"]),
    ("input.reverse()", &["[1, 2, 3]"]),
    // Immediately invoked arrows with statement bodies, as the reference's transforms write them.
    ("(() => { let rate = 0; if (input.urgent) rate += 0.1; if (input.size > 10) { rate += 0.25; } else rate -= 0.05; return rate; })()", &["({urgent: true, size: 20})", "({size: 3})", "({})"]),
    ("(() => { let total = 0; for (const x of input) { total += x; } return total; })()", &["[1, 2, 3]", "[]", "['a', 1]", "'abc'", "5", "null", "({a: 1})"]),
    ("(() => { const out = []; for (const [k, v] of Object.entries(input)) { if (v === null) continue; if (k === 'stop') break; out.push(k + '=' + v); } return out.join('&'); })()", &["({a: 1, b: null, c: 'x', stop: 1, d: 2})", "({})"]),
    ("(() => { let n = 0; for (const ch of input) { if (ch === 'a') n++; } return n; })()", &["'banana'", "'😀a'", "''"]),
    ("(() => { let best = null; for (const item of input) { if (best === null || item.score > best.score) best = item; } return best?.name ?? 'none'; })()", &["[{name: 'a', score: 2}, {name: 'b', score: 5}]", "[]", "[null]"]),
    ("(() => { let i = 10; i--; --i; i **= 2; i %= 7; i /= 2; i *= 3; i -= 1; return i; })()", &["0"]),
    ("(() => { let a = input; a ||= 'x'; let b = input; b &&= 'y'; let c = input; c ??= 'z'; return [a, b, c]; })()", &["0", "1", "null", "undefined", "''"]),
    ("(() => { let s = '1'; s++; return [s, typeof s]; })()", &["0"]),
    ("((a, b) => a + b)(input, 2)", &["1", "'x'"]),
    ("((a, b, c) => [a, b, c])(input)", &["1"]),
    ("(({x, y}) => { let z = x; z += y; return z; })(input)", &["({x: 1, y: 2})", "null"]),
    ("(x => x * 2)(input) + (() => 1)()", &["3"]),
    ("(() => { const rows = []; for (const r of input) { let label = 'low'; if (r > 5) { label = 'high'; } else if (r > 2) label = 'mid'; rows.push(label); } return rows; })()", &["[1, 3, 9]"]),
    ("(() => { for (const row of input) { for (const cell of row) { if (cell < 0) return 'negative'; if (cell === 0) break; } } return 'ok'; })()", &["[[1, 2], [0, -1], [3]]", "[[1, -2]]", "[]"]),
    ("input.map(x => { let y = 0; for (const d of String(x)) { y += Number(d); } return y; })", &["[12, 345, 7]"]),
    ("input.filter(x => { let keep = false; for (const t of x.tags) { if (t === 'a') { keep = true; break; } } return keep; })", &["[{tags: ['a', 'b']}, {tags: ['c']}, {tags: []}]", "[{tags: 1}]"]),
    ("(() => { let count = 0; input.forEach(x => { if (x) count += 1; }); return count; })()", &["[1, 0, 2, null]"]),
    ("input.map(x => { x = x + 1; return x * 2; })", &["[1, 2]"]),
    ("input.split(',').map(p => { let q = p; q = q.trim(); return q; })", &["' a, b ,c'"]),
    ("(() => { let ext = ['.ts', '.js']; ext = ext.concat(['.md']); return ext.includes(input); })()", &["'.md'", "'.ts'", "'.py'"]),
    ("(() => { let parts = input.split('-'); parts = ['z']; return parts[0]; })()", &["'a-b'"]),
    ("(() => { let total = 0; for (const x of input) total = total + x.n; return total; })()", &["[{n: 1}, {n: 2}]", "[1]"]),
    ("(() => { let x = 1; { let x = 2; x += 1; } return x; })()", &["0"]),
    ("(() => { let acc = ''; for (let i of input) { i = i + '!'; acc += i; } return acc; })()", &["['a', 'b']"]),
];

pub fn method_cases() -> Vec<Case> {
    METHOD_CASES.iter().flat_map(|(expr, inputs)| inputs.iter().map(move |input| Case::new(*expr, *input))).collect()
}

/// A scope in which the corpus's templates and conditions can run.
fn corpus_scope() -> Vec<(String, String)> {
    [
        ("this", "({counter: 5, doubled: 10, total_files: 3, has_files: true, changed_files: ['a.ts', 'b.js'], code_files: ['a.ts'], typescript_files: ['a.ts'], javascript_files: [], final_files: ['a.ts', 'b.js', 'c.py', 'd.ts', 'e.ts', 'f.ts'], processed_count: 2, failed_files: ['x'], hints_completed: false, lint_completed: true, typescript_completed: false, is_typescript_file: true, all_steps_completed: false, can_continue: true, outdated_deps: [], security_risks: [1], attempt_number: 1})"),
        ("state", "({attempt_number: 2})"),
        ("loop", "({iteration: 1, item: 'x', index: 0})"),
        ("success", "true"),
        ("errors", "['e1']"),
        ("file_path", "'src/a.ts'"),
        ("max_attempts", "5"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Inputs the corpus transforms are run against: the data they were written for and data they
/// were not, so both results and errors are compared.
const TRANSFORM_INPUTS: &[&str] = &[
    "'src/test.ts\\nsrc/another.js\\nREADME.md\\nnode_modules/test.js\\n.git/config\\ndist/build.js'",
    "['src/a.ts', 'lib/b.jsx', 'node_modules/c.js', 'x.py', 'build/y.ts']",
    "[['a.ts'], ['b.js']]",
    "[[], ['b.js']]",
    "[{a: {success: true}, b: {success: false}}, ['a', 'b']]",
    "({'a.ts': {success: true}, 'b.ts': {success: false}})",
    "({hints: {success: true}, lint: null, typescript: {success: true}})",
    "[true, {hints: null, lint: null, typescript: null}]",
    "[false, true, true]",
    "[1, 5, false]",
    "'{\"dependencies\": {\"a\": \"1.0.0\"}}'",
    "'a 1.0.0 1.0.0 2.0.0 outdated\\nb 1.2.0 1.3.0 1.3.0'",
    "[[{name: 'a', current: '1.0.0', wanted: '1.0.0', latest: '2.0.0'}], {a: '1.0.0'}]",
    "5",
    "null",
];

fn collect_corpus(node: &Node, key: Option<&str>, transforms: &mut Vec<String>, templates: &mut Vec<String>) {
    match &node.value {
        NodeValue::String(s) => {
            if key == Some("transform") {
                transforms.push(s.clone());
            } else if let Ok(pieces) = scan(s) {
                for piece in pieces {
                    if let Piece::Expr(range) = piece {
                        templates.push(s[range].to_owned());
                    }
                }
                if key == Some("condition") && !s.contains("{{") {
                    templates.push(s.clone());
                }
            }
        }
        NodeValue::Seq(items) => items.iter().for_each(|n| collect_corpus(n, key, transforms, templates)),
        NodeValue::Map(entries) => entries.iter().for_each(|(k, v)| collect_corpus(v, Some(&k.value), transforms, templates)),
        _ => {}
    }
}

/// The transform of computed field `field` in the corpus (for the benchmarks).
/// The transform of computed field `field` in the corpus (`None` without the corpus).
pub fn corpus_transform(field: &str) -> Option<String> {
    fn find(node: &Node, field: &str) -> Option<String> {
        match &node.value {
            NodeValue::Map(entries) => entries.iter().find_map(|(k, v)| {
                if k.value == field {
                    v.get("transform").and_then(Node::as_str).map(str::to_owned)
                } else {
                    find(v, field)
                }
            }),
            NodeValue::Seq(items) => items.iter().find_map(|n| find(n, field)),
            _ => None,
        }
    }
    let mut paths: Vec<_> = std::fs::read_dir(corpus_dir()?).expect("corpus directory").map(|e| e.expect("entry").path()).collect();
    paths.sort();
    let found = paths.iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")).find_map(|path| {
        let source = Source::new(path.display().to_string(), std::fs::read_to_string(path).expect("readable"));
        find(&parse_document(&source).expect("corpus parses"), field)
    });
    Some(found.unwrap_or_else(|| panic!("no computed field `{field}` in the corpus")))
}

/// The corpus's transforms and templates as cases (none without the corpus).
pub fn corpus_cases() -> Vec<Case> {
    let Some(dir) = corpus_dir() else { return Vec::new() };
    let (mut transforms, mut templates) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let source = Source::new(path.display().to_string(), std::fs::read_to_string(&path).expect("readable"));
            let document = parse_document(&source).expect("corpus parses");
            collect_corpus(&document, None, &mut transforms, &mut templates);
        }
    }
    transforms.sort();
    transforms.dedup();
    templates.sort();
    templates.dedup();
    assert!(transforms.len() >= 15 && templates.len() >= 20, "corpus extraction found {} transforms, {} templates", transforms.len(), templates.len());
    let mut cases: Vec<Case> =
        transforms.iter().flat_map(|t| TRANSFORM_INPUTS.iter().map(move |input| Case::new(t.trim(), *input))).collect();
    cases.extend(templates.iter().map(|t| Case { expr: t.trim().to_owned(), input: "null".into(), scope: corpus_scope() }));
    cases
}

