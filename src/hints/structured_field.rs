//! A strict, allocation-free reader of RFC 9651 (Structured Field Values) Lists.
//!
//! The `RateLimit` field is a Structured Field List, and RFC 9651 §4.2 requires a parser
//! to fail on anything outside its grammar, so that a malformed field is ignored as a whole.
//! This reader walks a List exactly as the RFC's parsing algorithms do (§4.2.1 to §4.2.10)
//! and reports each member's bare item and the parameters its caller asked for.
//!
//! Why not the `sfv` crate, which implements the same RFC: its parser allocates for byte
//! sequences (it base64-decodes them into a `Vec`), escaped strings and display strings,
//! and the draft's own examples carry a byte sequence (`pk=:dHJpYWwxMjEzMjM=:`). The core
//! never allocates per attempt, so it validates those items in place instead. `sfv` is the
//! oracle this reader is tested against (`tests/hints.rs`, the `rate_limit` fuzz target).
//!
//! ```text
//! sf-list       = list-member *( OWS "," OWS list-member )
//! list-member   = sf-item / inner-list
//! inner-list    = "(" *SP [ sf-item *( 1*SP sf-item ) *SP ] ")" parameters
//! parameters    = *( ";" *SP parameter )
//! parameter     = param-key [ "=" param-value ]
//! key           = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
//! sf-item       = bare-item parameters
//! bare-item     = sf-integer / sf-decimal / sf-string / sf-token
//!                 / sf-binary / sf-boolean / sf-date / sf-displaystring
//! sf-integer    = ["-"] 1*15DIGIT
//! sf-decimal    = ["-"] 1*12DIGIT "." 1*3DIGIT
//! sf-string     = DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE
//! sf-token      = ( ALPHA / "*" ) *( tchar / ":" / "/" )
//! sf-binary     = ":" base64 ":"
//! sf-boolean    = "?" ( "0" / "1" )
//! sf-date       = "@" sf-integer
//! sf-displaystring = "%" DQUOTE *( unescaped / "\" / pct-encoded ) DQUOTE
//! ```
//!
//! Several field lines are one List (RFC 9651 §4.2: the lines are combined with commas
//! first), so the reader takes the lines and reads them as if joined by `", "`.

use core::iter::Peekable;

/// The type of a bare item, with the value of an Integer (the only one a caller reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bare {
    Integer(i64),
    Decimal,
    String,
    Token,
    ByteSequence,
    Boolean(bool),
    Date,
    DisplayString,
}

/// One member of the List: its bare item (`None` for an inner list), and the last value of
/// each parameter key the caller asked for (RFC 9651 §4.2.3.2: a later duplicate wins).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Member<const N: usize> {
    pub(crate) item: Option<Bare>,
    pub(crate) params: [Option<Bare>; N],
}

