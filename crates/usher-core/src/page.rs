//! Keyset paging: stable under concurrent inserts, cheap on large tables.

/// Which page to read: at most `limit` items whose sort key comes after `after`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// The `next` cursor of the previous page; `None` for the first page.
    pub after: Option<String>,
    /// Maximum items; clamped to `1..=PageRequest::MAX_LIMIT`, 0 means the default.
    pub limit: u32,
}

impl PageRequest {
    /// Items per page when the caller does not say.
    pub const DEFAULT_LIMIT: u32 = 100;
    /// Largest page a caller may ask for, so one request cannot read a whole table.
    pub const MAX_LIMIT: u32 = 1000;

    /// The first page of `limit` items.
    pub fn first(limit: u32) -> Self {
        Self { after: None, limit }
    }

    /// The limit actually applied.
    pub fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => Self::DEFAULT_LIMIT,
            n => n.min(Self::MAX_LIMIT),
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in the listing's order.
    pub items: Vec<T>,
    /// Cursor for the next page; `None` when this is the last one.
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_clamped() {
        assert_eq!(PageRequest::first(0).effective_limit(), 100);
        assert_eq!(PageRequest::first(5).effective_limit(), 5);
        assert_eq!(PageRequest::first(1_000_000).effective_limit(), 1000);
    }
}
