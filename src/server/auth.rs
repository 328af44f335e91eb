//! Who may join (§8.9): the tokens a server admits, kept only as SHA-256 digests, and what it does
//! with legacy connections, which cannot authenticate.
//!
//! A token file holds one digest a line, as 64 hex digits (what `framechat hash-token` prints),
//! with blank lines and `#` comments ignored:
//!
//! ```text
//! # alice's laptop
//! 2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b
//! ```
//!
//! The server hashes the token of each AUTH it receives and compares the digest with every
//! admitted one, in time that depends on neither where they differ nor which one matches: an
//! attacker timing refusals learns nothing about the digests. Nothing here logs, formats or keeps
//! a token; a [`TokenFileError`] names a line by its number, never by its content (an operator who
//! pasted a clear token by mistake must not find it in a log).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::AuthScheme;

/// A SHA-256 digest.
type Sha256Digest = [u8; 32];

/// The tokens a server admits, as their SHA-256 digests. Cheap to clone (shared).
///
/// ```
/// use framechat::server::TokenSet;
/// use framechat::AuthScheme;
///
/// let line = TokenSet::line_for(b"correct horse");
/// let tokens = TokenSet::parse(&format!("# one token\n{line}\n"))?;
/// assert_eq!(tokens.len(), 1);
/// assert!(tokens.admits(AuthScheme::BEARER, "correct horse"));
/// assert!(!tokens.admits(AuthScheme::BEARER, "wrong horse"));
/// assert!(!tokens.admits(AuthScheme(2), "correct horse")); // a scheme it does not know
/// # Ok::<(), framechat::server::TokenFileError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TokenSet {
    digests: Arc<[Sha256Digest]>,
}

impl TokenSet {
    /// Reads a token file: one hex SHA-256 digest a line, blank lines and `#` comments ignored.
    pub fn parse(text: &str) -> Result<TokenSet, TokenFileError> {
        let mut digests = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let digest = parse_hex_digest(line).ok_or(TokenFileError::NotADigest {
                path: None,
                line: index + 1,
            })?;
            digests.push(digest);
        }
        Ok(TokenSet {
            digests: digests.into(),
        })
    }

    /// Reads the token file at `path`; see [`parse`](TokenSet::parse).
    pub fn load(path: &Path) -> Result<TokenSet, TokenFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
            path: path.to_path_buf(),
            source: Arc::new(source),
        })?;
        TokenSet::parse(&text).map_err(|err| match err {
            TokenFileError::NotADigest { line, .. } => TokenFileError::NotADigest {
                path: Some(path.to_path_buf()),
                line,
            },
            other => other,
        })
    }

    /// The line a token file stores for `token`: its SHA-256 digest in lowercase hex.
    pub fn line_for(token: &[u8]) -> String {
        Sha256::digest(token)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// How many tokens are admitted.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Whether no token is admitted (every AUTH is then refused).
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether an AUTH with `scheme` and `token` is admitted: BEARER, and a token whose digest is
    /// in the set. Every digest is compared, each in full, whatever matches (no early exit).
    pub fn admits(&self, scheme: AuthScheme, token: &str) -> bool {
        let offered: Sha256Digest = Sha256::digest(token.as_bytes()).into();
        let mut matches = 0u8;
        for admitted in self.digests.iter() {
            let difference = admitted
                .iter()
                .zip(offered.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            matches |= u8::from(difference == 0);
        }
        scheme == AuthScheme::BEARER && matches == 1
    }
}

impl fmt::Debug for TokenSet {
    /// Counts the tokens; the digests are no one's business, even in a debug dump.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("tokens", &self.digests.len())
            .finish()
    }
}

/// 64 hex digits (either case) as 32 bytes.
fn parse_hex_digest(hex: &str) -> Option<Sha256Digest> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *byte = u8::try_from(high * 16 + low).ok()?;
    }
    Some(digest)
}

/// A token file that cannot be read. It names a bad line by its number only.
///
/// ```
/// use framechat::server::{TokenFileError, TokenSet};
/// let err = TokenSet::parse("# ok\nmy-clear-secret\n").unwrap_err();
/// assert_eq!(err, TokenFileError::NotADigest { path: None, line: 2 });
/// assert!(!err.to_string().contains("my-clear-secret"));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TokenFileError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Arc<std::io::Error>,
    },
    /// A line that is neither blank, a `#` comment nor 64 hex digits.
    NotADigest {
        /// The file, when it was read from one.
        path: Option<PathBuf>,
        /// The line's number, from 1.
        line: usize,
    },
}

