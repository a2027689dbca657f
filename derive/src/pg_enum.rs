//! `#[derive(PgEnum)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

use crate::attrs;

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new_spanned(input, "PgEnum needs an enum"));
    };
    let container = attrs::container(&input.attrs)?;
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut variants = Vec::new();
    let mut labels = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Err(syn::Error::new_spanned(
                v,
                "PgEnum variants cannot have fields",
            ));
        }
        let fa = attrs::field(&v.attrs)?;
        let name = v.ident.to_string();
        let label = match (fa.rename, &container.rename_all) {
            (Some(r), _) => r,
            (None, Some(rule)) => crate::case::rename(&name, rule).unwrap_or_default(),
            (None, None) => name,
        };
        variants.push(&v.ident);
        labels.push(label);
    }
    Ok(quote! {
        impl #impl_generics ::pgline::types::Encode for #ident #ty_generics #where_clause {
            fn preferred_type(&self) -> ::pgline::types::Type {
                ::pgline::types::Type::UNKNOWN_PARAM
            }
            fn accepts(&self, ty: ::pgline::types::Type) -> bool {
                ::pgline::__private::accepts_enum(ty)
            }
            fn encode(
                &self,
                _ty: ::pgline::types::Type,
                out: &mut ::pgline::types::BytesMut,
            ) -> ::core::result::Result<::pgline::types::IsNull, ::pgline::types::TypeError> {
                let label = match self {
                    #(Self::#variants => #labels,)*
                };
                ::pgline::__private::encode_enum_label(label, out)
            }
        }

        impl<'__pgline_row> ::pgline::types::Decode<'__pgline_row> for #ident #ty_generics #where_clause {
            fn accepts(ty: ::pgline::types::Type) -> bool {
                ::pgline::__private::accepts_enum(ty)
            }
            fn decode(
                ty: ::pgline::types::Type,
                raw: &'__pgline_row [u8],
            ) -> ::core::result::Result<Self, ::pgline::types::TypeError> {
                match ::pgline::__private::decode_enum_label(ty, raw)? {
                    #(#labels => ::core::result::Result::Ok(Self::#variants),)*
                    other => ::core::result::Result::Err(
                        ::pgline::types::TypeError::conversion::<Self>(
                            ::std::format!("no variant for the enum label {other:?}"),
                        ),
                    ),
                }
            }
        }
    })
}
