//! A Bind whose fixed parts are encoded once.
//!
//! Owns [`BindTemplate`]. For a statement run many times with the same
//! portal and format codes, everything in a Bind but the length word and
//! the parameter values is the same each time: the template keeps those
//! bytes, and [`BindTemplate::encode`] writes a Bind as two copies around
//! the values. The bytes are exactly the ones [`bind`](super::bind) writes.

use bytes::{BufMut, BytesMut};

use super::super::ProtoError;
use super::extended::{BindError, IsNull, put_bind_head, put_bind_tail, put_params};
use super::tagged;

/// The fixed parts of a Bind, encoded once; see the module docs.
///
/// ```
/// use bytes::BytesMut;
/// use pgline::proto::frontend::{self, BindTemplate, IsNull};
///
/// let template = BindTemplate::new("", "s1", &[1], 1, &[1]).unwrap();
/// let write = |_: usize, out: &mut BytesMut| {
///     out.extend_from_slice(&7i32.to_be_bytes());
///     Ok::<_, std::convert::Infallible>(IsNull::No)
/// };
/// let (mut a, mut b) = (BytesMut::new(), BytesMut::new());
/// template.encode(&mut a, write).unwrap();
/// frontend::bind(&mut b, "", "s1", &[1], 1, write, &[1]).unwrap();
/// assert_eq!(a, b);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindTemplate {
    /// Portal, statement, parameter format codes, parameter count.
    head: Vec<u8>,
    /// Result format codes.
    tail: Vec<u8>,
    param_count: usize,
}

impl BindTemplate {
    /// The template of a Bind of `statement` into `portal`, with the same
    /// arguments as [`bind`](super::bind) but the values. Refuses what
    /// `bind` refuses: a NUL in a name, a count above 65535.
    pub fn new(
        portal: &str,
        statement: &str,
        param_formats: &[i16],
        param_count: usize,
        result_formats: &[i16],
    ) -> Result<Self, ProtoError> {
        let mut head = BytesMut::new();
        put_bind_head(&mut head, portal, statement, param_formats, param_count)?;
        let mut tail = BytesMut::new();
        put_bind_tail(&mut tail, result_formats)?;
        Ok(Self {
            head: head.to_vec(),
            tail: tail.to_vec(),
            param_count,
        })
    }

    /// The number of parameter values a Bind from this template carries.
    pub fn param_count(&self) -> usize {
        self.param_count
    }

    /// Appends a Bind: `write_param(i, out)` writes parameter `i` for `i`
    /// in `0..param_count()`, as for [`bind`](super::bind). On an error
    /// `out` is left as it was.
    pub fn encode<E>(
        &self,
        out: &mut BytesMut,
        write_param: impl FnMut(usize, &mut BytesMut) -> Result<IsNull, E>,
    ) -> Result<(), BindError<E>> {
        tagged(out, b'B', |out| {
            out.put_slice(&self.head);
            put_params(out, self.param_count, write_param)?;
            out.put_slice(&self.tail);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::bind;
    use super::*;

    type Written = Result<IsNull, &'static str>;

    /// Two values, the second NULL.
    fn values(i: usize, out: &mut BytesMut) -> Written {
        if i == 0 {
            out.put_slice(b"abc");
            Ok(IsNull::No)
        } else {
            out.put_slice(b"dropped");
            Ok(IsNull::Yes)
        }
    }

    #[test]
    fn writes_the_bytes_bind_writes() {
        for (portal, statement, formats, results) in [
            ("", "", &[][..], &[][..]),
            ("p", "pgline_s42", &[1][..], &[1][..]),
            ("", "s", &[0, 1][..], &[1, 0, 1][..]),
        ] {
            let template = BindTemplate::new(portal, statement, formats, 2, results).unwrap();
            let (mut a, mut b) = (
                BytesMut::from(&b"before"[..]),
                BytesMut::from(&b"before"[..]),
            );
            template.encode(&mut a, values).unwrap();
            bind(&mut b, portal, statement, formats, 2, values, results).unwrap();
            assert_eq!(a, b, "{portal:?} {statement:?}");
            assert_eq!(template.param_count(), 2);
        }
    }

    #[test]
    fn refuses_what_bind_refuses_and_leaves_out_as_it_was() {
        assert!(matches!(
            BindTemplate::new("", "a\0b", &[], 0, &[]),
            Err(ProtoError::NulInString { .. })
        ));
        assert!(matches!(
            BindTemplate::new("", "s", &[0; 70_000], 0, &[]),
            Err(ProtoError::TooManyValues { .. })
        ));
        let template = BindTemplate::new("", "s", &[1], 2, &[1]).unwrap();
        let mut out = BytesMut::from(&b"kept"[..]);
        let failed = template.encode(&mut out, |i, out: &mut BytesMut| {
            out.put_slice(b"xx");
            if i == 1 { Err("no") } else { Ok(IsNull::No) }
        });
        assert!(matches!(failed, Err(BindError::Param(1, "no"))));
        assert_eq!(&out[..], b"kept");
    }
}
