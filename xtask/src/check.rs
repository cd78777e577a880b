//! Writing an output file, or checking that the committed one is up to date.

use std::path::Path;

use crate::Failure;

/// How many lines of diff `--check` prints before it stops.
const MAX_DIFF_LINES: usize = 200;

/// Writes `content` to `path` (only when it changed), or with `check` compares them and
/// fails with a unified diff and the command that brings the file up to date.
pub fn write_or_check(
    path: &Path,
    content: &str,
    check: bool,
    command: &str,
) -> Result<(), Failure> {
    let current = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Failure(format!("cannot read {}: {e}", path.display()))),
    };
    let shown = path.display();
    if check {
        return match current {
            Some(current) if current == content => {
                eprintln!("{shown} is up to date");
                Ok(())
            }
            Some(current) => {
                eprint!("{}", diff(&current, content, &shown.to_string()));
                Err(Failure(format!("{shown} is out of date; run `{command}`")))
            }
            None => Err(Failure(format!("{shown} does not exist; run `{command}`"))),
        };
    }
    if current.as_deref() == Some(content) {
        eprintln!("{shown} is up to date");
        return Ok(());
    }
    std::fs::write(path, content).map_err(|e| Failure(format!("cannot write {shown}: {e}")))?;
    eprintln!("wrote {shown}");
    Ok(())
}

/// A unified diff from the committed text to the expected one, cut after
/// [`MAX_DIFF_LINES`] lines.
pub fn diff(committed: &str, expected: &str, name: &str) -> String {
    let text = similar::TextDiff::from_lines(committed, expected)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{name} (committed)"),
            &format!("{name} (expected)"),
        )
        .to_string();
    let mut lines = text.lines();
    let mut out: Vec<&str> = lines.by_ref().take(MAX_DIFF_LINES).collect();
    let rest = lines.count();
    let mut joined = std::mem::take(&mut out).join("\n");
    joined.push('\n');
    if rest > 0 {
        joined.push_str(&format!("... {rest} more diff lines\n"));
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-check-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir.join("out.txt")
    }

    #[test]
    fn check_passes_on_identical_and_fails_with_diff_and_command() {
        let path = scratch("identical");
        std::fs::write(&path, "a\nb\n").expect("write");
        assert!(write_or_check(&path, "a\nb\n", true, "cargo xtask generate").is_ok());
        let Failure(msg) = write_or_check(&path, "a\nc\n", true, "cargo xtask generate")
            .expect_err("a change must fail the check");
        assert!(msg.contains("run `cargo xtask generate`"), "{msg}");
        // --check never writes.
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "a\nb\n");
    }

    #[test]
    fn check_fails_when_the_file_is_missing() {
        let path = scratch("missing");
        let _ = std::fs::remove_file(&path);
        let Failure(msg) =
            write_or_check(&path, "x", true, "cargo xtask spec").expect_err("missing");
        assert!(msg.contains("does not exist"), "{msg}");
        assert!(!path.exists());
    }

    #[test]
    fn write_creates_the_file() {
        let path = scratch("write");
        let _ = std::fs::remove_file(&path);
        write_or_check(&path, "new\n", false, "cmd").expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new\n");
    }

    #[test]
    fn diff_names_the_changed_line() {
        let d = diff("a\nb\n", "a\nc\n", "f");
        assert!(d.contains("-b") && d.contains("+c"), "{d}");
    }
}
