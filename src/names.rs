//! Named settings (`exponential`, `when_safe`, `clamp`, `aws`): parsing one from its name,
//! and the "expected one of" list of its parse error, written once for every such type.

/// The one of `all` whose name is `s`.
pub(crate) fn find<T: Copy, const N: usize>(
    all: [T; N],
    s: &str,
    name: impl Fn(&T) -> &'static str,
) -> Option<T> {
    all.into_iter().find(|t| name(t) == s)
}

/// The error for a name that is none of a named setting's: a curve, a budget kind, a rule
/// for non-idempotent requests, a rule for long hints or a transport kind. Its message
/// lists the names allowed; it names no policy key (the policy file layer adds the key
/// path, `backoff.kind`), and it holds no copy of the name given, so that parsing one
/// never allocates.
///
/// ```
/// let err = "fibonacci".parse::<redial::backoff::Curve>().unwrap_err();
/// assert_eq!(err.to_string(), "expected one of exponential, constant, linear");
/// assert_eq!(err.kind(), "curve");
/// assert_eq!(err.allowed(), ["exponential", "constant", "linear"]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownName {
    kind: &'static str,
    allowed: &'static [&'static str],
}

impl UnknownName {
    /// The error for a name of `kind` that is none of `allowed`.
    pub(crate) const fn new(kind: &'static str, allowed: &'static [&'static str]) -> Self {
        UnknownName { kind, allowed }
    }

    /// What the name was for: `curve`, `budget kind`, `non-idempotent rule`,
    /// `long-hint rule`, `pacer engagement` or `transport kind`.
    ///
    /// ```
    /// let err = "lifo".parse::<redial::budget::BudgetKind>().unwrap_err();
    /// assert_eq!(err.kind(), "budget kind");
    /// ```
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The names allowed, in the order the docs list them.
    ///
    /// ```
    /// let err = "teleport".parse::<redial::Transport>().unwrap_err();
    /// assert_eq!(err.allowed(), ["connect", "timeout", "reset", "other"]);
    /// ```
    pub fn allowed(&self) -> &'static [&'static str] {
        self.allowed
    }
}

impl core::fmt::Display for UnknownName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("expected one of ")?;
        for (i, name) in self.allowed.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownName {}

/// The names of a type's `ALL`, by its `as_str`, as a `&'static [&'static str]` worked out
/// at compile time: `names_of!(Curve)`.
macro_rules! names_of {
    ($t:ty) => {{
        const N: usize = <$t>::ALL.len();
        const NAMES: [&str; N] = {
            let mut names = [""; N];
            let mut i = 0;
            while i < N {
                names[i] = <$t>::ALL[i].as_str();
                i += 1;
            }
            names
        };
        &NAMES
    }};
}
pub(crate) use names_of;
