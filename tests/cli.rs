//! The `sluis` binary itself: policy show/check, demo layout, and the admin and client verbs
//! against a real `sluis serve` process on 127.0.0.1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use common::CORPORATION_FIELDS;
use serde_json::{Value, json};

fn sluis() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluis"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("DATABASE_URL")
        .env_remove("SLUIS_API_KEY")
        .env_remove("SLUIS_PASSWORD");
    c
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn policy_show_json_has_the_documented_shape() {
    let out = ok(sluis().args(["policy", "show", "--json"]).output().unwrap());
    let p: Value = serde_json::from_str(&out).unwrap();
    assert!(
        p["version"]
            .as_str()
            .unwrap()
            .starts_with("westfriesland-2021.1@")
    );
    assert_eq!(
        p["categories"]["identifiers"]["roles"],
        json!(["care", "coordinator", "municipality"])
    );
    assert!(
        p["categories"]["personalia"]["basis"]
            .as_str()
            .unwrap()
            .contains("art. 9.5")
    );
    assert_eq!(p["fields"]["bsn"]["category"], json!("identifiers"));
    assert_eq!(
        p["fields"]["perspective_plan"]["category"],
        json!("perspective_plan")
    );
    assert_eq!(
        p["parties"]["intermaris"],
        json!({"name": "Intermaris", "role": "corporation"})
    );
    assert_eq!(
        p["parties"]["bct-westfriesland"]["role"],
        json!("coordinator")
    );
    // 56 of the registration form, 3 of the assessment, 7 of the evaluation, 1 of the consent,
    // 3 of the signal, 4 of the offer, 2 of the application, 1 of the decision, 2 of the
    // message, 4 of the consultation's report, 4 of the hand-over's.
    assert_eq!(p["fields"].as_object().unwrap().len(), 87);
    assert_eq!(p["categories"]["message"]["addressed"], json!(true));
    let text = ok(sluis().args(["policy", "show"]).output().unwrap());
    assert!(text.contains("identifiers") && text.contains("Intermaris"));
}

/// A copy of the shipped policy with one edit (`from` → `to` in `file`).
fn broken_policy(file: &str, from: &str, to: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("policy");
    std::fs::create_dir(dir.path().join("forms")).unwrap();
    for f in [
        "policy.toml",
        "parties.toml",
        "forms/registration.toml",
        "forms/evaluation.toml",
        "forms/assessment.toml",
    ] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let path = dir.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from} not in {file}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    dir
}

