//! A uniform draw in `0..=high`, the one a retry's jitter makes.
//!
//! `fastrand::Rng::u64(0..=high)` gives the same number from the same generator: it takes
//! one 64-bit word, multiplies it by the range's length and keeps the high half (Lemire's
//! method), drawing again only in the rare case that would bias the result. But it takes
//! any range type, and that generic bound matching is not inlined into a retry decision:
//! the call and the matching were two thirds of a draw's instructions. Here the range is
//! always `0..=high`, the common case is inline and the rare one is out of line, handed to
//! `fastrand` itself with the generator's state rewound, so every draw (and every seeded
//! schedule) is the one `fastrand` makes. A property test checks that against
//! `Rng::u64(0..=high)`.

use fastrand::Rng;

/// A uniform number in `0..=high`, the same one `rng.u64(0..=high)` returns.
#[inline(always)]
pub(crate) fn up_to(rng: &mut Rng, high: u64) -> u64 {
    let Some(len) = high.checked_add(1) else {
        // The whole range: one word as it comes.
        return rng.u64(..);
    };
    let seed = rng.get_seed();
    let word = rng.u64(..);
    let product = u128::from(word) * u128::from(len);
    if (product as u64) < len {
        // The word may fall in the biased sliver: let fastrand decide from the same state.
        return redraw(rng, seed, high);
    }
    (product >> 64) as u64
}

/// The rare case of [`up_to`]: `fastrand`'s own draw from the state before the first word.
#[cold]
#[inline(never)]
fn redraw(rng: &mut Rng, seed: u64, high: u64) -> u64 {
    rng.seed(seed);
    rng.u64(0..=high)
}

#[cfg(test)]
mod tests {
    use super::*;
    // Named, not globbed: proptest's prelude has an `Rng` of its own.
    use fastrand::Rng;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// The same number as `fastrand`, and the generator left in the same state, for any
        /// bound, small (where the sliver is often hit) or large.
        #[test]
        fn the_draw_is_fastrands(seed: u64, high in prop_oneof![0u64..16, any::<u64>(), (u64::MAX - 16)..=u64::MAX]) {
            let (mut ours, mut theirs) = (Rng::with_seed(seed), Rng::with_seed(seed));
            for _ in 0..8 {
                prop_assert_eq!(up_to(&mut ours, high), theirs.u64(0..=high));
                prop_assert_eq!(ours.get_seed(), theirs.get_seed());
            }
        }
    }

    /// A bound whose sliver is wide (just over half the words fall in it for `2^63`): the
    /// rare path runs and still agrees.
    #[test]
    fn the_rare_path_agrees() {
        let (mut ours, mut theirs) = (Rng::with_seed(3), Rng::with_seed(3));
        let high = (1u64 << 63) + 1;
        for _ in 0..10_000 {
            assert_eq!(up_to(&mut ours, high), theirs.u64(0..=high));
        }
    }
}
