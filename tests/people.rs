//! A person's key: one password becomes, in the client, the login credential the broker checks
//! and the person's own age identity, which opens the organisation's identity wrapped for them.
//! The operator wraps it for the first member (`sluis user add --identity`, `sluis user grant`);
//! a member who holds it gives it to a colleague (`PUT /v1/members/{user}/identity`). The
//! broker holds wrappings it cannot open. On both backends, through the real binary and HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use base64::Engine as _;
use common::TestApp;
use serde_json::{Value, json};
use sha2::Digest as _;
use sluis::auth::{PersonSecrets, Secret};
use sluis::client::{Client, Credentials};
use sluis::sealing::{self, Identity, Plaintext};

const CARE: &str = "leviaan";
/// The operator's initial password, and the one the person chooses.
const INITIAL: &str = "een lang wachtwoord 123";
const OWN: &str = "mijn eigen geheime zin 789";

fn sluis(args: &[&str], url: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluis"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("SLUIS_MIGRATE", "false")
        .env(
            "SLUIS_POLICY_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/policy"),
        )
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{args:?}: {text}");
    text
}

async fn try_login(
    app: &TestApp,
    username: &str,
    password: &str,
) -> Result<Client, sluis::client::ClientError> {
    Client::new(&app.broker.base_url)
        .login(&Credentials::Password {
            username: username.into(),
            password: Secret::new(password.into()),
        })
        .await
}

async fn login(app: &TestApp, username: &str, password: &str) -> Client {
    try_login(app, username, password).await.unwrap()
}

fn derived(username: &str, password: &str) -> (PersonSecrets, Identity) {
    let secrets = PersonSecrets::derive(username, &Secret::new(password.into())).unwrap();
    let own = Identity::from_seed(secrets.seed()).unwrap();
    (secrets, own)
}

/// Opens a wrapped identity (base64) with `own`.
fn unwrap(own: &Identity, wrapped: &str) -> Result<Identity, sealing::SealError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(wrapped)
        .unwrap();
    let text = sealing::open(&bytes, own)?;
    Identity::from_file_text(std::str::from_utf8(text.expose()).unwrap())
}

/// A person chooses their own password, as the browser does at first login.
async fn choose_own(client: &Client, username: &str, current: &str, own: &str) {
    let (old, _) = derived(username, current);
    let (new, identity) = derived(username, own);
    let body = json!({
        "password": old.login.expose(),
        "new_password": new.login.expose(),
        "recipient": identity.recipient().to_string(),
    });
    client.put_json("/v1/me/password", &body).await.unwrap();
}

