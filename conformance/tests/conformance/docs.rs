//! The repository's references resolve inside it. (`docs/conformance.md`'s freshness is checked
//! by `cargo xtask ci`, which runs the whole suite once and compares its matrix with the page.)

/// Every contract section cited in the repository's code and docs (`B4`, `A6`, …) has its
/// heading in `docs/contract.md`, and every check id cited exists in the catalogue.
#[test]
fn every_contract_and_check_reference_resolves_in_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let contract = std::fs::read_to_string(root.join("docs/contract.md")).unwrap();
    let ids: Vec<&str> = concord_conformance::checks::CHECKS
        .iter()
        .map(|c| c.id)
        .collect();
    let families: std::collections::BTreeSet<&str> = concord_conformance::checks::CHECKS
        .iter()
        .map(|c| c.family)
        .collect();
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for dir in [
        "providers",
        "conformance",
        "harness",
        "cli",
        "xtask",
        "docs",
        "plugins",
        "dispatch",
        "registry",
        "models",
        "server",
        "settings",
    ] {
        collect(&root.join(dir), &mut files);
    }
    files.push(root.join("README.md"));
    files.push(root.join("ARCHITECTURE.md"));
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            let section = word.len() == 2
                && matches!(word.as_bytes()[0], b'A' | b'B')
                && word.as_bytes()[1].is_ascii_digit();
            if section && !contract.contains(&format!("### {word}. ")) {
                problems.push(format!("{}: section {word}", file.display()));
            }
            let family = word.split('-').next().unwrap_or_default();
            let check = families.contains(&family)
                && word.len() == family.len() + 4
                && word[family.len() + 1..].bytes().all(|b| b.is_ascii_digit());
            if check && !ids.contains(&word) {
                problems.push(format!("{}: check {word}", file.display()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "unresolved references:\n{}",
        problems.join("\n")
    );
}

fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if !path.ends_with("target") {
                collect(&path, out);
            }
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("rs" | "md" | "py")
        ) {
            out.push(path);
        }
    }
}
