//! The SCIM filter grammar (RFC 7644 §3.4.2.2): attribute paths with optional
//! schema URN and sub-attribute, value paths (`emails[type eq "work"]`), the
//! comparison operators, `pr`, `and`/`or`/`not` with precedence (not, then and,
//! then or) and parentheses. Operators and attribute names are case-insensitive.
//!
//! The parser is bounded before it allocates much: the text length, the nesting
//! depth and the number of comparisons are capped (`usher_core::query` limits), so
//! `((((...` 100 deep or 10,000 `or`s are refused in microseconds, and recursion
//! cannot overflow the stack.

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use usher_core::query::{MAX_FILTER_DEPTH, MAX_FILTER_TERMS};

use crate::error::{Result, ScimError};

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;

/// An attribute path: `[urn:]name[.sub]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN, when given.
    pub urn: Option<String>,
    /// The attribute.
    pub name: String,
    /// The sub-attribute.
    pub sub: Option<String>,
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A literal (`compValue`).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Num(serde_json::Number),
    Bool(bool),
    Null,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(AttrPath, Op, Literal),
    Present(AttrPath),
    /// `attr[filter]`: some value of the multi-valued `attr` satisfies `filter`,
    /// whose paths name sub-attributes.
    ValuePath(AttrPath, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Word(String),
    Str(String),
}

fn tokenize(input: &str) -> Result<Vec<Token>> {
    let mut tokens = Vec::new();
    let bytes = input.as_bytes();
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'(' => {
                tokens.push(Token::LParen);
                i += 1;
            }
            b')' => {
                tokens.push(Token::RParen);
                i += 1;
            }
            b'[' => {
                tokens.push(Token::LBracket);
                i += 1;
            }
            b']' => {
                tokens.push(Token::RBracket);
                i += 1;
            }
            b'"' => {
                // A JSON string (RFC 7644 §3.4.2.2: string values are JSON strings),
                // decoded by serde_json so escapes mean exactly what JSON says.
                let start = i;
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err(ScimError::filter("a string is not closed")),
                        Some(b'\\') => i += 2,
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                let raw = input
                    .get(start..i)
                    .ok_or_else(|| ScimError::filter("a string is not closed"))?;
                let s: String = serde_json::from_str(raw)
                    .map_err(|_| ScimError::filter(format!("{raw} is not a valid JSON string")))?;
                tokens.push(Token::Str(s));
            }
            _ => {
                let start = i;
                while bytes.get(i).is_some_and(|b| !b" \t\r\n()[]\"".contains(b)) {
                    i += 1;
                }
                // The delimiters are ASCII, so both ends are character boundaries.
                let word = input
                    .get(start..i)
                    .ok_or_else(|| ScimError::filter("the filter is not valid text"))?;
                tokens.push(Token::Word(word.to_owned()));
            }
        }
        if tokens.len() > MAX_FILTER_TERMS * 8 {
            return Err(ScimError::filter(format!(
                "the filter has more than {MAX_FILTER_TERMS} comparisons"
            )));
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    terms: usize,
}

/// Parses a filter.
pub fn parse(input: &str) -> Result<Expr> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::filter(format!(
            "the filter is longer than {MAX_FILTER_LEN} bytes"
        )));
    }
    let mut p = Parser {
        tokens: tokenize(input)?,
        pos: 0,
        terms: 0,
    };
    if p.tokens.is_empty() {
        return Err(ScimError::filter("the filter is empty"));
    }
    let e = p.or(0, false)?;
    if let Some(t) = p.tokens.get(p.pos) {
        return Err(ScimError::filter(format!(
            "unexpected {} in the filter",
            describe(t)
        )));
    }
    Ok(e)
}

