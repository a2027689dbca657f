//! `DbError`: an ErrorResponse or NoticeResponse from the server, every field kept.
//!
//! Owns the mapping from the message's `(field type, value)` pairs to named
//! fields. The bytes are split into pairs by `proto`; this file does no I/O.

use std::fmt;

use super::SqlState;

/// Severity of a server error or notice, as sent in the non-localized `V` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Severity {
    /// `ERROR`
    Error,
    /// `FATAL`
    Fatal,
    /// `PANIC`
    Panic,
    /// `WARNING`
    Warning,
    /// `NOTICE`
    Notice,
    /// `DEBUG`
    Debug,
    /// `INFO`
    Info,
    /// `LOG`
    Log,
}

impl Severity {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ERROR" => Self::Error,
            "FATAL" => Self::Fatal,
            "PANIC" => Self::Panic,
            "WARNING" => Self::Warning,
            "NOTICE" => Self::Notice,
            "DEBUG" => Self::Debug,
            "INFO" => Self::Info,
            "LOG" => Self::Log,
            _ => return None,
        })
    }
}

/// An error (or notice) reported by the server, with every field of the
/// ErrorResponse/NoticeResponse message.
///
/// Field letters follow the protocol documentation's "Error and Notice Message
/// Fields". Fields the server did not send are `None`.
#[derive(Clone, PartialEq, Eq)]
pub struct DbError {
    severity_localized: String,
    severity: Option<Severity>,
    code: SqlState,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
    position: Option<u32>,
    internal_position: Option<u32>,
    internal_query: Option<String>,
    where_: Option<String>,
    schema: Option<String>,
    table: Option<String>,
    column: Option<String>,
    data_type: Option<String>,
    constraint: Option<String>,
    file: Option<String>,
    line: Option<u32>,
    routine: Option<String>,
}

impl DbError {
    /// Builds an error from the `(field type, value)` pairs of an
    /// ErrorResponse/NoticeResponse body. Unknown field types are ignored, as
    /// the protocol requires of frontends. Missing mandatory fields (`S`, `C`,
    /// `M`) are filled with empty values rather than failing: the message the
    /// server meant to send is still worth reporting.
    pub fn from_fields<'a>(fields: impl IntoIterator<Item = (u8, &'a str)>) -> Self {
        let mut e = Self {
            severity_localized: String::new(),
            severity: None,
            code: SqlState::from_code("XX000"),
            message: String::new(),
            detail: None,
            hint: None,
            position: None,
            internal_position: None,
            internal_query: None,
            where_: None,
            schema: None,
            table: None,
            column: None,
            data_type: None,
            constraint: None,
            file: None,
            line: None,
            routine: None,
        };
        for (kind, value) in fields {
            let owned = || Some(value.to_owned());
            match kind {
                b'S' => e.severity_localized = value.to_owned(),
                b'V' => e.severity = Severity::parse(value),
                b'C' => e.code = SqlState::from_code(value),
                b'M' => e.message = value.to_owned(),
                b'D' => e.detail = owned(),
                b'H' => e.hint = owned(),
                b'P' => e.position = value.parse().ok(),
                b'p' => e.internal_position = value.parse().ok(),
                b'q' => e.internal_query = owned(),
                b'W' => e.where_ = owned(),
                b's' => e.schema = owned(),
                b't' => e.table = owned(),
                b'c' => e.column = owned(),
                b'd' => e.data_type = owned(),
                b'n' => e.constraint = owned(),
                b'F' => e.file = owned(),
                b'L' => e.line = value.parse().ok(),
                b'R' => e.routine = owned(),
                _ => {}
            }
        }
        if e.severity.is_none() {
            e.severity = Severity::parse(&e.severity_localized);
        }
        e
    }

    /// Severity as sent in the (possibly localized) `S` field.
    pub fn severity_localized(&self) -> &str {
        &self.severity_localized
    }
    /// Severity from the non-localized `V` field (PostgreSQL 9.6+), or parsed
    /// from `S` when `V` is absent.
    pub fn severity(&self) -> Option<Severity> {
        self.severity
    }
    /// The SQLSTATE code (`C`).
    pub fn code(&self) -> &SqlState {
        &self.code
    }
    /// The primary message (`M`).
    pub fn message(&self) -> &str {
        &self.message
    }
    /// Detail (`D`).
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
    /// Hint (`H`).
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
    /// 1-based character position in the query string (`P`).
    pub fn position(&self) -> Option<u32> {
        self.position
    }
    /// Position in an internally generated command (`p`).
    pub fn internal_position(&self) -> Option<u32> {
        self.internal_position
    }
    /// The internally generated command (`q`).
    pub fn internal_query(&self) -> Option<&str> {
        self.internal_query.as_deref()
    }
    /// Context, a call-stack traceback (`W`).
    pub fn where_(&self) -> Option<&str> {
        self.where_.as_deref()
    }
    /// Schema name (`s`).
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }
    /// Table name (`t`).
    pub fn table(&self) -> Option<&str> {
        self.table.as_deref()
    }
    /// Column name (`c`).
    pub fn column(&self) -> Option<&str> {
        self.column.as_deref()
    }
    /// Data type name (`d`).
    pub fn data_type(&self) -> Option<&str> {
        self.data_type.as_deref()
    }
    /// Constraint name (`n`).
    pub fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }
    /// Server source file (`F`).
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }
    /// Server source line (`L`).
    pub fn line(&self) -> Option<u32> {
        self.line
    }
    /// Server source routine (`R`).
    pub fn routine(&self) -> Option<&str> {
        self.routine.as_deref()
    }
}

