//! Configuration: one TOML file, overridden by the environment, overridden by flags;
//! `sluis config check` shows the effective values and their sources with secrets masked, and
//! names what is wrong without echoing it. `sluis serve` runs from the file, and its JSON log
//! lines carry the request id.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// `sluis ARGS` with an environment holding only PATH and `env`.
fn sluis(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluis"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(MANIFEST)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

#[test]
fn flags_override_the_environment_which_overrides_the_file_and_secrets_are_masked() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "sluis.toml",
        &format!(
            "listen = \"127.0.0.1:9100\"\n\
             database_url = \"postgres://sluis:hunter2-canary@db.example/sluis\"\n\
             rate_burst = 30\n\
             rate_per_second = 9\n\
             log_format = \"json\"\n\
             policy_dir = \"{MANIFEST}/policy\"\n"
        ),
    );
    let out = sluis(
        &[
            "config",
            "check",
            "--config",
            &file,
            "--listen",
            "127.0.0.1:9200",
        ],
        &[
            ("SLUIS_RATE_BURST", "44"),
            ("SLUIS_LOG_ORIGIN", "sluis.test/log"),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    for expected in [
        "listen = \"127.0.0.1:9200\"  # command line".to_owned(),
        "rate_burst = 44  # environment SLUIS_RATE_BURST".to_owned(),
        "log_origin = \"sluis.test/log\"  # environment SLUIS_LOG_ORIGIN".to_owned(),
        format!("rate_per_second = 9  # file {file}"),
        format!("log_format = \"json\"  # file {file}"),
        format!("database_url = \"postgres://sluis:***@db.example/sluis\"  # file {file}"),
        "login_window_secs = 900  # default".to_owned(),
        "migrate = true  # default".to_owned(),
        "signing_key_file = (not set)  # default".to_owned(),
        "ok: policy".to_owned(),
        "configuration ok".to_owned(),
    ] {
        assert!(
            lines.contains(&expected.as_str()),
            "missing line {expected:?} in\n{stdout}"
        );
    }
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
}

#[test]
fn the_database_url_from_a_file_and_the_environment_names() {
    let dir = tempfile::tempdir().unwrap();
    let url_file = write(
        dir.path(),
        "db-url",
        "postgres://broker:s3cret-canary@pg.internal:5432/sluis\n",
    );
    let out = sluis(
        &["config", "check"],
        &[("DATABASE_URL_FILE", &url_file), ("SLUIS_MIGRATE", "false")],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!(
        "database_url_file = \"{url_file}\"  # environment DATABASE_URL_FILE"
    )));
    assert!(stdout.contains("migrate = false  # environment SLUIS_MIGRATE"));
    assert!(stdout.contains("ok: database URL"));
    assert!(!stdout.contains("s3cret") && !stderr.contains("s3cret"));
}

#[test]
fn an_unknown_key_or_a_wrong_type_is_named_without_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let typo = write(dir.path(), "typo.toml", "rate_brust = 3\n");
    let out = sluis(&["config", "check", "--config", &typo], &[]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("unknown setting `rate_brust`"),
        "{stdout}{stderr}"
    );

    let wrong = write(
        dir.path(),
        "wrong.toml",
        "rate_burst = \"many-canary-value\"\n",
    );
    let out = sluis(&["config", "check", "--config", &wrong], &[]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("rate_burst: expected"), "{stderr}");
    assert!(!stdout.contains("many-canary") && !stderr.contains("many-canary"));

    let out = sluis(
        &["config", "check", "--config", "/nonexistent/sluis.toml"],
        &[],
    );
    assert!(!out.status.success());
    assert!(text(&out).1.contains("/nonexistent/sluis.toml not found"));

    let out = sluis(
        &["config", "check"],
        &[("SLUIS_TLS_CERT_FILE", "/tmp/x.pem")],
    );
    assert!(!out.status.success());
    assert!(
        text(&out)
            .1
            .contains("tls_cert_file and tls_key_file go together")
    );
}

