//! Extended-query messages: Parse, Bind, Describe, Execute, Close.
//!
//! Owns their layout. Bind writes parameter values straight into the
//! output buffer through a callback and back-patches each value's length,
//! so no value is staged elsewhere. Naming statements, caching them and
//! encoding the values belong to the connection and `types`.

use std::fmt;

use bytes::{BufMut, BytesMut};

use super::super::ProtoError;
use super::{put_count, put_cstr, tagged};

/// Whether a parameter written by [`bind`]'s callback is SQL NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsNull {
    /// The value is NULL; anything the callback wrote is discarded and the
    /// length is sent as −1.
    Yes,
    /// The value is the bytes the callback wrote.
    No,
}

/// What a Describe or Close is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `'S'`: a prepared statement.
    Statement,
    /// `'P'`: a portal.
    Portal,
}

impl Target {
    fn as_byte(self) -> u8 {
        match self {
            Self::Statement => b'S',
            Self::Portal => b'P',
        }
    }
}

/// Why [`bind`] failed. In both cases `out` is left as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindError<E> {
    /// The message cannot be encoded (NUL in a name, too many values, too
    /// long).
    Proto(ProtoError),
    /// The callback failed to encode the parameter at this index.
    Param(usize, E),
}

impl<E> From<ProtoError> for BindError<E> {
    fn from(e: ProtoError) -> Self {
        Self::Proto(e)
    }
}

impl<E: fmt::Display> fmt::Display for BindError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Proto(e) => e.fmt(f),
            Self::Param(i, e) => write!(f, "cannot encode parameter ${}: {e}", i + 1),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for BindError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Proto(e) => Some(e),
            Self::Param(_, e) => Some(e),
        }
    }
}

/// Appends a Parse: prepares `sql` as `statement` (`""` for the unnamed
/// statement), with the given parameter type OIDs (0 = let the server
/// infer). At most 65535 types.
pub fn parse(
    out: &mut BytesMut,
    statement: &str,
    sql: &str,
    param_types: &[u32],
) -> Result<(), ProtoError> {
    tagged(out, b'P', |out| {
        put_cstr(out, statement.as_bytes(), "statement name")?;
        put_cstr(out, sql.as_bytes(), "query string")?;
        put_count(out, param_types.len(), "Parse", "parameter types")?;
        for oid in param_types {
            out.put_u32(*oid);
        }
        Ok(())
    })
}

/// Appends a Bind: creates `portal` from `statement`.
///
/// `param_formats` follows the protocol: empty (all text), one code (for
/// all) or one per parameter. `write_param(i, out)` appends the bytes of
/// parameter `i` for `i` in `0..param_count` and says whether it is NULL;
/// its length word is back-patched. `result_formats` follows the same rule
/// for result columns. Counts above 65535 and values above `i32::MAX` bytes
/// are refused.
pub fn bind<E>(
    out: &mut BytesMut,
    portal: &str,
    statement: &str,
    param_formats: &[i16],
    param_count: usize,
    write_param: impl FnMut(usize, &mut BytesMut) -> Result<IsNull, E>,
    result_formats: &[i16],
) -> Result<(), BindError<E>> {
    tagged(out, b'B', |out| {
        put_bind_head(out, portal, statement, param_formats, param_count)?;
        put_params(out, param_count, write_param)?;
        put_bind_tail(out, result_formats)?;
        Ok(())
    })
}

/// A Bind's body up to its parameter values: portal, statement, parameter
/// format codes and the parameter count.
pub(super) fn put_bind_head(
    out: &mut BytesMut,
    portal: &str,
    statement: &str,
    param_formats: &[i16],
    param_count: usize,
) -> Result<(), ProtoError> {
    put_cstr(out, portal.as_bytes(), "portal name")?;
    put_cstr(out, statement.as_bytes(), "statement name")?;
    put_count(out, param_formats.len(), "Bind", "parameter format codes")?;
    for code in param_formats {
        out.put_i16(*code);
    }
    put_count(out, param_count, "Bind", "parameters")
}

