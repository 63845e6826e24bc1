//! A parsed policy file, format-neutral: what TOML and JSON (and any serde format) have in
//! common. Tables keep their keys in the order the format gives them.

#![cfg_attr(not(feature = "serde"), allow(dead_code))]

use core::fmt;

/// One value of a policy file.
#[derive(Debug)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Datetime,
    Array(Vec<Node>),
    Table(Vec<(String, Node)>),
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Null => f.write_str("null"),
            Node::Bool(b) => write!(f, "{b}"),
            Node::Int(i) => write!(f, "the integer {i}"),
            Node::Float(x) => write!(f, "the number {x:?}"),
            Node::Str(s) => write!(f, "the string {s:?}"),
            Node::Datetime => f.write_str("a date"),
            Node::Array(_) => f.write_str("an array"),
            Node::Table(_) => f.write_str("a table"),
        }
    }
}

#[cfg(feature = "serde")]
pub(crate) mod de {
    use std::collections::HashSet;

    use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

    use super::Node;

    /// The key under which the `toml` crate hands a TOML date to a generic visitor.
    const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

    impl<'de> Deserialize<'de> for Node {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
            deserializer.deserialize_any(NodeVisitor)
        }
    }

    struct NodeVisitor;

    /// A key already read. Its comparisons are counted under test, so that a test can prove
    /// the duplicate check linear by counting rather than timing.
    #[derive(Eq)]
    struct SeenKey(String);

    impl core::hash::Hash for SeenKey {
        fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
            self.0.hash(state);
        }
    }

    impl PartialEq for SeenKey {
        fn eq(&self, other: &SeenKey) -> bool {
            #[cfg(test)]
            COMPARISONS.with(|c| c.set(c.get() + 1));
            self.0 == other.0
        }
    }

    #[cfg(test)]
    std::thread_local! {
        /// Key comparisons made by the duplicate check on this thread.
        pub(crate) static COMPARISONS: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
    }

    impl<'de> Visitor<'de> for NodeVisitor {
        type Value = Node;

        fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("a policy setting")
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
            Ok(Node::Bool(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
            Ok(Node::Int(v.into()))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
            Ok(Node::Int(v.into()))
        }

        fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
            Ok(Node::Int(v))
        }

        fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
            Ok(Node::Int(i128::try_from(v).unwrap_or(i128::MAX)))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
            Ok(Node::Float(v))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
            Ok(Node::Str(v.to_owned()))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
            Ok(Node::Str(v))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
            Ok(Node::Null)
        }

        fn visit_none<E: de::Error>(self) -> Result<Node, E> {
            Ok(Node::Null)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
            Node::deserialize(deserializer)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<Node>()? {
                items.push(item);
            }
            Ok(Node::Array(items))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
            let mut entries: Vec<(String, Node)> = Vec::new();
            // A hash set, not a scan of `entries`: loading stays linear in the number of
            // keys (issue 13: 160,000 keys took 15.9 s with the scan).
            let mut seen: HashSet<SeenKey> = HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                let value = map.next_value::<Node>()?;
                if key == TOML_DATETIME_KEY {
                    return Ok(Node::Datetime);
                }
                if !seen.insert(SeenKey(key.clone())) {
                    // TOML rejects these itself; JSON parsers would keep the last one silently.
                    return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
                }
                entries.push((key, value));
            }
            Ok(Node::Table(entries))
        }
    }
}
