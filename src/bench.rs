//! `sluis bench`: the load harness. It starts a real `sluis serve` (this binary) on 127.0.0.1
//! on a fresh database, drives submissions, slice downloads and a trivial JSON endpoint with
//! 1, 16 and 64 concurrent clients over real HTTP — bounded in requests and time, stopping by
//! itself — and measures in the same run the baselines each figure is compared with: the raw
//! age encryption of the same forms on all cores, the raw database insert of the same bytes in
//! one transaction, and the trivial endpoint on the same stack.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;
use serde_json::{Value, json};

use crate::auth::{Secret, SigningKey};
use crate::client::{Client, Credentials};
use crate::demo::{enrol_parties, fictional_consent, fictional_registration};
use crate::policy::Policy;
use crate::store::Store;

/// One measured figure beside its baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// What was measured.
    pub name: String,
    /// The figure.
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// The baseline it is compared with, if any.
    pub baseline_name: Option<String>,
    /// The baseline's figure, measured in the same run.
    pub baseline_value: Option<f64>,
    /// `value / baseline_value`.
    pub ratio: Option<f64>,
}

impl Record {
    fn new(name: impl Into<String>, value: f64, unit: &str) -> Self {
        Self {
            name: name.into(),
            value,
            unit: unit.into(),
            baseline_name: None,
            baseline_value: None,
            ratio: None,
        }
    }

