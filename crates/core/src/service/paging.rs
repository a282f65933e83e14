//! Keyset paging shared by the List* operations: the token is the last key of the page.

/// A page request: how many, and after which key.
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: usize,
    pub after: Option<String>,
}

impl Page {
    pub fn new(limit: Option<i32>, default: usize, token: Option<&str>) -> Self {
        Self {
            limit: limit.map_or(default, |l| l.max(1) as usize),
            after: token.filter(|t| !t.is_empty()).map(str::to_owned),
        }
    }

    /// Fetch one extra row to know whether another page follows; trims `items` and returns the
    /// token for the next page, if any.
    pub fn finish<T>(&self, items: &mut Vec<T>, key: impl Fn(&T) -> String) -> Option<String> {
        if items.len() > self.limit {
            items.truncate(self.limit);
            items.last().map(key)
        } else {
            None
        }
    }

    pub fn fetch_limit(&self) -> usize {
        self.limit + 1
    }
}
