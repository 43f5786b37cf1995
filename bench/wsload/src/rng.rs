//! Random bytes for handshake keys and frame masks: SplitMix64 seeded from
//! the OS (std's `RandomState`). RFC 6455 wants unpredictable masks against
//! cache poisoning by intermediaries; a benchmark on loopback only needs
//! them to vary, so a fast generator is enough.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// SplitMix64 (Steele, Lea, Flood 2014).
pub struct Rng(u64);

impl Rng {
    /// Seeded from the OS.
    pub fn from_os() -> Self {
        Self(RandomState::new().build_hasher().finish())
    }

    /// Seeded by hand (tests).
    #[cfg(test)]
    pub fn with_seed(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A frame masking key.
    pub fn mask(&mut self) -> [u8; 4] {
        (self.next_u64() as u32).to_ne_bytes()
    }

    /// 16 bytes for a `Sec-WebSocket-Key`.
    pub fn key_bytes(&mut self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.next_u64().to_ne_bytes());
        out[8..].copy_from_slice(&self.next_u64().to_ne_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    /// The reference implementation's first outputs for seed 1234567
    /// (splitmix64.c by Vigna).
    #[test]
    fn splitmix64_reference_outputs() {
        let mut r = Rng::with_seed(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(r.next_u64(), 9_817_491_932_198_370_423);
    }
}
