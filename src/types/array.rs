//! Arrays: `Vec<T>` and `[T]` for one dimension, [`PgArray`] for up to six
//! dimensions with lower bounds kept; NULL elements decode into `Option`.
//!
//! The element count is checked against the bytes present before anything
//! is allocated, so a forged header cannot make the decoder allocate.

use bytes::{BufMut, BytesMut};

use super::reader::{Reader, write_value};
use super::{Decode, Encode, IsNull, Type, TypeError};

/// The most dimensions the server allows (`MAXDIM`).
pub const MAX_DIMENSIONS: usize = 6;

/// One dimension of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArrayDimension {
    /// Number of elements along this dimension.
    pub len: i32,
    /// Index of the first element (1 unless set otherwise).
    pub lower_bound: i32,
}

/// An array of any dimension count, its elements in row-major order.
///
/// ```
/// use pgline::types::{ArrayDimension, PgArray};
///
/// let a = PgArray::new(
///     vec![ArrayDimension { len: 2, lower_bound: 1 }, ArrayDimension { len: 2, lower_bound: 1 }],
///     vec![1i32, 2, 3, 4],
/// )
/// .unwrap();
/// assert_eq!(a.dimensions().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PgArray<T> {
    dims: Vec<ArrayDimension>,
    elements: Vec<T>,
}

impl<T> PgArray<T> {
    /// An array of these dimensions and elements; `None` if the element
    /// count is not the product of the lengths or there are more than six
    /// dimensions. No dimensions means an empty array.
    pub fn new(dims: Vec<ArrayDimension>, elements: Vec<T>) -> Option<Self> {
        if dims.len() > MAX_DIMENSIONS || dims.iter().any(|d| d.len < 0) {
            return None;
        }
        let count = element_count(&dims)?;
        let dims = if count == 0 { Vec::new() } else { dims };
        (count == elements.len()).then_some(Self { dims, elements })
    }

    /// A one-dimensional array starting at index 1.
    pub fn from_vec(elements: Vec<T>) -> Self {
        let dims = if elements.is_empty() {
            Vec::new()
        } else {
            vec![ArrayDimension {
                len: i32::try_from(elements.len()).unwrap_or(i32::MAX),
                lower_bound: 1,
            }]
        };
        Self { dims, elements }
    }

    /// The dimensions (empty for an empty array).
    pub fn dimensions(&self) -> &[ArrayDimension] {
        &self.dims
    }

    /// The elements in row-major order.
    pub fn elements(&self) -> &[T] {
        &self.elements
    }

    /// The elements, taking them out.
    pub fn into_elements(self) -> Vec<T> {
        self.elements
    }
}

fn element_count(dims: &[ArrayDimension]) -> Option<usize> {
    if dims.is_empty() {
        return Some(0);
    }
    dims.iter().try_fold(1usize, |acc, d| {
        acc.checked_mul(usize::try_from(d.len).ok()?)
    })
}

/// The element type of array type `ty`, for encoding.
fn element_type(ty: Type) -> Result<Type, TypeError> {
    ty.array_element().ok_or(TypeError::InvalidValue {
        pg: ty,
        reason: "not a built-in array type, so its element type is unknown",
    })
}

fn encode_array<T: Encode>(
    ty: Type,
    dims: &[ArrayDimension],
    elements: &[T],
    out: &mut BytesMut,
) -> Result<IsNull, TypeError> {
    let elem = element_type(ty)?;
    if let Some(bad) = elements.iter().find(|e| !e.accepts(elem)) {
        let _ = bad;
        return Err(TypeError::WrongType {
            rust: std::any::type_name::<T>(),
            pg: elem,
        });
    }
    out.put_i32(dims.len() as i32);
    let has_null_at = out.len();
    out.put_i32(0);
    out.put_u32(elem.oid());
    for d in dims {
        out.put_i32(d.len);
        out.put_i32(d.lower_bound);
    }
    let mut has_null = false;
    for e in elements {
        let mut null = false;
        write_value(out, elem, |o| {
            let r = e.encode(elem, o)?;
            null = matches!(r, IsNull::Yes);
            Ok(r)
        })?;
        has_null |= null;
    }
    if has_null {
        out[has_null_at..has_null_at + 4].copy_from_slice(&1i32.to_be_bytes());
    }
    Ok(IsNull::No)
}

