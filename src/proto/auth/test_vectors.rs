//! Test-only reader of `fixtures/auth_vectors.txt`.
//!
//! Owns the parsing of the fixture format described in the file's header; it
//! is compiled only for tests and must not be used by library code.

/// One `[kind id]` record of the fixture file.
#[derive(Debug)]
pub(crate) struct Record {
    /// The record's id, for assertion messages.
    pub(crate) id: &'static str,
    fields: Vec<(&'static str, &'static str)>,
}

impl Record {
    /// The value of `key`; panics (failing the test) if the fixture lacks it.
    pub(crate) fn get(&self, key: &str) -> &'static str {
        self.fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("record {} has no {key}", self.id))
    }
}

const VECTORS: &str = include_str!("fixtures/auth_vectors.txt");

/// Every record of the given kind, in file order.
pub(crate) fn fixture_records(kind: &str) -> Vec<Record> {
    let mut records: Vec<(&str, Record)> = Vec::new();
    for line in VECTORS.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let (record_kind, id) = header
                .split_once(' ')
                .expect("record header has a kind and an id");
            records.push((
                record_kind,
                Record {
                    id,
                    fields: Vec::new(),
                },
            ));
            continue;
        }
        let (key, value) = line.split_once(" =").expect("field line has ' ='");
        let value = value.strip_prefix(' ').unwrap_or(value);
        let (_, record) = records.last_mut().expect("field before the first record");
        record.fields.push((key, value));
    }
    records
        .into_iter()
        .filter(|(k, _)| *k == kind)
        .map(|(_, r)| r)
        .collect()
}

/// Decodes the escapes of saslprep values: `\xNN` (one byte), `\u{N..}` (one
/// scalar as UTF-8) and `\\`.
pub(crate) fn unescape(value: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(pos) = rest.find('\\') {
        out.extend_from_slice(&rest.as_bytes()[..pos]);
        let escape = &rest[pos + 1..];
        if let Some(hex) = escape.strip_prefix('x') {
            out.push(u8::from_str_radix(&hex[..2], 16).expect("\\xNN"));
            rest = &hex[2..];
        } else if let Some(body) = escape.strip_prefix("u{") {
            let end = body.find('}').expect("\\u{..}");
            let scalar = u32::from_str_radix(&body[..end], 16).expect("hex scalar");
            let ch = char::from_u32(scalar).expect("unicode scalar");
            out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
            rest = &body[end + 1..];
        } else if let Some(after) = escape.strip_prefix('\\') {
            out.push(b'\\');
            rest = after;
        } else {
            panic!("unknown escape in {value:?}");
        }
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

#[test]
fn unescape_decodes_every_form() {
    assert_eq!(unescape(r"a\x07b"), b"a\x07b");
    assert_eq!(unescape(r"\u{AD}"), "\u{AD}".as_bytes());
    assert_eq!(unescape(r"x\\y"), b"x\\y");
    assert_eq!(unescape("plain"), b"plain");
}

#[test]
fn fixture_values_keep_surrounding_spaces() {
    let records = fixture_records("saslprep_spaces");
    let spaced = records
        .iter()
        .find(|r| r.id == "leading-trailing")
        .expect("record");
    assert_eq!(spaced.get("password"), " rover june spelling ");
    let exchange = fixture_records("scram");
    assert_eq!(exchange[1].get("user"), "");
}
