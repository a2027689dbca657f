//! `#[derive(PgComposite)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(input, "PgComposite needs a struct"));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(
            input,
            "PgComposite needs named fields",
        ));
    };
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let names: Vec<_> = fields
        .named
        .iter()
        .filter_map(|f| f.ident.as_ref())
        .collect();
    let count = names.len();
    Ok(quote! {
        impl #impl_generics ::pgline::types::Encode for #ident #ty_generics #where_clause {
            fn preferred_type(&self) -> ::pgline::types::Type {
                ::pgline::types::Type::UNKNOWN_PARAM
            }
            fn accepts(&self, ty: ::pgline::types::Type) -> bool {
                ::pgline::__private::accepts_composite(ty)
            }
            fn encode(
                &self,
                _ty: ::pgline::types::Type,
                out: &mut ::pgline::types::BytesMut,
            ) -> ::core::result::Result<::pgline::types::IsNull, ::pgline::types::TypeError> {
                let mut writer = ::pgline::types::CompositeWriter::new(out, #count);
                #(writer.field(&self.#names, ::core::option::Option::None)?;)*
                ::core::result::Result::Ok(::pgline::types::IsNull::No)
            }
        }

        impl<'__pgline_row> ::pgline::types::Decode<'__pgline_row> for #ident #ty_generics #where_clause {
            fn accepts(ty: ::pgline::types::Type) -> bool {
                ::pgline::__private::accepts_composite(ty)
            }
            fn decode(
                ty: ::pgline::types::Type,
                raw: &'__pgline_row [u8],
            ) -> ::core::result::Result<Self, ::pgline::types::TypeError> {
                let mut reader = ::pgline::types::CompositeReader::new(ty, raw, #count)?;
                let value = Self {
                    #(#names: reader.next_field()?,)*
                };
                reader.finish()?;
                ::core::result::Result::Ok(value)
            }
        }
    })
}
