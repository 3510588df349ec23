//! The one error type of the portal: what the server functions answer when something fails, and
//! what the pages show. Plain data (it crosses to the browser as JSON), so no engine types; the
//! server maps the engine's errors into it once (`src/server/backend.rs`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of failure a [`PortalError`] is: the engine's kinds, plus [`Unreachable`] for a
/// browser that could not reach the server.
///
/// [`Unreachable`]: PortalErrorKind::Unreachable
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortalErrorKind {
    /// The request is wrong; asking again unchanged fails again.
    InvalidInput,
    /// The thing asked for does not exist (or is outside what the caller may see).
    NotFound,
    /// It would overwrite or race with something that exists.
    Conflict,
    /// Something must change first (an existing target collection, a damaged backup...).
    FailedPrecondition,
    /// Milvus or a storage is down or slow; asking again later may work.
    Unavailable,
    /// No or bad credentials: sign in.
    Unauthenticated,
    /// Signed in, but the role or databases do not allow this.
    Forbidden,
    /// Slow down.
    TooManyRequests,
    /// The request is larger than allowed.
    TooLarge,
    /// Anything else: the server failed.
    Internal,
    /// The browser could not reach the server, or what came back was not the server's answer.
    Unreachable,
}

impl PortalErrorKind {
    /// Every kind, in declaration order (for tests and style guides).
    pub const ALL: [PortalErrorKind; 11] = [
        PortalErrorKind::InvalidInput,
        PortalErrorKind::NotFound,
        PortalErrorKind::Conflict,
        PortalErrorKind::FailedPrecondition,
        PortalErrorKind::Unavailable,
        PortalErrorKind::Unauthenticated,
        PortalErrorKind::Forbidden,
        PortalErrorKind::TooManyRequests,
        PortalErrorKind::TooLarge,
        PortalErrorKind::Internal,
        PortalErrorKind::Unreachable,
    ];

    /// The kind's name in JSON and in CSS classes: `not_found`, `invalid_input`...
    pub fn as_str(self) -> &'static str {
        match self {
            PortalErrorKind::InvalidInput => "invalid_input",
            PortalErrorKind::NotFound => "not_found",
            PortalErrorKind::Conflict => "conflict",
            PortalErrorKind::FailedPrecondition => "failed_precondition",
            PortalErrorKind::Unavailable => "unavailable",
            PortalErrorKind::Unauthenticated => "unauthenticated",
            PortalErrorKind::Forbidden => "forbidden",
            PortalErrorKind::TooManyRequests => "too_many_requests",
            PortalErrorKind::TooLarge => "too_large",
            PortalErrorKind::Internal => "internal",
            PortalErrorKind::Unreachable => "unreachable",
        }
    }

    /// The CSS class of the notice for this kind: `kind-not-found`, `kind-invalid-input`...
    pub fn css_class(self) -> String {
        format!("kind-{}", self.as_str().replace('_', "-"))
    }

    /// The notice's heading for this kind, in a few words.
    pub fn heading(self) -> &'static str {
        match self {
            PortalErrorKind::InvalidInput => "Check your input",
            PortalErrorKind::NotFound => "Not found",
            PortalErrorKind::Conflict => "Conflict",
            PortalErrorKind::FailedPrecondition => "Cannot do this yet",
            PortalErrorKind::Unavailable => "Milvus or storage unavailable",
            PortalErrorKind::Unauthenticated => "Sign in",
            PortalErrorKind::Forbidden => "Not allowed",
            PortalErrorKind::TooManyRequests => "Too many attempts",
            PortalErrorKind::TooLarge => "Too large",
            PortalErrorKind::Internal => "Something went wrong",
            PortalErrorKind::Unreachable => "Server unreachable",
        }
    }

    /// What to do about an error of this kind, for messages that do not say it: the engine's
    /// messages of failed preconditions and of sizes always do (others often name the CLI, so
    /// the hint names the page to use).
    pub fn hint(self) -> Option<&'static str> {
        Some(match self {
            PortalErrorKind::InvalidInput => "Change what you entered and try again.",
            PortalErrorKind::NotFound => {
                "It may have been deleted, or be in a database you may not see. The Backups, Jobs and Policies pages list what there is."
            }
            PortalErrorKind::Conflict => {
                "Something else has this name or is using it now: choose another name, or wait for it to finish and try again."
            }
            PortalErrorKind::Unavailable => {
                "The Cluster page shows what does not answer. Try again once Milvus and the storage are up."
            }
            PortalErrorKind::Unauthenticated => "Sign in (again) at /login, then retry.",
            PortalErrorKind::Forbidden => {
                "Your role or databases do not allow this; ask an admin to change them."
            }
            PortalErrorKind::TooManyRequests => "Wait a little and try again.",
            PortalErrorKind::Internal => {
                "Try again; if it keeps failing, the server's log says more."
            }
            PortalErrorKind::Unreachable => {
                "Check that milvault is running and that this computer can reach it, then reload the page."
            }
            PortalErrorKind::FailedPrecondition | PortalErrorKind::TooLarge => return None,
        })
    }
}

