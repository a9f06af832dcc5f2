//! Micro-benchmarks, each beside its physical baseline measured in the same run (criterion):
//! sealing a registration form against the age crate alone, opening a slice, a policy
//! decision, building and verifying the access log over 1,000,000 events against plain
//! SHA-256 of the same bytes, proofs, and appending to the log against a raw durable commit. `cargo bench`; BENCHMARKS.md has the figures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmarks: a step that fails ends the run"
)]
#![allow(missing_docs)]

use std::hint::black_box;
use std::io::Write as _;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};
use sluis::audit::{self, Event, StoredEvent, Tree};
use sluis::sealing::{self, Identity, Plaintext, Recipient, SealJob};

/// The registration form's values as the bytes the broker seals (40 values).
fn form_values() -> Vec<Vec<u8>> {
    let form = sluis::demo::fictional_registration();
    let mut values: Vec<Vec<u8>> = form
        .as_object()
        .unwrap()
        .values()
        .map(|v| match v {
            serde_json::Value::String(s) => s.as_bytes().to_vec(),
            other => other.to_string().into_bytes(),
        })
        .collect();
    while values.len() < 40 {
        values.push(b"aanvullende toelichting bij de aanmelding".to_vec());
    }
    values.truncate(40);
    values
}

fn raw_age(values: &[Vec<u8>], recipients: &[age::x25519::Recipient]) {
    values.par_iter().for_each(|v| {
        let e =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .unwrap();
        let mut out = Vec::with_capacity(v.len() + 400);
        let mut w = e.wrap_output(&mut out).unwrap();
        w.write_all(v).unwrap();
        w.finish().unwrap();
        black_box(out);
    });
}

fn sealing(c: &mut Criterion) {
    let values = form_values();
    let mut group = c.benchmark_group("seal registration form (40 fields)");
    for n in [2usize, 4, 8] {
        let identities: Vec<Identity> = (0..n).map(|_| Identity::generate()).collect();
        let recipients: Vec<Recipient> = identities.iter().map(Identity::recipient).collect();
        let raw: Vec<age::x25519::Recipient> = recipients
            .iter()
            .map(|r| r.to_string().parse().unwrap())
            .collect();
        group.bench_with_input(BenchmarkId::new("sluis seal_all", n), &n, |b, _| {
            b.iter(|| {
                let jobs = values
                    .iter()
                    .map(|v| SealJob {
                        plaintext: Plaintext::new(v.clone()),
                        recipients: recipients.clone(),
                    })
                    .collect();
                black_box(sealing::seal_all(jobs).unwrap())
            });
        });
        group.bench_with_input(BenchmarkId::new("raw age (baseline)", n), &n, |b, _| {
            b.iter(|| raw_age(&values, &raw));
        });
    }
    group.finish();

    let identity = Identity::generate();
    let sealed: Vec<Vec<u8>> = values
        .iter()
        .map(|v| sealing::seal(&Plaintext::new(v.clone()), &[identity.recipient()]).unwrap())
        .collect();
    let raw_identity: age::x25519::Identity = identity
        .to_file_text("bench")
        .lines()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    let mut group = c.benchmark_group("open a slice (40 fields)");
    group.bench_function("sluis open", |b| {
        b.iter(|| {
            for s in &sealed {
                black_box(sealing::open(s, &identity).unwrap());
            }
        });
    });
    group.bench_function("raw age decrypt (baseline)", |b| {
        b.iter(|| {
            for s in &sealed {
                let d = age::Decryptor::new(&s[..]).unwrap();
                let mut r = d
                    .decrypt(std::iter::once(&raw_identity as &dyn age::Identity))
                    .unwrap();
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut r, &mut out).unwrap();
                black_box(out);
            }
        });
    });
    group.finish();
}

fn policy_decision(c: &mut Criterion) {
    let policy = sluis::policy::Policy::load_dir(std::path::Path::new("policy")).unwrap();
    let parties: Vec<(String, String)> = [
        ("leviaan", "care"),
        ("bct-westfriesland", "coordinator"),
        ("intermaris", "corporation"),
        ("het-grootslag", "corporation"),
        ("wooncompagnie", "corporation"),
        ("hoorn", "municipality"),
    ]
    .iter()
    .map(|(o, r)| (o.to_string(), r.to_string()))
    .collect();
    let fields: Vec<String> = policy.fields.keys().cloned().collect();
    c.bench_function("policy: entitled parties of one field", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % fields.len();
            black_box(policy.entitled(&fields[i], &parties))
        });
    });
}

