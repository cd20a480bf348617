//! What may name a provider: it appears in paths of the config file, in metrics labels, in
//! errors and in log lines, so it is kept to a plain token.

/// The longest name.
pub const MAX_LEN: usize = 64;

/// `Ok` when `name` can name a provider: 1 to 64 of `a-z 0-9 - _ .`, starting with a letter or
/// digit.
pub fn check(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > MAX_LEN {
        return Err("it is longer than 64 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
    {
        return Err("only lowercase letters, digits, `-`, `_` and `.` may be used");
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() {
        return Err("it must start with a letter or a digit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        for ok in ["openai", "azure-eu.2", "a", "x_y"] {
            assert!(super::check(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Open", "-x", "a b", "a/b", &"x".repeat(65)] {
            assert!(super::check(bad).is_err(), "{bad}");
        }
    }
}