/// A failure as the portal shows it: its kind, a stable code (`backup_not_found`, the same codes
/// as the REST API's), a message that says what went wrong, and what to do when the message
/// does not say it already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalError {
    pub kind: PortalErrorKind,
    /// Stable and machine-readable: `backup_not_found`, `invalid_request`, `unreachable`...
    pub code: String,
    /// For people: what went wrong.
    pub message: String,
    /// For people: what to do about it.
    #[serde(default)]
    pub hint: Option<String>,
}

impl PortalError {
    /// An error of `kind` with `code` and `message`, and no hint.
    pub fn new(kind: PortalErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        PortalError {
            kind,
            code: code.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// An error of `kind` with `code` and `message`, and the kind's [`hint`](PortalErrorKind::hint).
    pub fn of_kind(
        kind: PortalErrorKind,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        PortalError {
            hint: kind.hint().map(String::from),
            ..PortalError::new(kind, code, message)
        }
    }

    /// The same error with `hint` as what to do.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A request the portal itself refuses before the engine sees it (a form left empty).
    pub fn invalid_input(message: impl Into<String>) -> Self {
        PortalError::of_kind(PortalErrorKind::InvalidInput, "invalid_request", message)
    }

    /// The browser could not reach the server, or the answer was not the server's.
    pub fn unreachable(detail: impl fmt::Display) -> Self {
        PortalError::of_kind(
            PortalErrorKind::Unreachable,
            "unreachable",
            format!("The server could not be reached ({detail})."),
        )
    }

    /// The message and, when there is one, the hint: the error as one line of text.
    pub fn text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for PortalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PortalError {}

/// Server functions answer `Result<T, PortalError>`: the error crosses to the browser as JSON,
/// whole, and the framework's own failures (the request never arrived, the answer was not
/// readable) become errors of this type too.
impl leptos::server_fn::error::FromServerFnError for PortalError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            // the browser's request failed, or what came back was not a server function's answer
            // (a proxy's error page, a server of another version)
            E::Request(m) | E::Deserialization(m) | E::UnsupportedRequestMethod(m) => {
                PortalError::unreachable(m)
            }
            // the request arrived, but not as this server function takes it
            E::Args(m) | E::MissingArg(m) => PortalError::new(
                PortalErrorKind::InvalidInput,
                "invalid_arguments",
                format!("The server could not read the request: {m}."),
            )
            .with_hint("Reload the page: it may be older than the server."),
            other => {
                PortalError::of_kind(PortalErrorKind::Internal, "server_error", other.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};

    #[test]
    fn kinds_have_distinct_classes_and_headings() {
        let mut classes: Vec<String> = PortalErrorKind::ALL.iter().map(|k| k.css_class()).collect();
        classes.sort();
        classes.dedup();
        assert_eq!(classes.len(), PortalErrorKind::ALL.len());
        assert_eq!(PortalErrorKind::NotFound.css_class(), "kind-not-found");
        assert_eq!(PortalErrorKind::Unreachable.heading(), "Server unreachable");
    }

    #[test]
    fn the_kind_names_its_json() {
        for k in PortalErrorKind::ALL {
            let json = serde_json::to_string(&k).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
    }

    #[test]
    fn crosses_as_json_intact() {
        let e = PortalError::new(PortalErrorKind::NotFound, "backup_not_found", "no b1")
            .with_hint("go back");
        let back = PortalError::de(e.ser());
        assert_eq!(back, e);
        assert_eq!(e.to_string(), "no b1 go back");
    }

    #[test]
    fn transport_failures_are_unreachable() {
        let e = PortalError::from_server_fn_error(ServerFnErrorErr::Request("refused".into()));
        assert_eq!(e.kind, PortalErrorKind::Unreachable);
        assert!(e.message.contains("refused"), "{e}");
        assert!(e.hint.is_some());
        let garbled = PortalError::de("<html>502 Bad Gateway</html>".into());
        assert_eq!(garbled.kind, PortalErrorKind::Unreachable);
        let args = PortalError::from_server_fn_error(ServerFnErrorErr::Args("x".into()));
        assert_eq!(args.kind, PortalErrorKind::InvalidInput);
    }
}
