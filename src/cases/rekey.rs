//! Key rotation of an organisation's own copies: which of the values its client sent back
//! are sealed again, to its current recipient alone. Nothing reaches anyone new, so no consent
//! is asked.

use std::collections::BTreeSet;

use crate::form::{self, FieldProblem, FieldValue};
use crate::policy::Policy;
use crate::sealing::{Recipient, SealJob};

use super::{CaseError, Rekeyed};

/// At most this many files per request (a registration has 43 fields).
pub const MAX_FILES: usize = 500;

/// One file of the organisation's slice, opened with its old identity.
#[derive(Debug, Clone, Copy)]
pub struct RekeyInput<'a> {
    /// The slice file's id.
    pub id: &'a str,
    /// Its field id.
    pub field: &'a str,
    /// The value it held.
    pub value: &'a FieldValue,
}

/// What a rekey seals: one job per file, and for each the file it replaces and its field.
#[derive(Debug)]
pub struct RekeyPlan {
    /// The values, each to the organisation's current recipient alone.
    pub jobs: Vec<SealJob>,
    /// (replaced file, field id) of each job.
    pub replaces: Vec<(String, String)>,
}

/// Plans sealing each value to `recipient` alone. Every problem of the request is reported
/// at once, by position or field id.
pub fn plan_rekey(
    policy: &Policy,
    inputs: &[RekeyInput<'_>],
    recipient: &Recipient,
) -> Result<RekeyPlan, CaseError> {
    let mut problems = Vec::new();
    if inputs.is_empty() {
        problems.push(problem("fields", "no fields given"));
    }
    if inputs.len() > MAX_FILES {
        problems.push(problem(
            "fields",
            &format!("at most {MAX_FILES} files per request"),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut jobs = Vec::with_capacity(inputs.len());
    let mut meta = Vec::with_capacity(inputs.len());
    for (i, item) in inputs.iter().enumerate() {
        let named = match policy.field(item.field) {
            Some(spec) => spec.id.clone(),
            None => format!("fields[{i}]"),
        };
        if uuid::Uuid::parse_str(item.id).is_err() {
            problems.push(problem(
                &named,
                "id must be the UUID of a file in your slice",
            ));
            continue;
        }
        if !seen.insert(item.id) {
            problems.push(problem(&named, "the same file is given twice"));
            continue;
        }
        let Some(spec) = policy.field(item.field) else {
            problems.push(problem(&named, "is not a field of any form"));
            continue;
        };
        match form::to_plaintext(spec, item.value) {
            Ok(plaintext) => {
                jobs.push(SealJob {
                    plaintext,
                    recipients: vec![recipient.clone()],
                });
                meta.push((item.id.to_owned(), item.field.to_owned()));
            }
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() {
        Ok(RekeyPlan {
            jobs,
            replaces: meta,
        })
    } else {
        Err(CaseError::Fields(problems))
    }
}

/// The new files to store: each (replaced file, field) with its new age file.
pub fn rekeyed_rows(meta: Vec<(String, String)>, ciphertexts: Vec<Vec<u8>>) -> Vec<Rekeyed> {
    meta.into_iter()
        .zip(ciphertexts)
        .map(|((replaces, field_id), ciphertext)| Rekeyed {
            id: uuid::Uuid::new_v4().to_string(),
            replaces,
            field_id,
            ciphertext,
        })
        .collect()
}

fn problem(field: &str, text: &str) -> FieldProblem {
    FieldProblem {
        field: field.to_owned(),
        problem: text.to_owned(),
    }
}
