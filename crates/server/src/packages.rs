//! Deployment packages of functions created through the Lambda API: checking a zip and
//! unpacking it safely (no path escapes, no links, Lambda's size limits enforced while reading).

use std::io::{Cursor, Read, Write};
use std::path::{Component, Path, PathBuf};

/// Lambda's limit on a zip uploaded directly.
pub const MAX_ZIPPED_BYTES: usize = 50 * 1024 * 1024;
/// Lambda's limit on a function's unpacked code.
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;
/// More entries than this is not a function package.
const MAX_ENTRIES: usize = 100_000;

/// Why a package is refused; the message reads like Lambda's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageError(pub String);

impl std::fmt::Display for PackageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn unzip_error() -> PackageError {
    PackageError("Could not unzip uploaded file. Please check your file, then try to upload again.".into())
}

fn too_big() -> PackageError {
    PackageError(format!("Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"))
}

/// The relative path an entry may be written to, or why not. Absolute paths, `..`
/// components, drive prefixes and backslash tricks are refused outright.
fn entry_path(name: &str) -> Result<Option<PathBuf>, PackageError> {
    let bad = || PackageError(format!("Invalid path in the deployment package: {name:?} leaves the package folder"));
    if name.starts_with('/') || name.starts_with('\\') || name.contains('\0') || name.contains(':') {
        return Err(bad());
    }
    let mut out = PathBuf::new();
    for part in name.split(['/', '\\']) {
        match part {
            "" | "." => continue,
            ".." => return Err(bad()),
            p => out.push(p),
        }
    }
    if out.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(bad());
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

fn is_symlink(mode: Option<u32>) -> bool {
    mode.is_some_and(|m| m & 0o170000 == 0o120000)
}

/// Checks a package without writing anything: a readable zip, safe paths, no links, declared
/// sizes within Lambda's limit. Returns the declared unpacked size.
pub fn check(zip: &[u8]) -> Result<u64, PackageError> {
    if zip.len() > MAX_ZIPPED_BYTES {
        return Err(PackageError(format!("Zipped size must be smaller than {MAX_ZIPPED_BYTES} bytes")));
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(|_| unzip_error())?;
    if archive.len() > MAX_ENTRIES {
        return Err(unzip_error());
    }
    let mut total = 0u64;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|_| unzip_error())?;
        let name = entry.name().map_err(|_| unzip_error())?.into_owned();
        entry_path(&name)?;
        if is_symlink(entry.unix_mode()) {
            return Err(PackageError(format!("Invalid entry in the deployment package: {name:?} is a symbolic link")));
        }
        total = total.saturating_add(entry.size());
        if total > MAX_UNZIPPED_BYTES {
            return Err(too_big());
        }
    }
    Ok(total)
}

/// Unpacks `zip` into `dest` (created; must not exist). Limits are enforced on the bytes
/// actually inflated, not only on what the archive declares. On error `dest` is removed.
pub fn unpack(zip: &[u8], dest: &Path) -> Result<(), PackageError> {
    let result = unpack_inner(zip, dest);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(dest);
    }
    result
}

fn unpack_inner(zip: &[u8], dest: &Path) -> Result<(), PackageError> {
    check(zip)?;
    let io = |e: std::io::Error| PackageError(format!("cannot unpack the deployment package: {e}"));
    std::fs::create_dir_all(dest).map_err(io)?;
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(|_| unzip_error())?;
    let mut remaining = MAX_UNZIPPED_BYTES;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|_| unzip_error())?;
        let name = entry.name().map_err(|_| unzip_error())?.into_owned();
        // `check` above refused links.
        let Some(rel) = entry_path(&name)? else { continue };
        let target = dest.join(&rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&target).map_err(io)?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        // create_new: a second entry of the same name cannot overwrite (or follow) anything.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            let executable = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
            options.mode(if executable { 0o755 } else { 0o644 });
        }
        let mut out = options.open(&target).map_err(io)?;
        let mut limited = (&mut entry).take(remaining + 1);
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = limited.read(&mut buf).map_err(|_| unzip_error())?;
            if n == 0 {
                break;
            }
            if n as u64 > remaining {
                return Err(too_big());
            }
            remaining -= n as u64;
            out.write_all(&buf[..n]).map_err(io)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escaping_paths() {
        for bad in ["../x.js", "a/../../x.js", "/etc/passwd", "a\\..\\..\\x", "C:/x", "a/.."] {
            assert!(entry_path(bad).is_err(), "{bad}");
        }
        assert_eq!(entry_path("a/./b.js").unwrap(), Some(PathBuf::from("a/b.js")));
        assert_eq!(entry_path("dir/").unwrap(), Some(PathBuf::from("dir")));
    }

    fn zip_with(build: impl FnOnce(&mut zip::ZipWriter<Cursor<Vec<u8>>>)) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        build(&mut w);
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn refuses_links_and_unpacks_files() {
        let opts = zip::write::SimpleFileOptions::default();
        let linked = zip_with(|w| {
            w.add_symlink("etc", "/etc", opts).unwrap();
        });
        assert!(check(&linked).is_err());
        let good = zip_with(|w| {
            w.start_file("a/b.js", opts).unwrap();
            w.write_all(b"ok").unwrap();
        });
        let dir = std::env::temp_dir().join(format!("cognate-pkg-{}", uuid::Uuid::new_v4().simple()));
        unpack(&good, &dir).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a/b.js")).unwrap(), "ok");
        assert!(unpack(&linked, &dir.join("x")).is_err());
        assert!(!dir.join("x").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
