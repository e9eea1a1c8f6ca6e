//! The attribute mapping language: literal text with `{claim|transform|...}`
//! expressions, evaluated against an upstream's claims (OIDC) or attributes (SAML).
//!
//! ```text
//! {preferred_username}                      the claim, as is
//! {email|lower}                             lower-cased
//! {given_name} {family_name}                text around expressions
//! {groups|split(",")|trim}                  "a, b" -> ["a", "b"]
//! {roles|join(";")}                         ["a", "b"] -> "a;b"
//! {upn|replace("@.*$", "")}                 a regular expression and its replacement ($1 ...)
//! {nickname|default("anonymous")}           a fallback when the claim is absent or empty
//! {http://schemas.example/claims/dept}      SAML attribute names are taken whole
//! {address.country}                         nested claims, when no claim has the dotted name
//! ```
//!
//! `{{` and `}}` are literal braces. A template that is a single expression keeps a
//! list as a list (for `groups`); anywhere else a list contributes its first value.
//! Templates are checked when the configuration is read, so a typo stops the broker
//! at start rather than failing someone's sign-in.

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use serde_json::{Map, Value as Json};

/// Longest template accepted.
const MAX_TEMPLATE_LEN: usize = 1024;
/// Longest regular expression program (compiled size), so an admin's typo cannot
/// cost megabytes per sign-in.
const MAX_REGEX_SIZE: usize = 64 * 1024;
/// Values longer than this are cut (at a character boundary): claims are
/// attacker-influenced (a self-service profile field) and land in the database.
pub(crate) const MAX_VALUE_LEN: usize = 1024;
/// At most this many values come out of one expression.
pub(crate) const MAX_VALUES: usize = 256;

/// A mapping template that failed to parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {template:?}: {message}")]
pub struct TemplateError {
    template: String,
    message: String,
}

/// What an expression yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Nothing (the claim is absent, null, or an object).
    None,
    /// One value.
    One(String),
    /// Several values (a JSON array, a multi-valued SAML attribute, a `split`).
    Many(Vec<String>),
}

impl Value {
    fn first(&self) -> Option<&str> {
        match self {
            Value::None => None,
            Value::One(s) => Some(s),
            Value::Many(v) => v.first().map(String::as_str),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Value::None => true,
            Value::One(s) => s.is_empty(),
            Value::Many(v) => v.iter().all(String::is_empty),
        }
    }

    fn map(self, f: impl Fn(String) -> String) -> Value {
        match self {
            Value::None => Value::None,
            Value::One(s) => Value::One(f(s)),
            Value::Many(v) => Value::Many(v.into_iter().map(f).collect()),
        }
    }
}

#[derive(Debug, Clone)]
enum Transform {
    Lower,
    Upper,
    Trim,
    First,
    Split(String),
    Join(String),
    Replace(regex::Regex, String),
    Default(String),
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Expr {
        path: String,
        transforms: Vec<Transform>,
    },
}

/// A parsed mapping template.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Template {
    /// Parses a template.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let fail = |message: String| TemplateError {
            template: source.chars().take(80).collect(),
            message,
        };
        if source.len() > MAX_TEMPLATE_LEN {
            return Err(fail(format!("longer than {MAX_TEMPLATE_LEN} bytes")));
        }
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = source.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    text.push('}');
                }
                '}' => return Err(fail(format!("unmatched `}}` at byte {i}"))),
                '{' => {
                    let (expr, end) = find_close(source, i + 1)
                        .ok_or_else(|| fail(format!("`{{` at byte {i} is never closed")))?;
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(parse_expr(expr).map_err(fail)?);
                    while chars.peek().is_some_and(|(j, _)| *j <= end) {
                        chars.next();
                    }
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Self {
            source: source.to_owned(),
            parts,
        })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the template: a single expression keeps its shape, anything else
    /// is text (`None` when it comes out empty).
    pub fn eval(&self, claims: &Map<String, Json>) -> Value {
        if let [Part::Expr { path, transforms }] = self.parts.as_slice() {
            return cap(eval_expr(claims, path, transforms));
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expr { path, transforms } => {
                    if let Some(v) = eval_expr(claims, path, transforms).first() {
                        out.push_str(v);
                    }
                }
            }
        }
        let out = out.trim();
        if out.is_empty() {
            Value::None
        } else {
            cap(Value::One(out.to_owned()))
        }
    }

    /// The first non-empty value, for single-valued fields (username, email, names).
    pub fn eval_one(&self, claims: &Map<String, Json>) -> Option<String> {
        match self.eval(claims) {
            Value::None => None,
            Value::One(s) => Some(s).filter(|s| !s.trim().is_empty()),
            Value::Many(v) => v.into_iter().find(|s| !s.trim().is_empty()),
        }
        .map(|s| s.trim().to_owned())
    }

    /// Every non-empty value, for multi-valued fields (groups).
    pub fn eval_many(&self, claims: &Map<String, Json>) -> Vec<String> {
        let values = match self.eval(claims) {
            Value::None => Vec::new(),
            Value::One(s) => vec![s],
            Value::Many(v) => v,
        };
        values
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// The expression that starts at `from` and the index of the `}` closing it,
/// skipping quoted arguments.
fn find_close(source: &str, from: usize) -> Option<(&str, usize)> {
    let rest = source.get(from..)?;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some((rest.get(..i)?, from + i)),
            _ => {}
        }
    }
    None
}