/// `sluis grant` at an organisation's machine, with its API key; fails the test if it fails.
fn refused_grant(base: &str, key_file: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluis"))
        .args(args)
        .args(["--server", base, "--api-key-file"])
        .arg(key_file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn a_person_unwraps_the_organisations_identity_and_gives_it_on(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let care = app.parties.iter().find(|p| p.org == CARE).unwrap();
    let identity_file = dir.path().join("leviaan.key");
    std::fs::write(
        &identity_file,
        care.identity.to_file_text("test").as_bytes(),
    )
    .unwrap();
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, INITIAL).unwrap();
    let key_file = dir.path().join("leviaan-app.key");
    std::fs::write(&key_file, care.api_key.expose()).unwrap();
    let (id, pw, url) = (
        identity_file.to_str().unwrap(),
        password_file.to_str().unwrap(),
        &app.db.url,
    );
    for (user, org) in [
        ("j.jansen", CARE),
        ("p.pietersen", CARE),
        ("k.klaassen", CARE),
        ("h.hoorn", "intermaris"),
    ] {
        sluis(
            &["user", "add", user, "--org", org, "--password-file", pw],
            url,
        );
    }
    let base = app.broker.base_url.clone();
    let at_leviaan = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend([
            "--server",
            &base,
            "--api-key-file",
            key_file.to_str().unwrap(),
        ]);
        sluis(&all, url)
    };

    // The operator's initial password logs in but yields no key: the person chooses their own.
    let jansen = login(&app, "j.jansen", INITIAL).await;
    let me = jansen.get_json("/v1/me").await.unwrap();
    assert_eq!(
        (me["organisation"].as_str(), me["person"].as_bool()),
        (Some(CARE), Some(true))
    );
    assert!(
        me["recipient"].is_null() && me["wrapped_identity"].is_null(),
        "{me}"
    );
    // Before that the organisation cannot give it; a wrong current password changes nothing.
    let refused = refused_grant(&base, &key_file, &["grant", "-i", id, "j.jansen"]);
    assert!(
        refused.contains("has not chosen their own password yet"),
        "{refused}"
    );
    let (wrong, _) = derived("j.jansen", "niet het wachtwoord");
    let body = json!({
        "password": wrong.login.expose(),
        "new_password": wrong.login.expose(),
        "recipient": care.identity.recipient().to_string(),
    });
    let answer = jansen.put_json("/v1/me/password", &body).await;
    assert_eq!(answer.unwrap_err().status(), Some(403), "{backend}");
    choose_own(&jansen, "j.jansen", INITIAL, OWN).await;
    assert!(
        try_login(&app, "j.jansen", INITIAL).await.is_err(),
        "the initial password is gone"
    );
    // The first member gets the identity from the organisation's own machine.
    let granted = at_leviaan(&["grant", "-i", id, "j.jansen"]);
    assert!(
        granted.contains("gave j.jansen the organisation's identity"),
        "{granted}"
    );
    let jansen = login(&app, "j.jansen", OWN).await;
    let me = jansen.get_json("/v1/me").await.unwrap();
    let wrapped = me["wrapped_identity"].as_str().unwrap().to_owned();
    let (secrets, own) = derived("j.jansen", OWN);
    let opened = unwrap(&own, &wrapped).unwrap();
    assert_eq!(
        opened.recipient().to_string(),
        care.identity.recipient().to_string()
    );
    // Nothing the broker holds or saw opens it: the login credential and the stored hash
    // (tried as the seed of an identity), nor the identity of the operator's initial password.
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&wrapped)
        .unwrap();
    let user = app.store.user_by_name("j.jansen").await.unwrap().unwrap();
    let stored = user.password_hash.unwrap();
    for seen in [secrets.login.expose().as_bytes(), stored.as_bytes()] {
        let seed: [u8; 32] = sha2::Sha256::digest(seen).into();
        assert!(sealing::open(&bytes, &Identity::from_seed(&seed).unwrap()).is_err());
    }
    assert!(
        unwrap(&derived("j.jansen", INITIAL).1, &wrapped).is_err(),
        "{backend}"
    );

    // Pietersen chose a password and waits; Klaassen has not yet; Hoorn's user is elsewhere.
    let pietersen = login(&app, "p.pietersen", INITIAL).await;
    choose_own(&pietersen, "p.pietersen", INITIAL, OWN).await;
    let listed = at_leviaan(&["grant"]);
    assert!(
        listed.contains("j.jansen                 holds the identity"),
        "{listed}"
    );
    assert!(
        listed.contains("p.pietersen              waits for the identity"),
        "{listed}"
    );
    assert!(
        listed.contains("k.klaassen               has not chosen a password yet"),
        "{listed}"
    );
    assert!(!listed.contains("h.hoorn"), "{listed}");
    let members: Value = jansen.get_json("/v1/me/members").await.unwrap();
    let row = |name: &str| {
        (members.as_array().unwrap().iter())
            .find(|m| m["username"] == name)
            .unwrap()
            .clone()
    };
    let pietersen_id = row("p.pietersen")["id"].as_str().unwrap().to_owned();
    // Jansen's browser seals the identity it opened to Pietersen's recipient.
    let recipient: sealing::Recipient = row("p.pietersen")["recipient"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let plain = Plaintext::new(opened.to_file_text("test").as_bytes().to_vec());
    let for_pietersen = base64::engine::general_purpose::STANDARD
        .encode(sealing::seal(&plain, &[recipient]).unwrap());
    let path = format!("/v1/members/{pietersen_id}/identity");
    let body = json!({"wrapped_identity": for_pietersen});
    let klaassen = login(&app, "k.klaassen", INITIAL).await;
    let answer = klaassen.put_json(&path, &body).await;
    assert_eq!(answer.unwrap_err().status(), Some(403), "{backend}");
    let outsider = login(&app, "h.hoorn", INITIAL).await;
    let answer = outsider.put_json(&path, &body).await;
    assert_eq!(answer.unwrap_err().status(), Some(404), "{backend}");
    let bad = json!({"wrapped_identity": "bm90IGFuIGFnZSBmaWxl"});
    let answer = jansen.put_json(&path, &bad).await;
    assert_eq!(answer.unwrap_err().status(), Some(400), "{backend}");
    jansen.put_json(&path, &body).await.unwrap();
    let pietersen = login(&app, "p.pietersen", OWN).await;
    let theirs = pietersen.get_json("/v1/me").await.unwrap();
    let theirs = theirs["wrapped_identity"].as_str().unwrap();
    let opened = unwrap(&derived("p.pietersen", OWN).1, theirs).unwrap();
    assert_eq!(
        opened.recipient().to_string(),
        care.identity.recipient().to_string()
    );
    // Another organisation's identity file is refused before anything is sent.
    let other = app.parties.iter().find(|p| p.org == "intermaris").unwrap();
    let other_file = dir.path().join("intermaris.key");
    std::fs::write(&other_file, other.identity.to_file_text("test").as_bytes()).unwrap();
    let other_file = other_file.to_str().unwrap();
    let refused = refused_grant(&base, &key_file, &["grant", "-i", other_file, "k.klaassen"]);
    assert!(
        refused.contains("this identity is not the key leviaan registered"),
        "{refused}"
    );

    // A new password means a new own key: the old wrapping, which it cannot open, goes.
    let newer = "een ander wachtwoord 456";
    choose_own(&pietersen, "p.pietersen", OWN, newer).await;
    let pietersen = login(&app, "p.pietersen", newer).await;
    let me_now = pietersen.get_json("/v1/me").await.unwrap();
    assert!(me_now["wrapped_identity"].is_null(), "{backend}");
    // A system (API key) has no password; a removed user's wrapping is gone.
    let system = app.client(CARE).await;
    let body = json!({
        "password": "x",
        "new_password": secrets.login.expose(),
        "recipient": care.identity.recipient().to_string(),
    });
    let answer = system.put_json("/v1/me/password", &body).await;
    assert_eq!(answer.unwrap_err().status(), Some(403), "{backend}");
    assert_eq!(
        system.get_json("/v1/me").await.unwrap()["person"],
        json!(false)
    );
    sluis(&["user", "delete", "j.jansen"], url);
    let jansen_id = me["user_id"].as_str().unwrap();
    assert!(
        app.store.person_key(jansen_id).await.unwrap().is_none(),
        "{backend}"
    );
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn a_person_unwraps_the_organisations_identity_and_gives_it_on);

