//! The parsed documents of the pools and clients read lately.
//!
//! Every sign-in reads its client and pool, whose documents (a few kilobytes of JSON each) were
//! parsed anew on each read: about 4% of a password sign-in's CPU. Each read still reads the
//! row, so a change written by this server or another one on the database is seen at once; what
//! the cache saves is the parse, when the stored text is the text parsed before. Nothing here
//! can go stale: an entry answers only a byte-identical text.

use std::sync::Arc;

use cognate_core::model::Doc;

use crate::bounded::Bounded;

/// Entries kept per kind; at this size the map is emptied and starts again (a server with more
/// pools or clients in use than this parses as before, and stays bounded).
const MAX_ENTRIES: usize = 64;

/// The documents last parsed for each id, with the text they came from.
pub(crate) struct DocCache {
    entries: Bounded<(String, Arc<Doc>)>,
}

impl Default for DocCache {
    fn default() -> Self {
        Self { entries: Bounded::counted(MAX_ENTRIES) }
    }
}

impl DocCache {
    /// The parsed document of `text`, stored for `id`: the one parsed before if `text` is
    /// unchanged, else `parse(text)`, kept for the next read.
    pub(crate) fn get<E>(
        &self,
        id: &str,
        text: String,
        parse: impl FnOnce(&str) -> Result<Doc, E>,
    ) -> Result<Arc<Doc>, E> {
        if let Some(doc) = self.entries.read(id, |(seen, doc)| (*seen == text).then(|| Arc::clone(doc))) {
            return Ok(doc);
        }
        let doc = Arc::new(parse(&text)?);
        self.entries.put(id.to_owned(), (text, Arc::clone(&doc)), 0);
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Doc, String> {
        match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            _ => Err("not an object".into()),
        }
    }

    #[test]
    fn an_unchanged_text_is_shared_and_a_changed_one_parsed() {
        let cache = DocCache::default();
        let a = cache.get("p1", r#"{"Name":"a"}"#.into(), parse).unwrap();
        let again = cache.get("p1", r#"{"Name":"a"}"#.into(), parse).unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        let changed = cache.get("p1", r#"{"Name":"b"}"#.into(), parse).unwrap();
        assert_eq!(changed.get("Name").and_then(|v| v.as_str()), Some("b"));
        let other = cache.get("p2", r#"{"Name":"a"}"#.into(), parse).unwrap();
        assert!(!Arc::ptr_eq(&a, &other));
        assert!(cache.get("p3", "[1]".into(), parse).is_err());
    }

    #[test]
    fn stays_bounded() {
        let cache = DocCache::default();
        for i in 0..(MAX_ENTRIES * 3) {
            cache.get(&format!("p{i}"), format!(r#"{{"N":{i}}}"#), parse).unwrap();
            assert!(cache.entries.len() <= MAX_ENTRIES);
        }
    }
}