impl fmt::Debug for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("DbError");
        d.field("severity", &self.severity_localized)
            .field("code", &self.code)
            .field("message", &self.message);
        let optional = [
            ("detail", self.detail.as_deref()),
            ("hint", self.hint.as_deref()),
            ("where", self.where_.as_deref()),
            ("schema", self.schema.as_deref()),
            ("table", self.table.as_deref()),
            ("column", self.column.as_deref()),
            ("constraint", self.constraint.as_deref()),
            ("routine", self.routine.as_deref()),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                d.field(name, &v);
            }
        }
        if let Some(p) = self.position {
            d.field("position", &p);
        }
        d.finish()
    }
}

impl fmt::Display for DbError {
    /// `password authentication failed for user "app" (28P01)`, then detail and
    /// hint on their own lines when present.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)?;
        if let Some(detail) = &self.detail {
            write!(f, "\nDETAIL: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nHINT: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DbError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_kept() {
        let fields = [
            (b'S', "FEHLER"),
            (b'V', "ERROR"),
            (b'C', "23505"),
            (b'M', "duplicate key"),
            (b'D', "Key (id)=(1) already exists."),
            (b'H', "try another"),
            (b'P', "12"),
            (b'p', "3"),
            (b'q', "select 1"),
            (b'W', "SQL function"),
            (b's', "public"),
            (b't', "users"),
            (b'c', "id"),
            (b'd', "int4"),
            (b'n', "users_pkey"),
            (b'F', "nbtinsert.c"),
            (b'L', "664"),
            (b'R', "_bt_check_unique"),
            (b'Z', "unknown field is ignored"),
        ];
        let e = DbError::from_fields(fields);
        assert_eq!(e.severity_localized(), "FEHLER");
        assert_eq!(e.severity(), Some(Severity::Error));
        assert_eq!(e.code().code(), "23505");
        assert_eq!(e.message(), "duplicate key");
        assert_eq!(e.detail(), Some("Key (id)=(1) already exists."));
        assert_eq!(e.hint(), Some("try another"));
        assert_eq!(e.position(), Some(12));
        assert_eq!(e.internal_position(), Some(3));
        assert_eq!(e.internal_query(), Some("select 1"));
        assert_eq!(e.where_(), Some("SQL function"));
        assert_eq!(e.schema(), Some("public"));
        assert_eq!(e.table(), Some("users"));
        assert_eq!(e.column(), Some("id"));
        assert_eq!(e.data_type(), Some("int4"));
        assert_eq!(e.constraint(), Some("users_pkey"));
        assert_eq!(e.file(), Some("nbtinsert.c"));
        assert_eq!(e.line(), Some(664));
        assert_eq!(e.routine(), Some("_bt_check_unique"));
    }

    #[test]
    fn display_is_actionable() {
        let e = DbError::from_fields([
            (b'S', "FATAL"),
            (b'C', "28P01"),
            (b'M', "password authentication failed for user \"app\""),
        ]);
        assert_eq!(e.severity(), Some(Severity::Fatal));
        assert_eq!(
            e.to_string(),
            "password authentication failed for user \"app\" (28P01)"
        );
    }
}