/// A Bind's body after its parameter values: the result format codes.
pub(super) fn put_bind_tail(out: &mut BytesMut, result_formats: &[i16]) -> Result<(), ProtoError> {
    put_count(out, result_formats.len(), "Bind", "result format codes")?;
    for code in result_formats {
        out.put_i16(*code);
    }
    Ok(())
}

/// Bind's parameter values: each one's length word, back-patched after
/// `write_param` wrote it (−1 for NULL).
pub(super) fn put_params<E>(
    out: &mut BytesMut,
    param_count: usize,
    mut write_param: impl FnMut(usize, &mut BytesMut) -> Result<IsNull, E>,
) -> Result<(), BindError<E>> {
    for i in 0..param_count {
        let len_at = out.len();
        out.put_i32(0);
        let is_null = write_param(i, out).map_err(|e| BindError::Param(i, e))?;
        let len = match is_null {
            IsNull::Yes => {
                out.truncate(len_at + 4);
                -1
            }
            IsNull::No => {
                i32::try_from(out.len() - len_at - 4).map_err(|_| ProtoError::InvalidValue {
                    message: "Bind",
                    what: "parameter value longer than i32::MAX bytes",
                })?
            }
        };
        if let Some(slot) = out.get_mut(len_at..len_at + 4) {
            slot.copy_from_slice(&len.to_be_bytes());
        }
    }
    Ok(())
}

/// Appends a Describe of a statement (answered by ParameterDescription and
/// RowDescription/NoData) or of a portal (RowDescription/NoData).
pub fn describe(out: &mut BytesMut, target: Target, name: &str) -> Result<(), ProtoError> {
    targeted(out, b'D', target, name)
}

/// Appends an Execute of `portal`, returning at most `max_rows` rows (0 =
/// all). `max_rows` above `i32::MAX` is refused.
pub fn execute(out: &mut BytesMut, portal: &str, max_rows: u32) -> Result<(), ProtoError> {
    let max_rows = i32::try_from(max_rows).map_err(|_| ProtoError::InvalidValue {
        message: "Execute",
        what: "row limit above i32::MAX",
    })?;
    if portal.is_empty() {
        // The common case, in one piece: tag, length 9, "", the limit.
        let [r0, r1, r2, r3] = max_rows.to_be_bytes();
        out.extend_from_slice(&[b'E', 0, 0, 0, 9, 0, r0, r1, r2, r3]);
        return Ok(());
    }
    tagged(out, b'E', |out| {
        put_cstr(out, portal.as_bytes(), "portal name")?;
        out.put_i32(max_rows);
        Ok(())
    })
}

/// Appends a Close of a statement or portal.
pub fn close(out: &mut BytesMut, target: Target, name: &str) -> Result<(), ProtoError> {
    targeted(out, b'C', target, name)
}

