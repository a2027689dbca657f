//! Recognising `COPY … FROM STDIN` and `COPY … TO STDOUT` in SQL text
//! before it is sent.
//!
//! Owns [`copy_stdio`], a small scanner of PostgreSQL's lexical structure
//! (whitespace, `--` and nested `/* */` comments, quoted identifiers,
//! string constants including `E''` and dollar quoting, parentheses,
//! semicolons) that finds the first statement of the form
//! `COPY [BINARY] name [(columns)] FROM STDIN` or
//! `COPY {name [(columns)] | (query)} TO STDOUT`.
//!
//! Why before: once a COPY FROM STDIN has started, the server accepts only
//! COPY messages, Flush and Sync; any other message already pipelined
//! behind it (the next request's Parse) makes it end the session. So the
//! calls that are not the COPY API refuse such SQL before anything is
//! written. The check costs a scan of the text and is made where the text
//! is sent anyway (a simple query, a Parse); a statement the scanner does
//! not recognise is still refused when its CopyInResponse arrives.
//! No I/O here.

/// Which COPY sub-protocol a statement would start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CopyStdio {
    /// `COPY … FROM STDIN`.
    In,
    /// `COPY … TO STDOUT`.
    Out,
}

/// The COPY sub-protocol the first such statement in `sql` would start,
/// if any statement is a COPY from STDIN or to STDOUT.
pub(crate) fn copy_stdio(sql: &str) -> Option<CopyStdio> {
    let mut tokens = Tokens {
        s: sql.as_bytes(),
        pos: 0,
        ended: false,
    };
    loop {
        // At the start of a statement.
        let first = tokens.next()?;
        if first.is_word("copy") {
            if let Some(found) = copy_target(&mut tokens) {
                return Some(found);
            }
            if std::mem::take(&mut tokens.ended) {
                continue;
            }
        }
        // Skip to the end of this statement.
        let mut depth = 0usize;
        let mut token = Some(first);
        loop {
            match token? {
                Token::Punct(b'(') => depth += 1,
                Token::Punct(b')') => depth = depth.saturating_sub(1),
                Token::Punct(b';') if depth == 0 => break,
                _ => {}
            }
            token = tokens.next();
        }
    }
}

/// After `COPY`: the rest of the statement's head, up to STDIN/STDOUT.
/// Reads no further than the statement's `;` (then `tokens.ended`).
fn copy_target(tokens: &mut Tokens<'_>) -> Option<CopyStdio> {
    let mut token = tokens.next_in_statement()?;
    if token.is_word("binary") {
        token = tokens.next_in_statement()?;
    }
    if token == Token::Punct(b'(') {
        // COPY (query) TO …
        tokens.skip_parenthesised()?;
        return (tokens.next_in_statement()?.is_word("to")
            && tokens.next_in_statement()?.is_word("stdout"))
        .then_some(CopyStdio::Out);
    }
    // A possibly qualified name.
    if !matches!(token, Token::Word(_) | Token::Quoted) {
        return None;
    }
    token = tokens.next_in_statement()?;
    while token == Token::Punct(b'.') {
        if !matches!(tokens.next_in_statement()?, Token::Word(_) | Token::Quoted) {
            return None;
        }
        token = tokens.next_in_statement()?;
    }
    if token == Token::Punct(b'(') {
        tokens.skip_parenthesised()?;
        token = tokens.next_in_statement()?;
    }
    if token.is_word("from") {
        tokens
            .next_in_statement()?
            .is_word("stdin")
            .then_some(CopyStdio::In)
    } else if token.is_word("to") {
        tokens
            .next_in_statement()?
            .is_word("stdout")
            .then_some(CopyStdio::Out)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    /// An unquoted identifier or keyword, or a number.
    Word(&'a [u8]),
    /// A quoted identifier.
    Quoted,
    /// A string constant (any form).
    Str,
    /// Any other character.
    Punct(u8),
}

impl Token<'_> {
    fn is_word(self, keyword: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(keyword.as_bytes()))
    }
}

struct Tokens<'a> {
    s: &'a [u8],
    pos: usize,
    /// [`Tokens::next_in_statement`] read the statement's `;`.
    ended: bool,
}

