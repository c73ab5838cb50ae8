//! Page-number pagination for the collections, as the spec has it: `page`
//! zero-based (default 0), `page_size` 1..=1000 (default 25), and the
//! `pagination {current_page, total_pages, total_items, items_per_page}`
//! object listing responses carry (plus `next_page_uri` /
//! `previous_page_uri`, an addition).

use serde::Serialize;

use super::extract::parse_u32;
use super::ApiError;

pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Where a listing response sits in the whole collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Pagination {
    /// This page, zero-based.
    pub current_page: u32,
    /// Items in the whole (filtered) collection.
    pub total_items: usize,
    /// Pages in the whole collection (0 when it is empty).
    pub total_pages: usize,
    /// The page size used.
    pub items_per_page: u32,
    /// The next page's path and query, or null on the last page.
    pub next_page_uri: Option<String>,
    /// The previous page's path and query, or null on the first page.
    pub previous_page_uri: Option<String>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy)]
pub struct PageReq {
    pub page: u32,
    pub page_size: u32,
}

impl PageReq {
    pub fn parse(page: Option<&str>, page_size: Option<&str>) -> Result<PageReq, ApiError> {
        Ok(PageReq {
            page: parse_u32("page", page, 0, 0, 1_000_000)?,
            page_size: parse_u32("page_size", page_size, DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)?,
        })
    }

    /// This page's slice of `items` and the pagination object; `base` is the
    /// path with any other query parameters (`/v1/Trunks?`).
    pub fn apply<T>(&self, items: Vec<T>, base: &str) -> (Vec<T>, Pagination) {
        let total = items.len();
        let size = self.page_size as usize;
        let pages = total.div_ceil(size);
        let start = (self.page as usize).saturating_mul(size);
        let slice: Vec<T> = items.into_iter().skip(start).take(size).collect();
        let uri = |p: u32| format!("{base}page={p}&page_size={}", self.page_size);
        let p = Pagination {
            current_page: self.page,
            total_items: total,
            total_pages: pages,
            items_per_page: self.page_size,
            next_page_uri: ((self.page as usize + 1) < pages).then(|| uri(self.page + 1)),
            previous_page_uri: (self.page > 0).then(|| uri(self.page - 1)),
        };
        (slice, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_slice_and_link() {
        let r = PageReq::parse(Some("1"), Some("3")).unwrap();
        let (s, p) = r.apply((1..=7).collect::<Vec<_>>(), "/v1/Trunks?");
        assert_eq!(s, vec![4, 5, 6]);
        assert_eq!((p.current_page, p.total_pages, p.items_per_page), (1, 3, 3));
        assert_eq!(
            p.next_page_uri.as_deref(),
            Some("/v1/Trunks?page=2&page_size=3")
        );
        assert_eq!(
            p.previous_page_uri.as_deref(),
            Some("/v1/Trunks?page=0&page_size=3")
        );
        let (s, p) = PageReq::parse(None, None)
            .unwrap()
            .apply((0..30).collect::<Vec<_>>(), "/x?");
        assert_eq!(
            (s.len(), s[0], p.current_page, p.items_per_page),
            (25, 0, 0, 25)
        );
        assert_eq!(p.previous_page_uri, None);
        let (s, p) = PageReq::parse(Some("9"), None)
            .unwrap()
            .apply(vec![1], "/x?");
        assert!(s.is_empty());
        assert_eq!((p.total_items, p.next_page_uri), (1, None));
        assert!(PageReq::parse(Some("-1"), None).is_err());
        assert!(PageReq::parse(None, Some("1001")).is_err());
    }
}
