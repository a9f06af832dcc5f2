//! The e-mail nudge: an organisation with something new in its inbox gets one e-mail that says
//! only that, with a link — "Er is iets nieuws in Sluis voor uw organisatie" — never a name,
//! a case, a pseudonym or what changed. Sent through SMTP (`lettre`) to the organisation's
//! nudge address, at most once per round for everything new since its last nudge.

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::store::{Store, StoreError};

/// The subject of every nudge.
pub const SUBJECT: &str = "Er is iets nieuws in Sluis";

/// Why nudging could not be set up or a round failed. Messages name settings and
/// organisations, never an address's mailbox content.
#[derive(Debug, thiserror::Error)]
pub enum NudgeError {
    /// A setting is not usable.
    #[error("{0}")]
    Settings(String),
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sends the nudges: the SMTP connection's settings, the sender and the link in the e-mail.
pub struct Nudger {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    link: String,
}

impl std::fmt::Debug for Nudger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The SMTP URL may carry a password: not shown.
        f.debug_struct("Nudger")
            .field("from", &self.from.to_string())
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

impl Nudger {
    /// A nudger sending through `smtp_url` (`smtp://host:port`, `smtp://host:port?tls=required`
    /// for STARTTLS, `smtps://user:password@host:port`) from `from`, linking to `link`.
    pub fn new(smtp_url: &str, from: &str, link: &str) -> Result<Self, NudgeError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url.trim())
            .map_err(|_| {
                NudgeError::Settings(
                    "nudge_smtp_url_file holds no usable SMTP URL (smtp://host:port, \
                     smtp://host:port?tls=required or smtps://user:password@host:port)"
                        .into(),
                )
            })?
            .build();
        let from: Mailbox = from.parse().map_err(|_| {
            NudgeError::Settings(
                "nudge_from is not an e-mail address (`Sluis <noreply@example.nl>`)".into(),
            )
        })?;
        if !(link.starts_with("https://") || link.starts_with("http://")) {
            return Err(NudgeError::Settings(
                "nudge_link is the broker's address for its users, starting with https://".into(),
            ));
        }
        Ok(Self {
            transport,
            from,
            link: link.to_owned(),
        })
    }

    /// The nudge for `to`: the subject, the sentence and the link, nothing else.
    pub fn message(&self, to: Mailbox) -> Result<Message, NudgeError> {
        let body = format!(
            "Er is iets nieuws in Sluis voor uw organisatie.\n\n\
             Log in om het te lezen: {}\n\n\
             Deze e-mail zegt bewust niet wat er nieuw is: dat leest u alleen in Sluis.\n",
            self.link
        );
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(SUBJECT)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|_| NudgeError::Settings("the nudge could not be composed".into()))
    }

    /// One round: every organisation with a nudge address and something new since its last
    /// nudge gets one e-mail; how many were sent. An organisation whose e-mail fails is tried
    /// again next round (the failure is logged with its id only).
    pub async fn round(&self, store: &Store) -> Result<usize, NudgeError> {
        let up_to = store.clock().now_text();
        let mut sent = 0;
        for (org, address) in store.nudges_due().await? {
            let Ok(to) = address.parse::<Mailbox>() else {
                tracing::warn!(organisation = %org, "the organisation's nudge address is not an e-mail address");
                continue;
            };
            match self.transport.send(self.message(to)?).await {
                Ok(_) => {
                    store.nudged(&org, &up_to).await?;
                    sent += 1;
                }
                Err(e) => {
                    let reason = if e.is_permanent() {
                        "refused"
                    } else {
                        "not reachable"
                    };
                    tracing::warn!(organisation = %org, reason, "nudge not sent; tried again next round");
                }
            }
        }
        Ok(sent)
    }
}

/// Runs a round every `every` until the process ends.
pub async fn nudge_periodically(nudger: Nudger, store: Store, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        match nudger.round(&store).await {
            Ok(0) => {}
            Ok(sent) => tracing::info!(sent, "nudged organisations by e-mail"),
            Err(e) => tracing::warn!(error = %e, "nudge round failed"),
        }
    }
}