impl<'a> Tokens<'a> {
    /// The next token of the current statement: `None` at its `;` (which
    /// is consumed, and `ended` set) or at the end of the text.
    fn next_in_statement(&mut self) -> Option<Token<'a>> {
        match self.next()? {
            Token::Punct(b';') => {
                self.ended = true;
                None
            }
            token => Some(token),
        }
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.s.get(self.pos + offset).copied()
    }

    /// The next token; `None` at the end (an unterminated quote or comment
    /// ends the text too).
    fn next(&mut self) -> Option<Token<'a>> {
        loop {
            let c = self.peek_at(0)?;
            if c.is_ascii_whitespace() {
                self.pos += 1;
            } else if c == b'-' && self.peek_at(1) == Some(b'-') {
                while self.peek_at(0).is_some_and(|c| c != b'\n') {
                    self.pos += 1;
                }
            } else if c == b'/' && self.peek_at(1) == Some(b'*') {
                self.skip_block_comment()?;
            } else {
                break;
            }
        }
        let c = self.peek_at(0)?;
        let token = match c {
            b'\'' => {
                self.skip_quoted(b'\'', false)?;
                Token::Str
            }
            b'"' => {
                self.skip_quoted(b'"', false)?;
                Token::Quoted
            }
            b'$' if self.dollar_tag_len().is_some() => {
                self.skip_dollar_quoted()?;
                Token::Str
            }
            c if is_word_byte(c) || c == b'$' => {
                let start = self.pos;
                while self
                    .peek_at(0)
                    .is_some_and(|c| is_word_byte(c) || c == b'$')
                {
                    self.pos += 1;
                }
                let word = &self.s[start..self.pos];
                // E'…' is a string with backslash escapes.
                if word.eq_ignore_ascii_case(b"e") && self.peek_at(0) == Some(b'\'') {
                    self.skip_quoted(b'\'', true)?;
                    return Some(Token::Str);
                }
                Token::Word(word)
            }
            c => {
                self.pos += 1;
                Token::Punct(c)
            }
        };
        Some(token)
    }

    fn skip_block_comment(&mut self) -> Option<()> {
        // Block comments nest in PostgreSQL.
        let mut depth = 0usize;
        loop {
            match (self.peek_at(0)?, self.peek_at(1)) {
                (b'/', Some(b'*')) => {
                    depth += 1;
                    self.pos += 2;
                }
                (b'*', Some(b'/')) => {
                    depth -= 1;
                    self.pos += 2;
                    if depth == 0 {
                        return Some(());
                    }
                }
                _ => self.pos += 1,
            }
        }
    }

    /// Skips a quoted run opened at `pos`; a doubled quote is one quote
    /// character, and with `backslash` a backslash escapes the next byte.
    fn skip_quoted(&mut self, quote: u8, backslash: bool) -> Option<()> {
        self.pos += 1;
        loop {
            let c = self.peek_at(0)?;
            self.pos += 1;
            if backslash && c == b'\\' {
                self.peek_at(0)?;
                self.pos += 1;
            } else if c == quote {
                if self.peek_at(0) == Some(quote) {
                    self.pos += 1;
                } else {
                    return Some(());
                }
            }
        }
    }

    /// The length of a dollar-quote tag (`$$`, `$tag$`) starting at `pos`.
    fn dollar_tag_len(&self) -> Option<usize> {
        let rest = self.s.get(self.pos + 1..)?;
        let name = rest
            .iter()
            .take_while(|&&c| is_word_byte(c) && !(c.is_ascii_digit()))
            .count();
        // `$1` is a parameter, not a tag.
        if name == 0 && rest.first().is_some_and(u8::is_ascii_digit) {
            return None;
        }
        (rest.get(name) == Some(&b'$')).then_some(name + 2)
    }

    fn skip_dollar_quoted(&mut self) -> Option<()> {
        let len = self.dollar_tag_len()?;
        let tag = &self.s[self.pos..self.pos + len];
        self.pos += len;
        let end = self.s[self.pos..].windows(len).position(|w| w == tag)?;
        self.pos += end + len;
        Some(())
    }

    /// Skips to the `)` that closes a `(` just read.
    fn skip_parenthesised(&mut self) -> Option<()> {
        let mut depth = 1usize;
        loop {
            match self.next()? {
                Token::Punct(b'(') => depth += 1,
                Token::Punct(b')') => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(());
                    }
                }
                _ => {}
            }
        }
    }
}