fn targeted(out: &mut BytesMut, tag: u8, target: Target, name: &str) -> Result<(), ProtoError> {
    let what = match target {
        Target::Statement => "statement name",
        Target::Portal => "portal name",
    };
    tagged(out, tag, |out| {
        out.put_u8(target.as_byte());
        put_cstr(out, name.as_bytes(), what)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_golden_bytes() {
        let mut out = BytesMut::new();
        parse(&mut out, "s1", "SELECT $1", &[23]).unwrap();
        assert_eq!(&out[..], b"P\0\0\0\x17s1\0SELECT $1\0\0\x01\0\0\0\x17");

        let mut out = BytesMut::new();
        parse(&mut out, "", "SELECT 1", &[]).unwrap();
        assert_eq!(&out[..], b"P\0\0\0\x10\0SELECT 1\0\0\0");
    }

    #[test]
    fn parse_refusals_leave_buffer() {
        let mut out = BytesMut::from(&b"prev"[..]);
        assert_eq!(
            parse(&mut out, "s", "SELECT '\0'", &[]),
            Err(ProtoError::NulInString {
                what: "query string"
            })
        );
        assert!(matches!(
            parse(&mut out, "s", "SELECT 1", &vec![0; 65536]),
            Err(ProtoError::TooManyValues { count: 65536, .. })
        ));
        assert_eq!(&out[..], b"prev");
        parse(&mut out, "", "", &vec![0; 65535]).unwrap();
        assert_eq!(out.len(), 4 + 1 + 4 + 2 + 2 + 65535 * 4);
    }

    /// The test encoder has no value at this index.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct NoValue(usize);

    fn write_values(i: usize, out: &mut BytesMut) -> Result<IsNull, NoValue> {
        match i {
            0 => {
                out.put_slice(b"\0\0\0\x2a");
                Ok(IsNull::No)
            }
            1 => {
                out.put_slice(b"ignored");
                Ok(IsNull::Yes)
            }
            2 => Ok(IsNull::No),
            _ => Err(NoValue(i)),
        }
    }

    #[test]
    fn bind_golden_bytes() {
        let mut out = BytesMut::new();
        bind(&mut out, "", "s1", &[1], 3, write_values, &[1]).unwrap();
        let expected: &[u8] = b"B\0\0\0\x22\
\0s1\0\
\0\x01\0\x01\
\0\x03\0\0\0\x04\0\0\0\x2a\xff\xff\xff\xff\0\0\0\0\
\0\x01\0\x01";
        assert_eq!(&out[..], expected);
    }

    #[test]
    fn bind_like_libpq_trace() {
        // `F 19 Bind "" "" 0 1 1 '1' 1 0` from a libpq trace.
        let mut out = BytesMut::new();
        bind(
            &mut out,
            "",
            "",
            &[],
            1,
            |_, out| {
                out.put_u8(b'1');
                Ok::<_, ()>(IsNull::No)
            },
            &[0],
        )
        .unwrap();
        assert_eq!(&out[..], b"B\0\0\0\x13\0\0\0\0\0\x01\0\0\0\x011\0\x01\0\0");
        assert_eq!(out.len() - 1, 19);
    }

    #[test]
    fn bind_errors_leave_buffer() {
        let mut out = BytesMut::from(&b"prev"[..]);
        assert_eq!(
            bind(&mut out, "", "s", &[], 4, write_values, &[]),
            Err(BindError::Param(3, NoValue(3)))
        );
        assert_eq!(
            bind(&mut out, "p\0", "s", &[], 0, write_values, &[]),
            Err(BindError::Proto(ProtoError::NulInString {
                what: "portal name"
            }))
        );
        assert!(matches!(
            bind(&mut out, "", "s", &[], 70_000, write_values, &[]),
            Err(BindError::Proto(ProtoError::TooManyValues {
                count: 70_000,
                ..
            }))
        ));
        assert_eq!(&out[..], b"prev");
        assert_eq!(
            BindError::<String>::Param(0, "bad".into()).to_string(),
            "cannot encode parameter $1: bad"
        );
    }

    #[test]
    fn describe_execute_close_golden_bytes() {
        let mut out = BytesMut::new();
        describe(&mut out, Target::Statement, "s1").unwrap();
        assert_eq!(&out[..], b"D\0\0\0\x08Ss1\0");
        out.clear();
        describe(&mut out, Target::Portal, "").unwrap();
        assert_eq!(&out[..], b"D\0\0\0\x06P\0");
        out.clear();
        execute(&mut out, "", 0).unwrap();
        assert_eq!(&out[..], b"E\0\0\0\x09\0\0\0\0\0");
        out.clear();
        execute(&mut out, "p", 100).unwrap();
        assert_eq!(&out[..], b"E\0\0\0\x0ap\0\0\0\0\x64");
        out.clear();
        close(&mut out, Target::Statement, "s1").unwrap();
        assert_eq!(&out[..], b"C\0\0\0\x08Ss1\0");
        out.clear();
        close(&mut out, Target::Portal, "p").unwrap();
        assert_eq!(&out[..], b"C\0\0\0\x07Pp\0");
    }

    #[test]
    fn describe_execute_close_refusals() {
        let mut out = BytesMut::new();
        assert_eq!(
            describe(&mut out, Target::Statement, "\0"),
            Err(ProtoError::NulInString {
                what: "statement name"
            })
        );
        assert_eq!(
            close(&mut out, Target::Portal, "a\0"),
            Err(ProtoError::NulInString {
                what: "portal name"
            })
        );
        assert!(matches!(
            execute(&mut out, "", u32::MAX),
            Err(ProtoError::InvalidValue { .. })
        ));
        assert!(out.is_empty());
    }
}
