//! The library half of the `redial` command line (crate `redial-cli`).
//!
//! The binary (`src/main.rs`) parses the arguments and runs one command. What a command
//! shares with others ([`common`]) and the line-by-line core of `redial decide` ([`decide`])
//! live here, so that code other than the binary can drive them: the `decide_line` fuzz
//! target feeds one input line at a time to a [`decide::Session`] and checks the answer.
//!
//! ```
//! use redial::{Policy, Rng};
//! use redial_cli::decide::Session;
//!
//! let policy = Policy::default();
//! let mut session = Session::new(&policy);
//! let line = br#"{"id": "a", "attempts": [{"status": 503}, {"status": 200}]}"#;
//! let answer = session.answer(line, &mut Rng::with_seed(7));
//! assert!(answer.starts_with(r#"{"id":"a","steps":[{"action":"retry","#));
//! assert!(answer.ends_with(r#"{"action":"stop","reason":"succeeded","why":"succeeded: after 2 attempt(s)"}]}"#));
//! ```

pub mod common;
pub mod decide;