#[test]
fn files_that_settings_name_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let short = write(dir.path(), "pseudonym", "too short");
    let not_a_key = write(dir.path(), "signing.pem", "not a key");
    let out = sluis(
        &["config", "check", "--signing-key", &not_a_key],
        &[
            ("SLUIS_PSEUDONYM_KEY_FILE", &short),
            ("SLUIS_POLICY_DIR", "/nonexistent/policy"),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stdout.contains(&format!("error: signing key {not_a_key}:")),
        "{stdout}"
    );
    assert!(
        stdout.contains("error: pseudonym secret: the pseudonym secret needs at least 32 bytes")
    );
    assert!(stdout.contains("error: policy:"));
    assert!(
        stderr.contains("3 problem(s) in the configuration"),
        "{stderr}"
    );
}

#[test]
fn serve_runs_from_the_file_and_json_log_lines_carry_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let file = write(
        dir.path(),
        "sluis.toml",
        &format!(
            "listen = \"127.0.0.1:{port}\"\n\
             database_url = \"sqlite://{}\"\n\
             log_format = \"json\"\n\
             log_filter = \"info\"\n",
            dir.path().join("sluis.db").display()
        ),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluis"))
        .env_clear()
        .current_dir(MANIFEST)
        .args(["serve", "--config", &file])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let status = up.then(|| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            reqwest::Client::new()
                .get(format!("http://127.0.0.1:{port}/v1/policy"))
                .header("x-request-id", "7f3a0c1d9e2b4a5f8c6d7e8f9a0b1c2d")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    });
    child.kill().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    child.wait().unwrap();
    assert_eq!(status, Some(200), "serve did not answer; log:\n{log}");
    let finished: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| {
            v["span"]["request_id"] == "7f3a0c1d9e2b4a5f8c6d7e8f9a0b1c2d"
                && v["fields"]["message"] == "finished processing request"
        })
        .collect();
    assert_eq!(finished.len(), 1, "log:\n{log}");
    assert_eq!(finished[0]["span"]["route"], "/v1/policy");
    assert_eq!(finished[0]["span"]["method"], "GET");
    assert_eq!(finished[0]["fields"]["status"], 200);
    assert_eq!(finished[0]["level"], "INFO");
}

#[test]
fn the_shipped_example_configuration_names_every_key_it_sets_correctly() {
    let out = sluis(&["config", "check", "--config", "deploy/sluis.toml"], &[]);
    let (stdout, stderr) = text(&out);
    let from_file = stdout
        .lines()
        .filter(|l| l.ends_with("# file deploy/sluis.toml"))
        .count();
    // Every key but database_url (its file is named instead) and the e-mail nudge's three
    // (optional, shown commented out).
    assert_eq!(from_file, 21, "{stdout}\n{stderr}");
    let example = std::fs::read_to_string("deploy/sluis.toml").unwrap();
    for key in ["nudge_smtp_url_file", "nudge_from", "nudge_link"] {
        assert!(example.contains(&format!("# {key} = ")), "{key}");
    }
    // On this machine the files it names do not exist: each is reported, nothing else.
    assert!(
        stderr.contains("6 problem(s) in the configuration"),
        "{stdout}\n{stderr}"
    );
    for what in [
        "database URL",
        "policy",
        "signing key",
        "pseudonym secret",
        "metrics token",
        "TLS certificate and key",
    ] {
        assert!(
            stdout.contains(&format!("error: {what}")),
            "{what}: {stdout}"
        );
    }
}

