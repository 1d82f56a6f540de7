//! Email over SMTP with lettre: plain text and HTML alternatives, STARTTLS
//! or TLS and a login as configured. Permanent SMTP refusals (5xx) are
//! dead-lettered; everything else is retried.

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::signin::SigninLinks;
use super::{Channel, EMAIL, Outcome, render};
use crate::config::{SmtpConfig, SmtpTls};
use crate::store::Alert;
use crate::store::deliveries::Delivery;

/// Sends email through one SMTP server.
#[derive(Clone)]
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: std::time::Duration,
    console_url: Option<String>,
    signin: Option<SigninLinks>,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email").field("from", &self.from).finish()
    }
}

impl Email {
    /// A sender through `config`'s server.
    pub fn new(config: &SmtpConfig) -> anyhow::Result<Self> {
        let parameters = || -> anyhow::Result<TlsParameters> {
            let mut builder = TlsParameters::builder(config.host.clone());
            if let Some(path) = &config.ca_file {
                use rustls::pki_types::pem::PemObject;
                let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|err| {
                        anyhow::anyhow!("reading the SMTP CA file {}: {err}", path.display())
                    })?;
                for cert in certs {
                    builder = builder.add_root_certificate(Certificate::from_der(cert.to_vec())?);
                }
            }
            Ok(builder.build()?)
        };
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(parameters()?),
            SmtpTls::Tls => Tls::Wrapper(parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(config.timeout));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from: config.from.parse()?,
            timeout: config.timeout,
            console_url: None,
            signin: None,
        })
    }

    /// Links each alert to its page in the web console at `url`.
    pub fn with_console_url(mut self, url: Option<String>) -> Self {
        self.console_url = url;
        self
    }

    /// Makes each email's console link a one-time sign-in link for its
    /// recipient (when a console URL is set and their role is known).
    pub fn with_signin_links(mut self, links: Option<SigninLinks>) -> Self {
        self.signin = links;
        self
    }

    /// A one-time link signing `recipient` (reading an alert of
    /// `team_id`) in to the console and landing on `next`, when one can
    /// be made.
    async fn signin_link(&self, recipient: &str, team_id: &str, next: &str) -> Option<String> {
        let console = self.console_url.as_deref()?;
        self.signin
            .as_ref()?
            .url(console, recipient, team_id, next)
            .await
    }
}

impl Channel for Email {
    fn name(&self) -> &'static str {
        EMAIL
    }

    async fn send(&self, delivery: &Delivery, alert: &Alert) -> Outcome {
        let page = render::link(self.console_url.as_deref(), alert);
        let signin = self
            .signin_link(
                &delivery.recipient_id,
                &alert.team_id,
                &format!("/alerts/{}", alert.alert_id),
            )
            .await;
        let (page, signin) = (page.as_deref(), signin.as_deref());
        let message = self.message(
            &delivery.target,
            render::subject(alert, &delivery.reason),
            render::plain(alert, &delivery.reason, page, signin),
            render::html(alert, &delivery.reason, page, signin),
        );
        self.deliver(message).await
    }

    fn gathers(&self) -> bool {
        true
    }

    async fn send_digest(&self, deliveries: &[Delivery], alerts: &[Alert]) -> Outcome {
        let Some(first) = deliveries.first() else {
            return Outcome::Sent;
        };
        let items: Vec<(&Alert, &str)> = alerts
            .iter()
            .zip(deliveries.iter().map(|d| d.reason.as_str()))
            .collect();
        // One sign-in for the whole digest, landing on the alerts inbox.
        let team_id = alerts.first().map_or("", |a| a.team_id.as_str());
        let signin = self
            .signin_link(&first.recipient_id, team_id, "/alerts")
            .await;
        let console = self.console_url.as_deref();
        let message = self.message(
            &first.target,
            render::digest_subject(items.len()),
            render::digest_plain(&items, console, signin.as_deref()),
            render::digest_html(&items, console, signin.as_deref()),
        );
        self.deliver(message).await
    }
}

impl Email {
    fn message(
        &self,
        to: &str,
        subject: String,
        plain: String,
        html: String,
    ) -> Result<Message, Outcome> {
        let to: Mailbox = to
            .parse()
            .map_err(|err| Outcome::Dead(format!("bad address {to:?}: {err}")))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .multipart(MultiPart::alternative_plain_html(plain, html))
            .map_err(|err| Outcome::Dead(format!("building the email: {err}")))
    }

    async fn deliver(&self, message: Result<Message, Outcome>) -> Outcome {
        let message = match message {
            Ok(message) => message,
            Err(outcome) => return outcome,
        };
        // lettre's timeout is per command; a whole conversation gets twice it.
        let sent = tokio::time::timeout(self.timeout * 2, self.transport.send(message)).await;
        let Ok(sent) = sent else {
            return Outcome::Retry("the SMTP server took too long".into());
        };
        match sent {
            Ok(_) => Outcome::Sent,
            Err(err) if err.is_permanent() => {
                Outcome::Dead(format!("the SMTP server refused: {err}"))
            }
            Err(err) => Outcome::Retry(format!("sending email: {err}")),
        }
    }
}
