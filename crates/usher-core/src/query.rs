//! Storage-neutral queries over users and groups: a small boolean AST that protocol
//! front-ends (the SCIM filter parser) build and storage translates into its own
//! query language with bound parameters. Values never become query text, so no
//! filter can break out of its literal (the SQL injection class of bugs).
//!
//! The AST is bounded ([`Bounds`]): a front-end refuses deeper or larger trees
//! while parsing, and storage checks again before translating, so a hostile filter
//! (100 nested parentheses, 10,000 `or` terms) costs a few microseconds to refuse
//! instead of a query plan the size of the request.

use time::OffsetDateTime;

use crate::{Error, Result};

/// Deepest nesting of `and`/`or`/`not` and value paths storage accepts.
pub const MAX_FILTER_DEPTH: usize = 16;
/// Most comparisons (leaves) in one filter.
pub const MAX_FILTER_TERMS: usize = 64;
/// Longest string value in a comparison, in bytes.
pub const MAX_FILTER_VALUE_LEN: usize = 1024;

/// A boolean expression over leaves `L`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter<L> {
    /// Every child holds (an empty list holds).
    And(Vec<Filter<L>>),
    /// Some child holds (an empty list does not).
    Or(Vec<Filter<L>>),
    /// The child does not hold. Leaves are two-valued: an absent attribute makes a
    /// comparison false (never unknown), so `not` is the exact complement.
    Not(Box<Filter<L>>),
    /// A comparison.
    Leaf(L),
}

/// How a field is compared with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal (true for an absent attribute).
    Ne,
    /// Contains (strings).
    Co,
    /// Starts with (strings).
    Sw,
    /// Ends with (strings).
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

/// A literal to compare with, already typed by the field it is compared to.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// An instant (compared to the whole second, as times are stored).
    Time(OffsetDateTime),
    /// An integer.
    Integer(i64),
}

/// A leaf over fields `F`: a comparison or a presence test.
#[derive(Debug, Clone, PartialEq)]
pub enum Leaf<F> {
    /// `field op value`.
    Compare(F, CompareOp, Value),
    /// The field has a (non-empty) value.
    Present(F),
}

/// Fields of a user. Text comparisons are case-insensitive except where noted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserField {
    /// The id (case-exact text).
    Id,
    /// The username.
    Username,
    /// The provisioning source's id (case-exact).
    ExternalId,
    /// Display name.
    DisplayName,
    /// Given name.
    GivenName,
    /// Family name.
    FamilyName,
    /// The active flag (boolean).
    Active,
    /// Creation time.
    Created,
    /// Last change time.
    Modified,
    /// A text value in the free attributes, by its path of object keys
    /// (`["manager", "value"]`). Storage binds the path, never splices it.
    Attribute {
        /// Object keys from the top of `attributes`.
        path: Vec<String>,
        /// Compare case-sensitively.
        case_exact: bool,
    },
}

/// Fields of one email address of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailField {
    /// The address (case-insensitive).
    Address,
    /// Its kind (`work`, `home`, ...).
    Kind,
    /// The primary flag (boolean).
    Primary,
}

/// A leaf of a user filter.
#[derive(Debug, Clone, PartialEq)]
pub enum UserLeaf {
    /// A field of the user itself.
    Field(Leaf<UserField>),
    /// Some email address of the user satisfies the filter (SCIM value paths such as
    /// `emails[type eq "work" and value co "@example.com"]`: one address must
    /// satisfy every part).
    AnyEmail(Filter<Leaf<EmailField>>),
    /// The user is a member of a group whose id compares so (`groups.value`).
    MemberOf(CompareOp, Value),
}

/// Fields of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupField {
    /// The id (case-exact).
    Id,
    /// The unique name (case-insensitive).
    Name,
    /// Display name.
    DisplayName,
    /// The provisioning source's id (case-exact).
    ExternalId,
    /// Creation time.
    Created,
    /// Last change time.
    Modified,
}

/// A leaf of a group filter.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupLeaf {
    /// A field of the group itself.
    Field(Leaf<GroupField>),
    /// The group has a member whose user id compares so (`members.value`).
    Member(CompareOp, Value),
}

/// A user filter.
pub type UserFilter = Filter<UserLeaf>;
/// A group filter.
pub type GroupFilter = Filter<GroupLeaf>;

/// Orderings of users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    /// By username (case-insensitive).
    Username,
    /// By display name.
    DisplayName,
    /// By given name.
    GivenName,
    /// By family name.
    FamilyName,
    /// By external id.
    ExternalId,
    /// By creation time.
    Created,
    /// By last change.
    Modified,
}

/// Orderings of groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSort {
    /// By name (case-insensitive).
    Name,
    /// By display name.
    DisplayName,
    /// By external id.
    ExternalId,
    /// By creation time.
    Created,
    /// By last change.
    Modified,
}

