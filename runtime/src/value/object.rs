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

    /// Own properties in enumeration order (`Object.keys`, `for…in`, `JSON.stringify`).
    pub fn entries(&self) -> Vec<(&Arc<str>, &Value)> {
        let mut indexed: Vec<(usize, &Arc<str>, &Value)> =
            self.properties.iter().filter_map(|(k, v)| array_index(k).map(|i| (i, k, v))).collect();
        if indexed.is_empty() {
            return self.properties.iter().map(|(k, v)| (k, v)).collect();
        }
        indexed.sort_by_key(|(i, _, _)| *i);
        let named = self.properties.iter().filter(|(k, _)| array_index(k).is_none()).map(|(k, v)| (k, v));
        indexed.into_iter().map(|(_, k, v)| (k, v)).chain(named).collect()
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
        let keys: Vec<&str> = object.entries().into_iter().map(|(k, _)| &**k).collect();
        assert_eq!(keys, ["2", "10", "b", "a", "01"]);
    }
}
