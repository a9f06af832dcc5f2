//! The access log: appending events (hash chain, the RFC 9162 tree stored as it grows,
//! group commit of concurrent requests), reading them back, proofs and checkpoints.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::Row as _;

use crate::audit;
use crate::audit::{Checkpoint, Event, StoredEvent};
use crate::cases::SealedField;
use crate::clock::Clock;
use crate::consent::ReleaseRule;

use super::sealed::{slice_ids, slice_in, slice_read};
use super::{Store, StoreError};

// ---- audit log -----------------------------------------------------------------------------

/// The log's head as a transaction found it, advanced in memory as the transaction writes
/// events; `finish` stores it.
pub(super) struct Appender {
    next_seq: i64,
    chain: [u8; 32],
    time: String,
    /// Tree nodes still needed as left halves of subtrees to come (the right frontier of
    /// what this transaction wrote).
    frontier: HashMap<audit::Node, [u8; 32]>,
}

impl Appender {
    /// Reserves the next `count` sequence numbers. Must be the first statement of its
    /// transaction: the UPDATE takes SQLite's write lock and PostgreSQL's row lock, so appends
    /// are serialised (across replicas too) and sequence numbers have no gaps.
    pub(super) async fn begin(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        count: i64,
    ) -> Result<Self, StoreError> {
        let row = sqlx::query(
            "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, chain_hash, time",
        )
        .bind(count)
        .fetch_one(&mut **tx)
        .await?;
        let last: i64 = row.try_get("seq")?;
        Ok(Self {
            next_seq: last - count + 1,
            chain: hash_from_hex(&row.try_get::<String, _>("chain_hash")?, "audit_head")?,
            time: row.try_get("time")?,
            frontier: HashMap::new(),
        })
    }

    /// Writes `event` at the next reserved sequence number, with its time, leaf and chain
    /// hashes, and the tree nodes it completes.
    pub(super) async fn write(
        &mut self,
        clock: &Clock,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        event: Event,
    ) -> Result<Event, StoreError> {
        let mut event = event.as_kept();
        event.seq = self.next_seq;
        // Never before the previous event, even if replicas' clocks differ.
        event.time = clock.now_text().max(self.time.clone());
        let leaf = event.leaf_hash();
        let chain = audit::chain_hash(&self.chain, &leaf);
        let list = |v: &[String]| serde_json::Value::from(v.to_vec()).to_string();
        sqlx::query(
            "INSERT INTO audit_events (seq, time, action, outcome, reason, user_id, role, org_id, \
             on_behalf_of, purpose, case_id, client_pseudonym, fields, categories, recipients, \
             consent_id, policy_rule, request_id, source, user_agent, leaf_hash, chain_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20, $21, $22)",
        )
        .bind(event.seq)
        .bind(&event.time)
        .bind(&event.action)
        .bind(&event.outcome)
        .bind(event.reason.as_deref())
        .bind(event.user.as_deref())
        .bind(event.role.as_deref())
        .bind(event.org.as_deref())
        .bind(event.on_behalf_of.as_deref())
        .bind(event.purpose.as_deref())
        .bind(event.case.as_deref())
        .bind(event.client.as_deref())
        .bind(list(&event.fields))
        .bind(list(&event.categories))
        .bind(list(&event.recipients))
        .bind(event.consent.as_deref())
        .bind(event.policy_rule.as_deref())
        .bind(event.request_id.as_deref())
        .bind(event.source.as_deref())
        .bind(event.user_agent.as_deref())
        .bind(hex::encode(leaf))
        .bind(hex::encode(chain))
        .execute(&mut **tx)
        .await?;
        let index = u64::try_from(event.seq - 1)
            .map_err(|_| StoreError::Corrupt("an access event numbered below 1".into()))?;
        self.frontier.insert(audit::Node { level: 0, index }, leaf);
        for node in audit::completed_by(index) {
            let (left, right) = node.children();
            let left_hash = match self.frontier.remove(&left) {
                Some(h) => h,
                None => stored_node(tx, left).await?,
            };
            let right_hash = match self.frontier.remove(&right) {
                Some(h) => h,
                None => stored_node(tx, right).await?,
            };
            let hash = audit::parent_hash(&left_hash, &right_hash);
            insert_node(tx, node, &hash).await?;
            self.frontier.insert(node, hash);
        }
        self.next_seq += 1;
        self.chain = chain;
        self.time.clone_from(&event.time);
        Ok(event)
    }

