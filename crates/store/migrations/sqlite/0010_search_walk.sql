-- Prefix searches now page in (folded value, key) order through `user_search_prefix`, which
-- reads only a page's rows however many users match; the key-order walk index they used for
-- prefixes with many matches is no longer read, and every user write paid for it.
DROP INDEX user_search_walk;