    fn against(mut self, name: impl Into<String>, value: f64) -> Self {
        self.baseline_name = Some(name.into());
        self.baseline_value = Some(value);
        self.ratio = (value != 0.0).then(|| self.value / value);
        self
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Database URL; a fresh SQLite file in a temp directory when `None`.
    pub database: Option<String>,
    /// Concurrent clients per level.
    pub levels: Vec<usize>,
    /// At most this long per measurement.
    pub seconds: f64,
    /// At most this many requests per measurement.
    pub max_requests: usize,
    /// The `sluis` binary to serve with.
    pub binary: PathBuf,
    /// The policy directory.
    pub policy_dir: PathBuf,
    /// Events in the access log when the per-client access report is timed.
    pub log_events: u64,
}

/// Latency figures of one measurement.
struct Run {
    count: usize,
    per_second: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `clients` workers doing `request` until the time or request budget is spent.
async fn drive<F, Fut>(clients: usize, seconds: f64, max_requests: usize, request: F) -> Result<Run>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..clients {
        let request = request.clone();
        let issued = issued.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline
                && issued.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < max_requests
            {
                let t = Instant::now();
                request(w).await?;
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    Ok(Run {
        count: all.len(),
        per_second: all.len() as f64 / elapsed,
        p50_ms: percentile(&all, 50.0),
        p95_ms: percentile(&all, 95.0),
        p99_ms: percentile(&all, 99.0),
    })
}

/// Peak and current resident set of a process, in MiB (Linux `/proc`).
fn memory_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<f64>()
            .ok()
            .map(|kb| kb / 1024.0)
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// CPU time (user + system) a process has used, in seconds (Linux `/proc`, USER_HZ = 100).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is the first, utime the
    // 12th and stime the 13th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// A `sluis serve` child; killed when dropped.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the whole harness and returns its records.
pub async fn run(options: &Options) -> Result<Vec<Record>> {
    let dir = tempfile::tempdir()?;
    let url = match &options.database {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", dir.path().join("bench.db").display()),
    };
    let policy = Policy::load_dir(&options.policy_dir)?;
    let store = Store::connect(&url).await?;
    let parties = enrol_parties(&store, &policy).await?;
    let key_file = dir.path().join("signing.pem");
    std::fs::write(
        &key_file,
        SigningKey::to_pem(&SigningKey::generate_pkcs8()).as_bytes(),
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let server = Server(
        std::process::Command::new(&options.binary)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--signing-key",
            ])
            .arg(&key_file)
            .arg("--policy")
            .arg(&options.policy_dir)
            .env("DATABASE_URL", &url)
            .env("SLUIS_RATE_PER_SECOND", "1000000")
            .env("SLUIS_RATE_BURST", "1000000")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting sluis serve")?,
    );
    let pid = server.0.id();
    wait_ready(&base).await?;
    let backend = if url.starts_with("sqlite") {
        "sqlite"
    } else {
        "postgres"
    };
    let login = |org: &str| {
        let key = parties
            .iter()
            .find(|p| p.org == org)
            .map(|p| Secret::new(p.api_key.expose().to_owned()));
        let base = base.clone();
        async move {
            Ok::<_, anyhow::Error>(
                Client::new(&base)
                    .login(&Credentials::ApiKey(key.context("not enrolled")?))
                    .await?,
            )
        }
    };
    let care = login("leviaan").await?;
    let form = fictional_registration();
    let consent = fictional_consent();
    let body =
        std::sync::Arc::new(json!({"form": "registration", "fields": form, "consent": consent}));
    let case = care.post_json("/v1/cases", &body).await?["id"]
        .as_str()
        .context("no case id")?
        .to_owned();
    let mut records = Vec::new();

    // Baselines: raw age encryption of the same form on all cores; the raw insert of the same
    // bytes in one transaction.
    let recipients: Vec<String> = ["leviaan", "bct-westfriesland"]
        .iter()
        .map(|o| {
            parties
                .iter()
                .find(|p| p.org == *o)
                .map(|p| p.identity.recipient().to_string())
        })
        .collect::<Option<_>>()
        .context("recipients")?;
    let values = form_values(&form);
    let cpu_before = cpu_seconds("self");
    let (seal_forms_per_s, sealed_forms) =
        raw_seal_rate(&values, &recipients, options.seconds.min(3.0))?;
    // CPU the age crate alone spends on one form (all threads of this process).
    let seal_cpu_ms = match (cpu_before, cpu_seconds("self")) {
        (Some(a), Some(b)) if sealed_forms > 0 => Some((b - a) * 1000.0 / sealed_forms as f64),
        _ => None,
    };
    records.push(Record::new(
        "raw age encryption of the form (all cores)",
        seal_forms_per_s,
        "forms/s",
    ));
    let sample = crate::sealing::seal_all(
        values
            .iter()
            .map(|v| crate::sealing::SealJob {
                plaintext: crate::sealing::Plaintext::new(v.clone()),
                recipients: recipients.iter().filter_map(|r| r.parse().ok()).collect(),
            })
            .collect(),
    )?;
    let insert_forms_per_s = raw_insert_rate(&store, &sample, options.seconds.min(3.0)).await?;
    records.push(Record::new(
        format!("raw {backend} insert of the form's ciphertexts in one transaction"),
        insert_forms_per_s,
        "forms/s",
    ));
    let ceiling = seal_forms_per_s.min(insert_forms_per_s);
    // One durable single-row commit: what every access event costs at least (a download
    // commits its event before it is served).
    let commit_per_s = raw_insert_rate(&store, &sample[..1], options.seconds.min(3.0)).await?;
    records.push(Record::new(
        format!("raw {backend} single-row commit"),
        commit_per_s,
        "commits/s",
    ));

    for &clients in &options.levels {
        let tokens = std::sync::Arc::new({
            let mut v = Vec::new();
            for _ in 0..clients {
                v.push(login("leviaan").await?);
            }
            v
        });
        let healthz = {
            let http = reqwest::Client::new();
            let url = format!("{base}/healthz");
            drive(clients, options.seconds, options.max_requests, move |_| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let r = http.get(&url).send().await?;
                    if !r.status().is_success() {
                        bail!("healthz {}", r.status());
                    }
                    r.bytes().await?;
                    Ok(())
                }
            })
            .await?
        };
        let before = log_share(&base).await?;
        let downloads = {
            let tokens = tokens.clone();
            let case = case.clone();
            drive(clients, options.seconds, options.max_requests, move |w| {
                let (tokens, case) = (tokens.clone(), case.clone());
                async move {
                    tokens[w].slice(&case, "guidance").await?;
                    Ok(())
                }
            })
            .await?
        };
        let after = log_share(&base).await?;
        let server_cpu_before = cpu_seconds(&pid.to_string());
        let submissions = {
            let tokens = tokens.clone();
            let body = body.clone();
            drive(
                clients,
                options.seconds,
                options.max_requests / 4,
                move |w| {
                    let (tokens, body) = (tokens.clone(), body.clone());
                    async move {
                        tokens[w].post_json("/v1/cases", &body).await?;
                        Ok(())
                    }
                },
            )
            .await?
        };
        let server_cpu = match (server_cpu_before, cpu_seconds(&pid.to_string())) {
            (Some(a), Some(b)) if submissions.count > 0 => {
                Some((b - a) * 1000.0 / submissions.count as f64)
            }
            _ => None,
        };
        let tag = format!("{backend}, {clients} clients");
        if let (Some(server), Some(seal)) = (server_cpu, seal_cpu_ms) {
            records.push(
                Record::new(
                    format!("broker CPU time per submission ({tag})"),
                    server,
                    "ms",
                )
                .against("raw age encryption CPU time per form", seal),
            );
        }
        records.push(Record::new(
            format!("trivial JSON endpoint /healthz ({tag})"),
            healthz.per_second,
            "requests/s",
        ));
        records.push(
            Record::new(
                format!("slice downloads ({tag})"),
                downloads.per_second,
                "requests/s",
            )
            .against(format!("/healthz ({tag})"), healthz.per_second),
        );
        records.push(
            Record::new(
                format!("slice downloads against durable commits ({tag})"),
                downloads.per_second,
                "requests/s",
            )
            .against(format!("raw {backend} single-row commit"), commit_per_s),
        );
        for (p, v) in [
            ("p50", downloads.p50_ms),
            ("p95", downloads.p95_ms),
            ("p99", downloads.p99_ms),
        ] {
            let base = match p {
                "p50" => healthz.p50_ms,
                "p95" => healthz.p95_ms,
                _ => healthz.p99_ms,
            };
            records.push(
                Record::new(format!("slice download latency {p} ({tag})"), v, "ms")
                    .against(format!("/healthz latency {p} ({tag})"), base),
            );
        }
        let (waited, took) = (after.0 - before.0, after.1 - before.1);
        records.push(
            Record::new(
                format!("share of a slice download spent on its access event ({tag})"),
                if took > 0.0 {
                    100.0 * waited / took
                } else {
                    0.0
                },
                "%",
            )
            .against("target", 10.0),
        );
        records.push(
            Record::new(
                format!("submissions ({tag})"),
                submissions.per_second,
                "forms/s",
            )
            .against("lower of raw seal and raw insert", ceiling),
        );
        for (p, v) in [
            ("p50", submissions.p50_ms),
            ("p95", submissions.p95_ms),
            ("p99", submissions.p99_ms),
        ] {
            records.push(Record::new(
                format!("submission latency {p} ({tag})"),
                v,
                "ms",
            ));
        }
    }
    // Sealing runs on the blocking pool: requests that seal nothing stay fast while forms are
    // being sealed. /healthz and downloads alone, then beside as many clients submitting.
    if let Some(&clients) = options.levels.iter().max() {
        let tokens = std::sync::Arc::new({
            let mut v = Vec::new();
            for _ in 0..clients * 2 {
                v.push(login("leviaan").await?);
            }
            v
        });
        let probe = |during: bool| {
            let (tokens, body, case, base) =
                (tokens.clone(), body.clone(), case.clone(), base.clone());
            async move {
                let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                let submitters: Vec<_> = (0..if during { clients } else { 0 })
                    .map(|w| {
                        let (tokens, body, stop) = (tokens.clone(), body.clone(), stop.clone());
                        tokio::spawn(async move {
                            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                                tokens[clients + w].post_json("/v1/cases", &body).await?;
                            }
                            Ok::<_, anyhow::Error>(())
                        })
                    })
                    .collect();
                let http = reqwest::Client::new();
                let url = format!("{base}/healthz");
                let healthz = drive(clients, options.seconds, options.max_requests, move |_| {
                    let (http, url) = (http.clone(), url.clone());
                    async move {
                        http.get(&url)
                            .send()
                            .await?
                            .error_for_status()?
                            .bytes()
                            .await?;
                        Ok(())
                    }
                })
                .await;
                let downloads = drive(clients, options.seconds, options.max_requests, {
                    let tokens = tokens.clone();
                    move |w| {
                        let (tokens, case) = (tokens.clone(), case.clone());
                        async move {
                            tokens[w].slice(&case, "guidance").await?;
                            Ok(())
                        }
                    }
                })
                .await;
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
                for s in submitters {
                    s.await??;
                }
                Ok::<_, anyhow::Error>((healthz?, downloads?))
            }
        };
        let (healthz_alone, downloads_alone) = probe(false).await?;
        let (healthz_during, downloads_during) = probe(true).await?;
        let tag = format!("{backend}, {clients} clients");
        records.push(
            Record::new(
                format!("/healthz latency p99 while {clients} clients submit forms ({tag})"),
                healthz_during.p99_ms,
                "ms",
            )
            .against(
                format!("/healthz latency p99 alone ({tag})"),
                healthz_alone.p99_ms,
            ),
        );
        records.push(
            Record::new(
                format!("slice downloads while {clients} clients submit forms ({tag})"),
                downloads_during.per_second,
                "requests/s",
            )
            .against(
                format!("slice downloads alone ({tag})"),
                downloads_alone.per_second,
            ),
        );
    }
    // The privacy officer's access report of one client over a log of `log_events` events
    // (filled through the ordinary append path): proofs read from the stored tree.
    let have = store.audit_size().await?;
    if options.log_events > have {
        let clients: Vec<String> = (0..options.log_events.div_ceil(20).max(1))
            .map(|i| format!("p-{i:032x}"))
            .collect();
        store
            .bench_fill_log(options.log_events - have, "leviaan", &clients)
            .await?;
    }
    let size = store.audit_size().await?;
    let officer = login(crate::demo::DEMO_PRIVACY_OFFICER).await?;
    let mut latencies = Vec::new();
    let mut entries = 0usize;
    for i in 0..20 {
        let started = Instant::now();
        let report = officer
            .get_json(&format!("/v1/audit/clients/p-{:032x}/report", i * 7))
            .await?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        entries += report["events"].as_array().map_or(0, Vec::len);
    }
    latencies.sort_by(f64::total_cmp);
    records.push(
        Record::new(
            format!(
                "per-client access report p50 over {size} events ({backend}, {} events per client)",
                entries / 20
            ),
            percentile(&latencies, 50.0),
            "ms",
        )
        .against("target", 20.0),
    );
    records.push(
        Record::new(
            format!("per-client access report p99 over {size} events ({backend})"),
            percentile(&latencies, 99.0),
            "ms",
        )
        .against("target", 20.0),
    );
    if let Some((peak, _)) = memory_mib(pid) {
        records.push(
            Record::new("broker peak resident set during the load", peak, "MiB")
                .against("target", 150.0),
        );
    }
    // A 20 MiB document, streamed: the peak resident set before and after.
    let (peak_before, _) = memory_mib(pid).unwrap_or((0.0, 0.0));
    care.upload(&case, "perspective_plan", vec![b'%'; 20 * 1024 * 1024])
        .await?;
    if let Some((peak_after, _)) = memory_mib(pid) {
        records.push(
            Record::new(
                "peak resident set added by a 20 MiB upload",
                peak_after - peak_before,
                "MiB",
            )
            .against("target", 10.0),
        );
    }
    drop(server);
    store.close().await;
    Ok(records)
}

