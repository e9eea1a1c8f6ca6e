//! Paged listing, for reconciliation.

/// Which page to list: the cursor a previous [`Page`] returned (none for the
/// first page) and how many items at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Opaque to the core: a SCIM connector may encode a `startIndex`, Slack its
    /// `next_cursor`.
    pub cursor: Option<String>,
    /// At most this many items; the core never asks for more than
    /// [`Capabilities::max_page_size`](crate::Capabilities::max_page_size), and a
    /// connector may return fewer.
    pub size: u32,
}

impl PageRequest {
    /// The first page of at most `size` items.
    pub fn first(size: u32) -> Self {
        Self { cursor: None, size }
    }

    /// The page after the one that returned `cursor`.
    pub fn after(cursor: impl Into<String>, size: u32) -> Self {
        Self {
            cursor: Some(cursor.into()),
            size,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last one.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page, with the cursor of the next one if there is one.
    pub fn new(items: Vec<T>, next: Option<String>) -> Self {
        Self { items, next }
    }

    /// The last page.
    pub fn last(items: Vec<T>) -> Self {
        Self { items, next: None }
    }
}
