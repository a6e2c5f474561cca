//! Parse-don't-validate helpers shared by every API dialect.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum InvalidInput {
    #[error("email is invalid")]
    Email,
    #[error("password must be 8 to 256 characters with an upper-case letter, a lower-case letter, a digit and a special character, and no spaces")]
    Password,
    #[error("name must not be empty")]
    Name,
    #[error("phone is invalid")]
    Phone,
    #[error("username is invalid")]
    Username,
}

/// Lower-cased, trimmed email; rejects obviously malformed addresses.
pub fn normalize_email(raw: &str) -> Result<String, InvalidInput> {
    let email = raw.trim().to_lowercase();
    let Some((local, domain)) = email.split_once('@') else {
        return Err(InvalidInput::Email);
    };
    let valid = !local.is_empty()
        && local.len() <= 64
        && email.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(InvalidInput::Email)
    }
}

/// ELEVATE's default policy: at least 8 characters (we allow up to 256) with a
/// digit, a lower-case and an upper-case letter and a special character, no spaces.
pub fn check_password_policy(password: &str) -> Result<(), InvalidInput> {
    let len = password.chars().count();
    let ok = (8..=256).contains(&len)
        && password.chars().any(|c| c.is_ascii_digit())
        && password.chars().any(|c| c.is_lowercase())
        && password.chars().any(|c| c.is_uppercase())
        && password.chars().any(|c| !c.is_alphanumeric() && !c.is_whitespace())
        && !password.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(InvalidInput::Password)
    }
}

pub fn normalize_name(raw: &str) -> Result<String, InvalidInput> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 256 || name.chars().any(char::is_control) {
        return Err(InvalidInput::Name);
    }
    Ok(name.to_string())
}

/// Digits with an optional leading '+', separators removed.
pub fn normalize_phone(raw: &str) -> Result<String, InvalidInput> {
    let trimmed = raw.trim();
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", trimmed),
    };
    let digits: String = rest.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
    if (6..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(format!("{plus}{digits}"))
    } else {
        Err(InvalidInput::Phone)
    }
}

pub fn normalize_username(raw: &str) -> Result<String, InvalidInput> {
    let name = raw.trim().to_lowercase();
    let ok = (3..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(name)
    } else {
        Err(InvalidInput::Username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(normalize_email("  John.Doe@Example.COM ").unwrap(), "john.doe@example.com");
        for bad in ["", "no-at", "@x.com", "a@b", "a b@c.com", "a@.com", "a@c.com."] {
            assert_eq!(normalize_email(bad), Err(InvalidInput::Email), "{bad}");
        }
    }

    #[test]
    fn password_policy_matches_elevate_default() {
        assert!(check_password_policy("Str0ng!pass").is_ok());
        for bad in ["Sh0rt!", "alllower1!", "ALLUPPER1!", "NoDigits!!", "NoSpecial11", "Has space1!A"] {
            assert_eq!(check_password_policy(bad), Err(InvalidInput::Password), "{bad}");
        }
        let long = format!("Aa1!{}", "x".repeat(253));
        assert_eq!(check_password_policy(&long), Err(InvalidInput::Password));
        let max = format!("Aa1!{}", "x".repeat(252));
        assert!(check_password_policy(&max).is_ok());
    }

    #[test]
    fn phones_and_usernames_normalise() {
        assert_eq!(normalize_phone("+91 98765-43210").unwrap(), "+919876543210");
        assert!(normalize_phone("12ab").is_err());
        assert_eq!(normalize_username("John_Doe").unwrap(), "john_doe");
        assert!(normalize_username("a b").is_err());
    }
}
