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

impl<T> Page<T> {
    /// Builds a page from rows read with `limit + 1`: the extra row, if present, only
    /// proves there is a next page, whose cursor is the last kept row's sort key.
    pub fn from_overfetch(mut rows: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Self {
        let limit = limit as usize;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(cursor)
        } else {
            None
        };
        Self { items: rows, next }
    }

    /// The same page with each item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
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

    #[test]
    fn overfetched_rows_make_a_cursor() {
        let page = Page::from_overfetch(vec![1, 2, 3], 2, i32::to_string);
        assert_eq!(
            page,
            Page {
                items: vec![1, 2],
                next: Some("2".into())
            }
        );
        let last = Page::from_overfetch(vec![1, 2], 2, i32::to_string);
        assert_eq!(last.next, None);
    }
}
