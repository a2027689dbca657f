//! Parsing of `#[pgline(...)]` attributes.

use syn::{Attribute, LitStr, Type};

/// Attributes on the struct or enum.
#[derive(Default)]
pub(crate) struct ContainerAttrs {
    pub(crate) rename_all: Option<String>,
}

/// Attributes on a field or variant.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) rename: Option<String>,
    pub(crate) flatten: bool,
    pub(crate) prefix: Option<String>,
    pub(crate) default: bool,
    pub(crate) skip: bool,
    pub(crate) try_from: Option<Type>,
    pub(crate) json: bool,
}

pub(crate) fn container(attrs: &[Attribute]) -> syn::Result<ContainerAttrs> {
    let mut out = ContainerAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("pgline")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                let rule: LitStr = meta.value()?.parse()?;
                if crate::case::rename("a", &rule.value()).is_none() {
                    return Err(meta.error(format!(
                        "unknown rename_all rule; use one of: {}",
                        crate::case::RULES
                    )));
                }
                out.rename_all = Some(rule.value());
                Ok(())
            } else {
                Err(meta.error("unknown pgline attribute; expected rename_all"))
            }
        })?;
    }
    Ok(out)
}

pub(crate) fn field(attrs: &[Attribute]) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("pgline")) {
        attr.parse_nested_meta(|meta| {
            let p = &meta.path;
            if p.is_ident("rename") {
                out.rename = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if p.is_ident("flatten") {
                out.flatten = true;
            } else if p.is_ident("prefix") {
                out.prefix = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if p.is_ident("default") {
                out.default = true;
            } else if p.is_ident("skip") {
                out.skip = true;
            } else if p.is_ident("try_from") {
                out.try_from = Some(meta.value()?.parse::<LitStr>()?.parse()?);
            } else if p.is_ident("json") {
                out.json = true;
            } else {
                return Err(meta.error(
                    "unknown pgline attribute; expected rename, flatten, prefix, default, skip, try_from or json",
                ));
            }
            Ok(())
        })?;
    }
    Ok(out)
}