    /// Stores the head the writes advanced to.
    pub(super) async fn finish(
        self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE audit_head SET chain_hash = $1, time = $2 WHERE id = 1")
            .bind(hex::encode(self.chain))
            .bind(&self.time)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

pub(super) fn hash_from_hex(text: &str, table: &str) -> Result<[u8; 32], StoreError> {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash)
        .map_err(|_| StoreError::Corrupt(format!("{table} holds a hash that is not one")))?;
    Ok(hash)
}

pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) async fn insert_node(
    conn: &mut sqlx::AnyConnection,
    node: audit::Node,
    hash: &[u8; 32],
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit_nodes (level, idx, hash) VALUES ($1, $2, $3)")
        .bind(i64::from(node.level))
        .bind(to_i64(node.index))
        .bind(hex::encode(hash))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// One stored tree node: a leaf's hash from its event, a larger subtree's from `audit_nodes`.
pub(super) async fn stored_node(
    conn: &mut sqlx::AnyConnection,
    node: audit::Node,
) -> Result<[u8; 32], StoreError> {
    let row = if node.level == 0 {
        sqlx::query("SELECT leaf_hash AS hash FROM audit_leaves WHERE seq = $1")
            .bind(to_i64(node.index + 1))
            .fetch_optional(&mut *conn)
            .await?
    } else {
        sqlx::query("SELECT hash FROM audit_nodes WHERE level = $1 AND idx = $2")
            .bind(i64::from(node.level))
            .bind(to_i64(node.index))
            .fetch_optional(&mut *conn)
            .await?
    };
    let row = row.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "the access log's tree lacks node {}/{}",
            node.level, node.index
        ))
    })?;
    hash_from_hex(&row.try_get::<String, _>("hash")?, "audit_nodes")
}

pub(super) async fn append_event(
    clock: &Clock,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    event: Event,
) -> Result<Event, StoreError> {
    let mut appender = Appender::begin(tx, 1).await?;
    let event = appender.write(clock, tx, event).await?;
    appender.finish(tx).await?;
    Ok(event)
}

// ---- group commit --------------------------------------------------------------------------

/// Access events of concurrent requests waiting to be appended in one transaction: one durable
/// commit for the group instead of one per request (group commit). Whichever waiting request
/// finds no group being written writes the queue; each request is answered once its group is
/// durable.
#[derive(Default)]
pub(super) struct GroupCommit {
    queue: std::sync::Mutex<Vec<Append>>,
    writing: Arc<tokio::sync::Mutex<()>>,
}

/// What one request appends.
pub(super) enum AppendWork {
    /// An event.
    Event(Event),
    /// A download: the slice of `org_id` in `case_id`, read before it was queued (`read`, with
    /// the ids of its rows). The group checks in its transaction that the case still holds
    /// exactly those rows for the organisation (else it reads again), so that the event
    /// describes what the database held when the event became durable.
    Slice {
        case_id: String,
        org_id: String,
        rule: Arc<ReleaseRule>,
        event: Event,
        read: (Vec<SealedField>, Vec<String>),
        /// Only this field (a list naming its cases), else the whole slice.
        only: Option<String>,
    },
}

pub(super) type Appended = (Vec<SealedField>, Event);

pub(super) struct Append {
    work: AppendWork,
    /// What was appended, with the time its own reads took.
    reply: tokio::sync::oneshot::Sender<Result<(Appended, std::time::Duration), StoreError>>,
}

impl Store {
    /// The age files of a case sealed to `org_id` (for each field the latest one), read in one
    /// transaction with the download's audit event, which consent's release rule completes from
    /// what is read (with `only`, of that one field alone);
    /// concurrent downloads and events share one transaction (group commit).
    pub async fn slice_recorded(
        &self,
        case_id: &str,
        org_id: &str,
        rule: Arc<ReleaseRule>,
        event: Event,
        only: Option<&str>,
    ) -> Result<(Vec<SealedField>, Event), StoreError> {
        // Read outside the log's turn, beside other readers; only the check is in its group.
        let read = {
            let mut conn = self.pool.acquire().await?;
            slice_read(&mut conn, case_id, org_id).await?
        };
        self.append_grouped(AppendWork::Slice {
            case_id: case_id.to_owned(),
            org_id: org_id.to_owned(),
            rule,
            event,
            read,
            only: only.map(str::to_owned),
        })
        .await
    }