impl PartialEq for TokenFileError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                TokenFileError::Read { path, source },
                TokenFileError::Read {
                    path: other_path,
                    source: other_source,
                },
            ) => path == other_path && source.kind() == other_source.kind(),
            (
                TokenFileError::NotADigest { path, line },
                TokenFileError::NotADigest {
                    path: other_path,
                    line: other_line,
                },
            ) => path == other_path && line == other_line,
            _ => false,
        }
    }
}

impl fmt::Display for TokenFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenFileError::Read { path, source } => {
                write!(f, "cannot read the token file {}: {source}", path.display())
            }
            TokenFileError::NotADigest { path, line } => {
                if let Some(path) = path {
                    write!(f, "{}: ", path.display())?;
                }
                write!(
                    f,
                    "line {line} is not a SHA-256 digest (64 hex digits); \
                     store `framechat hash-token`'s output, never a token"
                )
            }
        }
    }
}

impl std::error::Error for TokenFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TokenFileError::Read { source, .. } => Some(source.as_ref()),
            TokenFileError::NotADigest { .. } => None,
        }
    }
}

/// What a server requiring authentication does with a legacy connection (FC-36).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LegacyPolicy {
    /// Close it without a frame, never joining the room, and count it. The default.
    #[default]
    Refuse,
    /// Let it join unauthenticated. A hole: anyone who reaches the port reads every message.
    /// Only for a listener that trusted hosts alone can reach.
    Allow,
}

/// Authentication (§8.9): which tokens are admitted, how long a typed connection has to present
/// one, and the legacy policy.
///
/// ```
/// use std::time::Duration;
/// use framechat::server::{AuthConfig, LegacyPolicy, ServerConfig, TokenSet};
///
/// let tokens = TokenSet::parse(&TokenSet::line_for(b"s3cret"))?;
/// let config = ServerConfig { auth: Some(AuthConfig::new(tokens)), ..ServerConfig::default() };
/// let auth = config.auth.as_ref().expect("set above");
/// assert_eq!(auth.deadline, Duration::from_secs(10));
/// assert_eq!(auth.legacy, LegacyPolicy::Refuse);
/// config.validate()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    /// The admitted tokens.
    pub tokens: TokenSet,
    /// A typed connection's AUTH must be complete this long after its accept (FC-35). Default 10 s.
    pub deadline: Duration,
    /// What legacy connections get (FC-36). Default [`LegacyPolicy::Refuse`].
    pub legacy: LegacyPolicy,
}

impl AuthConfig {
    /// Requires one of `tokens`, with the default deadline and legacy policy.
    pub fn new(tokens: TokenSet) -> AuthConfig {
        AuthConfig {
            tokens,
            deadline: Duration::from_secs(10),
            legacy: LegacyPolicy::Refuse,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_line_is_the_lowercase_hex_sha256_of_the_token() {
        // FIPS 180-2's test vector for "abc".
        assert_eq!(
            TokenSet::line_for(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn uppercase_digests_comments_and_blank_lines_are_read() {
        let text = format!(
            "\n# a comment\n  {}  \n\n{}\n",
            TokenSet::line_for(b"one").to_uppercase(),
            TokenSet::line_for(b"two")
        );
        let tokens = TokenSet::parse(&text).expect("a valid file");
        assert_eq!(tokens.len(), 2);
        assert!(tokens.admits(AuthScheme::BEARER, "one"));
        assert!(tokens.admits(AuthScheme::BEARER, "two"));
        assert!(!tokens.admits(AuthScheme::BEARER, "three"));
    }

    #[test]
    fn a_line_that_is_not_a_digest_is_named_by_number_only() {
        let short = &TokenSet::line_for(b"x")[..63];
        let not_hex = format!("{}g", &TokenSet::line_for(b"x")[..63]);
        for bad in ["hunter2", short, &not_hex] {
            let err = TokenSet::parse(&format!("# header\n{bad}\n")).expect_err(bad);
            assert_eq!(
                err,
                TokenFileError::NotADigest {
                    path: None,
                    line: 2
                }
            );
            assert!(!err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn an_empty_set_admits_nothing_and_a_missing_file_says_which() {
        assert!(!TokenSet::default().admits(AuthScheme::BEARER, ""));
        let err = TokenSet::load(Path::new("/nonexistent/framechat-tokens")).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/framechat-tokens"));
    }

    #[test]
    fn the_debug_form_shows_no_digest() {
        let line = TokenSet::line_for(b"secret");
        let tokens = TokenSet::parse(&line).expect("valid");
        let debug = format!("{:?}", AuthConfig::new(tokens));
        assert!(!debug.contains(&line[..16]), "{debug}");
        assert!(debug.contains("tokens: 1"), "{debug}");
    }
}
