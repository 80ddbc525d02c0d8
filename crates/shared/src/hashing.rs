//! The hash for maps keyed by customer ids and product names.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// A hash map with [`ahash`] (a fraction of std's SipHash per key: measured, a fifth of
/// the evaluate stage went to SipHash) keyed per process from std's own random source.
/// The keys matter: ids are input that a file's author controls, and under a fixed key
/// they could choose ids that all collide. So nothing may depend on such a map's order.
pub type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

/// An empty [`FastMap`] with keys drawn for this process.
pub fn fast_map<K, V>() -> FastMap<K, V> {
    FastMap::with_hasher(random_state())
}

/// An empty [`FastMap`] with room for `capacity` entries.
pub fn fast_map_with_capacity<K, V>(capacity: usize) -> FastMap<K, V> {
    FastMap::with_capacity_and_hasher(capacity, random_state())
}

fn random_state() -> ahash::RandomState {
    let std_random = std::collections::hash_map::RandomState::new();
    let key = |i: u64| {
        let mut h = std_random.build_hasher();
        h.write_u64(i);
        h.finish()
    };
    ahash::RandomState::with_seeds(key(0), key(1), key(2), key(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_find_what_was_put_and_draw_their_own_keys() {
        let mut a: FastMap<String, u32> = fast_map();
        for i in 0..1000u32 {
            a.insert(format!("C{i:06}"), i);
        }
        assert!((0..1000u32).all(|i| a[&format!("C{i:06}")] == i));
        let b: FastMap<String, u32> = fast_map_with_capacity(10);
        let (ha, hb) = (
            a.hasher().hash_one("C000001"),
            b.hasher().hash_one("C000001"),
        );
        assert_ne!(ha, hb, "two maps share their hash keys");
    }
}