/// A broker configured as the README says (its own `log_origin` and `signing_key_file` in the
/// file) has a log that `audit verify` and `restore` verify from that file alone; a file with
/// another origin is told so, not taken for a bad signature, and a failed restore leaves
/// nothing behind.
#[tokio::test]
async fn verify_and_restore_read_the_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = d.join("signing.pem");
    let out = sluis(
        &[
            "keygen",
            "--kind",
            "signing",
            "--out",
            &key.display().to_string(),
        ],
        &[],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let db = d.join("sluis.db");
    let url = format!("sqlite://{}", db.display());
    let origin = "gemeente.example/access-log";
    {
        let store = sluis::store::Store::connect(&url).await.unwrap();
        let policy = std::sync::Arc::new(
            sluis::policy::Policy::load_dir(&Path::new(MANIFEST).join("policy")).unwrap(),
        );
        let mut state = sluis::api::AppState::ephemeral(store.clone(), policy);
        state.signing = std::sync::Arc::new(sluis::auth::SigningKey::from_pem_file(&key).unwrap());
        state.log_origin = std::sync::Arc::from(origin);
        for i in 0..5 {
            store
                .record(sluis::audit::Event::admin(format!("test {i}")))
                .await
                .unwrap();
        }
        state.checkpoint().await.unwrap();
        store.backup_to(&d.join("backup.db")).await.unwrap();
        store.close().await;
    }
    let policy_dir = Path::new(MANIFEST).join("policy").display().to_string();
    let config = |origin: &str| {
        format!(
            "database_url = \"{url}\"\nsigning_key_file = \"{}\"\nlog_origin = \"{origin}\"\npolicy_dir = \"{policy_dir}\"\n",
            key.display()
        )
    };
    let right = write(d, "sluis.toml", &config(origin));
    let wrong = write(d, "other.toml", &config("sluis.local/access-log"));

    let out = sluis(&["audit", "verify", "--config", &right], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("access log verified"), "{stdout}");

    let out = sluis(&["audit", "verify", "--config", &wrong], &[]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success());
    let told = format!("{stdout}{stderr}");
    assert!(
        told.contains(
            "checkpoint of another log (origin gemeente.example/access-log, expected sluis.local/access-log)"
        ),
        "{told}"
    );
    assert!(!told.contains("signature invalid"), "{told}");

    let backup = d.join("backup.db").display().to_string();
    let restored = d.join("restored.db");
    let out = sluis(
        &[
            "restore",
            "--config",
            &right,
            "--from",
            &backup,
            "--to",
            &restored.display().to_string(),
        ],
        &[],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(restored.exists());
    let refused = d.join("refused.db");
    let out = sluis(
        &[
            "restore",
            "--config",
            &wrong,
            "--from",
            &backup,
            "--to",
            &refused.display().to_string(),
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    assert!(stderr.contains("checkpoint of another log"), "{stderr}");
    assert!(
        !refused.exists(),
        "a restore that does not verify leaves no database behind"
    );
}

/// The database URL follows the one precedence of every setting: a `--database` flag wins over
/// a `database_url_file` in the file (never silently the production database), the
/// environment over the file, and two sources of the URL at the same level are refused.
#[test]
fn the_database_url_takes_the_precedence_of_every_setting() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let production = write(
        d,
        "db-url",
        "postgres://broker:s3cret@prod.internal:5432/sluis\n",
    );
    let file = write(
        d,
        "sluis.toml",
        &format!("database_url_file = \"{production}\"\nmigrate = false\n"),
    );
    let restore = "postgres://broker:other@restore.internal:5432/sluis_restore";
    let connects = |out: &Output| {
        let (stdout, stderr) = text(out);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("# the broker connects to "))
            .unwrap_or_else(|| panic!("no effective URL in {stdout}"))
            .to_owned()
    };
    // The file alone: its URL file.
    let out = sluis(&["config", "check", "--config", &file], &[]);
    assert_eq!(
        connects(&out),
        "postgres://broker:***@prod.internal:5432/sluis"
    );
    // A flag over the file.
    let out = sluis(
        &["config", "check", "--config", &file, "--database", restore],
        &[],
    );
    assert_eq!(
        connects(&out),
        "postgres://broker:***@restore.internal:5432/sluis_restore"
    );
    // The environment over the file.
    let out = sluis(
        &["config", "check", "--config", &file],
        &[("DATABASE_URL", restore)],
    );
    assert_eq!(
        connects(&out),
        "postgres://broker:***@restore.internal:5432/sluis_restore"
    );
    // Both at the same level: refused, with what to do.
    let out = sluis(
        &["config", "check"],
        &[
            ("DATABASE_URL", restore),
            ("DATABASE_URL_FILE", &production),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stderr.contains("database_url and database_url_file are both given"),
        "{stderr}"
    );
    assert!(!stdout.contains("s3cret") && !stderr.contains("s3cret") && !stderr.contains("other@"));
}

/// With the broker on TLS under an organisation's own CA, the client verbs trust that CA when
/// given `--ca-file` (or `SLUIS_CA_FILE`), and refuse the broker without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_verbs_trust_an_internal_ca_given_with_ca_file() {
    let app = common::TestApp::start("sqlite").await;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Gemeente Testdorp CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let tls = sluis::api::TlsFiles {
        cert: d.join("cert.pem"),
        key: d.join("key.pem"),
    };
    std::fs::write(&tls.cert, server.pem()).unwrap();
    std::fs::write(&tls.key, server_key.serialize_pem()).unwrap();
    let ca_file = write(&d, "ca.pem", &ca.pem());
    let key_file = write(&d, "leviaan.key", app.party("leviaan").api_key.expose());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = app.state.clone();
    let serving = tokio::spawn(async move {
        sluis::api::serve_tls(listener, state, &tls, async {
            let _ = stopped.await;
        })
        .await
    });
    let url = format!("https://localhost:{port}");
    let run = |with_ca: bool| {
        let (url, key_file, ca_file) = (url.clone(), key_file.clone(), ca_file.clone());
        tokio::task::spawn_blocking(move || {
            let mut args = vec!["inbox", "--server", &url, "--api-key-file", &key_file];
            if with_ca {
                args.extend(["--ca-file", &ca_file]);
            }
            sluis(&args, &[])
        })
    };
    let mut trusted = run(true).await.unwrap();
    for _ in 0..50 {
        if trusted.status.success() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        trusted = run(true).await.unwrap();
    }
    assert!(trusted.status.success(), "{:?}", text(&trusted));
    let refused = run(false).await.unwrap();
    let (_, stderr) = text(&refused);
    assert!(!refused.status.success());
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}

/// One setting as the test gives it in each source: its key, the value written in the file,
/// the one in the environment, and the flag with its value (for the keys that have one); each
/// value as it is given and as `config check` prints it.
struct Layered {
    key: &'static str,
    file: (&'static str, &'static str),
    env: (&'static str, &'static str),
    flag: Option<(&'static str, &'static str, &'static str)>,
}

/// Every setting with a different value in the file, the environment and (where it has one)
/// a flag: `config check` shows the file's value when only the file gives it, the
/// environment's over the file, and the flag's over both, each with its source.
#[test]
fn every_setting_takes_the_file_then_the_environment_then_its_flag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["s1.pem", "s2.pem", "s3.pem", "s4.pem", "s5.pem"] {
        let path = d.join(name).display().to_string();
        let out = sluis(&["keygen", "--kind", "signing", "--out", &path], &[]);
        assert!(out.status.success(), "{:?}", text(&out));
    }
    for name in ["p1.key", "p2.key"] {
        let path = d.join(name).display().to_string();
        let out = sluis(&["keygen", "--kind", "pseudonym", "--out", &path], &[]);
        assert!(out.status.success(), "{:?}", text(&out));
    }
    for (cert, key) in [("c1.pem", "k1.pem"), ("c2.pem", "k2.pem")] {
        let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        write(d, cert, &pair.cert.pem());
        write(d, key, &pair.key_pair.serialize_pem());
    }
    write(d, "m1.tok", "a-metrics-token-of-the-file-0123456789");
    write(d, "m2.tok", "a-metrics-token-of-the-environment-0123456789");
    write(d, "n1.url", "smtp://127.0.0.1:2525\n");
    write(d, "n2.url", "smtps://sluis:pw-canary@mail.example.nl:465\n");
    for (name, host) in [("u1", "file-db"), ("u2", "env-db"), ("u3", "flag-db")] {
        write(
            d,
            name,
            &format!("postgres://broker:pw-canary@{host}/sluis\n"),
        );
    }
    let settings = [
        Layered {
            key: "listen",
            file: ("\"127.0.0.1:9001\"", "\"127.0.0.1:9001\""),
            env: ("127.0.0.1:9002", "\"127.0.0.1:9002\""),
            flag: Some(("--listen", "127.0.0.1:9003", "\"127.0.0.1:9003\"")),
        },
        Layered {
            key: "database_url_file",
            file: ("\"{d}/u1\"", "\"{d}/u1\""),
            env: ("{d}/u2", "\"{d}/u2\""),
            flag: Some(("--database-file", "{d}/u3", "\"{d}/u3\"")),
        },
        Layered {
            key: "migrate",
            file: ("false", "false"),
            env: ("true", "true"),
            flag: Some(("--migrate", "false", "false")),
        },
        Layered {
            key: "policy_dir",
            file: ("\"{m}/policy\"", "\"{m}/policy\""),
            env: ("{m}/./policy", "\"{m}/./policy\""),
            flag: Some(("--policy", "{m}/policy/", "\"{m}/policy/\"")),
        },
        Layered {
            key: "signing_key_file",
            file: ("\"{d}/s1.pem\"", "\"{d}/s1.pem\""),
            env: ("{d}/s2.pem", "\"{d}/s2.pem\""),
            flag: Some(("--signing-key", "{d}/s3.pem", "\"{d}/s3.pem\"")),
        },
        Layered {
            key: "previous_signing_key_files",
            file: ("[\"{d}/s4.pem\"]", "[\"{d}/s4.pem\"]"),
            env: ("{d}/s5.pem,{d}/s4.pem", "[\"{d}/s5.pem\", \"{d}/s4.pem\"]"),
            flag: None,
        },
        Layered {
            key: "tls_cert_file",
            file: ("\"{d}/c1.pem\"", "\"{d}/c1.pem\""),
            env: ("{d}/c2.pem", "\"{d}/c2.pem\""),
            flag: None,
        },
        Layered {
            key: "tls_key_file",
            file: ("\"{d}/k1.pem\"", "\"{d}/k1.pem\""),
            env: ("{d}/k2.pem", "\"{d}/k2.pem\""),
            flag: None,
        },
        Layered {
            key: "pseudonym_key_file",
            file: ("\"{d}/p1.key\"", "\"{d}/p1.key\""),
            env: ("{d}/p2.key", "\"{d}/p2.key\""),
            flag: None,
        },
        Layered {
            key: "log_origin",
            file: ("\"file.example/log\"", "\"file.example/log\""),
            env: ("env.example/log", "\"env.example/log\""),
            flag: None,
        },
        Layered {
            key: "checkpoint_interval",
            file: ("11", "11"),
            env: ("21", "21"),
            flag: Some(("--checkpoint-interval", "31", "31")),
        },
        Layered {
            key: "purge_interval",
            file: ("3600", "3600"),
            env: ("7200", "7200"),
            flag: None,
        },
        Layered {
            key: "log_format",
            file: ("\"json\"", "\"json\""),
            env: ("text", "\"text\""),
            flag: None,
        },
        Layered {
            key: "log_filter",
            file: ("\"debug\"", "\"debug\""),
            env: ("warn", "\"warn\""),
            flag: None,
        },
        Layered {
            key: "login_window_secs",
            file: ("12", "12"),
            env: ("22", "22"),
            flag: None,
        },
        Layered {
            key: "login_slow_after",
            file: ("2", "2"),
            env: ("4", "4"),
            flag: None,
        },
        Layered {
            key: "login_refuse_after",
            file: ("3", "3"),
            env: ("6", "6"),
            flag: None,
        },
        Layered {
            key: "rate_per_second",
            file: ("13", "13"),
            env: ("23", "23"),
            flag: None,
        },
        Layered {
            key: "rate_burst",
            file: ("14", "14"),
            env: ("24", "24"),
            flag: None,
        },
        Layered {
            key: "metrics_token_file",
            file: ("\"{d}/m1.tok\"", "\"{d}/m1.tok\""),
            env: ("{d}/m2.tok", "\"{d}/m2.tok\""),
            flag: None,
        },
        Layered {
            key: "nudge_smtp_url_file",
            file: ("\"{d}/n1.url\"", "\"{d}/n1.url\""),
            env: ("{d}/n2.url", "\"{d}/n2.url\""),
            flag: None,
        },
        Layered {
            key: "nudge_from",
            file: ("\"Sluis <file@sluis.test>\"", "\"Sluis <file@sluis.test>\""),
            env: ("Sluis <env@sluis.test>", "\"Sluis <env@sluis.test>\""),
            flag: None,
        },
        Layered {
            key: "nudge_link",
            file: (
                "\"https://file.sluis.test/\"",
                "\"https://file.sluis.test/\"",
            ),
            env: ("https://env.sluis.test/", "\"https://env.sluis.test/\""),
            flag: None,
        },
        Layered {
            key: "nudge_interval",
            file: ("600", "600"),
            env: ("1200", "1200"),
            flag: None,
        },
    ];
    let fill = |s: &str| {
        s.replace("{d}", &d.display().to_string())
            .replace("{m}", MANIFEST)
    };
    let toml: String = settings
        .iter()
        .map(|s| format!("{} = {}\n", s.key, fill(s.file.0)))
        .collect();
    let file = write(d, "sluis.toml", &toml);
    let env: Vec<(String, String)> = settings
        .iter()
        .map(|s| {
            (
                format!("SLUIS_{}", s.key.to_ascii_uppercase()),
                fill(s.env.0),
            )
        })
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut flags = vec![
        "config".to_owned(),
        "check".to_owned(),
        "--config".to_owned(),
        file.clone(),
    ];
    for (name, value, _) in settings.iter().filter_map(|s| s.flag) {
        flags.extend([name.to_owned(), fill(value)]);
    }
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();

    let check = |args: &[&str], env: &[(&str, &str)], expect: &dyn Fn(&Layered) -> String| {
        let out = sluis(args, env);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        let lines: Vec<&str> = stdout.lines().collect();
        for setting in &settings {
            let line = fill(&expect(setting));
            assert!(
                lines.contains(&line.as_str()),
                "missing {line:?} in\n{stdout}"
            );
        }
        assert!(!stdout.contains("pw-canary") && !stderr.contains("pw-canary"));
        stdout
    };
    let only_file = check(&["config", "check", "--config", &file], &[], &|s| {
        format!("{} = {}  # file {file}", s.key, s.file.1)
    });
    assert!(only_file.contains("the broker connects to postgres://broker:***@file-db/sluis"));
    let over_file = check(&["config", "check", "--config", &file], &env, &|s| {
        let variable = format!("SLUIS_{}", s.key.to_ascii_uppercase());
        format!("{} = {}  # environment {variable}", s.key, s.env.1)
    });
    assert!(over_file.contains("the broker connects to postgres://broker:***@env-db/sluis"));
    let over_all = check(&flags, &env, &|s| match s.flag {
        Some((_, _, shown)) => format!("{} = {shown}  # command line", s.key),
        None => {
            let variable = format!("SLUIS_{}", s.key.to_ascii_uppercase());
            format!("{} = {}  # environment {variable}", s.key, s.env.1)
        }
    });
    assert!(over_all.contains("the broker connects to postgres://broker:***@flag-db/sluis"));
}