/// From the broker's metrics: seconds requests waited for their access events to be durable,
/// and seconds slice downloads took, both summed since the broker started.
async fn log_share(base: &str) -> Result<(f64, f64)> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await?
        .error_for_status()?
        .text()
        .await?;
    let sum = |prefix: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    Ok((
        sum("sluis_audit_wait_seconds_sum"),
        sum("sluis_http_request_duration_seconds_sum{route=\"/v1/cases/{id}/slice\"}"),
    ))
}

async fn wait_ready(base: &str) -> Result<()> {
    let http = reqwest::Client::new();
    for _ in 0..400 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("sluis serve did not become ready at {base}")
}

/// The form's values as the plaintext bytes the broker seals (numbers as digits, lists as
/// JSON), so that the baseline encrypts the same bytes.
fn form_values(form: &Value) -> Vec<Vec<u8>> {
    form.as_object()
        .map(|m| {
            m.values()
                .map(|v| match v {
                    Value::String(s) => s.as_bytes().to_vec(),
                    other => other.to_string().into_bytes(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Forms per second that the age crate alone encrypts (each field to `recipients`), on all
/// cores — written against the age crate directly, not through Sluis, as the baseline.
fn raw_seal_rate(values: &[Vec<u8>], recipients: &[String], seconds: f64) -> Result<(f64, u64)> {
    use rayon::prelude::*;
    use std::io::Write as _;
    let recipients: Vec<age::x25519::Recipient> = recipients
        .iter()
        .map(|r| r.parse().map_err(|e| anyhow::anyhow!("{e}")))
        .collect::<Result<_>>()?;
    let seal_form = || -> Result<()> {
        values.par_iter().try_for_each(|v| {
            let e = age::Encryptor::with_recipients(
                recipients.iter().map(|r| r as &dyn age::Recipient),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut out = Vec::with_capacity(v.len() + 400);
            let mut w = e.wrap_output(&mut out)?;
            w.write_all(v)?;
            w.finish()?;
            Ok(())
        })
    };
    let started = Instant::now();
    let mut forms = 0u64;
    while started.elapsed().as_secs_f64() < seconds || forms < 5 {
        seal_form()?;
        forms += 1;
    }
    Ok((forms as f64 / started.elapsed().as_secs_f64(), forms))
}

async fn raw_insert_rate(store: &Store, ciphertexts: &[Vec<u8>], seconds: f64) -> Result<f64> {
    let started = Instant::now();
    let mut forms = 0u64;
    while started.elapsed().as_secs_f64() < seconds || forms < 5 {
        store.bench_insert(ciphertexts).await?;
        forms += 1;
    }
    Ok(forms as f64 / started.elapsed().as_secs_f64())
}

/// The records as a table for a person.
pub fn table(records: &[Record]) -> String {
    let mut out = format!(
        "{:<78} {:>12} {:<11} {:>12} {:>7}\n",
        "measure", "value", "unit", "baseline", "ratio"
    );
    for r in records {
        out.push_str(&format!(
            "{:<78} {:>12.2} {:<11} {:>12} {:>7}\n",
            r.name,
            r.value,
            r.unit,
            r.baseline_value
                .map_or(String::new(), |b| format!("{b:.2}")),
            r.ratio.map_or(String::new(), |x| format!("{x:.2}")),
        ));
    }
    out
}

/// Writes the records as JSON to `path`.
pub fn write_json(records: &[Record], path: &Path) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(records)?)
        .with_context(|| format!("writing {}", path.display()))
}
