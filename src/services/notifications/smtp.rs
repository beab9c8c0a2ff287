//! The SMTP side of notifications: lettre's async client (tokio, rustls)
//! built from `[smtp]`, and the sender address.
//!
//! Owns: turning settings into a transport (also what `Settings::validate`
//! checks, so a bad `[smtp]` stops the start instead of the first email).
//! Must not: log or show the password (it goes straight into lettre's
//! `Credentials`), retry (the worker releases its claim instead), or know
//! what an email says (`email`).

use std::net::IpAddr;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{SmtpSettings, SmtpTls};

/// How long connecting, and then each SMTP command, may take: a mail
/// server that hangs holds one notification this long, not for ever.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// A ready SMTP transport and the address mail comes from.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Why `[smtp]` cannot be used; `key` names the setting.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error(
        "must be an email address like flowhq@example.com or \"Flow HQ <flowhq@example.com>\", \
         got {0:?}"
    )]
    From(String),
    #[error("must be a host name or an IP address (without scheme or port), got {0:?}")]
    Host(String),
    #[error("cannot be used for a TLS connection: {0}")]
    TlsHost(#[source] lettre::transport::smtp::Error),
}

impl MailerError {
    /// The `[smtp]` key at fault, for the configuration error line.
    pub fn key(&self) -> &'static str {
        match self {
            Self::From(_) => "smtp.from",
            Self::Host(_) | Self::TlsHost(_) => "smtp.host",
        }
    }
}

impl Mailer {
    /// The transport `[smtp]` describes; `None` while `host` is empty (email
    /// off). `hello` is the name we give in EHLO: the public URL's host when
    /// there is one (lettre says `[127.0.0.1]` otherwise). Connects to
    /// nothing: the first connection is made by the first email.
    pub fn from_settings(
        settings: &SmtpSettings,
        hello: Option<&str>,
    ) -> Result<Option<Self>, MailerError> {
        if !settings.is_configured() {
            return Ok(None);
        }
        let host = settings.host.trim();
        if host.parse::<IpAddr>().is_err() && url::Host::parse(host).is_err() {
            return Err(MailerError::Host(host.to_owned()));
        }
        let from = settings.from.trim();
        let from: Mailbox = from
            .parse()
            .map_err(|_| MailerError::From(from.to_owned()))?;
        let builder = match settings.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(MailerError::TlsHost)?,
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(MailerError::TlsHost)?
            }
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        let mut builder = builder.port(settings.port).timeout(Some(SMTP_TIMEOUT));
        if let Some(name) = hello {
            builder = builder.hello_name(ClientId::Domain(name.to_owned()));
        }
        if let Some((username, password)) = credentials(settings) {
            builder = builder.credentials(Credentials::new(
                username.to_owned(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Some(Self {
            transport: builder.build(),
            from,
        }))
    }

    /// Who the mail is from (`smtp.from`).
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// One SMTP conversation: connect, authenticate, hand over, quit.
    pub async fn send(&self, message: Message) -> Result<(), lettre::transport::smtp::Error> {
        self.transport.send(message).await.map(drop)
    }
}

/// The sign-in, when both halves are set (an empty username counts as unset).
pub(crate) fn credentials(settings: &SmtpSettings) -> Option<(&str, &secrecy::SecretString)> {
    let username = settings.username.as_deref().map(str::trim)?;
    if username.is_empty() {
        return None;
    }
    settings
        .password
        .as_ref()
        .map(|password| (username, password))
}

/// Whether the SMTP host is this machine, where `tls = "none"` is fine.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim();
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(host: &str, from: &str, tls: SmtpTls) -> SmtpSettings {
        SmtpSettings {
            host: host.to_owned(),
            port: 587,
            tls,
            username: None,
            password: None,
            from: from.to_owned(),
            notify_interval: Duration::from_secs(900),
        }
    }

    #[test]
    fn an_empty_host_means_email_is_off() {
        let mailer = Mailer::from_settings(&settings("  ", "", SmtpTls::Starttls), None).unwrap();
        assert!(mailer.is_none());
    }

    #[test]
    fn the_sender_may_be_a_bare_address_or_carry_a_name() {
        for from in ["flowhq@example.com", "Flow HQ <flowhq@example.com>"] {
            let mailer =
                Mailer::from_settings(&settings("smtp.example.com", from, SmtpTls::Tls), None)
                    .unwrap()
                    .unwrap();
            assert_eq!(mailer.from().email.to_string(), "flowhq@example.com");
        }
    }

    #[test]
    fn a_sender_that_is_not_an_address_names_smtp_from() {
        let err = Mailer::from_settings(
            &settings("smtp.example.com", "flowhq", SmtpTls::Starttls),
            None,
        )
        .err()
        .unwrap();
        assert_eq!(err.key(), "smtp.from");
    }

    #[test]
    fn a_host_with_a_scheme_or_port_names_smtp_host() {
        for host in [
            "smtp://smtp.example.com",
            "smtp.example.com:587",
            "smtp example",
        ] {
            for tls in [SmtpTls::Starttls, SmtpTls::Tls, SmtpTls::None] {
                let err = Mailer::from_settings(&settings(host, "a@example.com", tls), None)
                    .err()
                    .unwrap_or_else(|| panic!("{host} accepted with {tls:?}"));
                assert_eq!(err.key(), "smtp.host", "{host}");
            }
        }
    }

    #[test]
    fn credentials_need_a_username_and_a_password() {
        let mut smtp = settings("smtp.example.com", "a@example.com", SmtpTls::Starttls);
        assert!(credentials(&smtp).is_none());
        smtp.username = Some(" ".to_owned());
        smtp.password = Some("secret".into());
        assert!(
            credentials(&smtp).is_none(),
            "an empty username is no sign-in"
        );
        smtp.username = Some("flowhq".to_owned());
        assert_eq!(credentials(&smtp).map(|(user, _)| user), Some("flowhq"));
    }

    #[test]
    fn only_this_machine_counts_as_loopback() {
        for host in ["localhost", "127.0.0.1", "127.1.2.3", "::1"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["mailpit", "10.0.0.2", "smtp.example.com", "::2"] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