fn events(n: u64) -> Vec<Event> {
    (1..=n)
        .map(|seq| {
            let mut e = Event::new("read", "allowed");
            e.seq = seq as i64;
            e.time = format!(
                "2026-11-23T12:{:02}:{:02}.{:03}Z",
                (seq / 60_000) % 60,
                (seq / 1000) % 60,
                seq % 1000
            );
            e.org = Some("intermaris".into());
            e.user = Some(format!("user-{}", seq % 97));
            e.case = Some(format!("case-{}", seq % 5000));
            e.purpose = Some("matching".into());
            e.fields = vec!["full_name".into(), "net_monthly_income".into()];
            e.categories = vec!["income".into(), "personalia".into()];
            e
        })
        .collect()
}

fn access_log(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    let events = events(N);
    let canonical: Vec<Vec<u8>> = events.iter().map(Event::canonical).collect();
    let mut previous = [0u8; 32];
    let stored: Vec<StoredEvent> = events
        .iter()
        .map(|e| {
            let leaf = e.leaf_hash();
            previous = audit::chain_hash(&previous, &leaf);
            StoredEvent {
                event: e.clone(),
                leaf_hash: hex::encode(leaf),
                chain_hash: hex::encode(previous),
                expired: false,
            }
        })
        .collect();
    let mut group = c.benchmark_group("access log over 1,000,000 events");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N));
    group.bench_function("raw SHA-256 of the events' bytes (baseline)", |b| {
        b.iter(|| {
            for bytes in &canonical {
                black_box(Sha256::digest(bytes));
            }
        });
    });
    group.bench_function("build the RFC 9162 tree and its root", |b| {
        b.iter(|| black_box(Tree::of(&events).root()));
    });
    group.bench_function("verify the stored log (hashes, chain, tree)", |b| {
        b.iter(|| {
            let report = audit::verify(&stored, &[], &[]);
            assert!(report.ok);
            black_box(report)
        });
    });
    group.finish();

    let tree = Tree::of(&events);
    let (size, root) = (tree.size(), tree.root());
    let mut group = c.benchmark_group("proofs in a tree of 1,000,000 events");
    group.bench_function("inclusion proof", |b| {
        b.iter(|| black_box(tree.inclusion_proof(777_777)));
    });
    let proof = tree.inclusion_proof(777_777).unwrap();
    group.bench_function("verify inclusion", |b| {
        b.iter(|| {
            assert!(audit::verify_inclusion(
                &events[777_776],
                size,
                &root,
                &proof
            ));
        });
    });
    group.bench_function("consistency proof (500,000 → 1,000,000)", |b| {
        b.iter(|| black_box(tree.consistency_proof(500_000)));
    });
    group.finish();
}

/// Appending to the access log in a real SQLite database (WAL, `synchronous=FULL`): one event
/// in its own commit beside one raw durable single-row commit, and 64 concurrent events that
/// share a commit (group commit).
fn audit_append(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("append.db").display());
    let store = rt.block_on(sluis::store::Store::connect(&url)).unwrap();
    let event = events(1).remove(0);
    let blob = event.canonical();
    let mut group = c.benchmark_group("access log append (SQLite, synchronous=FULL)");
    group.sample_size(20);
    group.bench_function(
        "raw single-row commit of the event's bytes (baseline)",
        |b| {
            b.iter(|| {
                rt.block_on(store.bench_insert(std::slice::from_ref(&blob)))
                    .unwrap();
            });
        },
    );
    group.bench_function("append one event", |b| {
        b.iter(|| {
            rt.block_on(store.record(event.clone())).unwrap();
        });
    });
    group.throughput(Throughput::Elements(64));
    group.bench_function("append 64 concurrent events (group commit)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let appends: Vec<_> = (0..64)
                    .map(|_| {
                        let (store, event) = (store.clone(), event.clone());
                        tokio::spawn(async move { store.record(event).await })
                    })
                    .collect();
                for a in appends {
                    a.await.unwrap().unwrap();
                }
            });
        });
    });
    group.finish();
}

criterion_group!(benches, sealing, policy_decision, access_log, audit_append);
criterion_main!(benches);
