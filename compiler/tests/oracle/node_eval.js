// The oracle for wfc's expression semantics: evaluates each case with node and prints the
// result in the canonical encoding that compiler/tests/oracle/mod.rs also produces.
// One JSON case per input line: {"expr": "...", "input": "<JS literal>", "scope": {"name": "<JS literal>"}}.
// One JSON result per output line, in order.
'use strict';
const readline = require('readline');

// wfc strings are UTF-8, so a lone UTF-16 surrogate (half of an emoji, from slicing) becomes
// U+FFFD; compare against node's string made well-formed the same way.
const wellFormed = s => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');

function encode(v) {
  if (v === undefined) return { $undefined: true };
  if (typeof v === 'string') return wellFormed(v);
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') return { $num: Object.is(v, -0) ? '-0' : String(v) };
  if (Array.isArray(v)) return v.map(encode);
  if (v instanceof Set) return { $set: [...v].map(encode) };
  if (v instanceof RegExp) return { $regex: String(v) };
  if (typeof v === 'function') return { $function: true };
  if (typeof v === 'object') return { $object: Object.keys(v).map(k => [wellFormed(k), encode(v[k])]) };
  return { $other: typeof v };
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on('line', line => {
  let out;
  try {
    const c = JSON.parse(line);
    const names = Object.keys(c.scope || {});
    const values = names.map(n => eval('(' + c.scope[n] + ')'));
    const thisValue = names.includes('this') ? values[names.indexOf('this')] : undefined;
    const params = names.filter(n => n !== 'this');
    const args = params.map(n => values[names.indexOf(n)]);
    const input = eval('(' + c.input + ')');
    const fn = new Function('input', ...params, 'return (' + c.expr + '\n);');
    try {
      out = encode(fn.call(thisValue, input, ...args));
    } catch (e) {
      out = { $error: e && e.constructor ? e.constructor.name : 'Error' };
    }
  } catch (e) {
    out = { $harness_error: String(e) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
});
