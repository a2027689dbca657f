//! Quoting values into SQL text and the setup statements the builder runs.
//!
//! Owns: literal and identifier quoting (for `standard_conforming_strings = on`, the
//! default since 9.1) and the `CREATE ROLE` / `CREATE DATABASE` script. Must not: run SQL.

use crate::AuthMethod;

/// `value` as an SQL string literal: single quotes doubled, backslashes left alone.
///
/// A NUL cannot be represented; callers reject such input before quoting.
pub(crate) fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// `name` as a quoted SQL identifier: double quotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A login role to create (or, for the superuser, to give a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewUser {
    /// The role name.
    pub(crate) name: String,
    /// The password; empty means none.
    pub(crate) password: String,
}

/// A database to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewDatabase {
    /// The database name.
    pub(crate) name: String,
    /// Its owner.
    pub(crate) owner: String,
}

/// The script creating `users` (stored as `auth` needs) and then `databases`.
pub(crate) fn setup_script(
    auth: AuthMethod,
    superuser: &str,
    users: &[NewUser],
    databases: &[NewDatabase],
) -> String {
    let mut script = format!(
        "SET password_encryption = {};\n",
        quote_literal(auth.password_encryption())
    );
    for user in users {
        let name = quote_ident(&user.name);
        let password = if user.password.is_empty() {
            "NULL".to_owned()
        } else {
            quote_literal(&user.password)
        };
        if user.name == superuser {
            script.push_str(&format!("ALTER ROLE {name} PASSWORD {password};\n"));
        } else {
            script.push_str(&format!("CREATE ROLE {name} LOGIN PASSWORD {password};\n"));
        }
    }
    for db in databases {
        script.push_str(&format!(
            "CREATE DATABASE {} OWNER {};\n",
            quote_ident(&db.name),
            quote_ident(&db.owner)
        ));
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_double_quotes_and_keep_backslashes() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"a\'b"), r"'a\''b'");
        assert_eq!(quote_literal("pässwörd"), "'pässwörd'");
    }

    #[test]
    fn identifiers_double_double_quotes() {
        assert_eq!(quote_ident("pgline"), "\"pgline\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn script_creates_users_then_databases() {
        let users = [
            NewUser {
                name: "alice".into(),
                password: "s'cret".into(),
            },
            NewUser {
                name: "postgres".into(),
                password: "root-pw".into(),
            },
            NewUser {
                name: "nopw".into(),
                password: String::new(),
            },
        ];
        let dbs = [NewDatabase {
            name: "app".into(),
            owner: "alice".into(),
        }];
        assert_eq!(
            setup_script(AuthMethod::Md5, "postgres", &users, &dbs),
            "SET password_encryption = 'md5';\n\
             CREATE ROLE \"alice\" LOGIN PASSWORD 's''cret';\n\
             ALTER ROLE \"postgres\" PASSWORD 'root-pw';\n\
             CREATE ROLE \"nopw\" LOGIN PASSWORD NULL;\n\
             CREATE DATABASE \"app\" OWNER \"alice\";\n"
        );
    }
}
