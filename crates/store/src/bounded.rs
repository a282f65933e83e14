//! The bounded map that every cache of the store keeps its entries in.

use std::collections::HashMap;
use std::sync::Mutex;

/// A map of at most `max` entries whose weights add up to at most `budget`. An entry that would
/// pass either bound empties the map, which starts again: a server with more in use than this
/// reads and parses as it would without the cache, and its memory stays bounded. An entry
/// heavier than the whole budget is not kept, and leaves the other entries as they were (an
/// earlier entry under its key is forgotten: it is out of date).
pub(crate) struct Bounded<V> {
    max: usize,
    budget: usize,
    entries: Mutex<Entries<V>>,
}

struct Entries<V> {
    map: HashMap<String, (V, usize)>,
    weight: usize,
}

impl<V> Entries<V> {
    fn remove(&mut self, key: &str) {
        if let Some((_, old)) = self.map.remove(key) {
            self.weight -= old;
        }
    }
}

impl<V> Bounded<V> {
    /// At most `max` entries, weighing `budget` in all.
    pub(crate) fn new(max: usize, budget: usize) -> Self {
        Self { max, budget, entries: Mutex::new(Entries { map: HashMap::new(), weight: 0 }) }
    }

    /// At most `max` entries, of any weight.
    pub(crate) fn counted(max: usize) -> Self {
        Self::new(max, usize::MAX)
    }

    /// What `read` makes of the entry `key`, if there is one (without copying the entry).
    pub(crate) fn read<R>(&self, key: &str, read: impl FnOnce(&V) -> Option<R>) -> Option<R> {
        self.entries.lock().ok()?.map.get(key).and_then(|(v, _)| read(v))
    }

    /// Keeps `value` as the entry `key`, weighing `weight`.
    pub(crate) fn put(&self, key: String, value: V, weight: usize) {
        let Ok(mut entries) = self.entries.lock() else { return };
        entries.remove(&key);
        if weight > self.budget {
            return;
        }
        // The total never passes the budget, so neither this nor the sum below overflows.
        if entries.map.len() >= self.max || weight > self.budget - entries.weight {
            entries.map.clear();
            entries.weight = 0;
        }
        entries.weight += weight;
        entries.map.insert(key, (value, weight));
    }

    /// Forgets the entry `key`.
    pub(crate) fn remove(&self, key: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().unwrap().map.len()
    }
}

impl<V: Clone> Bounded<V> {
    /// A copy of the entry `key`.
    pub(crate) fn get(&self, key: &str) -> Option<V> {
        self.read(key, |v| Some(v.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_count() {
        let map = Bounded::counted(3);
        for i in 0..10 {
            map.put(format!("k{i}"), i, 0);
            assert!(map.len() <= 3);
            assert_eq!(map.get(&format!("k{i}")), Some(i), "the latest entry is kept");
        }
        // Replacing an entry does not count it twice.
        let map = Bounded::counted(2);
        map.put("a".into(), 1, 0);
        map.put("b".into(), 2, 0);
        map.put("b".into(), 3, 0);
        assert_eq!((map.get("a"), map.get("b")), (Some(1), Some(3)));
    }

    #[test]
    fn bounded_by_weight() {
        let map = Bounded::new(100, 10);
        map.put("a".into(), 'a', 4);
        map.put("b".into(), 'b', 4);
        // Too heavy for the whole budget: not kept, and the others stay.
        map.put("huge".into(), 'h', 11);
        assert_eq!((map.get("huge"), map.get("a"), map.get("b")), (None, Some('a'), Some('b')));
        // Replacing an entry gives back its weight.
        map.put("b".into(), 'B', 6);
        assert_eq!((map.get("a"), map.get("b")), (Some('a'), Some('B')));
        // Past the budget the map starts again with the new entry.
        map.put("c".into(), 'c', 1);
        assert_eq!((map.get("a"), map.get("b"), map.get("c")), (None, None, Some('c')));
        map.put("x".into(), 'x', 1);
        map.remove("c");
        map.put("d".into(), 'd', 9);
        assert_eq!((map.get("x"), map.get("d")), (Some('x'), Some('d')), "a removed entry's weight is given back");
        // A refused entry forgets the earlier one under its key, and only that one.
        map.put("x".into(), 'X', 11);
        assert_eq!((map.get("x"), map.get("d")), (None, Some('d')));
    }

    #[test]
    fn read_sees_the_entry_in_place() {
        let map = Bounded::counted(4);
        map.put("k".into(), String::from("text"), 0);
        assert_eq!(map.read("k", |v| (v == "text").then_some(1)), Some(1));
        assert_eq!(map.read("k", |v| (v == "other").then_some(1)), None);
        assert_eq!(map.read("missing", |_| Some(1)), None);
    }
}
