//! The command line: `stepup-desktop [--background] [--sandbox] [--sandbox-user=mfa|reauth]
//! [--sandbox-disable=METHOD]... [--no-loopback-redirect] [LINK]`.
//!
//! Deep links arrive as arguments on Linux and Windows (the launcher runs the app with the
//! URL; a second instance forwards its argv to the first). Every argument that is not a flag
//! is treated as a link candidate and validated later, so a stray argument shows the
//! invalid-link view rather than being silently ignored.

/// Which sandbox user to sign in as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SandboxPersona {
    /// The demo user with an authenticator app (MFA: TOTP and recovery codes).
    #[default]
    Mfa,
    /// A user without MFA, who re-authenticates with an email or SMS code.
    Reauth,
}

/// What the app was started with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchOptions {
    /// `--sandbox`: embed the local sandbox and sign its demo user in.
    pub sandbox: bool,
    /// `--sandbox-user=`: who the sandbox signs in.
    pub sandbox_persona: SandboxPersona,
    /// `--sandbox-disable=METHOD` (repeatable): the embedded sandbox's environment turns the
    /// method off (`totp`, `passkey`, `recovery-codes`, `email`, `sms`, `wallet`, `google`,
    /// `github`; another name fails the sandbox's start).
    pub sandbox_disabled: Vec<String>,
    /// `--background`: start resident without a window (as after the window was closed); a
    /// link, the tray's Open or a launch from the app menu opens it. Ignored with a link.
    pub background: bool,
    /// `--no-loopback-redirect`: a social sign-in comes back on the app's scheme, as where no
    /// loopback port can be opened (as `STEPUP_LOOPBACK_REDIRECT=off`; for tests and for
    /// machines whose policy forbids listening sockets).
    pub no_loopback_redirect: bool,
    /// Arguments that are not flags: deep-link candidates, in order.
    pub links: Vec<String>,
    /// Flags this build does not know (reported, never fatal).
    pub unknown_flags: Vec<String>,
}

impl LaunchOptions {
    /// Parses the arguments after the program name.
    pub fn parse<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut options = Self::default();
        for arg in args.into_iter().map(Into::into) {
            match arg.as_str() {
                "--sandbox" => options.sandbox = true,
                "--background" => options.background = true,
                "--no-loopback-redirect" => options.no_loopback_redirect = true,
                "--sandbox-user=mfa" => options.sandbox_persona = SandboxPersona::Mfa,
                "--sandbox-user=reauth" => options.sandbox_persona = SandboxPersona::Reauth,
                flag if flag.starts_with("--sandbox-disable=") => options
                    .sandbox_disabled
                    .push(flag["--sandbox-disable=".len()..].to_owned()),
                flag if flag.starts_with("--") => options.unknown_flags.push(arg),
                _ => options.links.push(arg),
            }
        }
        options
    }

    /// The options of this process.
    pub fn from_env() -> Self {
        Self::parse(std::env::args().skip(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_links_are_told_apart() {
        let o = LaunchOptions::parse([
            "--sandbox",
            "com.stepup.desktop://step-up?scope=wallet:export&requester=A",
            "--sandbox-user=reauth",
            "--what",
            "--background",
            "--no-loopback-redirect",
            "--sandbox-disable=totp",
            "--sandbox-disable=recovery-codes",
        ]);
        assert_eq!(o.sandbox_disabled, vec!["totp", "recovery-codes"]);
        assert!(o.sandbox);
        assert!(o.background);
        assert!(o.no_loopback_redirect);
        assert_eq!(o.sandbox_persona, SandboxPersona::Reauth);
        assert_eq!(
            o.links,
            vec!["com.stepup.desktop://step-up?scope=wallet:export&requester=A"]
        );
        assert_eq!(o.unknown_flags, vec!["--what"]);
    }

    #[test]
    fn no_arguments_is_a_plain_start() {
        assert_eq!(
            LaunchOptions::parse(Vec::<String>::new()),
            LaunchOptions::default()
        );
    }
}
