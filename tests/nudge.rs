//! The e-mail nudge against a real SMTP server (Python's aiosmtpd, started here on 127.0.0.1):
//! one e-mail per organisation with something new, saying only that, with the link — no name,
//! case, pseudonym or what changed — on every backend. Runs when aiosmtpd is there;
//! `SLUIS_REQUIRE_SMTP=1` (set by `.ci/run`) makes its absence a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::TestApp;
use serde_json::json;
use sluis::audit::Event;
use sluis::clock::Clock;
use sluis::demo::fictional_registration;
use sluis::nudge::Nudger;

/// A Python that has aiosmtpd (Debian's `python3-aiosmtpd` is for /usr/bin/python3).
fn python_with_aiosmtpd() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// An aiosmtpd server this test started, writing what it receives to a Maildir; stopped (by
/// its pid) when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    fn start(python: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("mail");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "aiosmtpd did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            maildir,
            _dir: dir,
        }
    }

    /// Every message received so far, as its raw text.
    fn received(&self) -> Vec<String> {
        let new = self.maildir.join("new");
        let Ok(entries) = std::fs::read_dir(&new) else {
            return Vec::new();
        };
        let mut out: Vec<String> = entries
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        out.sort();
        out
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    mail.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .map(str::trim)
}

fn recipients(mails: &[String]) -> Vec<String> {
    let mut to: Vec<String> = mails
        .iter()
        .map(|m| header(m, "To").unwrap().to_owned())
        .collect();
    to.sort();
    to
}

async fn set_address(app: &TestApp, org: &str, address: &str) {
    let event = Event::admin(format!("nudge address of {org}"));
    app.store
        .set_nudge_address(org, Some(address), event)
        .await
        .unwrap();
}

fn later(clock: &Clock, seconds: i64) {
    clock.set(clock.now() + time::Duration::seconds(seconds));
}

async fn an_organisation_is_nudged_once_for_what_is_new_and_told_nothing_else(
    backend: &'static str,
) {
    let Some(python) = python_with_aiosmtpd() else {
        assert!(
            std::env::var_os("SLUIS_REQUIRE_SMTP").is_none(),
            "SLUIS_REQUIRE_SMTP is set but no python3 with aiosmtpd is installed"
        );
        eprintln!("skipped: no python3 with aiosmtpd (Debian: python3-aiosmtpd)");
        return;
    };
    let smtp = SmtpServer::start(python);
    let clock = Clock::manual(time::OffsetDateTime::now_utc());
    let app = TestApp::on(backend).clock(clock.clone()).start().await;
    set_address(&app, "hoorn", "wmo-loket@gemeente.test").await;
    set_address(&app, "intermaris", "verhuur@corporatie.test").await;
    set_address(&app, "enkhuizen", "loket@enkhuizen.test").await;
    let nudger = Nudger::new(
        &format!("smtp://127.0.0.1:{}", smtp.port),
        "Sluis <noreply@sluis.test>",
        "https://sluis.test/",
    )
    .unwrap();
    assert_eq!(
        nudger.round(&app.store).await.unwrap(),
        0,
        "nothing new yet"
    );

    let case = app
        .submit_and_refer("leviaan", &fictional_registration(), &["hoorn"])
        .await;
    // An SMTP server that does not answer: nothing is sent, and nothing is lost.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = Nudger::new(
        &format!("smtp://127.0.0.1:{closed_port}"),
        "Sluis <noreply@sluis.test>",
        "https://sluis.test/",
    )
    .unwrap();
    assert_eq!(unreachable.round(&app.store).await.unwrap(), 0);
    later(&clock, 1);
    // The referral is new for Hoorn and Intermaris; Enkhuizen has nothing.
    assert_eq!(nudger.round(&app.store).await.unwrap(), 2, "{backend}");
    let mails = smtp.received();
    assert_eq!(
        recipients(&mails),
        ["verhuur@corporatie.test", "wmo-loket@gemeente.test"],
        "{backend}"
    );
    let stored = app.store.case(&case).await.unwrap().unwrap();
    let pseudonym = stored.client_pseudonym.clone().unwrap();
    for mail in &mails {
        assert_eq!(header(mail, "Subject"), Some("Er is iets nieuws in Sluis"));
        assert_eq!(header(mail, "From"), Some("Sluis <noreply@sluis.test>"));
        assert!(mail.contains("Er is iets nieuws in Sluis voor uw organisatie."));
        assert!(mail.contains("https://sluis.test/"), "{mail}");
        for secret in [
            case.as_str(),
            pseudonym.as_str(),
            "Sanne",
            "Vries",
            "111222333",
            "referred",
            "full_name",
            "leviaan",
        ] {
            assert!(
                !mail.contains(secret),
                "{backend}: the nudge names {secret}"
            );
        }
    }
    // Nothing new since: no second e-mail.
    later(&clock, 1);
    assert_eq!(nudger.round(&app.store).await.unwrap(), 0, "{backend}");
    // What Hoorn reads before the next round does not nudge it; a new message to Intermaris
    // does, once.
    let coordinator = app.client("bct-westfriesland").await;
    let to_both = json!({"to": ["hoorn", "intermaris"],
                         "fields": {"message_text": "Bezichtiging volgende week."}});
    let messages = format!("/v1/cases/{case}/messages");
    coordinator.post_json(&messages, &to_both).await.unwrap();
    let hoorn = app.client("hoorn").await;
    hoorn
        .post_json("/v1/inbox/read", &json!({"all": true}))
        .await
        .unwrap();
    later(&clock, 1);
    assert_eq!(nudger.round(&app.store).await.unwrap(), 1, "{backend}");
    let mails = smtp.received();
    assert_eq!(mails.len(), 3);
    let to_intermaris = recipients(&mails)
        .iter()
        .filter(|to| to.as_str() == "verhuur@corporatie.test")
        .count();
    assert_eq!(to_intermaris, 2, "{backend}");
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn an_organisation_is_nudged_once_for_what_is_new_and_told_nothing_else);