/// Parses a PATCH path: `attrPath`, `attrPath[valFilter]`, or
/// `attrPath[valFilter].subAttr` (RFC 7644 §3.5.2).
pub fn parse_patch_path(input: &str) -> Result<(AttrPath, Option<Expr>, Option<String>)> {
    let bad = |why: &str| ScimError::path(format!("path {input:?}: {why}"));
    if input.len() > MAX_FILTER_LEN {
        return Err(bad("too long"));
    }
    let Some((head, tail)) = input.split_once('[') else {
        return Ok((
            attr_path(input.trim()).map_err(|_| bad("not an attribute path"))?,
            None,
            None,
        ));
    };
    let Some((inner, rest)) = tail.rsplit_once(']') else {
        return Err(bad(if head.contains(']') {
            "']' before '['"
        } else {
            "'[' is not closed"
        }));
    };
    let attr = attr_path(head.trim()).map_err(|_| bad("not an attribute path"))?;
    if attr.sub.is_some() {
        return Err(bad("a value filter applies to a multi-valued attribute"));
    }
    let filter = parse(inner).map_err(|e| bad(&e.detail))?;
    let sub = match rest.strip_prefix('.') {
        Some(s) if is_name(s) => Some(s.to_owned()),
        Some(_) => return Err(bad("bad sub-attribute after ']'")),
        None if rest.is_empty() => None,
        None => return Err(bad("unexpected text after ']'")),
    };
    Ok((attr, Some(filter), sub))
}

fn describe(t: &Token) -> String {
    match t {
        Token::LParen => "'('".into(),
        Token::RParen => "')'".into(),
        Token::LBracket => "'['".into(),
        Token::RBracket => "']'".into(),
        Token::Word(w) => format!("{w:?}"),
        Token::Str(s) => format!("string {s:?}"),
    }
}

fn is_name(s: &str) -> bool {
    // RFC 7643 §2.1 ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA;
    // "$ref" is the one reserved name with a "$".
    let mut chars = s.chars();
    match chars.next() {
        Some('$') => s == "$ref",
        Some(c) if c.is_ascii_alphabetic() => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }
        _ => false,
    }
}