/// A list of cases gets every client's name in one request: for each case of the caller's
/// organisation its own copy of that one field, and one access event per case naming that
/// field alone; cases of other organisations are not in it, and a field outside the policy or
/// a missing purpose is refused.
async fn a_list_gets_the_names_of_all_its_cases_in_one_request(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let first = app
        .submit(CARE, &sluis::demo::fictional_registration())
        .await;
    let second = app.submit(CARE, &sluis::demo::second_registration()).await;
    let elsewhere = app
        .submit("parlan", &sluis::demo::fictional_registration())
        .await;
    let care = app.client(CARE).await;
    let before = app.store.audit_size().await.unwrap();
    let names = care
        .get_json("/v1/cases/names?purpose=guidance&field=full_name")
        .await
        .unwrap();
    let names = names["names"].as_array().unwrap();
    let mut cases: Vec<&str> = names.iter().map(|n| n["case"].as_str().unwrap()).collect();
    cases.sort_unstable();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort_unstable();
    assert_eq!(cases, expected, "{backend}: not {elsewhere}");
    let identity = &app.party(CARE).identity;
    let mut opened: Vec<String> = names
        .iter()
        .map(|n| {
            assert_eq!(n["field"], json!("full_name"));
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(n["age"].as_str().unwrap())
                .unwrap();
            String::from_utf8(sealing::open(&bytes, identity).unwrap().expose().to_vec()).unwrap()
        })
        .collect();
    opened.sort();
    assert_eq!(opened, ["Sanne de Vries", "Yusuf Amrani"], "{backend}");
    let log = app.store.audit_log().await.unwrap();
    let reads: Vec<_> = log
        .iter()
        .filter(|s| s.event.seq > before as i64 && s.event.action == "read")
        .collect();
    assert_eq!(reads.len(), 2, "{backend}: one event per case");
    for read in reads {
        assert_eq!(read.event.fields, ["full_name"], "{backend}");
        assert_eq!(read.event.purpose.as_deref(), Some("guidance"));
    }
    for bad in [
        "/v1/cases/names?purpose=guidance&field=geheim",
        "/v1/cases/names?field=full_name",
        "/v1/cases/names?purpose=guidance",
    ] {
        assert_eq!(
            care.get_json(bad).await.unwrap_err().status(),
            Some(400),
            "{bad}"
        );
    }
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn a_list_gets_the_names_of_all_its_cases_in_one_request);