/// A query: who (filter and owner), in which order, which slice.
#[derive(Debug, Clone, PartialEq)]
pub struct Query<F, S> {
    /// Only rows matching this filter (`None`: all).
    pub filter: Option<F>,
    /// Only rows provisioned by this source (`provisioned_by`); `None`: any.
    pub owner: Option<String>,
    /// Order (ties broken by id, so pages are stable); `None`: by id.
    pub sort: Option<S>,
    /// Descending instead of ascending.
    pub descending: bool,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return at most (0: only count).
    pub limit: u32,
}

/// A user query.
pub type UserQuery = Query<UserFilter, UserSort>;
/// A group query.
pub type GroupQuery = Query<GroupFilter, GroupSort>;

/// One slice of a query's results with the number of all matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice<T> {
    /// The rows of this slice.
    pub items: Vec<T>,
    /// How many rows match in all.
    pub total: u64,
}

/// Counts what [`check_bounds`] limits.
pub trait Bounded {
    /// Adds this node's leaves to `terms` and checks depth, terms and value sizes.
    fn walk(&self, depth: usize, terms: &mut usize) -> Result<()>;
}

fn check_value(value: &Value) -> Result<()> {
    match value {
        Value::Text(s) if s.len() > MAX_FILTER_VALUE_LEN => Err(Error::Invalid(format!(
            "a filter value is longer than {MAX_FILTER_VALUE_LEN} bytes"
        ))),
        _ => Ok(()),
    }
}

fn count_leaf(depth: usize, terms: &mut usize) -> Result<()> {
    *terms += 1;
    if *terms > MAX_FILTER_TERMS {
        return Err(Error::Invalid(format!(
            "the filter has more than {MAX_FILTER_TERMS} comparisons"
        )));
    }
    if depth > MAX_FILTER_DEPTH {
        return Err(Error::Invalid(format!(
            "the filter nests deeper than {MAX_FILTER_DEPTH} levels"
        )));
    }
    Ok(())
}

impl<F> Bounded for Leaf<F> {
    fn walk(&self, depth: usize, terms: &mut usize) -> Result<()> {
        count_leaf(depth, terms)?;
        match self {
            Leaf::Compare(_, _, v) => check_value(v),
            Leaf::Present(_) => Ok(()),
        }
    }
}

impl Bounded for UserLeaf {
    fn walk(&self, depth: usize, terms: &mut usize) -> Result<()> {
        match self {
            UserLeaf::Field(leaf) => leaf.walk(depth, terms),
            UserLeaf::AnyEmail(inner) => inner.walk(depth + 1, terms),
            UserLeaf::MemberOf(_, v) => {
                count_leaf(depth, terms)?;
                check_value(v)
            }
        }
    }
}

impl Bounded for GroupLeaf {
    fn walk(&self, depth: usize, terms: &mut usize) -> Result<()> {
        match self {
            GroupLeaf::Field(leaf) => leaf.walk(depth, terms),
            GroupLeaf::Member(_, v) => {
                count_leaf(depth, terms)?;
                check_value(v)
            }
        }
    }
}

impl<L: Bounded> Bounded for Filter<L> {
    fn walk(&self, depth: usize, terms: &mut usize) -> Result<()> {
        if depth > MAX_FILTER_DEPTH {
            return Err(Error::Invalid(format!(
                "the filter nests deeper than {MAX_FILTER_DEPTH} levels"
            )));
        }
        match self {
            Filter::And(children) | Filter::Or(children) => {
                for child in children {
                    child.walk(depth + 1, terms)?;
                }
                Ok(())
            }
            Filter::Not(child) => child.walk(depth + 1, terms),
            Filter::Leaf(leaf) => leaf.walk(depth, terms),
        }
    }
}

/// Checks a filter against [`MAX_FILTER_DEPTH`], [`MAX_FILTER_TERMS`] and
/// [`MAX_FILTER_VALUE_LEN`]; storage calls it before translating.
pub fn check_bounds<L: Bounded>(filter: &Filter<L>) -> Result<()> {
    let mut terms = 0;
    filter.walk(0, &mut terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf() -> UserFilter {
        Filter::Leaf(UserLeaf::Field(Leaf::Present(UserField::Username)))
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut f = leaf();
        for _ in 0..=MAX_FILTER_DEPTH {
            f = Filter::Not(Box::new(f));
        }
        assert!(check_bounds(&f).is_err());
    }

    #[test]
    fn too_many_terms_are_refused() {
        let f = Filter::Or(vec![leaf(); MAX_FILTER_TERMS + 1]);
        assert!(check_bounds(&f).is_err());
        let f = Filter::Or(vec![leaf(); MAX_FILTER_TERMS]);
        assert!(check_bounds(&f).is_ok());
    }

    #[test]
    fn long_values_are_refused() {
        let f: UserFilter = Filter::Leaf(UserLeaf::Field(Leaf::Compare(
            UserField::Username,
            CompareOp::Eq,
            Value::Text("a".repeat(MAX_FILTER_VALUE_LEN + 1)),
        )));
        assert!(check_bounds(&f).is_err());
    }
}
