//! Shards (`--shard K/N`): the hash of an input's key and the shard it belongs to.

use super::*;

/// FNV-1a (64-bit) of the key's bytes, then MurmurHash3's 64-bit finalizer so that every
/// bit of the key reaches the low bits (plain FNV-1a modulo a power of two only sees the
/// low bits of each byte: `scan1.png` and `scan5.png` would always share a shard).
pub fn shard_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The bytes a shard key is hashed from: the relative path with `/` separators.
pub(super) fn key_bytes(key: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        key.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        key.to_string_lossy().replace('\\', "/").into_bytes()
    }
}

/// The shard (1..=n) of a key.
pub fn shard_of(key: &Path, n: u32) -> u32 {
    (shard_hash(&key_bytes(key)) % u64::from(n)) as u32 + 1
}