#[test]
fn an_inconsistent_policy_stops_the_broker_with_a_message() {
    let cases = [
        (
            "policy.toml",
            r#"roles = ["care", "coordinator", "corporation"]"#,
            r#"roles = ["care", "coordinator", "woningcorporatie"]"#,
            "category `dwelling_requirements` grants unknown role `woningcorporatie`",
        ),
        (
            "forms/registration.toml",
            "category = \"identifiers\"",
            "category = \"bsn_nummers\"",
            "field `bsn` in form `registration` has unknown category `bsn_nummers`",
        ),
        (
            "forms/registration.toml",
            "category = \"identifiers\"\n",
            "",
            "field `bsn` in form `registration` has no category",
        ),
        (
            "policy.toml",
            "basis = \"art. 9.4 (the coordinator weighs",
            "# basis = \"",
            "category `placement` grants roles [\"care\", \"coordinator\"] without a legal basis",
        ),
    ];
    for (file, from, to, message) in cases {
        let dir = broken_policy(file, from, to);
        let check = sluis()
            .args(["policy", "check", "--policy"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!check.status.success());
        assert!(
            String::from_utf8_lossy(&check.stderr).contains(message),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
        let db = dir.path().join("x.db");
        let serve = sluis()
            .args(["serve", "--listen", "127.0.0.1:0", "--policy"])
            .arg(dir.path())
            .arg("--database")
            .arg(format!("sqlite://{}", db.display()))
            .output()
            .unwrap();
        assert!(!serve.status.success());
        assert!(String::from_utf8_lossy(&serve.stderr).contains(message));
    }
}

#[test]
fn the_demo_writes_identities_slices_and_opened_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(sluis()
        .args(["demo", "--out"])
        .arg(dir.path())
        .output()
        .unwrap());
    assert!(
        out.contains("intermaris") && out.contains("not a party (404)"),
        "{out}"
    );
    // The second client's first registration lacked the Wgs admission (art. 7.3).
    assert!(
        out.contains("was refused (art. 7.3: rent arrears above EUR 500 need an admission to debt help, Wgs), naming wgs_admission_date;"),
        "{out}"
    );
    let d = dir.path();
    assert!(d.join("sluis.db").exists());
    assert!(
        out.contains("`sluis demo --serve` keeps the broker running at http://127.0.0.1:8080/")
            && out.contains("leviaan.demo / demo-leviaan-wachtwoord"),
        "{out}"
    );
    // At the match the other corporations with homes in Hoorn lost their copies.
    assert!(
        out.contains("At the match the other referred corporations lost their copies (deleted, 404 since): het-grootslag, wooncompagnie."),
        "{out}"
    );
    for org in ["het-grootslag", "wooncompagnie"] {
        assert!(!d.join("slices").join(org).exists(), "{org}");
    }
    // A year on, the daily purge: the fictional year's rejected cases, a receipt each, the
    // first printed; each verifies with the log's key, as the summary says to check it.
    assert!(out.contains("purge deleted the age files of the "), "{out}");
    assert!(out.contains("\ndeletion receipt\ncase "), "{out}");
    let vkey = std::fs::read_to_string(d.join("log-vkey.txt")).unwrap();
    let receipts: Vec<_> = std::fs::read_dir(d.join("receipts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    // 64 registrations, 58 accepted (the monitor above): 6 rejected.
    assert_eq!(receipts.len(), 6);
    for receipt in &receipts {
        let check = ok(sluis()
            .args(["audit", "receipt", "--vkey", vkey.trim()])
            .arg(receipt)
            .output()
            .unwrap());
        assert!(
            check.contains("state rejected") && check.ends_with("receipt verified\n"),
            "{check}"
        );
    }
    assert_eq!(std::fs::read_dir(d.join("identities")).unwrap().count(), 22);
    // The monitor of the fictional year: 64 registrations by the five care organisations.
    let monitor: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("monitor.json")).unwrap()).unwrap();
    let last_year = time::OffsetDateTime::now_utc().year() - 1;
    assert_eq!(monitor["period"], last_year.to_string());
    assert_eq!(monitor["registrations_total"]["registered"], 64);
    assert_eq!(monitor["registrations"].as_object().unwrap().len(), 5);
    assert!(
        monitor["homes_total"]["homes"].as_u64().unwrap() >= 20,
        "{monitor}"
    );
    assert!(
        monitor["homes_total"]["waiting"]["median_days"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let csv = std::fs::read_to_string(d.join("monitor.csv")).unwrap();
    assert!(csv.starts_with("period,section,row,column,value\n"));
    assert!(csv.contains(&format!("{last_year},registrations,total,registered,64\n")));
    let svg = std::fs::read_to_string(d.join("monitor.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Waiting time from referral"));
    assert!(out.contains("The monitor of the fictional year"), "{out}");
    // report.json: the states each case passed and what each organisation could open.
    let report: Value =
        serde_json::from_slice(&std::fs::read(d.join("report.json")).unwrap()).unwrap();
    let cases = report["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    let case = cases[0]["id"].as_str().unwrap().to_owned();
    // Intermaris holds the main case and the third, which it housed before the replacement.
    let held: BTreeSet<String> = std::fs::read_dir(d.join("slices/intermaris"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let third = cases[2]["id"].as_str().unwrap().to_owned();
    assert_eq!(held, BTreeSet::from([case.clone(), third]));
    let mut age_files: Vec<String> = std::fs::read_dir(d.join("slices/intermaris").join(&case))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f != "items")
        .collect();
    age_files.sort();
    // Of the items, the corporation holds the report of the consultation it took part in.
    let items = d.join("slices/intermaris").join(&case).join("items");
    let reports: Vec<_> = std::fs::read_dir(&items).unwrap().collect();
    assert_eq!(reports.len(), 1);
    let report_files: BTreeSet<String> = std::fs::read_dir(reports[0].as_ref().unwrap().path())
        .unwrap()
        .map(|f| f.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        report_files.contains("consultation_problem.age"),
        "{report_files:?}"
    );
    // What a corporation receives at referral, and the offer it made at the match.
    let offer = [
        "offer_address",
        "offer_conditions",
        "offer_rent",
        "offer_viewing_on",
    ];
    let mut expected: Vec<String> = (CORPORATION_FIELDS.iter().chain(&offer))
        .map(|f| format!("{f}.age"))
        .collect();
    expected.sort();
    assert_eq!(age_files, expected);
    let opened: Value = serde_json::from_slice(
        &std::fs::read(d.join("opened/intermaris").join(format!("{case}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(
        opened["fields"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        expected
            .iter()
            .map(|f| f.trim_end_matches(".age"))
            .collect::<Vec<_>>()
    );
    assert_eq!(opened["fields"]["full_name"], json!("Sanne de Vries"));
    // Every stored age file opens with the organisation's identity to what its client wrote.
    let identity = sluis::sealing::Identity::from_file_text(
        &std::fs::read_to_string(d.join("identities/intermaris.txt")).unwrap(),
    )
    .unwrap();
    let name = sluis::sealing::open(
        &std::fs::read(
            d.join("slices/intermaris")
                .join(&case)
                .join("full_name.age"),
        )
        .unwrap(),
        &identity,
    )
    .unwrap();
    assert_eq!(name.expose(), b"Sanne de Vries");
    // The municipality has the BSN and the plan; parties that were not referred have nothing.
    assert!(d.join("slices/hoorn").join(&case).join("bsn.age").exists());
    assert!(
        d.join("slices/hoorn")
            .join(&case)
            .join("perspective_plan.age")
            .exists()
    );
    assert!(
        !d.join("slices/hoorn")
            .join(&case)
            .join("dwelling_constraints.age")
            .exists()
    );
    assert!(!d.join("slices/de-woonschakel").exists());
    assert!(!d.join("opened/fg-westfriesland").exists());
    // The care organisation: 54 registration fields, its consent declaration, the
    // coordinator's question and checklist (art. 8.3), the offer (4), and the folder of items:
    // two applications with their decisions, a signal, the coordinator's question and the
    // answer in the thread, the consultation's report, the hand-over's and the evaluation (7).
    let dir = d.join("slices/leviaan").join(&case);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 62);
    let mut items: Vec<Vec<String>> = std::fs::read_dir(dir.join("items"))
        .unwrap()
        .map(|item| {
            let mut files: Vec<String> = std::fs::read_dir(item.unwrap().path())
                .unwrap()
                .map(|f| f.unwrap().file_name().into_string().unwrap())
                .collect();
            files.sort();
            files
        })
        .collect();
    items.sort();
    assert_eq!(
        items,
        [
            vec!["application_request.age", "decision_motivation.age"],
            vec!["application_request.age", "decision_motivation.age"],
            vec![
                "consultation_decision.age",
                "consultation_present.age",
                "consultation_problem.age"
            ],
            vec![
                "eval_finances.age",
                "eval_guidance.age",
                "eval_living.age",
                "eval_next_steps.age",
                "eval_plan_goals.age",
                "evaluation_period.age",
                "evaluation_report.age"
            ],
            vec![
                "handover_client_view.age",
                "handover_plan.age",
                "handover_present.age"
            ],
            vec!["message_text.age"],
            vec!["message_text.age"],
            vec!["signal_kind.age", "signal_note.age", "signal_on.age"],
        ]
    );
    assert_eq!(
        std::fs::read_dir(d.join("slices/leviaan").join(&case))
            .unwrap()
            .count(),
        62
    );
    assert_eq!(
        cases[0]["states"],
        json!([
            "registered",
            "info_requested",
            "registered",
            "assessed",
            "referred",
            "matched",
            "housed",
            "lease_converted"
        ])
    );
    assert_eq!(
        cases[0]["opened"]["intermaris"].as_array().unwrap().len(),
        27 + 4,
        "what a corporation receives at referral, and the offer it made"
    );
    assert!(cases[0]["opened"].get("de-woonschakel").is_none());
    assert_eq!(
        cases[1]["states"],
        json!(["registered", "assessed", "referred", "withdrawn"])
    );
    // After withdrawal only the declaration itself is left, for its two holders.
    assert_eq!(
        cases[1]["opened"],
        json!({"bct-westfriesland": ["consent_document"], "dnodoen": ["consent_document"]})
    );
    // The third: replacement housing (art. 9.11) sent it back to be referred again.
    assert_eq!(
        cases[2]["states"],
        json!([
            "registered",
            "assessed",
            "referred",
            "matched",
            "housed",
            "assessed",
            "referred"
        ])
    );
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until_up(base: &str) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(base.trim_start_matches("http://")).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("sluis serve did not come up at {base}");
}

fn admin_and_client_verbs_work_against_a_real_server(backend: &'static str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(common::TestDb::new(backend));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str]| {
        ok(sluis()
            .args(args)
            .env("DATABASE_URL", &db.url)
            .output()
            .unwrap())
    };

    ok(sluis()
        .args(["keygen", "--kind", "signing", "--out"])
        .arg(d.join("signing.pem"))
        .output()
        .unwrap());
    run(&["org", "enrol"]);
    for org in [
        "leviaan",
        "bct-westfriesland",
        "intermaris",
        "het-grootslag",
        "wooncompagnie",
        "hoorn",
    ] {
        let id_file = d.join(format!("{org}.txt"));
        let recipient = ok(sluis()
            .args(["keygen", "--out"])
            .arg(&id_file)
            .output()
            .unwrap());
        run(&["org", "set-recipient", org, recipient.trim()]);
        run(&["user", "add", &format!("{org}-app"), "--org", org]);
        let key = run(&["apikey", "create", &format!("{org}-app")]);
        std::fs::write(d.join(format!("{org}.key")), key.trim()).unwrap();
    }
    // The e-mail nudge's address: an e-mail address or nothing.
    let set = run(&["org", "set-nudge", "hoorn", "wmo-loket@hoorn.test"]);
    assert_eq!(set, "nudge address of hoorn: wmo-loket@hoorn.test\n");
    let bad = sluis()
        .args(["org", "set-nudge", "hoorn", "geen adres"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not an e-mail address"));
    assert_eq!(
        run(&["org", "set-nudge", "hoorn", "--off"]),
        "nudges of hoorn off\n"
    );
    let listed = run(&["org", "list"]);
    // The URL (with its password, in production) can come from a file instead.
    std::fs::write(d.join("database-url"), format!("{}\n", db.url)).unwrap();
    let from_file = ok(sluis()
        .args(["org", "list"])
        .env("DATABASE_URL_FILE", d.join("database-url"))
        .output()
        .unwrap());
    assert_eq!(from_file, listed);
    // Nothing listens yet: the container probe fails.
    let port = free_port();
    let probe = sluis()
        .args(["probe", &format!("http://127.0.0.1:{port}/readyz")])
        .output()
        .unwrap();
    assert!(!probe.status.success());
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("intermaris") && l.contains("age1")),
        "{listed}"
    );

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Server(
        sluis()
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--signing-key",
            ])
            .arg(d.join("signing.pem"))
            .env("DATABASE_URL", &db.url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until_up(&base);
    let probe = ok(sluis()
        .args(["probe", &format!("{base}/readyz")])
        .output()
        .unwrap());
    assert!(probe.contains("200"), "{probe}");
    let client = |org: &str, args: &[&str]| {
        let mut c = sluis();
        c.args(args)
            .arg("--server")
            .arg(&base)
            .arg("--api-key-file")
            .arg(d.join(format!("{org}.key")));
        c.output().unwrap()
    };

    // The shipped example (every field of the form, the consent with its categories, the
    // monitor codes) is what a care organisation submits.
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/client.json");
    let submitted: Value = serde_json::from_str(&ok(client(
        "leviaan",
        &["submit", example.to_str().unwrap()],
    )))
    .unwrap();
    let case = submitted["id"].as_str().unwrap().to_owned();
    assert_eq!(
        submitted["sealed"]["bsn"],
        json!(["bct-westfriesland", "leviaan"])
    );

    // Before the referral the corporation has no case.
    let early = client(
        "intermaris",
        &[
            "pull",
            "--purpose",
            "matching",
            &case,
            "--identity",
            d.join("intermaris.txt").to_str().unwrap(),
        ],
    );
    assert!(!early.status.success());
    assert!(String::from_utf8_lossy(&early.stderr).contains("404"));

    // Before acceptance a referral is refused (409), then the coordinator accepts and refers.
    let early = client(
        "bct-westfriesland",
        &[
            "refer",
            &case,
            "--municipality",
            "hoorn",
            "--identity",
            d.join("bct-westfriesland.txt").to_str().unwrap(),
        ],
    );
    assert!(!early.status.success());
    assert!(
        String::from_utf8_lossy(&early.stderr).contains("409"),
        "{}",
        String::from_utf8_lossy(&early.stderr)
    );
    let accepted: Value = serde_json::from_str(&ok(client(
        "bct-westfriesland",
        &[
            "assess",
            &case,
            "--decision",
            "accept",
            "--fields",
            concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/assessment.json"),
        ],
    )))
    .unwrap();
    assert_eq!(accepted["state"], "assessed");
    let referred: Value = serde_json::from_str(&ok(client(
        "bct-westfriesland",
        &[
            "refer",
            &case,
            "--municipality",
            "hoorn",
            "--identity",
            d.join("bct-westfriesland.txt").to_str().unwrap(),
        ],
    )))
    .unwrap();
    assert_eq!(referred["state"], "referred");
    // Data minimisation at referral: the BSN waits for an application to the municipality.
    assert_eq!(referred["sealed"].get("bsn"), None, "{referred}");
    assert_eq!(
        referred["sealed"]["full_name"],
        json!(["het-grootslag", "hoorn", "intermaris", "wooncompagnie"])
    );
    let inbox: Value = serde_json::from_str(&ok(client("intermaris", &["inbox"]))).unwrap();
    assert_eq!(inbox[0]["kind"], "referred");

    let save = d.join("saved");
    let pulled: Value = serde_json::from_str(&ok(client(
        "intermaris",
        &[
            "pull",
            "--purpose",
            "matching",
            &case,
            "--identity",
            d.join("intermaris.txt").to_str().unwrap(),
            "--save",
            save.to_str().unwrap(),
        ],
    )))
    .unwrap();
    let keys: Vec<&str> = pulled["fields"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, CORPORATION_FIELDS, "{backend}");
    assert_eq!(std::fs::read_dir(save.join(&case)).unwrap().count(), 27);
    // The coordinator lists the cases it is a party to.
    let listed = ok(client("bct-westfriesland", &["cases"]));
    let row = listed
        .lines()
        .find(|l| l.starts_with(&case))
        .unwrap_or_else(|| panic!("{backend}: {case} not in\n{listed}"));
    assert!(row.contains("referred") && row.contains("leviaan"), "{row}");

    // A person logs in with a password read from standard input.
    let mut add = sluis()
        .args([
            "user",
            "add",
            "m.devries",
            "--org",
            "hoorn",
            "--password-stdin",
        ])
        .env("DATABASE_URL", &db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"gemeente hoorn wachtwoord\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let by_password = sluis()
        .args([
            "pull",
            "--purpose",
            "matching",
            &case,
            "--server",
            &base,
            "--username",
            "m.devries",
            "--identity",
        ])
        .arg(d.join("hoorn.txt"))
        .env("SLUIS_PASSWORD", "gemeente hoorn wachtwoord")
        .output()
        .unwrap();
    let municipality: Value = serde_json::from_str(&ok(by_password)).unwrap();
    assert_eq!(
        municipality["fields"]["full_name"],
        json!("Sanne de Vries"),
        "{backend}"
    );
    assert_eq!(
        municipality["fields"].get("bsn"),
        None,
        "{backend}: not before an application"
    );
    assert!(municipality["fields"].get("dwelling_constraints").is_none());

    // The monitor: a party reports its counts; the coordinator reads the table.
    let year = time::OffsetDateTime::now_utc().year().to_string();
    let reported = ok(client(
        "intermaris",
        &[
            "report-counts",
            "--period",
            &year,
            "rent_arrears=3",
            "nuisance=0",
        ],
    ));
    assert!(reported.contains("rent_arrears"), "{reported}");
    let table = ok(client("bct-westfriesland", &["monitor", "--period", &year]));
    assert!(
        table.contains(&format!("Monitor {year} (all parties)"))
            && table.contains("Registrations per care organisation")
            && table.contains("Homes per corporation against the art. 11 quota"),
        "{table}"
    );
    let refused = client(
        "intermaris",
        &["report-counts", "--period", &year, "complaints=1"],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("complaints"));

    // The README's key rotation for an organisation: a new identity, its recipient
    // registered, the existing copies sealed again to it; then the old key opens nothing.
    let pull = |identity: &str| {
        client(
            "intermaris",
            &[
                "pull",
                "--purpose",
                "matching",
                &case,
                "--identity",
                d.join(identity).to_str().unwrap(),
            ],
        )
    };
    let new_recipient = ok(sluis()
        .args(["keygen", "--out"])
        .arg(d.join("intermaris-2027.txt"))
        .output()
        .unwrap());
    run(&["org", "set-recipient", "intermaris", new_recipient.trim()]);
    let before_rekey = pull("intermaris-2027.txt");
    assert!(!before_rekey.status.success());
    assert!(
        String::from_utf8_lossy(&before_rekey.stderr).contains("sluis rekey"),
        "the error says what to do: {}",
        String::from_utf8_lossy(&before_rekey.stderr)
    );
    let rekeyed = ok(client(
        "intermaris",
        &[
            "rekey",
            "--identity",
            d.join("intermaris.txt").to_str().unwrap(),
            "--new-identity",
            d.join("intermaris-2027.txt").to_str().unwrap(),
        ],
    ));
    assert!(
        rekeyed.contains("1 cases: 27 files sealed to the new key, 0 already were"),
        "{rekeyed}"
    );
    let after: Value = serde_json::from_str(&ok(pull("intermaris-2027.txt"))).unwrap();
    assert_eq!(after["fields"], pulled["fields"], "{backend}");
    let old = pull("intermaris.txt");
    assert!(!old.status.success());
    assert!(
        String::from_utf8_lossy(&old.stderr).contains("could not be opened with this identity"),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
    let again = ok(client(
        "intermaris",
        &[
            "rekey",
            "--identity",
            d.join("intermaris.txt").to_str().unwrap(),
            "--new-identity",
            d.join("intermaris-2027.txt").to_str().unwrap(),
        ],
    ));
    assert!(
        again.contains("0 files sealed to the new key, 27 already were"),
        "{again}"
    );
    // The other corporations' copies are untouched.
    let other: Value = serde_json::from_str(&ok(client(
        "wooncompagnie",
        &[
            "pull",
            "--purpose",
            "matching",
            &case,
            "--identity",
            d.join("wooncompagnie.txt").to_str().unwrap(),
        ],
    )))
    .unwrap();
    assert_eq!(other["fields"], pulled["fields"]);
    // Intermaris houses the client; Leviaan sends the first evaluation in the uniform form,
    // with its report beside it.
    ok(client(
        "intermaris",
        &[
            "match",
            &case,
            "--municipality",
            "hoorn",
            "--kind",
            "regular",
            "--address",
            "Fictieve Dijk 12, Hoorn",
            "--rent",
            "642",
            "--viewing-on",
            "2026-03-20",
        ],
    ));
    // The match takes the other corporations off the case: Wooncompagnie's copies are gone.
    let gone = client(
        "wooncompagnie",
        &[
            "pull",
            "--purpose",
            "matching",
            &case,
            "--identity",
            d.join("wooncompagnie.txt").to_str().unwrap(),
        ],
    );
    assert!(!gone.status.success());
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("404"),
        "{backend}"
    );
    // Leviaan applies to Hoorn for guidance; its client re-shares what the decision needs.
    let applied: Value = serde_json::from_str(&ok(client(
        "leviaan",
        &[
            "apply",
            &case,
            "--identity",
            d.join("leviaan.txt").to_str().unwrap(),
            "--kind",
            "guidance",
            "--request",
            "Ambulante begeleiding twee keer per week.",
        ],
    )))
    .unwrap();
    assert_eq!(applied["sealed"]["bsn"], json!(["hoorn"]), "{backend}");
    assert_eq!(
        applied["sealed"]["application_request"],
        json!(["bct-westfriesland", "hoorn", "leviaan"])
    );
    let application = applied["application"]["id"].as_str().unwrap().to_owned();
    let decided: Value = serde_json::from_str(&ok(client(
        "hoorn",
        &[
            "decide",
            &case,
            &application,
            "--outcome",
            "granted",
            "--decided-on",
            &applied["application"]["applied_at"].as_str().unwrap()[..10],
            "--motivation",
            "Begeleiding voor een jaar toegekend.",
        ],
    )))
    .unwrap();
    assert_eq!(decided["application"]["outcome"], "granted", "{backend}");
    let listed: Value =
        serde_json::from_str(&ok(client("bct-westfriesland", &["applications", &case]))).unwrap();
    assert_eq!(listed[0]["decision_days"], 0, "{backend}");
    let overdue: Value =
        serde_json::from_str(&ok(client("hoorn", &["applications", "--overdue"]))).unwrap();
    assert_eq!(overdue, json!([]));
    ok(client(
        "intermaris",
        &["housed", &case, "--key-handover", "2026-11-01"],
    ));
    // Hoorn asks Leviaan about the guidance; Leviaan answers; both read the thread.
    let asked: Value = serde_json::from_str(&ok(client(
        "hoorn",
        &[
            "message",
            &case,
            "--to",
            "leviaan",
            "--about",
            "health_care",
            "--text",
            "Wanneer start de Wmo-begeleiding?",
        ],
    )))
    .unwrap();
    assert_eq!(
        asked["sealed"]["message_text"],
        json!(["hoorn", "leviaan"]),
        "{backend}"
    );
    let question = asked["message"]["id"].as_str().unwrap().to_owned();
    ok(client(
        "leviaan",
        &[
            "message",
            &case,
            "--to",
            "hoorn",
            "--to",
            "bct-westfriesland",
            "--text",
            "Na de overdracht, volgende week.",
            "--reply-to",
            &question,
        ],
    ));
    // The hand-over's report, acknowledged by Leviaan.
    let handover = d.join("handover.json");
    std::fs::write(
        &handover,
        json!({"handover_present": "Begeleider, Wmo-begeleider, cliënt.",
               "handover_plan": "Doelen wonen gehaald.", "handover_client_view": "Tevreden."})
        .to_string(),
    )
    .unwrap();
    let reported: Value = serde_json::from_str(&ok(client(
        "hoorn",
        &[
            "report",
            &case,
            "--kind",
            "handover",
            "--held-on",
            "2026-11-01",
            "--to",
            "leviaan",
            "--fields",
            handover.to_str().unwrap(),
        ],
    )))
    .unwrap();
    let report_id = reported["message"]["id"].as_str().unwrap().to_owned();
    ok(client("leviaan", &["acknowledge", &case, &report_id]));
    let thread: Value = serde_json::from_str(&ok(client(
        "leviaan",
        &[
            "messages",
            &case,
            "--identity",
            d.join("leviaan.txt").to_str().unwrap(),
        ],
    )))
    .unwrap();
    let read: Vec<(&str, &str)> = (thread.as_array().unwrap().iter())
        .map(|m| {
            let text = m["fields"]["message_text"].as_str();
            let text = text.or(m["fields"]["handover_plan"].as_str());
            (m["kind"].as_str().unwrap(), text.unwrap())
        })
        .collect();
    assert_eq!(
        read,
        [
            ("message", "Wanneer start de Wmo-begeleiding?"),
            ("message", "Na de overdracht, volgende week."),
            ("handover", "Doelen wonen gehaald.")
        ],
        "{backend}"
    );
    assert!(thread[2]["to"][0]["acknowledged_at"].is_string());
    let evaluation = d.join("evaluation.json");
    std::fs::write(
        &evaluation,
        sluis::demo::fictional_evaluation(1).to_string(),
    )
    .unwrap();
    let report = d.join("evaluation.pdf");
    std::fs::write(&report, b"%PDF evaluatie (fictief)").unwrap();
    let evaluated: Value = serde_json::from_str(&ok(client(
        "leviaan",
        &[
            "evaluate",
            &case,
            "--period",
            "1",
            "--fields",
            evaluation.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    )))
    .unwrap();
    let sealed: Vec<&str> = evaluated["sealed"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        sealed,
        [
            "eval_finances",
            "eval_guidance",
            "eval_living",
            "eval_next_steps",
            "eval_plan_goals",
            "evaluation_period",
            "evaluation_report"
        ],
        "{backend}"
    );
    // The client asks for erasure: every copy goes, with a signed receipt.
    let erased = ok(client("leviaan", &["consent", "erase", &case]));
    assert!(
        erased.contains("\ndeletion receipt\n") && erased.contains(&format!("case {case}\n")),
        "{erased}"
    );
}
crate::per_backend!(#[test] fn admin_and_client_verbs_work_against_a_real_server);

/// `deploy/client.json`, the complete example registration the README points to, is the demo's
/// fictional client: every field of the form and a consent that covers every category sent
/// (the `consent` category of the declaration itself included). When the form changes, this
/// fails until the example is written anew (`SLUIS_UPDATE_EXAMPLES=1 cargo test --test cli`).
#[test]
fn the_shipped_example_registration_is_complete_and_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/client.json");
    // Fixed dates, so the example neither changes by the day nor expires.
    let mut consent = sluis::demo::fictional_consent_on(time::macros::date!(2026 - 12 - 01));
    consent["valid_until"] = json!("2099-12-31");
    let expected = json!({
        "fields": sluis::demo::fictional_registration(),
        "consent": consent,
        "monitor": {"client_group": "mo", "origin_municipality": "hoorn"},
    });
    if std::env::var("SLUIS_UPDATE_EXAMPLES").is_ok_and(|v| v == "1") {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&expected).unwrap() + "\n",
        )
        .unwrap();
    }
    let shipped: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        shipped, expected,
        "deploy/client.json is not the current example"
    );
    let policy = sluis::policy::Policy::load_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policy"),
    )
    .unwrap();
    let form = &policy.forms["registration"];
    // Every field, but the partner's: the example client has none (`has_partner` false).
    for field in &form.fields {
        if ["partner_name", "partner_consent"].contains(&field.as_str()) {
            assert!(shipped["fields"].get(field).is_none(), "{field}");
            continue;
        }
        assert!(
            shipped["fields"].get(field).is_some(),
            "the example lacks `{field}`"
        );
    }
    let covered: Vec<&str> = shipped["consent"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        covered.contains(&"consent"),
        "the declaration covers itself"
    );
    // `deploy/assessment.json`, the coordinator's `--fields` of an accept in the guide: every
    // criterion of the checklist met.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/assessment.json");
    let expected = sluis::demo::checklist_all_met(&policy);
    if std::env::var("SLUIS_UPDATE_EXAMPLES").is_ok_and(|v| v == "1") {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&expected).unwrap() + "\n",
        )
        .unwrap();
    }
    let shipped: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        shipped, expected,
        "deploy/assessment.json is not the current example"
    );
    assert_eq!(
        shipped["criteria_checklist"].as_object().unwrap().len(),
        11,
        "one answer per criterion of the assessment form"
    );
}
