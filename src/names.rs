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

/// `a, b, c`: the choices of a name, for the parse errors of the core's named settings.
pub(crate) fn one_of(names: &[&str]) -> String {
    names.join(", ")
}
