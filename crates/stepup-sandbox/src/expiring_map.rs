//! The one in-memory table the sandbox bounds: entries that expire by age and a cap on how
//! many are kept, so that a hostile client cannot grow it without limit. Nonces, pending
//! email/SMS verifications and passkey ceremonies all live in one.

use std::collections::HashMap;

/// A map from `String` keys to values that live `ttl_ms` after their insertion, holding at
/// most `capacity` entries.
#[derive(Debug)]
pub(crate) struct ExpiringMap<V> {
    /// Entries by key. An entry `ttl_ms` old or older is dead: [`ExpiringMap::take`] never
    /// returns it, and the next [`ExpiringMap::insert`] drops it.
    entries: HashMap<String, Entry<V>>,
    /// How long an entry lives, ms.
    ttl_ms: i64,
    /// The most entries kept (at least 1): inserting into a full map first drops the oldest,
    /// so a flood of new entries pushes out the stale ones, never the newest.
    capacity: usize,
    /// Counts insertions, so that "oldest" is well defined among entries of the same instant.
    inserted: u64,
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    inserted_at_ms: i64,
    order: u64,
}

/// An entry found by [`ExpiringMap::get_mut`], live or dead.
pub(crate) struct Found<'a, V> {
    /// The value, still in the map.
    pub value: &'a mut V,
    /// The entry has outlived the map's ttl.
    pub expired: bool,
}

impl<V> ExpiringMap<V> {
    /// An empty map whose entries live `ttl_ms` and of which at most `capacity` are kept.
    pub(crate) fn new(ttl_ms: i64, capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            ttl_ms,
            capacity: capacity.max(1),
            inserted: 0,
        }
    }

    fn expired(&self, inserted_at_ms: i64, now_ms: i64) -> bool {
        now_ms - inserted_at_ms >= self.ttl_ms
    }

    /// Inserts `value` under `key` at `now_ms`: drops the dead entries, then the oldest live
    /// ones while the map is full.
    pub(crate) fn insert(&mut self, key: String, value: V, now_ms: i64) {
        let ttl_ms = self.ttl_ms;
        self.entries
            .retain(|_, e| now_ms - e.inserted_at_ms < ttl_ms);
        while self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| (e.inserted_at_ms, e.order))
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.entries.remove(&k),
                None => break,
            };
        }
        self.inserted += 1;
        self.entries.insert(
            key,
            Entry {
                value,
                inserted_at_ms: now_ms,
                order: self.inserted,
            },
        );
    }

    /// Removes the entry of `key` (single use: a dead one goes too) and returns its value if
    /// it was still live at `now_ms`.
    pub(crate) fn take(&mut self, key: &str, now_ms: i64) -> Option<V> {
        let entry = self.entries.remove(key)?;
        (!self.expired(entry.inserted_at_ms, now_ms)).then_some(entry.value)
    }

    /// The entry of `key`, live or dead, left in the map: for rules that answer a dead entry
    /// otherwise than a missing one, or that change an entry without using it up.
    pub(crate) fn get_mut(&mut self, key: &str, now_ms: i64) -> Option<Found<'_, V>> {
        let ttl_ms = self.ttl_ms;
        self.entries.get_mut(key).map(|e| Found {
            expired: now_ms - e.inserted_at_ms >= ttl_ms,
            value: &mut e.value,
        })
    }

    /// Removes the entry of `key`, live or dead.
    pub(crate) fn remove(&mut self, key: &str) -> Option<V> {
        self.entries.remove(key).map(|e| e.value)
    }

    /// How many entries are held, live or dead.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_live_until_its_ttl_and_taken_once() {
        let mut map = ExpiringMap::new(1_000, 10);
        map.insert("a".into(), 1, 0);
        assert!(map.get_mut("a", 999).is_some_and(|f| !f.expired));
        assert!(map.get_mut("a", 1_000).is_some_and(|f| f.expired));
        assert_eq!(map.take("a", 999), Some(1));
        assert_eq!(map.take("a", 999), None);
    }

    #[test]
    fn a_dead_entry_is_never_taken_but_is_removed() {
        let mut map = ExpiringMap::new(1_000, 10);
        map.insert("a".into(), 1, 0);
        assert_eq!(map.take("a", 1_000), None);
        assert_eq!(map.len(), 0);
    }

    #[test]
    fn inserting_drops_the_dead_entries() {
        let mut map = ExpiringMap::new(1_000, 10);
        map.insert("old".into(), 1, 0);
        map.insert("young".into(), 2, 500);
        map.insert("new".into(), 3, 1_200);
        assert_eq!(map.len(), 2);
        assert!(map.get_mut("old", 1_200).is_none());
        assert_eq!(map.take("young", 1_200), Some(2));
    }

    #[test]
    fn a_full_map_drops_its_oldest_entry_first_even_within_one_instant() {
        let mut map = ExpiringMap::new(1_000, 3);
        map.insert("first".into(), 1, 10);
        map.insert("second".into(), 2, 10);
        map.insert("third".into(), 3, 5);
        map.insert("fourth".into(), 4, 20);
        assert_eq!(map.len(), 3);
        assert!(
            map.get_mut("third", 20).is_none(),
            "the oldest by time goes first"
        );
        map.insert("fifth".into(), 5, 20);
        map.insert("sixth".into(), 6, 20);
        assert_eq!(map.len(), 3);
        assert!(map.get_mut("first", 20).is_none());
        assert!(
            map.get_mut("second", 20).is_none(),
            "ties go in insertion order"
        );
        assert_eq!(map.take("fourth", 20), Some(4));
        assert_eq!(map.take("fifth", 20), Some(5));
        assert_eq!(map.take("sixth", 20), Some(6));
    }

    #[test]
    fn a_batch_larger_than_the_capacity_keeps_its_newest() {
        let mut map = ExpiringMap::new(1_000, 2);
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            map.insert(key.into(), i, 0);
        }
        assert_eq!(map.take("a", 0), None);
        assert_eq!(map.take("b", 0), Some(1));
        assert_eq!(map.take("c", 0), Some(2));
    }

    #[test]
    fn remove_takes_a_dead_entry_too() {
        let mut map = ExpiringMap::new(1_000, 10);
        map.insert("a".into(), 1, 0);
        assert_eq!(map.remove("a"), Some(1));
        assert_eq!(map.remove("a"), None);
    }
}