/// A byte of an unquoted identifier (non-ASCII bytes are letters).
fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_copy_from_stdin_and_to_stdout() {
        for (sql, expected) in [
            ("COPY t FROM STDIN", Some(CopyStdio::In)),
            ("copy t from stdin", Some(CopyStdio::In)),
            (
                "  -- load\n/* a /* nested */ comment */ COPY s.t (a, b) FROM STDIN WITH (FORMAT csv)",
                Some(CopyStdio::In),
            ),
            ("COPY \"odd \"\"name\" FROM stdin", Some(CopyStdio::In)),
            ("COPY BINARY t FROM STDIN", Some(CopyStdio::In)),
            ("COPY t TO STDOUT", Some(CopyStdio::Out)),
            (
                "COPY (SELECT ')' , $$ ; ( $$, E'\\')' FROM x) TO STDOUT (FORMAT binary)",
                Some(CopyStdio::Out),
            ),
            ("SELECT 1; COPY t FROM STDIN; SELECT 2", Some(CopyStdio::In)),
            ("SELECT ';'; COPY t TO STDOUT", Some(CopyStdio::Out)),
            ("COPY t TO STDOUT; COPY t FROM STDIN", Some(CopyStdio::Out)),
            ("COPY t; COPY t FROM STDIN", Some(CopyStdio::In)),
            ("COPY t FROM '/f'; COPY u TO STDOUT", Some(CopyStdio::Out)),
        ] {
            assert_eq!(copy_stdio(sql), expected, "{sql}");
        }
    }

    #[test]
    fn leaves_everything_else_alone() {
        for sql in [
            "",
            "SELECT 1",
            "COPY t FROM '/data/t.csv'",
            "COPY t TO '/tmp/t.csv'",
            "COPY t FROM PROGRAM 'cat x'",
            "COPY (SELECT * FROM stdin) TO '/tmp/x'",
            "COPY t (stdin) FROM '/f'",
            "SELECT 'COPY t FROM STDIN'",
            "SELECT $$COPY t FROM STDIN$$",
            "SELECT $q$ ; COPY t FROM STDIN $q$",
            "-- COPY t FROM STDIN\nSELECT 1",
            "/* COPY t FROM STDIN */ SELECT 1",
            "INSERT INTO copy VALUES (1)",
            "SELECT \"COPY t FROM STDIN\"",
            "SELECT E'\\'; COPY t FROM STDIN; '",
            "SELECT $1 FROM stdin",
            "copying t FROM STDIN",
            "COPY",
            "COPY t FROM",
            "SELECT '",
            "/* unterminated",
        ] {
            assert_eq!(copy_stdio(sql), None, "{sql}");
        }
    }

    #[test]
    fn never_panics_on_arbitrary_text() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        // Built from the characters that matter to the scanner.
        let pieces = proptest::collection::vec(
            prop_oneof![
                Just("COPY "),
                Just("t"),
                Just(" FROM "),
                Just("STDIN"),
                Just(" TO "),
                Just("STDOUT"),
                Just("("),
                Just(")"),
                Just(";"),
                Just("'"),
                Just("E'"),
                Just("\\"),
                Just("\""),
                Just("$$"),
                Just("$a$"),
                Just("$1"),
                Just("--"),
                Just("\n"),
                Just("/*"),
                Just("*/"),
                Just("."),
                Just("é"),
            ],
            0..24,
        );
        TestRunner::new(Config::with_cases(2000))
            .run(&pieces, |pieces| {
                let sql = pieces.concat();
                // No panic, and a COPY is found only where its words are.
                match copy_stdio(&sql) {
                    Some(CopyStdio::In) => {
                        prop_assert!(sql.contains("COPY") && sql.contains("STDIN"))
                    }
                    Some(CopyStdio::Out) => {
                        prop_assert!(sql.contains("COPY") && sql.contains("STDOUT"))
                    }
                    None => {}
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn never_panics_on_any_prefix() {
        let sql = "COPY (SELECT $a$x$a$, E'\\\\', \"q\"\"\", '''', /* /* */ */ 1) TO STDOUT; \
                   COPY \"é\".t (a) FROM STDIN -- end";
        for end in 0..=sql.len() {
            if let Some(prefix) = sql.get(..end) {
                let _ = copy_stdio(prefix);
            }
        }
        assert_eq!(copy_stdio(sql), Some(CopyStdio::Out));
    }
}