/// The pages at `/` come from the binary with a strict Content-Security-Policy of their own;
/// the API keeps `default-src 'none'`.
#[tokio::test]
async fn the_pages_are_served_under_a_strict_content_security_policy() {
    let app = TestApp::start("sqlite").await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", app.broker.base_url)).send();
    let page = get("/").await.unwrap();
    assert_eq!(page.status(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(
        header(&page, "content-security-policy"),
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         font-src 'self' data:; connect-src 'self'; worker-src 'self'; form-action 'self'; \
         base-uri 'none'; frame-ancestors 'none'"
    );
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "x-frame-options"), "DENY");
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"nl\""), "{html}");
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "nothing inline"
    );
    for (asset, kind) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/worker.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
    ] {
        let r = get(asset).await.unwrap();
        assert_eq!(
            (r.status().as_u16(), header(&r, "content-type")),
            (200, kind.to_owned())
        );
    }
    let missing = get("/assets/nothing.js").await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(header(&missing, "content-type"), "application/problem+json");
    let api = get("/v1/policy").await.unwrap();
    assert_eq!(
        header(&api, "content-security-policy"),
        "default-src 'none'; frame-ancestors 'none'"
    );
    app.broker.stop().await.unwrap();
}

/// The admin lists every user with the state of their keys, never a secret; nobody else may.
async fn the_admin_lists_users_and_their_keys(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let people = sluis::demo::add_people(&app.store, &app.parties, &[CARE])
        .await
        .unwrap();
    let admin = app.client("sluis-beheer").await;
    let users = admin.get_json("/v1/users").await.unwrap();
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 23, "{backend}: 22 systems and one person");
    let person = users
        .iter()
        .find(|u| u["username"] == json!(people[0].username))
        .unwrap();
    assert_eq!(
        (
            &person["person"],
            &person["own_key"],
            &person["has_identity"],
            &person["api_keys"]
        ),
        (&json!(true), &json!(true), &json!(true), &json!(0))
    );
    let system = users
        .iter()
        .find(|u| u["username"] == "leviaan-system")
        .unwrap();
    assert_eq!(
        (&system["person"], &system["api_keys"]),
        (&json!(false), &json!(1))
    );
    let text = serde_json::to_string(&users).unwrap();
    assert!(
        !text.contains("argon2") && !text.contains("age1"),
        "{backend}: no secret, no key"
    );
    let care = app.client(CARE).await;
    assert_eq!(
        care.get_json("/v1/users").await.unwrap_err().status(),
        Some(403)
    );
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn the_admin_lists_users_and_their_keys);