fn preferred_array_type<'e, T: Encode + 'e>(elements: impl IntoIterator<Item = &'e T>) -> Type {
    elements
        .into_iter()
        .map(Encode::preferred_type)
        .find(|t| *t != Type::UNKNOWN_PARAM)
        .or(Some(T::static_type()))
        .and_then(Type::array_of)
        .unwrap_or(Type::UNKNOWN_PARAM)
}

fn static_array_type<T: Encode>() -> Type {
    T::static_type().array_of().unwrap_or(Type::UNKNOWN_PARAM)
}

fn decode_array<'a, T: Decode<'a>>(ty: Type, raw: &'a [u8]) -> Result<PgArray<T>, TypeError> {
    let mut r = Reader::new(ty, raw);
    let ndim = r.i32()?;
    let ndim = usize::try_from(ndim)
        .ok()
        .filter(|n| *n <= MAX_DIMENSIONS)
        .ok_or_else(|| r.invalid("dimension count outside 0..=6"))?;
    let flags = r.i32()?;
    if flags != 0 && flags != 1 {
        return Err(r.invalid("bad array flags"));
    }
    let elem = Type::from_oid(r.u32()?);
    if !T::accepts(elem) {
        return Err(TypeError::WrongType {
            rust: std::any::type_name::<T>(),
            pg: elem,
        });
    }
    let mut dims = Vec::with_capacity(ndim);
    for _ in 0..ndim {
        let len = r.i32()?;
        let lower_bound = r.i32()?;
        if len < 0 {
            return Err(r.invalid("negative dimension length"));
        }
        dims.push(ArrayDimension { len, lower_bound });
    }
    let count = element_count(&dims).ok_or_else(|| r.invalid("too many elements"))?;
    // Each element takes at least its 4-byte length.
    if count > r.remaining() / 4 {
        return Err(r.invalid("more elements announced than bytes present"));
    }
    let mut elements = Vec::with_capacity(count);
    for _ in 0..count {
        elements.push(match r.value()? {
            Some(bytes) => T::decode(elem, bytes)?,
            None => T::decode_null(elem)?,
        });
    }
    r.finish()?;
    let dims = if count == 0 { Vec::new() } else { dims };
    Ok(PgArray { dims, elements })
}

fn accepts_array<'a, T: Decode<'a>>(ty: Type) -> bool {
    match ty.array_element() {
        Some(elem) => T::accepts(elem),
        None => ty.is_user_defined(),
    }
}

impl<T: Encode> Encode for PgArray<T> {
    fn preferred_type(&self) -> Type {
        preferred_array_type(&self.elements)
    }
    fn static_type() -> Type {
        static_array_type::<T>()
    }
    fn accepts(&self, ty: Type) -> bool {
        ty.array_element().is_some()
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        encode_array(ty, &self.dims, &self.elements, out)
    }
}

impl<'a, T: Decode<'a>> Decode<'a> for PgArray<T> {
    fn accepts(ty: Type) -> bool {
        accepts_array::<T>(ty)
    }
    fn decode(ty: Type, raw: &'a [u8]) -> Result<Self, TypeError> {
        decode_array(ty, raw)
    }
}