fn parse_expr(expr: &str) -> Result<Part, String> {
    let mut pieces = split_top(expr, '|').into_iter();
    let path = pieces.next().unwrap_or_default().trim().to_owned();
    if path.is_empty() || path.chars().any(|c| c.is_whitespace() || c == '"') {
        return Err(format!("{{{expr}}} does not start with a claim name"));
    }
    let transforms = pieces
        .map(|t| parse_transform(t.trim()))
        .collect::<Result<_, _>>()?;
    Ok(Part::Expr { path, transforms })
}

/// Splits on `sep` outside double quotes.
fn split_top(s: &str, sep: char) -> Vec<&str> {
    let (mut quoted, mut escaped) = (false, false);
    s.split(|c: char| {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c => return c == sep && !quoted,
        }
        false
    })
    .collect()
}

fn parse_transform(t: &str) -> Result<Transform, String> {
    let (name, args) = match t.split_once('(') {
        Some((name, rest)) => {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("`{t}`: missing `)`"))?;
            let args = split_top(inner, ',')
                .into_iter()
                .map(|a| {
                    unquote(a.trim()).ok_or_else(|| format!("`{t}`: arguments are \"quoted\""))
                })
                .collect::<Result<Vec<_>, _>>()?;
            (name.trim(), args)
        }
        None => (t, Vec::new()),
    };
    let arity = |n: usize| format!("`{name}` takes {n} argument(s), got {}", args.len());
    let none = || args.is_empty().then_some(()).ok_or_else(|| arity(0));
    let one = || match args.as_slice() {
        [a] => Ok(a.clone()),
        _ => Err(arity(1)),
    };
    Ok(match name {
        "lower" => none().map(|()| Transform::Lower)?,
        "upper" => none().map(|()| Transform::Upper)?,
        "trim" => none().map(|()| Transform::Trim)?,
        "first" => none().map(|()| Transform::First)?,
        "split" => {
            let sep = one()?;
            if sep.is_empty() {
                return Err("`split` needs a non-empty separator".into());
            }
            Transform::Split(sep)
        }
        "join" => Transform::Join(one()?),
        "default" => Transform::Default(one()?),
        "replace" => {
            let [pattern, with] = args.as_slice() else {
                return Err(arity(2));
            };
            let re = regex::RegexBuilder::new(pattern)
                .size_limit(MAX_REGEX_SIZE)
                .build()
                .map_err(|e| format!("`replace`: bad regular expression: {e}"))?;
            Transform::Replace(re, with.clone())
        }
        other => {
            return Err(format!(
                "unknown transform `{other}` (lower, upper, trim, first, split, join, replace, default)"
            ));
        }
    })
}

fn unquote(arg: &str) -> Option<String> {
    let inner = arg.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next()?);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn lookup<'a>(claims: &'a Map<String, Json>, path: &str) -> Option<&'a Json> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

