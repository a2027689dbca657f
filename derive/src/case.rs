//! `rename_all` case conversions of field and variant names.

/// Splits an identifier into lower-case words at `_` and at lower-to-upper
/// case changes.
fn words(ident: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in ident.chars() {
        if c == '_' {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Applies the `rename_all` rule `rule` to `ident`; `None` for an unknown
/// rule.
pub(crate) fn rename(ident: &str, rule: &str) -> Option<String> {
    let w = words(ident);
    Some(match rule {
        "lowercase" => ident.to_lowercase(),
        "UPPERCASE" => ident.to_uppercase(),
        "snake_case" => w.join("_"),
        "SCREAMING_SNAKE_CASE" => w.join("_").to_uppercase(),
        "kebab-case" => w.join("-"),
        "SCREAMING-KEBAB-CASE" => w.join("-").to_uppercase(),
        "camelCase" => {
            let mut out = String::new();
            for (i, word) in w.iter().enumerate() {
                if i == 0 {
                    out.push_str(word);
                } else {
                    out.push_str(&capitalise(word));
                }
            }
            out
        }
        "PascalCase" => w.iter().map(|x| capitalise(x)).collect(),
        _ => return None,
    })
}

/// The rules `rename` knows, for error messages.
pub(crate) const RULES: &str = "lowercase, UPPERCASE, snake_case, SCREAMING_SNAKE_CASE, kebab-case, SCREAMING-KEBAB-CASE, camelCase, PascalCase";

#[cfg(test)]
mod tests {
    use super::rename;

    #[test]
    fn conversions() {
        assert_eq!(rename("user_id", "camelCase").as_deref(), Some("userId"));
        assert_eq!(rename("user_id", "PascalCase").as_deref(), Some("UserId"));
        assert_eq!(
            rename("VeryHappy", "snake_case").as_deref(),
            Some("very_happy")
        );
        assert_eq!(
            rename("VeryHappy", "kebab-case").as_deref(),
            Some("very-happy")
        );
        assert_eq!(
            rename("user_id", "SCREAMING_SNAKE_CASE").as_deref(),
            Some("USER_ID")
        );
        assert_eq!(rename("Sad", "lowercase").as_deref(), Some("sad"));
        assert_eq!(rename("x", "Title"), None);
    }
}