    /// Queues `work` and waits until it is durable, writing the queue if nobody is.
    pub(super) async fn append_grouped(&self, work: AppendWork) -> Result<Appended, StoreError> {
        let started = std::time::Instant::now();
        let (reply, mut done) = tokio::sync::oneshot::channel();
        self.group
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Append { work, reply });
        loop {
            tokio::select! {
                biased;
                result = &mut done => {
                    let (appended, reading) = result.unwrap_or_else(|_| {
                        Err(StoreError::Corrupt("the access log's group writer failed".into()))
                    })?;
                    // What the log added to the request: everything but its own reads.
                    crate::telemetry::record_log_wait(
                        started.elapsed().saturating_sub(reading).as_secs_f64(),
                    );
                    return Ok(appended);
                }
                turn = self.group.writing.clone().lock_owned() => {
                    let group = std::mem::take(
                        &mut *self.group.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
                    );
                    if group.is_empty() {
                        continue;
                    }
                    // A task of its own, so that a request that goes away mid-write (its client
                    // hung up) does not abort the others' transaction.
                    let store = self.clone();
                    let _ = tokio::spawn(async move {
                        let _turn = turn;
                        store.write_group(group).await;
                    })
                    .await;
                }
            }
        }
    }

    /// Writes a group in one transaction; if that fails, each of its appends alone, so that
    /// one append's failure is only its own.
    pub(super) async fn write_group(&self, group: Vec<Append>) {
        let works: Vec<&AppendWork> = group.iter().map(|a| &a.work).collect();
        match self.append_all(&works).await {
            Ok(results) => {
                for (append, result) in group.into_iter().zip(results) {
                    let _ = append.reply.send(Ok(result));
                }
            }
            Err(e) if group.len() == 1 => {
                if let Some(append) = group.into_iter().next() {
                    let _ = append.reply.send(Err(e));
                }
            }
            Err(_) => {
                for append in group {
                    let result = self.append_all(&[&append.work]).await.and_then(|mut r| {
                        r.pop().ok_or_else(|| {
                            StoreError::Corrupt("an append without its result".into())
                        })
                    });
                    let _ = append.reply.send(result);
                }
            }
        }
    }

    pub(super) async fn append_all(
        &self,
        works: &[&AppendWork],
    ) -> Result<Vec<(Appended, std::time::Duration)>, StoreError> {
        let _writing = self.urgent_turn().await;
        let mut tx = self.pool.begin().await?;
        let mut appender = Appender::begin(&mut tx, works.len() as i64).await?;
        let mut out = Vec::with_capacity(works.len());
        for work in works {
            out.push(match work {
                AppendWork::Event(event) => {
                    let event = appender.write(&self.clock, &mut tx, event.clone()).await?;
                    ((Vec::new(), event), std::time::Duration::ZERO)
                }
                AppendWork::Slice {
                    case_id,
                    org_id,
                    rule,
                    event,
                    read: (read, ids),
                    only,
                } => {
                    let (mut fields, reading) =
                        if slice_ids(&mut tx, case_id, org_id).await? == *ids {
                            (read.clone(), std::time::Duration::ZERO)
                        } else {
                            let reading = std::time::Instant::now();
                            let fields = slice_in(&mut tx, case_id, org_id).await?;
                            (fields, reading.elapsed())
                        };
                    if let Some(only) = only {
                        fields.retain(|f| f.field_id == *only);
                    }
                    let files: Vec<(&str, &str)> = fields
                        .iter()
                        .map(|f| (f.field_id.as_str(), f.category.as_str()))
                        .collect();
                    let event = rule.describe(&files, event.clone());
                    let event = appender.write(&self.clock, &mut tx, event).await?;
                    ((fields, event), reading)
                }
            });
        }
        appender.finish(&mut tx).await?;
        tx.commit().await?;
        Ok(out)
    }
}

