//! Finding the NUL byte that ends a protocol string.
//!
//! Owns [`find_nul`], used both to read C strings (backend) and to refuse
//! a NUL inside one being written (frontend). Most such strings are short
//! (command tags, statement and portal names), where a plain scan beats
//! `memchr`'s set-up; longer ones go to `memchr`.

/// Up to this many bytes a plain scan is used.
const SHORT: usize = 32;

/// The position of the first NUL byte in `s`.
#[inline]
pub(crate) fn find_nul(s: &[u8]) -> Option<usize> {
    if s.len() <= SHORT {
        s.iter().position(|&b| b == 0)
    } else {
        memchr::memchr(0, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_nul_either_side_of_the_short_length() {
        for len in [0, 1, SHORT - 1, SHORT, SHORT + 1, 4 * SHORT] {
            let plain = vec![b'a'; len];
            assert_eq!(find_nul(&plain), None, "len {len}");
            for at in 0..len {
                let mut s = plain.clone();
                s[at] = 0;
                if at + 1 < len {
                    s[len - 1] = 0;
                }
                assert_eq!(find_nul(&s), Some(at), "len {len}, NUL at {at}");
            }
        }
    }
}
