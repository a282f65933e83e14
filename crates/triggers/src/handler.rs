//! Lambda handler strings (`path/to/file.export`) and interpreter availability.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Which file extensions a handler string may resolve to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandlerKind {
    /// `.js`, `.mjs`, `.cjs`; the export part may be dotted (`file.obj.fn`) as in Lambda.
    Node,
    /// `.py`; dots in the module part name packages (`pkg.mod.fn` → `pkg/mod.py`), as in Lambda.
    Python,
}

/// Turns a Lambda handler string into (absolute-or-base-relative file, export name).
pub fn parse_handler(handler: &str, base_dir: &Path, kind: HandlerKind) -> Result<(PathBuf, String), String> {
    let handler = handler.trim();
    let (dir, last) = match handler.rfind('/') {
        Some(i) => (&handler[..=i], &handler[i + 1..]),
        None => ("", handler),
    };
    let (module, export) = match kind {
        HandlerKind::Node => last.split_once('.'),
        HandlerKind::Python => last.rsplit_once('.'),
    }
    .ok_or_else(|| format!("handler `{handler}` is not of the form file.export"))?;
    if module.is_empty() || export.is_empty() || export.split('.').any(str::is_empty) {
        return Err(format!("handler `{handler}` is not of the form file.export"));
    }
    let (module_path, extensions): (String, &[&str]) = match kind {
        HandlerKind::Node => (format!("{dir}{module}"), &[".js", ".mjs", ".cjs"]),
        HandlerKind::Python => (format!("{dir}{}", module.replace('.', "/")), &[".py"]),
    };
    for ext in extensions {
        let candidate = base_dir.join(format!("{module_path}{ext}"));
        if candidate.is_file() {
            return Ok((candidate, export.to_string()));
        }
    }
    Err(format!(
        "handler `{handler}`: no {} under {}",
        extensions.iter().map(|e| format!("{module_path}{e}")).collect::<Vec<_>>().join(", "),
        base_dir.display()
    ))
}

/// Whether `bin --version` runs and succeeds (for `node` / `python3`).
pub fn runtime_available(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_node_and_python_handlers() {
        let dir = std::env::temp_dir().join(format!("cognate-handler-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("src/pkg")).unwrap();
        std::fs::write(dir.join("index.mjs"), "").unwrap();
        std::fs::write(dir.join("src/app.js"), "").unwrap();
        std::fs::write(dir.join("src/pkg/mod.py"), "").unwrap();

        assert_eq!(
            parse_handler("index.handler", &dir, HandlerKind::Node).unwrap(),
            (dir.join("index.mjs"), "handler".into())
        );
        assert_eq!(
            parse_handler("src/app.a.b", &dir, HandlerKind::Node).unwrap(),
            (dir.join("src/app.js"), "a.b".into())
        );
        assert_eq!(
            parse_handler("src/pkg.mod.handler", &dir, HandlerKind::Python).unwrap(),
            (dir.join("src/pkg/mod.py"), "handler".into())
        );
        assert!(parse_handler("index.handler", &dir, HandlerKind::Python).is_err());
        assert!(parse_handler("index", &dir, HandlerKind::Node).is_err());
        assert!(parse_handler("index.", &dir, HandlerKind::Node).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_binaries_are_not_available() {
        assert!(!runtime_available("cognate-no-such-binary"));
    }
}
