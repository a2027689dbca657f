//! The session parameters the codecs rely on, and the values they accept.
//!
//! Owns [`check_parameter`]: the startup state machine applies it to every
//! ParameterStatus before the first ReadyForQuery, and the connection
//! applies it to every ParameterStatus that arrives later (after a `SET`,
//! a function with a `SET` clause, a `RESET ALL`, …). A value pgline cannot
//! honour ends the connection with [`UnsupportedParameter`]; nothing is
//! checked, and nothing costs anything, unless a ParameterStatus arrives.
//! It must not decide how the connection is ended: that is the caller's.
//!
//! What relies on what:
//!
//! | parameter | required | relied on by |
//! |---|---|---|
//! | `client_encoding` | `UTF8` | every text field (`&str`/`String` columns, SQL text, error messages) is read and written as UTF-8 |
//! | `integer_datetimes` | `on` | the binary `timestamp`, `time` and `interval` codecs, which read 64-bit microseconds (float timestamps are another format) |
//! | `standard_conforming_strings` | `on` | the string literals pgline writes into SQL (`SET TRANSACTION SNAPSHOT '…'`), whose quoting doubles quotes only, which is safe only when backslashes are ordinary characters |
//!
//! Not checked, because pgline never parses what they shape: `DateStyle`,
//! `IntervalStyle`, `TimeZone`, `bytea_output`, `extra_float_digits`.
//! Values of every type are exchanged in binary, and text from
//! `simple_query` is handed to the caller as the server wrote it.

use std::fmt;

/// A session parameter holds a value pgline cannot work with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnsupportedParameter {
    /// The parameter, as the server names it (`client_encoding`).
    pub name: &'static str,
    /// The value the server reported.
    pub value: String,
    /// The value pgline needs.
    pub required: &'static str,
}

impl fmt::Display for UnsupportedParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the server reports {} = {:?}, which pgline cannot honour (it needs {})",
            self.name, self.value, self.required
        )
    }
}

impl std::error::Error for UnsupportedParameter {}

/// Each checked parameter and the one value accepted. Names and values are
/// compared without regard to ASCII case, as the server compares them.
const REQUIRED: [(&str, &str); 3] = [
    ("client_encoding", "UTF8"),
    ("integer_datetimes", "on"),
    ("standard_conforming_strings", "on"),
];

/// Checks a reported parameter: `Ok` for a parameter pgline does not rely
/// on, or one holding the value it needs.
///
/// ```
/// use pgline::proto::session::check_parameter;
///
/// assert!(check_parameter("client_encoding", "UTF8").is_ok());
/// assert!(check_parameter("DateStyle", "German, DMY").is_ok());
/// let err = check_parameter("client_encoding", "LATIN1").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "the server reports client_encoding = \"LATIN1\", which pgline cannot honour (it needs UTF8)"
/// );
/// ```
pub fn check_parameter(name: &str, value: &str) -> Result<(), UnsupportedParameter> {
    match REQUIRED.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        Some(&(name, required)) if !value.eq_ignore_ascii_case(required) => {
            Err(UnsupportedParameter {
                name,
                value: value.to_owned(),
                required,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_values_pass_in_any_case() {
        for (name, value) in [
            ("client_encoding", "UTF8"),
            ("client_encoding", "utf8"),
            ("integer_datetimes", "on"),
            ("standard_conforming_strings", "ON"),
            ("DateStyle", "SQL, DMY"),
            ("TimeZone", "Asia/Tokyo"),
            ("application_name", ""),
        ] {
            assert_eq!(check_parameter(name, value), Ok(()), "{name} = {value}");
        }
    }

    #[test]
    fn other_values_of_checked_parameters_are_refused() {
        for (name, value, required) in [
            ("client_encoding", "LATIN1", "UTF8"),
            ("client_encoding", "SQL_ASCII", "UTF8"),
            ("client_encoding", "", "UTF8"),
            ("integer_datetimes", "off", "on"),
            ("standard_conforming_strings", "off", "on"),
        ] {
            assert_eq!(
                check_parameter(name, value),
                Err(UnsupportedParameter {
                    name,
                    value: value.to_owned(),
                    required
                }),
                "{name} = {value}"
            );
        }
    }

    #[test]
    fn names_are_matched_without_regard_to_case() {
        let err = check_parameter("Client_Encoding", "LATIN1").unwrap_err();
        assert_eq!(err.name, "client_encoding");
    }
}
