//! Email over SMTP with lettre: plain text and HTML alternatives, STARTTLS
//! or TLS and a login as configured. Permanent SMTP refusals (5xx) are
//! dead-lettered; everything else is retried.

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Channel, EMAIL, Outcome, render};
use crate::config::{SmtpConfig, SmtpTls};
use crate::store::Alert;
use crate::store::deliveries::Delivery;

/// Sends email through one SMTP server.
#[derive(Clone)]
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email").field("from", &self.from).finish()
    }
}

impl Email {
    /// A sender through `config`'s server.
    pub fn new(config: &SmtpConfig) -> anyhow::Result<Self> {
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(TlsParameters::new(config.host.clone())?),
            SmtpTls::Tls => Tls::Wrapper(TlsParameters::new(config.host.clone())?),
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
        })
    }
}

impl Channel for Email {
    fn name(&self) -> &'static str {
        EMAIL
    }

    async fn send(&self, delivery: &Delivery, alert: &Alert) -> Outcome {
        let message = self.message(
            &delivery.target,
            render::subject(alert, &delivery.reason),
            render::plain(alert, &delivery.reason),
            render::html(alert, &delivery.reason),
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
        let message = self.message(
            &first.target,
            render::digest_subject(items.len()),
            render::digest_plain(&items),
            render::digest_html(&items),
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
        match self.transport.send(message).await {
            Ok(_) => Outcome::Sent,
            Err(err) if err.is_permanent() => {
                Outcome::Dead(format!("the SMTP server refused: {err}"))
            }
            Err(err) => Outcome::Retry(format!("sending email: {err}")),
        }
    }
}