impl<T: Encode> Encode for [T] {
    fn preferred_type(&self) -> Type {
        preferred_array_type(self)
    }
    fn accepts(&self, ty: Type) -> bool {
        ty.array_element().is_some()
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        let len = i32::try_from(self.len()).map_err(|_| TypeError::InvalidValue {
            pg: ty,
            reason: "too many array elements",
        })?;
        let dims: &[ArrayDimension] = if self.is_empty() {
            &[]
        } else {
            &[ArrayDimension {
                len,
                lower_bound: 1,
            }]
        };
        encode_array(ty, dims, self, out)
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn preferred_type(&self) -> Type {
        self.as_slice().preferred_type()
    }
    fn static_type() -> Type {
        static_array_type::<T>()
    }
    fn accepts(&self, ty: Type) -> bool {
        self.as_slice().accepts(ty)
    }
    fn encode(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull, TypeError> {
        self.as_slice().encode(ty, out)
    }
}

/// One-dimensional (or empty) arrays, whatever their lower bound.
impl<'a, T: Decode<'a>> Decode<'a> for Vec<T> {
    fn accepts(ty: Type) -> bool {
        accepts_array::<T>(ty)
    }
    fn decode(ty: Type, raw: &'a [u8]) -> Result<Self, TypeError> {
        let array = decode_array::<T>(ty, raw)?;
        if array.dims.len() > 1 {
            return Err(TypeError::InvalidValue {
                pg: ty,
                reason: "a multi-dimensional array needs PgArray, not Vec",
            });
        }
        Ok(array.elements)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::decode_value;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn one_dimension_with_nulls() {
        let v = vec![Some(1i32), None, Some(-3)];
        let mut out = BytesMut::new();
        assert_eq!(v.preferred_type(), Type::INT4_ARRAY);
        v.encode(Type::INT4_ARRAY, &mut out).unwrap();
        assert_eq!(
            out.to_vec(),
            hex("0000000100000001000000170000000300000001\
                 0000000400000001ffffffff00000004fffffffd")
        );
        assert_eq!(
            decode_value::<Vec<Option<i32>>>(Type::INT4_ARRAY, Some(&out)),
            Ok(v)
        );
        let err = decode_value::<Vec<i32>>(Type::INT4_ARRAY, Some(&out)).unwrap_err();
        assert!(matches!(err, TypeError::UnexpectedNull { .. }));
    }

    #[test]
    fn empty_and_multi_dimensional() {
        let mut out = BytesMut::new();
        Vec::<i64>::new()
            .encode(Type::INT8_ARRAY, &mut out)
            .unwrap();
        assert_eq!(out.to_vec(), hex("000000000000000000000014"));
        assert_eq!(
            decode_value::<Vec<i64>>(Type::INT8_ARRAY, Some(&out)),
            Ok(vec![])
        );

        let dims = vec![
            ArrayDimension {
                len: 2,
                lower_bound: -5,
            },
            ArrayDimension {
                len: 1,
                lower_bound: 1,
            },
            ArrayDimension {
                len: 2,
                lower_bound: 1,
            },
        ];
        let a = PgArray::new(dims, vec!["a", "b", "c", "d"]).unwrap();
        out.clear();
        a.encode(Type::TEXT_ARRAY, &mut out).unwrap();
        let back: PgArray<String> = decode_value(Type::TEXT_ARRAY, Some(&out)).unwrap();
        assert_eq!(back.dimensions(), a.dimensions());
        assert_eq!(back.elements(), ["a", "b", "c", "d"]);
        assert!(decode_value::<Vec<String>>(Type::TEXT_ARRAY, Some(&out)).is_err());
        assert!(
            PgArray::new(
                vec![ArrayDimension {
                    len: 3,
                    lower_bound: 1
                }],
                vec![1]
            )
            .is_none()
        );
    }

    #[test]
    fn corpus_payloads_are_errors() {
        for payload in [
            "0000000100000000",
            "0000000100000000000000177fffffff00000001",
            "00000007000000000000001700000001",
            "00000001000000020000001700000001000000010000000400000001",
        ] {
            assert!(
                decode_value::<Vec<i32>>(Type::INT4_ARRAY, Some(&hex(payload))).is_err(),
                "{payload}"
            );
        }
        // element type in the payload is checked
        let text = hex("0000000100000000000000190000000100000001000000017a");
        assert!(matches!(
            decode_value::<Vec<i32>>(Type::INT4_ARRAY, Some(&text)),
            Err(TypeError::WrongType { .. })
        ));
    }
}
