//! The name rules of PROTOCOL.md section 2, and the case-folded keys that make names unique.

use icu_properties::props::{BinaryProperty as _, DefaultIgnorableCodePoint};

/// Longest user name and longest room name after the `#`, in characters.
pub const MAX_NAME: usize = 32;

/// Whether `name` is a valid user name: 1 to 32 characters, no whitespace or control
/// characters, not starting with `#` or `/`.
///
/// Our choice beyond the contract: no invisible characters either (Unicode's
/// Default_Ignorable_Code_Point: zero-width spaces and joiners, direction overrides, variation
/// selectors, fillers), or `ali\u{200B}ce` would be a second user who looks like `alice`.
pub fn valid_user(name: &str) -> bool {
    let count = name.chars().count();
    (1..=MAX_NAME).contains(&count)
        && !name.starts_with(['#', '/'])
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || DefaultIgnorableCodePoint::for_char(c))
}

/// Whether `room` is a valid room name: `#` then 1 to 32 ASCII letters, digits, `-`, `_`, `.`.
pub fn valid_room(room: &str) -> bool {
    room.strip_prefix('#').is_some_and(|rest| {
        (1..=MAX_NAME).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    })
}

/// The key under which a user name is unique: `Alice` and `alice` are the same user.
pub fn user_key(name: &str) -> String {
    name.to_lowercase()
}

/// The key under which a room name is unique (room names are ASCII).
pub fn room_key(room: &str) -> String {
    room.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        assert!(valid_user("alice"));
        assert!(valid_user("b@d-ñame"));
        assert!(valid_user(&"x".repeat(32)));
        assert!(!valid_user(&"x".repeat(33)));
        assert!(!valid_user(""));
        assert!(!valid_user("#a"));
        assert!(!valid_user("/a"));
        assert!(!valid_user("a b"));
        assert!(!valid_user("a\tb"));
        assert!(!valid_user("a\u{85}"));
        // Invisible: zero-width space, zero-width joiner, right-to-left override, soft hyphen,
        // Hangul filler, a variation selector, a tag.
        for c in [
            '\u{200B}',
            '\u{200D}',
            '\u{202E}',
            '\u{AD}',
            '\u{3164}',
            '\u{FE0F}',
            '\u{E0041}',
        ] {
            assert!(!valid_user(&format!("ali{c}ce")), "{:?}", c);
        }
        assert!(
            valid_user("zoë-日本-😀"),
            "visible letters and symbols of any script"
        );
        assert_eq!(user_key("ÁLICE"), user_key("álice"));
    }

    #[test]
    fn room_names() {
        assert!(valid_room("#rust"));
        assert!(valid_room("#Go-1.x_y"));
        assert!(valid_room(&format!("#{}", "a".repeat(32))));
        assert!(!valid_room(&format!("#{}", "a".repeat(33))));
        assert!(!valid_room("#"));
        assert!(!valid_room("rust"));
        assert!(!valid_room("#ru$t"));
        assert!(!valid_room("#rüst"));
        assert_eq!(room_key("#Rust"), "#rust");
    }
}