/// Reads `lines` as one RFC 9651 List. `each` sees every member in order and answers
/// false to stop on a member it cannot use. The answer is true when the whole input is a
/// List and `each` accepted every member.
///
/// `each` runs as members complete, before the rest is checked: a caller keeps what it
/// learns aside until this returns true.
pub(crate) fn read_list<'a, const N: usize>(
    lines: impl Iterator<Item = &'a [u8]>,
    keys: [&[u8]; N],
    mut each: impl FnMut(Member<N>) -> bool,
) -> bool {
    let mut cur = Cursor::new(lines);
    // §4.2: discard leading SP, parse, discard trailing SP, nothing may remain.
    cur.skip(|b| b == b' ');
    if cur.peek().is_none() {
        return true;
    }
    // §4.2.1 Parsing a List.
    loop {
        let Some(member) = list_member(&mut cur, &keys) else {
            return false;
        };
        if !each(member) {
            return false;
        }
        cur.skip(is_ows);
        match cur.bump() {
            None => return true,
            Some(b',') => {}
            Some(_) => return false,
        }
        cur.skip(is_ows);
        if cur.peek().is_none() {
            // A trailing comma.
            return false;
        }
    }
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// §4.2.1.1 Parsing an Item or Inner List.
fn list_member<'a, const N: usize, I: Iterator<Item = &'a [u8]>>(
    cur: &mut Cursor<'a, I>,
    keys: &[&[u8]; N],
) -> Option<Member<N>> {
    let item = if cur.peek() == Some(b'(') {
        inner_list(cur)?;
        None
    } else {
        Some(bare_item(cur)?)
    };
    let params = parameters(cur, keys)?;
    Some(Member { item, params })
}

/// §4.2.1.2 Parsing an Inner List, up to its parameters.
fn inner_list<'a, I: Iterator<Item = &'a [u8]>>(cur: &mut Cursor<'a, I>) -> Option<()> {
    cur.bump(); // "("
    while cur.peek().is_some() {
        cur.skip(|b| b == b' ');
        if cur.peek() == Some(b')') {
            cur.bump();
            return Some(());
        }
        bare_item(cur)?;
        parameters(cur, &[])?;
        match cur.peek() {
            Some(b' ' | b')') => {}
            _ => return None,
        }
    }
    None
}

/// §4.2.3.2 Parsing Parameters: the last value of each of `keys`.
fn parameters<'a, const N: usize, I: Iterator<Item = &'a [u8]>>(
    cur: &mut Cursor<'a, I>,
    keys: &[&[u8]; N],
) -> Option<[Option<Bare>; N]> {
    let mut found = [None; N];
    while cur.peek() == Some(b';') {
        cur.bump();
        cur.skip(|b| b == b' ');
        let slot = key(cur).map(|k| keys.iter().position(|want| *want == k))?;
        let value = if cur.peek() == Some(b'=') {
            cur.bump();
            bare_item(cur)?
        } else {
            Bare::Boolean(true)
        };
        if let Some(i) = slot {
            found[i] = Some(value);
        }
    }
    Some(found)
}

/// §4.2.3.3 Parsing a Key. A key never holds `,` or a space, so it never spans two lines
/// and can be returned as a slice of one.
fn key<'a, I: Iterator<Item = &'a [u8]>>(cur: &mut Cursor<'a, I>) -> Option<&'a [u8]> {
    match cur.peek() {
        Some(b) if b.is_ascii_lowercase() || b == b'*' => {}
        _ => return None,
    }
    let start = cur.pos;
    while cur
        .line
        .get(cur.pos)
        .is_some_and(|&b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*'))
    {
        cur.pos += 1;
    }
    cur.line.get(start..cur.pos)
}

/// §4.2.3.1 Parsing a Bare Item.
fn bare_item<'a, I: Iterator<Item = &'a [u8]>>(cur: &mut Cursor<'a, I>) -> Option<Bare> {
    match cur.peek()? {
        b'-' | b'0'..=b'9' => number(cur),
        b'"' => string(cur).then_some(Bare::String),
        b'*' | b'A'..=b'Z' | b'a'..=b'z' => {
            cur.bump();
            cur.skip(|b| is_tchar(b) || b == b':' || b == b'/');
            Some(Bare::Token)
        }
        b':' => byte_sequence(cur).then_some(Bare::ByteSequence),
        b'?' => {
            cur.bump();
            match cur.bump()? {
                b'0' => Some(Bare::Boolean(false)),
                b'1' => Some(Bare::Boolean(true)),
                _ => None,
            }
        }
        b'@' => {
            cur.bump();
            matches!(number(cur)?, Bare::Integer(_)).then_some(Bare::Date)
        }
        b'%' => display_string(cur).then_some(Bare::DisplayString),
        _ => None,
    }
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// §4.2.4 Parsing an Integer or Decimal: at most 15 digits for an Integer, 12 before and
/// 1 to 3 after the point for a Decimal.
fn number<'a, I: Iterator<Item = &'a [u8]>>(cur: &mut Cursor<'a, I>) -> Option<Bare> {
    let negative = cur.peek() == Some(b'-');
    if negative {
        cur.bump();
    }
    let mut int: i64 = 0;
    let mut digits = 0;
    while let Some(b @ b'0'..=b'9') = cur.peek() {
        cur.bump();
        digits += 1;
        if digits > 15 {
            return None;
        }
        int = int * 10 + i64::from(b - b'0');
    }
    if digits == 0 {
        return None;
    }
    if cur.peek() != Some(b'.') {
        return Some(Bare::Integer(if negative { -int } else { int }));
    }
    if digits > 12 {
        return None;
    }
    cur.bump();
    let mut fraction = 0;
    while let Some(b'0'..=b'9') = cur.peek() {
        cur.bump();
        fraction += 1;
        if fraction > 3 {
            return None;
        }
    }
    (fraction > 0).then_some(Bare::Decimal)
}

/// §4.2.5 Parsing a String: printable ASCII, with `\"` and `\\` the only escapes.
fn string<'a, I: Iterator<Item = &'a [u8]>>(cur: &mut Cursor<'a, I>) -> bool {
    cur.bump(); // DQUOTE
    loop {
        match cur.bump() {
            Some(b'"') => return true,
            Some(b'\\') => {
                if !matches!(cur.bump(), Some(b'"' | b'\\')) {
                    return false;
                }
            }
            Some(0x20..=0x7e) => {}
            _ => return false,
        }
    }
}

/// §4.2.7 Parsing a Byte Sequence: the base64 between the colons must decode. As RFC 9651
/// asks, missing `=` padding and non-zero pad bits are accepted; what remains is the shape
/// of RFC 4648 base64: no length of 4k + 1, and at most the last two characters of the
/// final quantum may be `=`, with nothing but `=` after the first one.
fn byte_sequence<'a, I: Iterator<Item = &'a [u8]>>(cur: &mut Cursor<'a, I>) -> bool {
    cur.bump(); // ":"
    let (mut len, mut pads) = (0usize, 0usize);
    loop {
        match cur.bump() {
            Some(b':') => break,
            Some(b'=') => pads += 1,
            Some(b) if pads == 0 && (b.is_ascii_alphanumeric() || b == b'+' || b == b'/') => {}
            _ => return false,
        }
        len += 1;
    }
    // The final quantum: the last `len % 4` characters, or the last four.
    let last = match len % 4 {
        1 => return false,
        0 => len.min(4),
        rem => rem,
    };
    last.saturating_sub(pads) >= 2 || len == 0
}

/// §4.2.10 Parsing a Display String: printable ASCII, `%` followed by two lower-case hex
/// digits, and the decoded bytes must be UTF-8. The UTF-8 check runs one code point at a
/// time, so nothing is buffered.
fn display_string<'a, I: Iterator<Item = &'a [u8]>>(cur: &mut Cursor<'a, I>) -> bool {
    cur.bump(); // "%"
    if cur.bump() != Some(b'"') {
        return false;
    }
    let mut utf8 = Utf8::default();
    loop {
        let byte = match cur.bump() {
            Some(b'"') => return utf8.need == 0,
            Some(b'%') => {
                let (Some(hi), Some(lo)) = (cur.bump().and_then(hex), cur.bump().and_then(hex))
                else {
                    return false;
                };
                hi << 4 | lo
            }
            Some(b @ 0x20..=0x7e) => b,
            _ => return false,
        };
        if !utf8.push(byte) {
            return false;
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// A UTF-8 check fed one byte at a time: a code point's bytes are collected (at most four)
/// and handed to `core::str::from_utf8` whole, which rejects overlong forms, surrogates
/// and values past U+10FFFF.
#[derive(Default)]
struct Utf8 {
    buf: [u8; 4],
    len: usize,
    need: usize,
}

impl Utf8 {
    fn push(&mut self, b: u8) -> bool {
        if self.need == 0 {
            self.need = match b {
                0x00..=0x7f => return true,
                0xc2..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf4 => 4,
                _ => return false,
            };
            self.len = 0;
        }
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
        }
        self.len += 1;
        if self.len < self.need {
            return true;
        }
        self.need = 0;
        core::str::from_utf8(&self.buf[..self.len]).is_ok()
    }
}

/// The field lines, read as one string joined with `", "`, a byte at a time.
struct Cursor<'a, I: Iterator<Item = &'a [u8]>> {
    line: &'a [u8],
    pos: usize,
    /// Whether `line` is the `", "` put between two field lines.
    in_separator: bool,
    lines: Peekable<I>,
}

impl<'a, I: Iterator<Item = &'a [u8]>> Cursor<'a, I> {
    fn new(lines: I) -> Self {
        let mut lines = lines.peekable();
        let line = lines.next().unwrap_or_default();
        Cursor {
            line,
            pos: 0,
            in_separator: false,
            lines,
        }
    }

    /// The next byte; on return `line[pos]` is that byte.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        match self.line.get(self.pos) {
            Some(&b) => Some(b),
            None => self.next_line(),
        }
    }

    /// Moves past the end of a line: to the `", "` between two lines, or to the next one.
    #[cold]
    #[inline(never)]
    fn next_line(&mut self) -> Option<u8> {
        loop {
            if let Some(&b) = self.line.get(self.pos) {
                return Some(b);
            }
            if self.in_separator {
                self.line = self.lines.next().unwrap_or_default();
                self.in_separator = false;
            } else if self.lines.peek().is_some() {
                self.line = b", ";
                self.in_separator = true;
            } else {
                return None;
            }
            self.pos = 0;
        }
    }

    #[inline]
    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    #[inline]
    fn skip(&mut self, while_: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&while_) {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `input` is a List, by this reader.
    fn is_list(input: &str) -> bool {
        read_list(core::iter::once(input.as_bytes()), [], |_| true)
    }

    #[test]
    fn rfc_9651_examples() {
        // The RFC's own List examples (§3.1, §3.1.1, §3.1.2).
        for ok in [
            "sugar, tea, rum",
            "(\"foo\" \"bar\"), (\"baz\"), (\"bat\" \"one\"), ()",
            "(\"foo\";a=1;b=2);lvl=5, (\"bar\" \"baz\");lvl=1",
            "abc;a=1;b=2; cde_456, (ghi;jk=4 l);q=\"9\";r=w",
            "",
            "  a  ",
            "a,\tb",
        ] {
            assert!(is_list(ok), "{ok:?}");
        }
        for bad in ["a,", ",a", "a,,b", "a b", "\ta", "a;B=1", "a;=1", "a; b =1"] {
            assert!(!is_list(bad), "{bad:?}");
        }
        // Booleans (§3.3.6) are `?0` and `?1`; Dates (§3.3.7) are Integers after `@`;
        // Display Strings (§3.3.8) percent-encode UTF-8 after `%`. Each is a whole item.
        let items = [
            "?0",
            "a;f=?0, ?1",
            "@1659578233",
            "a;d=@-1, @0",
            "%\"caf%c3%a9\"",
        ];
        for ok in items {
            assert!(is_list(ok), "{ok:?}");
        }
        for bad in ["?2", "?", "@1.5", "@", "@x", "%\"%zz\"", "%x"] {
            assert!(!is_list(bad), "{bad:?}");
        }
        // Strings (§3.3.3) escape only `"` and `\`; Byte Sequences (§3.3.5) are base64.
        for ok in [r#""a\"b""#, r#""a\\b""#, ":aGVsbG8=:", ":a+/b:", "::"] {
            assert!(is_list(ok), "{ok:?}");
        }
        for bad in [r#""a\b""#, ":a:", ":YQ=a:", ":a-b:"] {
            assert!(!is_list(bad), "{bad:?}");
        }
        // Decimals (§3.3.2): at most 12 digits before the point, 1 to 3 after it.
        for ok in [
            "1.5",
            "-1.5",
            "a;q=0.123",
            "123456789012.5",
            "999999999999999",
        ] {
            assert!(is_list(ok), "{ok:?}");
        }
        for bad in [
            "1.",
            "1.2345",
            "1234567890123.5",
            "1234567890123456",
            "-",
            "-.5",
        ] {
            assert!(!is_list(bad), "{bad:?}");
        }
    }

    #[test]
    fn lines_read_as_joined_by_comma_space() {
        let lines = |ls: &[&'static str]| ls.iter().map(|l| l.as_bytes()).collect::<Vec<_>>();
        let read = |ls: &[&'static str]| read_list(lines(ls).into_iter(), [], |_| true);
        assert!(read(&["a", "b"]));
        assert!(
            read(&["\"a", "b\""]),
            "a string may span two lines: \"a, b\""
        );
        assert!(!read(&["a", ""]), "an empty line leaves a trailing comma");
        assert!(read(&["a", "\tb"]), "OWS after the joining comma");
    }

    #[test]
    fn byte_sequences_follow_base64() {
        for ok in [
            "::", ":YQ:", ":YQ=:", ":YQ==:", ":YWI:", ":YWI=:", ":YWJj:", ":abc=:",
        ] {
            assert!(is_list(ok), "{ok:?}");
        }
        for bad in [
            ":Y:", ":Y=:", ":YQ===:", ":Y===:", ":YQ=Q:", ":YWJjZ:", ":a-b:", ":YQ",
        ] {
            assert!(!is_list(bad), "{bad:?}");
        }
    }

    #[test]
    fn display_strings_decode_to_utf8() {
        assert!(is_list("%\"f%c3%bc%c3%bc\""));
        // Three and four bytes a code point: the euro sign, and an emoji past U+FFFF.
        assert!(is_list("%\"%e2%82%ac\""));
        assert!(is_list("%\"%f0%9f%98%80\""));
        // Past U+10FFFF, though its lead byte may start four.
        assert!(!is_list("%\"%f4%90%80%80\""));
        for bad in [
            "%\"%c3\"",
            "%\"%C3%BC\"",
            "%\"%ed%a0%80\"",
            "%\"%c0%80\"",
            "%\"\u{e9}\"",
        ] {
            assert!(!is_list(bad), "{bad:?}");
        }
    }
}
