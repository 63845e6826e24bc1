//! The request ids of a call's attempts, kept inline so that recording one never
//! allocates: the final error names them (a support ticket asks for them).

use core::fmt;

/// At most this many ids are kept.
const SLOTS: usize = 4;
/// The longest request id kept whole; longer ones are cut at a character boundary.
/// Anthropic's ids are 28 bytes, OpenAI's 36, a UUID 36.
const ID_LEN: usize = 64;
/// The bytes the kept ids share: four of Anthropic's, three UUIDs, at least one of any
/// length. Small, because the ids live inline in every retry future, which is moved
/// about whole.
const TEXT: usize = 120;

/// The request ids a call's attempts received, kept inline so that recording one never
/// allocates: the newest ones that fit in 120 bytes between them, at most four, each up to
/// 64 bytes (longer ids are cut short).
///
/// Four covers every attempt of the presets (three attempts) for ids up to 40 bytes, such
/// as Anthropic's (28) and OpenAI's (36); beyond that the oldest are dropped and
/// [`dropped`](Self::dropped) counts them, since the latest attempts are the ones a
/// support ticket asks about.
///
/// ```
/// use redial::RequestIds;
///
/// let mut ids = RequestIds::new();
/// for id in ["req_1", "req_2", "req_3", "req_4", "req_5"] {
///     ids.push(id);
/// }
/// assert_eq!(ids.iter().collect::<Vec<_>>(), ["req_2", "req_3", "req_4", "req_5"]);
/// assert_eq!((ids.len(), ids.dropped()), (4, 1));
/// ```
#[derive(Clone)]
pub struct RequestIds {
    /// The kept ids, oldest first, back to back.
    text: [u8; TEXT],
    /// Their lengths, oldest first; the first `kept` count.
    lens: [u8; SLOTS],
    kept: u8,
    /// Ids pushed in all, saturating (two bytes, not four: an id is pushed per attempt,
    /// and a call is moved by every executor, so every byte of it counts).
    seen: u16,
}

impl RequestIds {
    /// No ids.
    ///
    /// ```
    /// assert!(redial::RequestIds::new().is_empty());
    /// ```
    pub const fn new() -> RequestIds {
        RequestIds {
            text: [0; TEXT],
            lens: [0; SLOTS],
            kept: 0,
            seen: 0,
        }
    }

    /// Records an id, dropping the oldest to make room. Never allocates.
    ///
    /// ```
    /// let mut ids = redial::RequestIds::new();
    /// ids.push(&"x".repeat(100));
    /// assert_eq!(ids.iter().next().map(str::len), Some(64));
    /// ```
    pub fn push(&mut self, id: &str) {
        let mut len = id.len().min(ID_LEN);
        while !id.is_char_boundary(len) {
            len -= 1;
        }
        let Some(new) = id.as_bytes().get(..len) else {
            return;
        };
        while usize::from(self.kept) == SLOTS || self.used() + len > TEXT {
            self.drop_oldest();
        }
        let used = self.used();
        if let (Some(dst), Some(slot)) = (
            self.text.get_mut(used..used + len),
            self.lens.get_mut(usize::from(self.kept)),
        ) {
            dst.copy_from_slice(new);
            // `len` is at most ID_LEN (64), so it fits in a u8.
            *slot = len as u8;
            self.kept += 1;
            self.seen = self.seen.saturating_add(1);
        }
    }

    /// Bytes the kept ids take.
    fn used(&self) -> usize {
        self.lens()
            .iter()
            .map(|&len| usize::from(len))
            .sum::<usize>()
    }

    fn lens(&self) -> &[u8] {
        self.lens.get(..usize::from(self.kept)).unwrap_or_default()
    }

    fn drop_oldest(&mut self) {
        let Some(&oldest) = self.lens.first() else {
            return;
        };
        let used = self.used();
        self.text.copy_within(usize::from(oldest)..used, 0);
        self.lens.copy_within(1.., 0);
        self.kept = self.kept.saturating_sub(1);
    }

    /// The ids kept, oldest first.
    ///
    /// ```
    /// let mut ids = redial::RequestIds::new();
    /// ids.push("a");
    /// ids.push("b");
    /// assert_eq!(ids.iter().collect::<String>(), "ab");
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        let mut at = 0;
        self.lens().iter().map(move |&len| {
            let start = at;
            at += usize::from(len);
            self.text
                .get(start..at)
                .and_then(|b| core::str::from_utf8(b).ok())
                .unwrap_or("")
        })
    }

    /// How many ids are kept.
    ///
    /// ```
    /// assert_eq!(redial::RequestIds::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        usize::from(self.kept)
    }

    /// Whether no id was recorded.
    ///
    /// ```
    /// assert!(redial::RequestIds::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.seen == 0
    }

    /// How many ids were recorded but no longer kept (counted up to 65,535 recorded).
    ///
    /// ```
    /// assert_eq!(redial::RequestIds::new().dropped(), 0);
    /// ```
    pub fn dropped(&self) -> usize {
        usize::from(self.seen).saturating_sub(self.len())
    }

    /// The newest id, if any.
    ///
    /// ```
    /// let mut ids = redial::RequestIds::new();
    /// ids.push("req_9");
    /// assert_eq!(ids.last(), Some("req_9"));
    /// ```
    pub fn last(&self) -> Option<&str> {
        self.iter().last()
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds::new()
    }
}

impl fmt::Debug for RequestIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_the_latest_in_order() {
        let mut ids = RequestIds::new();
        assert_eq!(ids.iter().count(), 0);
        for n in 0..10 {
            ids.push(&format!("req_{n}"));
        }
        assert_eq!(
            ids.iter().collect::<Vec<_>>(),
            ["req_6", "req_7", "req_8", "req_9"]
        );
        assert_eq!(ids.dropped(), 6);
    }

    #[test]
    fn ids_share_their_bytes_newest_first() {
        // Four of Anthropic's 28-byte ids fit; of 36-byte UUIDs, three.
        let anthropic = |n: u32| format!("req_011CSHoEeqs5C35K2UUqR7F{n}");
        let mut ids = RequestIds::new();
        (1..=4).for_each(|n| ids.push(&anthropic(n)));
        assert_eq!((ids.len(), ids.dropped()), (4, 0));

        let uuid = |n: u32| format!("5f1b2c3d-0000-4000-8000-00000000000{n}");
        let mut ids = RequestIds::new();
        (1..=4).for_each(|n| ids.push(&uuid(n)));
        assert_eq!(ids.iter().collect::<Vec<_>>(), [uuid(2), uuid(3), uuid(4)]);
        assert_eq!(ids.dropped(), 1);

        // A long id pushes out as many as it needs, and short ones fill in again.
        ids.push(&"L".repeat(64));
        assert_eq!(ids.iter().collect::<Vec<_>>(), [uuid(4), "L".repeat(64)]);
        ids.push("x");
        assert_eq!(ids.last(), Some("x"));
        assert_eq!((ids.len(), ids.dropped()), (3, 3));
    }

    #[test]
    fn long_ids_are_cut_at_a_char_boundary() {
        let mut ids = RequestIds::new();
        let id = format!("{}é", "a".repeat(63));
        ids.push(&id);
        assert_eq!(ids.last(), Some("a".repeat(63).as_str()));
    }
}