/// `[URI ":"] ATTRNAME *1subAttr`.
pub fn attr_path(word: &str) -> Result<AttrPath> {
    let bad = || ScimError::filter(format!("{word:?} is not an attribute path"));
    // Checked slicing: the text comes from the network and may put a multibyte
    // character across byte 4, where `word[..4]` would panic.
    let is_urn = word.len() > 4
        && word
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    let (urn, rest) = match word.rsplit_once(':') {
        Some((urn, rest)) if is_urn => (Some(urn.to_owned()), rest),
        _ => (None, word),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (rest, None),
    };
    if !is_name(name) || sub.is_some_and(|s| !is_name(s)) {
        return Err(bad());
    }
    Ok(AttrPath {
        urn,
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

fn op(word: &str) -> Option<Op> {
    Some(match word.to_ascii_lowercase().as_str() {
        "eq" => Op::Eq,
        "ne" => Op::Ne,
        "co" => Op::Co,
        "sw" => Op::Sw,
        "ew" => Op::Ew,
        "gt" => Op::Gt,
        "ge" => Op::Ge,
        "lt" => Op::Lt,
        "le" => Op::Le,
        _ => return None,
    })
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(k))
    }

    fn deeper(depth: usize) -> Result<usize> {
        if depth >= MAX_FILTER_DEPTH {
            return Err(ScimError::filter(format!(
                "the filter nests deeper than {MAX_FILTER_DEPTH} levels"
            )));
        }
        Ok(depth + 1)
    }

    fn or(&mut self, depth: usize, in_value: bool) -> Result<Expr> {
        let depth = Self::deeper(depth)?;
        let mut left = self.and(depth, in_value)?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.and(depth, in_value)?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize, in_value: bool) -> Result<Expr> {
        let mut left = self.unary(depth, in_value)?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.unary(depth, in_value)?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize, in_value: bool) -> Result<Expr> {
        if self.keyword("not") {
            self.pos += 1;
            if self.next() != Some(Token::LParen) {
                return Err(ScimError::filter("'not' must be followed by '('"));
            }
            let inner = self.or(depth, in_value)?;
            if self.next() != Some(Token::RParen) {
                return Err(ScimError::filter("a '(' is not closed"));
            }
            return Ok(Expr::Not(Box::new(inner)));
        }
        match self.next() {
            Some(Token::LParen) => {
                let inner = self.or(depth, in_value)?;
                if self.next() != Some(Token::RParen) {
                    return Err(ScimError::filter("a '(' is not closed"));
                }
                Ok(inner)
            }
            Some(Token::Word(w)) => self.attr_exp(&w, depth, in_value),
            Some(t) => Err(ScimError::filter(format!(
                "expected an attribute, found {}",
                describe(&t)
            ))),
            None => Err(ScimError::filter("the filter ends too early")),
        }
    }

    fn count(&mut self) -> Result<()> {
        self.terms += 1;
        if self.terms > MAX_FILTER_TERMS {
            return Err(ScimError::filter(format!(
                "the filter has more than {MAX_FILTER_TERMS} comparisons"
            )));
        }
        Ok(())
    }

    fn attr_exp(&mut self, word: &str, depth: usize, in_value: bool) -> Result<Expr> {
        let path = attr_path(word)?;
        if self.peek() == Some(&Token::LBracket) {
            if in_value {
                return Err(ScimError::filter("value filters cannot nest"));
            }
            if path.sub.is_some() {
                return Err(ScimError::filter(format!(
                    "{path}: a value filter applies to a multi-valued attribute"
                )));
            }
            self.pos += 1;
            let inner = self.or(Self::deeper(depth)?, true)?;
            if self.next() != Some(Token::RBracket) {
                return Err(ScimError::filter("a '[' is not closed"));
            }
            return Ok(Expr::ValuePath(path, Box::new(inner)));
        }
        self.count()?;
        let op_word = match self.next() {
            Some(Token::Word(w)) => w,
            _ => {
                return Err(ScimError::filter(format!(
                    "{path} must be followed by an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)"
                )));
            }
        };
        if op_word.eq_ignore_ascii_case("pr") {
            return Ok(Expr::Present(path));
        }
        let op = op(&op_word)
            .ok_or_else(|| ScimError::filter(format!("{op_word:?} is not a filter operator")))?;
        let value = match self.next() {
            Some(Token::Str(s)) => Literal::Str(s),
            Some(Token::Word(w)) => match w.as_str() {
                "true" => Literal::Bool(true),
                "false" => Literal::Bool(false),
                "null" => Literal::Null,
                _ => match serde_json::from_str::<serde_json::Value>(&w) {
                    Ok(serde_json::Value::Number(n)) => Literal::Num(n),
                    _ => {
                        return Err(ScimError::filter(format!(
                            "{w:?} is not a value: quote strings, or use true, false, null or a number"
                        )));
                    }
                },
            },
            _ => return Err(ScimError::filter(format!("{path} {op_word} needs a value"))),
        };
        Ok(Expr::Compare(path, op, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn precedence_not_and_or() {
        let e = p(r#"a eq "1" or b eq "2" and not (c pr)"#);
        let Expr::Or(_, right) = e else {
            panic!("or at the top")
        };
        assert!(matches!(*right, Expr::And(_, _)));
    }

    #[test]
    fn value_paths_and_urns() {
        let e = p(r#"emails[type eq "work" and value co "@example.com"]"#);
        assert!(matches!(e, Expr::ValuePath(_, _)));
        let e =
            p(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value EQ "x""#);
        let Expr::Compare(path, Op::Eq, _) = e else {
            panic!("compare")
        };
        assert_eq!(
            path.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(path.sub.as_deref(), Some("value"));
    }

    #[test]
    fn strings_are_json() {
        let e = p(r#"userName eq "a\"b\\c""#);
        assert_eq!(
            e,
            Expr::Compare(
                attr_path("userName").expect("path"),
                Op::Eq,
                Literal::Str("a\"b\\c".into())
            )
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            "userName",
            "userName eq",
            r#"userName eq "x"#,
            r#"userName eq x"#,
            r#"userName xx "x""#,
            r#"(userName eq "x""#,
            r#"not userName eq "x""#,
            r#"emails[value eq "x"[type eq "y"]]"#,
            r#"userName eq "x" garbage"#,
        ] {
            assert!(parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn patch_paths() {
        let (a, f, s) = parse_patch_path(r#"emails[type eq "work"].value"#).expect("path");
        assert_eq!(a.name, "emails");
        assert!(f.is_some());
        assert_eq!(s.as_deref(), Some("value"));
        assert!(parse_patch_path("emails[type eq \"work\"]x").is_err());
    }
}
