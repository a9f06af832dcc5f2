//! Benchmark: a care organisation's list of 100 cases with every client's name opened in
//! headless Chromium (`web/tests/browser/bench-names.mjs`), against the list's own request
//! without names, measured in the same run; reported as a ratio, never asserted. Needs
//! Debian's Chromium and `web/node_modules`; without them it says so and measures nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a benchmark: a step that fails stops it"
)]

use std::sync::Arc;

use serde_json::{Value, json};
use sluis::api::{AppState, RunningBroker};
use sluis::auth::Secret;
use sluis::client::{Client, Credentials};
use sluis::store::Store;

const CASES: usize = 100;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let chromium = std::env::var("SLUIS_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists()
        || !std::path::Path::new(manifest)
            .join("web/node_modules")
            .exists()
    {
        println!("names: skipped (needs {chromium} and web/node_modules)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("b.db").display()))
        .await
        .unwrap();
    let policy =
        sluis::policy::Policy::load_dir(std::path::Path::new(&format!("{manifest}/policy")))
            .unwrap();
    let parties = sluis::demo::enrol_parties(&store, &policy).await.unwrap();
    let people = sluis::demo::add_people(&store, &parties, &["leviaan"])
        .await
        .unwrap();
    let state = AppState::ephemeral(store.clone(), Arc::new(policy));
    let broker = RunningBroker::start(state, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let key = &parties.iter().find(|p| p.org == "leviaan").unwrap().api_key;
    let care = Client::new(&broker.base_url)
        .login(&Credentials::ApiKey(Secret::new(key.expose().to_owned())))
        .await
        .unwrap();
    for i in 0..CASES {
        let mut form = sluis::demo::fictional_registration();
        form["full_name"] = json!(format!("Cliënt {i:03}"));
        care.submit("registration", &form, &sluis::demo::fictional_consent())
            .await
            .unwrap();
    }
    let base = broker.base_url.clone();
    let person = json!({"username": people[0].username, "password": people[0].password});
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg("tests/browser/bench-names.mjs")
            .current_dir(format!("{manifest}/web"))
            .env("SLUIS_URL", base)
            .env("SLUIS_PERSON", person.to_string())
            .env("SLUIS_CHROMIUM", chromium)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    broker.stop().await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let result: Value = serde_json::from_str(text.trim()).unwrap_or_else(|_| {
        panic!("{text}{}", String::from_utf8_lossy(&out.stderr));
    });
    let (names, list) = (
        result["names_ms"].as_f64().unwrap(),
        result["list_ms"].as_f64().unwrap(),
    );
    println!(
        "names of {} cases shown: {names:.1} ms; the list's own request: {list:.1} ms; ratio {:.1}",
        result["cases"],
        names / list
    );
}