pub(super) fn event_from_row(r: &sqlx::any::AnyRow) -> Result<StoredEvent, StoreError> {
    let list = |column: &str| -> Result<Vec<String>, StoreError> {
        let text: String = r.try_get(column)?;
        serde_json::from_str(&text)
            .map_err(|_| StoreError::Corrupt(format!("audit_events.{column} is not a list")))
    };
    Ok(StoredEvent {
        event: Event {
            seq: r.try_get("seq")?,
            time: r.try_get("time")?,
            action: r.try_get("action")?,
            outcome: r.try_get("outcome")?,
            reason: r.try_get("reason")?,
            user: r.try_get("user_id")?,
            role: r.try_get("role")?,
            org: r.try_get("org_id")?,
            on_behalf_of: r.try_get("on_behalf_of")?,
            purpose: r.try_get("purpose")?,
            case: r.try_get("case_id")?,
            client: r.try_get("client_pseudonym")?,
            fields: list("fields")?,
            categories: list("categories")?,
            recipients: list("recipients")?,
            consent: r.try_get("consent_id")?,
            policy_rule: r.try_get("policy_rule")?,
            request_id: r.try_get("request_id")?,
            source: r.try_get("source")?,
            user_agent: r.try_get("user_agent")?,
        },
        leaf_hash: r.try_get("leaf_hash")?,
        chain_hash: r.try_get("chain_hash")?,
        expired: false,
    })
}

/// Kept and expired events (each in sequence order) merged into log order.
fn in_log_order(
    kept: &[sqlx::any::AnyRow],
    expired: &[sqlx::any::AnyRow],
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut all: Vec<StoredEvent> = (kept.iter().map(event_from_row))
        .chain(expired.iter().map(expired_from_row))
        .collect::<Result<_, _>>()?;
    all.sort_by_key(|e| e.event.seq);
    Ok(all)
}

/// What is left of an expired event: its place, time and hashes.
fn expired_from_row(r: &sqlx::any::AnyRow) -> Result<StoredEvent, StoreError> {
    let mut event = Event::admin(String::new());
    event.seq = r.try_get("seq")?;
    event.time = r.try_get("time")?;
    event.action = "expired".into();
    Ok(StoredEvent {
        event,
        leaf_hash: r.try_get("leaf_hash")?,
        chain_hash: r.try_get("chain_hash")?,
        expired: true,
    })
}

/// Which events to return; every filter is optional.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFilter {
    /// Organisation id.
    pub org: Option<String>,
    /// User id.
    pub user: Option<String>,
    /// Case id.
    pub case: Option<String>,
    /// Client pseudonym.
    pub client: Option<String>,
    /// Action.
    pub action: Option<String>,
    /// Outcome.
    pub outcome: Option<String>,
    /// From this time (inclusive, RFC 3339).
    pub from: Option<String>,
    /// Until this time (exclusive, RFC 3339).
    pub to: Option<String>,
    /// Only events after this sequence number (pagination).
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

impl Store {
    /// Appends one event in a transaction of its own (denied attempts, logins, reads of the log).
    pub async fn record(&self, event: Event) -> Result<Event, StoreError> {
        let (_, event) = self.append_grouped(AppendWork::Event(event)).await?;
        Ok(event)
    }

