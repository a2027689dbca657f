//! `#[derive(FromRow)]`.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Data, DeriveInput, Fields, GenericParam, Lifetime, LifetimeParam};

use crate::attrs;

/// How one field is read.
struct FieldPlan {
    resolve: TokenStream,
    read: TokenStream,
}

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(input, "FromRow needs a struct"));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(input, "FromRow needs named fields"));
    };
    let container = attrs::container(&input.attrs)?;
    let ident = &input.ident;

    // The row lifetime: the struct's own lifetime if it has one (so fields
    // may borrow from the row), else a fresh one.
    let mut generics = input.generics.clone();
    let row_lt = match generics.lifetimes().next() {
        Some(lt) => lt.lifetime.clone(),
        None => {
            let lt = Lifetime::new("'__pgline_row", Span::call_site());
            generics
                .params
                .insert(0, GenericParam::Lifetime(LifetimeParam::new(lt.clone())));
            lt
        }
    };
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let (_, ty_generics, _) = input.generics.split_for_impl();

    let mut column_types = Vec::new();
    let mut plans = Vec::new();
    let mut names = Vec::new();
    for (i, field) in fields.named.iter().enumerate() {
        let fa = attrs::field(&field.attrs)?;
        let Some(name) = field.ident.as_ref() else {
            return Err(syn::Error::new_spanned(field, "FromRow needs named fields"));
        };
        names.push(name.clone());
        let ty = &field.ty;
        let idx = syn::Index::from(i);
        let ident_text = name.to_string();
        let ident_text = ident_text.strip_prefix("r#").unwrap_or(&ident_text);
        let column = match (&fa.rename, &container.rename_all) {
            (Some(r), _) => r.clone(),
            (None, Some(rule)) => crate::case::rename(ident_text, rule).unwrap_or_default(),
            (None, None) => ident_text.to_owned(),
        };
        let exclusive = [fa.flatten, fa.skip, fa.try_from.is_some(), fa.json]
            .iter()
            .filter(|b| **b)
            .count();
        if exclusive > 1 {
            return Err(syn::Error::new_spanned(
                field,
                "flatten, skip, try_from and json cannot be combined",
            ));
        }
        if fa.prefix.is_some() && !fa.flatten {
            return Err(syn::Error::new_spanned(field, "prefix needs flatten"));
        }
        let plan = if fa.skip {
            column_types.push(quote!(()));
            FieldPlan {
                resolve: quote!(()),
                read: quote!(::core::default::Default::default()),
            }
        } else if fa.flatten {
            let nested_prefix = fa.prefix.clone().unwrap_or_default();
            column_types.push(quote!(<#ty as ::pgline::types::FromRow<#row_lt>>::Columns));
            FieldPlan {
                resolve: quote! {
                    <#ty as ::pgline::types::FromRow<#row_lt>>::resolve(
                        row,
                        &::std::format!("{}{}", prefix, #nested_prefix),
                    )?
                },
                read: quote! {
                    <#ty as ::pgline::types::FromRow<#row_lt>>::from_resolved(row, &columns.#idx)?
                },
            }
        } else {
            let decode = |index: TokenStream| {
                if let Some(source) = &fa.try_from {
                    quote!(::pgline::__private::decode_column_try_from::<#source, #ty, _>(row, #index)?)
                } else if fa.json {
                    quote!(::pgline::__private::decode_column_json::<#ty, _>(row, #index)?)
                } else {
                    quote!(::pgline::__private::decode_column::<#ty, _>(row, #index)?)
                }
            };
            if fa.default {
                column_types.push(quote!(::core::option::Option<::pgline::types::ColumnRef>));
                let read = decode(quote!(index));
                FieldPlan {
                    resolve: quote!(::pgline::types::ColumnRef::find(row, prefix, #column)),
                    read: quote! {
                        match columns.#idx {
                            ::core::option::Option::Some(index) => #read,
                            ::core::option::Option::None => ::core::default::Default::default(),
                        }
                    },
                }
            } else {
                column_types.push(quote!(::pgline::types::ColumnRef));
                FieldPlan {
                    resolve: quote!(::pgline::__private::require_column::<Self, _>(row, prefix, #column)?),
                    read: decode(quote!(columns.#idx)),
                }
            }
        };
        plans.push(plan);
    }
    let resolves = plans.iter().map(|p| &p.resolve);
    let reads = plans.iter().map(|p| &p.read);
    Ok(quote! {
        impl #impl_generics ::pgline::types::FromRow<#row_lt> for #ident #ty_generics #where_clause {
            type Columns = (#(#column_types,)*);

            fn resolve<R: ::pgline::types::RowAccess + ?Sized>(
                row: &R,
                prefix: &str,
            ) -> ::core::result::Result<Self::Columns, ::pgline::types::TypeError> {
                let _ = (&row, &prefix);
                ::core::result::Result::Ok((#(#resolves,)*))
            }

            fn from_resolved<R: ::pgline::types::RowAccess + ?Sized>(
                row: &#row_lt R,
                columns: &Self::Columns,
            ) -> ::core::result::Result<Self, ::pgline::types::TypeError> {
                let _ = (&row, &columns);
                ::core::result::Result::Ok(Self {
                    #(#names: #reads,)*
                })
            }
        }
    })
}
