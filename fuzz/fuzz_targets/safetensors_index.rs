//! The `model.safetensors.index.json` parser on arbitrary bytes: never panics, and what it
//! accepts serialises back to an equal index.
#![no_main]

use libfuzzer_sys::fuzz_target;
use t0_core::safetensors::index::ShardIndex;

fuzz_target!(|data: &[u8]| {
    if let Ok(ix) = ShardIndex::parse(data) {
        let again = ShardIndex::parse(ix.to_json().as_bytes()).expect("own output parses");
        assert_eq!(again.weight_map, ix.weight_map);
        for shard in ix.shards() {
            assert!(!shard.is_empty() && !shard.contains('/'));
        }
    }
});
