//! The one rule for admin passwords, shared by the account service and the
//! configuration check of `admin.bootstrap_password`.

/// Fewer characters than this are refused.
pub const MIN_LEN: usize = 12;

/// A password long enough to keep; otherwise the sentence to show.
pub fn check(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_LEN {
        return Err(format!("must have at least {MIN_LEN} characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_needs_twelve_characters_counted_as_characters_not_bytes() {
        assert!(check("elevenchars").is_err());
        assert!(check("twelve chars").is_ok());
        // Eleven characters, 22 bytes.
        assert!(check("ééééééééééé").is_err());
    }
}
