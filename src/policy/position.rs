//! Where in a policy text something is: the 1-based line and column of a byte, and a
//! syntax error that carries them, for `redial check`'s reports, which show them apart.

use super::PolicyError;

/// A parse error with where it is, for reports that show the line and column.
#[derive(Debug)]
pub(crate) struct Located {
    pub error: PolicyError,
    /// The message without its line and column, for reports that show them apart.
    pub bare: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl Located {
    /// `line L: MESSAGE (column C)HINT`.
    pub(super) fn syntax(line: usize, column: usize, message: String, hint: &str) -> Box<Located> {
        Box::new(Located {
            bare: format!("{message}{hint}"),
            error: PolicyError::Syntax {
                key: format!("line {line}"),
                message: format!("{message} (column {column}){hint}"),
            },
            line: Some(line),
            column: Some(column),
        })
    }
}

/// The 1-based line and column (in characters) of byte `at` of `text`.
pub(crate) fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}