    /// Events matching `filter`, in log order.
    pub async fn events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let mut sql = String::from("SELECT * FROM audit_events WHERE seq > $1");
        let mut args: Vec<String> = Vec::new();
        for (column, value) in [
            ("org_id = ", &filter.org),
            ("user_id = ", &filter.user),
            ("case_id = ", &filter.case),
            ("client_pseudonym = ", &filter.client),
            ("action = ", &filter.action),
            ("outcome = ", &filter.outcome),
            ("time >= ", &filter.from),
            ("time < ", &filter.to),
        ] {
            if let Some(v) = value {
                args.push(v.clone());
                sql.push_str(&format!(" AND {column}${}", args.len() + 1));
            }
        }
        let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
        sql.push_str(&format!(" ORDER BY seq LIMIT {limit}"));
        let mut query = sqlx::query(&sql).bind(filter.after.unwrap_or(0));
        for a in &args {
            query = query.bind(a);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| event_from_row(r).map(|s| s.event))
            .collect()
    }

    /// Up to `limit` events after sequence number `after`, with their stored hashes, in order:
    /// the log read a page at a time, so reading it costs the same memory however long it is.
    pub async fn audit_page(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let limit = limit.clamp(1, 1 << 20);
        let page =
            |table: &str| format!("SELECT * FROM {table} WHERE seq > $1 ORDER BY seq LIMIT $2");
        let kept = sqlx::query(&page("audit_events"))
            .bind(after)
            .bind(to_i64(limit as u64))
            .fetch_all(&self.pool)
            .await?;
        let expired = sqlx::query(&page("audit_expired"))
            .bind(after)
            .bind(to_i64(limit as u64))
            .fetch_all(&self.pool)
            .await?;
        let mut all = in_log_order(&kept, &expired)?;
        all.truncate(limit);
        Ok(all)
    }

    /// Verifies the whole log a page at a time against its checkpoints (under `keys`): memory
    /// stays flat as the log grows; the hashing runs off the async workers.
    pub async fn verify_log(
        &self,
        keys: &[audit::VerifierKey],
    ) -> Result<audit::VerifyReport, StoreError> {
        let notes = self.checkpoint_notes().await?;
        let total = self.audit_size().await?;
        let mut verifier = audit::Verifier::new(&notes, keys, total);
        let mut after = 0;
        loop {
            let page = self.audit_page(after, audit::Verifier::BLOCK).await?;
            let Some(last) = page.last() else { break };
            after = last.event.seq;
            let (back, flow) = tokio::task::spawn_blocking(move || {
                let flow = verifier.feed(&page);
                (verifier, flow)
            })
            .await
            .map_err(|_| StoreError::Corrupt("the verification task stopped".into()))?;
            verifier = back;
            if flow.is_break() {
                break;
            }
        }
        Ok(verifier.finish())
    }

    /// The whole log with its stored hashes, in sequence order (for verification and proofs).
    pub async fn audit_log(&self) -> Result<Vec<StoredEvent>, StoreError> {
        let kept = sqlx::query("SELECT * FROM audit_events ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        let expired = sqlx::query("SELECT * FROM audit_expired ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        in_log_order(&kept, &expired)
    }

    /// Expires every access event older than `years` years by the store's clock (policy
    /// `[audit] retention_years`); see [`Store::expire_events`]. Returns the cut-off and how
    /// many expired.
    pub async fn expire_events_past(
        &self,
        years: u32,
        event: Event,
    ) -> Result<(String, u64), StoreError> {
        let before = crate::clock::time_text(crate::clock::years_before(self.clock.now(), years));
        let expired = self.expire_events(&before, event).await?;
        Ok((before, expired))
    }

    /// Expires every access event older than `before` (RFC 3339) in one transaction: each
    /// leaves its place, time and hashes in `audit_expired` (so the tree, the checkpoints and the
    /// chain still verify) and its row goes; `event` (its reason the rule) is recorded with it,
    /// naming how many.
    /// The database refuses it for events younger than five years. Returns how many expired.
    pub async fn expire_events(&self, before: &str, mut event: Event) -> Result<u64, StoreError> {
        let due: i64 = sqlx::query("SELECT COUNT(*) AS n FROM audit_events WHERE time < $1")
            .bind(before)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let reason = event.reason.take().unwrap_or_default();
        event.reason = Some(format!("{due} events before {before} expired: {reason}"));
        let (_writing, mut tx, _) = self.write_recorded(event).await?;
        let moved = sqlx::query(
            "INSERT INTO audit_expired (seq, time, leaf_hash, chain_hash) \
             SELECT seq, time, leaf_hash, chain_hash FROM audit_events WHERE time < $1",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM audit_events WHERE time < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        if i64::try_from(moved).ok() != Some(due) {
            return Err(StoreError::Corrupt(
                "events older than the cut-off appeared while expiring".into(),
            ));
        }
        tx.commit().await?;
        Ok(moved)
    }

    /// Failed logins since `since` (RFC 3339): for this user (if known) and from this source.
    pub async fn failed_logins(
        &self,
        user: Option<&str>,
        source: Option<&str>,
        since: &str,
    ) -> Result<(i64, i64), StoreError> {
        let count = |column: &'static str, value: Option<&str>| {
            let pool = self.pool.clone();
            let since = since.to_owned();
            let value = value.map(str::to_owned);
            async move {
                let Some(value) = value else {
                    return Ok::<i64, StoreError>(0);
                };
                let sql = format!(
                    "SELECT COUNT(*) AS n FROM audit_events \
                     WHERE action = 'login' AND outcome = 'denied' AND time >= $1 AND {column} = $2"
                );
                Ok(sqlx::query(&sql)
                    .bind(since)
                    .bind(value)
                    .fetch_one(&pool)
                    .await?
                    .try_get("n")?)
            }
        };
        Ok((
            count("user_id", user).await?,
            count("source", source).await?,
        ))
    }

    /// Number of events in the log.
    pub async fn audit_size(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query("SELECT seq FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?
            .try_get("seq")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The hashes of these tree nodes (a leaf's from its event), read a level at a time.
    pub async fn tree_nodes(
        &self,
        nodes: impl IntoIterator<Item = audit::Node>,
    ) -> Result<HashMap<audit::Node, [u8; 32]>, StoreError> {
        let wanted: std::collections::BTreeSet<audit::Node> = nodes.into_iter().collect();
        let (leaves, inner): (Vec<audit::Node>, Vec<audit::Node>) =
            wanted.into_iter().partition(|n| n.level == 0);
        let mut out = HashMap::new();
        let mut conn = self.pool.acquire().await?;
        // Leaves are the events' leaf hashes, found by the events' key: seq = index + 1.
        for chunk in leaves.chunks(500) {
            let sql = format!(
                "SELECT seq, leaf_hash FROM audit_leaves WHERE seq IN ({})",
                (1..=chunk.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut query = sqlx::query(&sql);
            for node in chunk {
                query = query.bind(to_i64(node.index + 1));
            }
            for row in query.fetch_all(&mut *conn).await? {
                let seq: i64 = row.try_get("seq")?;
                out.insert(
                    audit::Node {
                        level: 0,
                        index: u64::try_from(seq - 1).unwrap_or(0),
                    },
                    hash_from_hex(&row.try_get::<String, _>("leaf_hash")?, "audit_events")?,
                );
            }
        }
        // Larger subtrees: one statement for many, each term a primary-key lookup.
        for chunk in inner.chunks(250) {
            let terms: Vec<String> = (0..chunk.len())
                .map(|i| format!("(level = ${} AND idx = ${})", 2 * i + 1, 2 * i + 2))
                .collect();
            let sql = format!(
                "SELECT level, idx, hash FROM audit_nodes WHERE {}",
                terms.join(" OR ")
            );
            let mut query = sqlx::query(&sql);
            for node in chunk {
                query = query.bind(i64::from(node.level)).bind(to_i64(node.index));
            }
            for row in query.fetch_all(&mut *conn).await? {
                let level: i64 = row.try_get("level")?;
                let index: i64 = row.try_get("idx")?;
                out.insert(
                    audit::Node {
                        level: u32::try_from(level).unwrap_or(u32::MAX),
                        index: u64::try_from(index).unwrap_or(0),
                    },
                    hash_from_hex(&row.try_get::<String, _>("hash")?, "audit_nodes")?,
                );
            }
        }
        Ok(out)
    }

    /// MTHs of leaf ranges of the stored tree, in order.
    pub async fn range_hashes(&self, ranges: &[(u64, u64)]) -> Result<Vec<[u8; 32]>, StoreError> {
        let nodes = self
            .tree_nodes(ranges.iter().flat_map(|r| audit::subtrees(r.0, r.1)))
            .await?;
        ranges
            .iter()
            .map(|&r| {
                audit::range_hash(r, &nodes).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "the access log's tree lacks nodes of {}..{}",
                        r.0, r.1
                    ))
                })
            })
            .collect()
    }

    /// The RFC 9162 root of the log's first `size` events, from the stored tree.
    pub async fn tree_root(&self, size: u64) -> Result<[u8; 32], StoreError> {
        if size == 0 {
            return Ok(audit::fold_subtrees(&[]));
        }
        Ok(self.range_hashes(&[(0, size)]).await?[0])
    }

    /// The inclusion proof of event `seq` in the tree of the first `size` events.
    pub async fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<[u8; 32]>, StoreError> {
        self.range_hashes(&audit::inclusion_ranges(seq.saturating_sub(1), size))
            .await
    }

    /// Inclusion proofs of several events in the tree of the first `size` events, read together.
    pub async fn inclusion_proofs(
        &self,
        seqs: &[u64],
        size: u64,
    ) -> Result<Vec<Vec<[u8; 32]>>, StoreError> {
        let ranges: Vec<Vec<(u64, u64)>> = seqs
            .iter()
            .map(|&seq| audit::inclusion_ranges(seq.saturating_sub(1), size))
            .collect();
        let flat: Vec<(u64, u64)> = ranges.iter().flatten().copied().collect();
        let mut hashes = self.range_hashes(&flat).await?.into_iter();
        Ok(ranges
            .iter()
            .map(|r| hashes.by_ref().take(r.len()).collect())
            .collect())
    }

    /// The consistency proof from the first `old` events to the first `size`.
    pub async fn consistency_proof(
        &self,
        old: u64,
        size: u64,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        let ranges = audit::consistency_ranges(old, size).unwrap_or_default();
        self.range_hashes(&ranges).await
    }

    /// The events about one client among the first `size`, from `from` until `to` (RFC 3339),
    /// in log order (by the index on the client pseudonym).
    pub async fn client_events(
        &self,
        client: &str,
        size: u64,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM audit_events WHERE client_pseudonym = $1 AND seq <= $2 \
             AND ($3 = '' OR time >= $3) AND ($4 = '' OR time < $4) ORDER BY seq",
        )
        .bind(client)
        .bind(to_i64(size))
        .bind(from.unwrap_or(""))
        .bind(to.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| event_from_row(r).map(|s| s.event))
            .collect()
    }

    /// Writes the tree nodes of a log appended before the tree was stored (an upgrade), in one
    /// transaction holding the log's lock. Does nothing if the nodes are there.
    pub(super) async fn complete_tree(&self) -> Result<(), StoreError> {
        let size = self.audit_size().await?;
        let top: Vec<audit::Node> = audit::subtrees(0, size)
            .into_iter()
            .filter(|n| n.level > 0)
            .collect();
        if self.tree_nodes(top.iter().copied()).await?.len() == top.len() {
            return Ok(());
        }
        let (_writing, mut tx) = self.begin_write().await?;
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let leaves: Vec<String> = sqlx::query("SELECT leaf_hash FROM audit_leaves ORDER BY seq")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("leaf_hash"))
            .collect::<Result<_, _>>()?;
        let mut frontier = HashMap::new();
        for (i, leaf) in leaves.iter().enumerate() {
            let index = i as u64;
            frontier.insert(
                audit::Node { level: 0, index },
                hash_from_hex(leaf, "audit_events")?,
            );
            for node in audit::completed_by(index) {
                let (l, r) = node.children();
                let (Some(left), Some(right)) = (frontier.remove(&l), frontier.remove(&r)) else {
                    return Err(StoreError::Corrupt("the access log has gaps".into()));
                };
                let hash = audit::parent_hash(&left, &right);
                sqlx::query(
                    "INSERT INTO audit_nodes (level, idx, hash) VALUES ($1, $2, $3) \
                     ON CONFLICT (level, idx) DO NOTHING",
                )
                .bind(i64::from(node.level))
                .bind(to_i64(node.index))
                .bind(hex::encode(hash))
                .execute(&mut *tx)
                .await?;
                frontier.insert(node, hash);
            }
        }
        tx.commit().await?;
        tracing::info!(events = leaves.len(), "stored the access log's tree");
        Ok(())
    }

    /// Keeps a signed checkpoint.
    pub async fn add_checkpoint(&self, cp: &Checkpoint) -> Result<(), StoreError> {
        let _writing = self.embedded_turn().await;
        sqlx::query(
            "INSERT INTO audit_checkpoints (size, root_hash, time, note) VALUES ($1, $2, $3, $4)",
        )
        .bind(i64::try_from(cp.size).unwrap_or(i64::MAX))
        .bind(hex::encode(cp.root))
        .bind(cp.time)
        .bind(&cp.note)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Unix time of the latest checkpoint, if any.
    pub async fn latest_checkpoint_time(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT MAX(time) AS t FROM audit_checkpoints")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>("t")?)
    }

    /// All kept checkpoint notes, oldest first.
    pub async fn checkpoint_notes(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT note FROM audit_checkpoints ORDER BY size, time")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("note")?)).collect()
    }
}
