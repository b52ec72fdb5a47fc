//! Plain objects: properties in JavaScript's enumeration order (integer-like keys ascending,
//! then the others in insertion order).

use std::sync::Arc;

use super::{Value, array_index};

/// A plain object's own properties.
#[derive(Clone, Debug, Default)]
pub struct Object {
    /// In insertion order; [`Object::entries`] gives JavaScript's enumeration order.
    properties: Vec<(Arc<str>, Value)>,
}

impl Object {
    /// An empty object.
    pub fn new() -> Self {
        Object::default()
    }

    /// An empty object with room for `n` properties (an object literal knows how many).
    pub fn with_capacity(n: usize) -> Self {
        Object { properties: Vec::with_capacity(n) }
    }

    /// The value of own property `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.properties.iter().find(|(k, _)| &**k == key).map(|(_, v)| v)
    }

    /// Sets `key`, keeping its place if it exists (and then without allocating the key).
    pub fn insert<K: Into<Arc<str>> + AsRef<str>>(&mut self, key: K, value: Value) {
        match self.properties.iter_mut().find(|(k, _)| **k == *key.as_ref()) {
            Some((_, slot)) => *slot = value,
            None => self.properties.push((key.into(), value)),
        }
    }

    /// Adds `key`, which the caller knows is not there yet (the distinct names of an object
    /// literal, known at build time): no search of the keys already there.
    pub fn insert_new(&mut self, key: Arc<str>, value: Value) {
        debug_assert!(self.get(&key).is_none(), "{key} is already a property");
        self.properties.push((key, value));
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let at = self.properties.iter().position(|(k, _)| &**k == key)?;
        Some(self.properties.remove(at).1)
    }

    /// Number of own properties.
    pub fn len(&self) -> usize {
        self.properties.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.properties.is_empty()
    }

    /// Own properties in enumeration order (`Object.keys`, `for…in`, `JSON.stringify`): as
    /// they are when no key is integer-like, the usual case, without copying them (collecting
    /// no integer-like keys allocates nothing). Keeping a flag instead of looking grows every
    /// object by a word, which measured slower overall.
    pub fn entries(&self) -> impl Iterator<Item = (&Arc<str>, &Value)> {
        let mut indexed: Vec<(usize, &Arc<str>, &Value)> =
            self.properties.iter().filter_map(|(k, v)| array_index(k).map(|i| (i, k, v))).collect();
        let (reordered, in_order) = if indexed.is_empty() {
            (None, Some(self.properties.iter().map(|(k, v)| (k, v))))
        } else {
            indexed.sort_by_key(|(i, _, _)| *i);
            let named = self.properties.iter().filter(|(k, _)| array_index(k).is_none()).map(|(k, v)| (k, v));
            (Some(indexed.into_iter().map(|(_, k, v)| (k, v)).chain(named)), None)
        };
        reordered.into_iter().flatten().chain(in_order.into_iter().flatten())
    }
}

impl FromIterator<(Arc<str>, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (Arc<str>, Value)>>(iter: I) -> Self {
        let mut object = Object::new();
        for (k, v) in iter {
            object.insert(k, v);
        }
        object
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_keys_enumerate_first_in_numeric_order() {
        let mut object = Object::new();
        for key in ["b", "10", "a", "2", "01"] {
            object.insert(key, Value::Null);
        }
        let keys: Vec<&str> = object.entries().map(|(k, _)| &**k).collect();
        assert_eq!(keys, ["2", "10", "b", "a", "01"]);
    }
}
