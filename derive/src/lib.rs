//! Derive macros for pgline.
//!
//! Owns the procedural macros `#[derive(FromRow)]` (rows to structs),
//! `#[derive(PgEnum)]` (Rust enums to PostgreSQL enums) and
//! `#[derive(PgComposite)]` (structs to composite types). It holds no
//! runtime code: the generated code calls the traits and helpers in
//! `pgline::types`, through the path `::pgline`.
//!
//! Attributes, all under `#[pgline(...)]`:
//!
//! | where | attribute | meaning |
//! |---|---|---|
//! | struct / enum | `rename_all = "camelCase"` | column names (or enum labels) from field (variant) names by a case rule |
//! | field | `rename = "col"` | the column's name |
//! | field | `flatten` | the field is itself `FromRow`, read from the same row |
//! | field | `prefix = "p_"` | with `flatten`: the nested columns are named `p_<field>` |
//! | field | `default` | `Default::default()` when the column is missing |
//! | field | `skip` | not read; `Default::default()` |
//! | field | `try_from = "Type"` | the column is decoded as `Type`, then converted with `TryFrom` |
//! | field | `json` | a json/jsonb column deserialized with serde (pgline's `serde_json` feature) |
//! | variant | `rename = "label"` | the enum label |
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod attrs;
mod case;
mod composite;
mod from_row;
mod pg_enum;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Implements `pgline::types::FromRow` for a struct with named fields.
#[proc_macro_derive(FromRow, attributes(pgline))]
pub fn derive_from_row(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    from_row::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `Encode` and `Decode` for a fieldless enum, as a PostgreSQL
/// enum whose labels are the variant names (after `rename_all`/`rename`).
#[proc_macro_derive(PgEnum, attributes(pgline))]
pub fn derive_pg_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    pg_enum::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `Encode` and `Decode` for a struct as a PostgreSQL composite
/// type whose fields are the struct's fields in order.
#[proc_macro_derive(PgComposite, attributes(pgline))]
pub fn derive_pg_composite(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    composite::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