fn scalar(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn eval_expr(claims: &Map<String, Json>, path: &str, transforms: &[Transform]) -> Value {
    let mut value = match lookup(claims, path) {
        Some(Json::Array(items)) => {
            Value::Many(items.iter().take(MAX_VALUES).filter_map(scalar).collect())
        }
        Some(v) => scalar(v).map_or(Value::None, Value::One),
        None => Value::None,
    };
    for t in transforms {
        value = match t {
            Transform::Lower => value.map(|s| s.to_lowercase()),
            Transform::Upper => value.map(|s| s.to_uppercase()),
            Transform::Trim => value.map(|s| s.trim().to_owned()),
            Transform::First => value
                .first()
                .map_or(Value::None, |s| Value::One(s.to_owned())),
            Transform::Split(sep) => {
                let items: Vec<String> = match value {
                    Value::None => Vec::new(),
                    Value::One(s) => s.split(sep.as_str()).map(str::to_owned).collect(),
                    Value::Many(v) => v
                        .iter()
                        .flat_map(|s| s.split(sep.as_str()))
                        .map(str::to_owned)
                        .collect(),
                };
                Value::Many(items.into_iter().take(MAX_VALUES).collect())
            }
            Transform::Join(sep) => match value {
                Value::Many(v) => Value::One(v.join(sep)),
                other => other,
            },
            Transform::Replace(re, with) => {
                value.map(|s| re.replace_all(&s, with.as_str()).into_owned())
            }
            Transform::Default(d) => {
                if value.is_empty() {
                    Value::One(d.clone())
                } else {
                    value
                }
            }
        };
    }
    value
}

fn cut(mut s: String) -> String {
    if s.len() > MAX_VALUE_LEN {
        let mut end = MAX_VALUE_LEN;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

fn cap(v: Value) -> Value {
    match v {
        Value::Many(v) => Value::Many(v.into_iter().take(MAX_VALUES).map(cut).collect()),
        other => other.map(cut),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims() -> Map<String, Json> {
        json!({
            "preferred_username": "Alice.Example",
            "email": "Alice@Example.COM",
            "given_name": "Alice",
            "family_name": "Example",
            "groups": ["Eng", "Ops"],
            "csv": "a, b ,c",
            "upn": "alice@corp.example",
            "address": { "country": "NL" },
            "http://schemas.example/claims/dept": ["R&D"],
            "age": 42,
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    }

    fn one(t: &str) -> Option<String> {
        Template::parse(t).expect("parses").eval_one(&claims())
    }

    fn many(t: &str) -> Vec<String> {
        Template::parse(t).expect("parses").eval_many(&claims())
    }

    #[test]
    fn claims_and_transforms() {
        assert_eq!(
            one("{preferred_username|lower}").as_deref(),
            Some("alice.example")
        );
        assert_eq!(
            one("{given_name} {family_name}").as_deref(),
            Some("Alice Example")
        );
        assert_eq!(
            one("{upn|replace(\"@.*$\", \"\")}").as_deref(),
            Some("alice")
        );
        assert_eq!(
            one("{upn|replace(\"^(\\\\w+)@(.*)$\", \"$2/$1\")}").as_deref(),
            Some("corp.example/alice")
        );
        assert_eq!(one("{missing|default(\"anon\")}").as_deref(), Some("anon"));
        assert_eq!(one("{missing}"), None);
        assert_eq!(one("{missing} {missing}"), None);
        assert_eq!(one("{address.country}").as_deref(), Some("NL"));
        assert_eq!(
            one("{http://schemas.example/claims/dept}").as_deref(),
            Some("R&D")
        );
        assert_eq!(one("{groups|join(\";\")}").as_deref(), Some("Eng;Ops"));
        assert_eq!(one("{groups}").as_deref(), Some("Eng"));
        assert_eq!(one("{age}").as_deref(), Some("42"));
        assert_eq!(
            one("{{literal}} {given_name}").as_deref(),
            Some("{literal} Alice")
        );
        assert_eq!(many("{groups|lower}"), ["eng", "ops"]);
        assert_eq!(many("{csv|split(\",\")|trim}"), ["a", "b", "c"]);
        assert_eq!(many("{missing}"), Vec::<String>::new());
    }

    #[test]
    fn bad_templates_are_refused_with_the_reason() {
        for bad in [
            "{",
            "}",
            "{}",
            "{email|nope}",
            "{email|split}",
            "{email|replace(\"(\", \"x\")}",
            "{email|join(x)}",
            "{email|lower(\"x\")}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        assert!(Template::parse(&"x".repeat(2000)).is_err());
    }

    #[test]
    fn oversized_values_are_cut_and_lists_capped() {
        let big: Map<String, Json> = json!({
            "name": "é".repeat(2000),
            "groups": (0..1000).map(|i| format!("g{i}")).collect::<Vec<_>>(),
        })
        .as_object()
        .cloned()
        .unwrap_or_default();
        let name = Template::parse("{name}")
            .expect("ok")
            .eval_one(&big)
            .expect("some");
        assert!(name.len() <= MAX_VALUE_LEN);
        assert_eq!(
            Template::parse("{groups}")
                .expect("ok")
                .eval_many(&big)
                .len(),
            MAX_VALUES
        );
    }
}
