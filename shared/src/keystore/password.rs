//! EIP-2335 password processing: NFKD normalisation, then removal of the C0, C1 and
//! Delete control code points, then UTF-8 encoding.
//!
//! Normalising means a password typed on another keyboard or OS (composed vs decomposed
//! accents, full-width or styled letters) opens the same keystore; stripping control
//! codes means a stray terminal newline or backspace does not lock the user out.

use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

/// The bytes fed to the KDF for `password`.
pub(crate) fn eip2335_password_bytes(password: &str) -> Zeroizing<Vec<u8>> {
    let kept = || password.nfkd().filter(|c| !is_control(*c));
    // Size the buffer exactly first: a growing Vec would reallocate and leave unzeroised
    // copies of the password behind in freed memory.
    let len: usize = kept().map(char::len_utf8).sum();
    let mut bytes = Zeroizing::new(Vec::with_capacity(len));
    let mut utf8 = [0u8; 4];
    for c in kept() {
        bytes.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
    }
    utf8.fill(0);
    bytes
}

/// C0 (U+0000..=U+001F), Delete (U+007F) and C1 (U+0080..=U+009F). Space stays.
fn is_control(c: char) -> bool {
    matches!(c, '\u{00}'..='\u{1F}' | '\u{7F}'..='\u{9F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip2335_vector_password_encodes_as_specified() {
        // Password and its encoding from the EIP-2335 (ERC-2335) "Test Cases" section.
        let bytes = eip2335_password_bytes("𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑");
        assert_eq!(hex::encode(&*bytes), "7465737470617373776f7264f09f9491");
    }

    #[test]
    fn control_codes_are_stripped_and_space_kept() {
        let noisy = "\u{0}pass\u{1F} wo\u{7F}rd\u{80}\u{9F}\n\r\t";
        assert_eq!(&*eip2335_password_bytes(noisy), b"pass word");
        // Code points just outside the ranges survive.
        assert_eq!(
            &*eip2335_password_bytes("\u{20}\u{7E}\u{A0}"),
            // NFKD turns the no-break space U+00A0 into a plain space.
            b" ~ "
        );
    }

    #[test]
    fn nfkd_makes_equivalent_spellings_equal() {
        // Precomposed é vs e + combining acute; the "fi" ligature vs two letters.
        assert_eq!(eip2335_password_bytes("caf\u{E9} \u{FB01}"), eip2335_password_bytes("cafe\u{301} fi"));
    }

    #[test]
    fn buffer_is_sized_exactly() {
        // U+FDFA expands to 18 code points under NFKD, the worst case in Unicode.
        let bytes = eip2335_password_bytes("\u{FDFA}x\u{1}");
        assert_eq!(bytes.len(), bytes.capacity());
    }
}
