//! Which entitled parties get each field: the policy's roles × the case's parties, narrowed to
//! those the client's consent covers; the plan the sealing module carries out.

use std::collections::BTreeMap;

use crate::consent::ConsentRecord;
use crate::policy::{Joins, Policy};
use crate::sealing::{Plaintext, Recipient, SealJob};

use super::{CaseError, CaseParty, NewSealedField, Organisation};

/// The organisations' registered age recipients (public keys), by organisation id.
#[derive(Debug, Clone, Default)]
pub struct RecipientKeys(BTreeMap<String, String>);

impl RecipientKeys {
    /// The recipients of the organisations that registered one.
    pub fn of<'a>(orgs: impl IntoIterator<Item = &'a Organisation>) -> Self {
        Self(
            orgs.into_iter()
                .filter_map(|o| o.recipient.clone().map(|r| (o.id.clone(), r)))
                .collect(),
        )
    }

    /// The parsed recipients of `orgs`, refusing an organisation without a usable key.
    pub fn recipients_of(&self, orgs: &[String]) -> Result<Vec<Recipient>, CaseError> {
        orgs.iter()
            .map(|o| {
                self.0
                    .get(o)
                    .ok_or_else(|| {
                        CaseError::Invalid(format!(
                            "organisation `{o}` has no recipient key registered"
                        ))
                    })?
                    .parse::<Recipient>()
                    .map_err(|_| {
                        CaseError::Invalid(format!(
                            "organisation `{o}` has an unusable recipient key"
                        ))
                    })
            })
            .collect()
    }
}

/// The entitled parties of one field: those consent covers, and those it does not (with why).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entitled {
    /// Organisations the field is sealed to.
    pub covered: Vec<String>,
    /// Organisations the policy entitles but consent does not cover: (organisation, reason).
    pub uncovered: Vec<(String, String)>,
}

/// The parties whose role the policy grants `field`'s category, split by whether the consent
/// covers that role and category today. An unknown field has no entitled party.
pub fn entitled(
    policy: &Policy,
    field: &str,
    parties: &[CaseParty],
    consent: &ConsentRecord,
    today: &str,
) -> Entitled {
    let mut out = Entitled::default();
    let Some(spec) = policy.field(field) else {
        return out;
    };
    let mut parties: Vec<&CaseParty> = parties
        .iter()
        .filter(|p| policy.may_receive(&p.role, p.applied, field))
        .collect();
    parties.sort_by(|a, b| a.org_id.cmp(&b.org_id));
    parties.dedup_by(|a, b| a.org_id == b.org_id);
    for party in parties {
        match consent.missing(&party.role, &spec.category, today) {
            None => out.covered.push(party.org_id.clone()),
            Some(reason) => out.uncovered.push((party.org_id.clone(), reason)),
        }
    }
    out
}

/// One field of a sealing plan: what it is and whom it is sealed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedField {
    /// Field id.
    pub field_id: String,
    /// Its category.
    pub category: String,
    /// The organisations it is sealed to.
    pub recipients: Vec<String>,
}

/// What to seal: the jobs for the sealing module, the field each job is, and the fields left
/// out for parties consent does not cover (`field for org`).
#[derive(Debug, Default)]
pub struct SealingPlan {
    /// One job per field, in the order of `fields`.
    pub jobs: Vec<SealJob>,
    /// The field of each job.
    pub fields: Vec<PlannedField>,
    /// `field for org`, for each entitled party left out.
    pub withheld: Vec<String>,
}

impl SealingPlan {
    /// Adds the jobs sealing `plaintext` as `field_id` to exactly `recipients`: one age file
    /// per group of [`file_groups`].
    pub fn push(
        &mut self,
        policy: &Policy,
        field_id: String,
        plaintext: Plaintext,
        recipients: Vec<String>,
        keys: &RecipientKeys,
    ) -> Result<(), CaseError> {
        let category = policy
            .field(&field_id)
            .map(|f| f.category.clone())
            .ok_or_else(|| CaseError::Invalid("a field the policy does not define".into()))?;
        self.push_in(policy, (field_id, category), plaintext, recipients, keys)
    }

    /// Adds the jobs sealing `plaintext` as `field_id` under `category` (a message's, the
    /// category it is about) to exactly `recipients`.
    pub fn push_in(
        &mut self,
        policy: &Policy,
        (field_id, category): (String, String),
        plaintext: Plaintext,
        recipients: Vec<String>,
        keys: &RecipientKeys,
    ) -> Result<(), CaseError> {
        let mut groups = file_groups(policy, recipients);
        let last = groups.pop();
        for group in groups {
            let job = (field_id.clone(), category.clone(), plaintext.clone());
            self.add(job, group, keys)?;
        }
        if let Some(group) = last {
            self.add((field_id, category, plaintext), group, keys)?;
        }
        Ok(())
    }

    /// One age file: `(field id, category, plaintext)` sealed to `recipients`.
    fn add(
        &mut self,
        (field_id, category, plaintext): (String, String, Plaintext),
        recipients: Vec<String>,
        keys: &RecipientKeys,
    ) -> Result<(), CaseError> {
        self.jobs.push(SealJob {
            plaintext,
            recipients: keys.recipients_of(&recipients)?,
        });
        self.fields.push(PlannedField {
            field_id,
            category,
            recipients,
        });
        Ok(())
    }
}

/// The age files a field is sealed as: one for the organisations that join at submission (the
/// care organisation and the coordinator, who hold the case to its end), and one for each
/// other organisation, so that its copies can be deleted alone — at a match the other
/// corporations' go (AVG art. 5(1)(c)) and no remaining file is addressed to them.
pub fn file_groups(policy: &Policy, recipients: Vec<String>) -> Vec<Vec<String>> {
    let joins_at_submission = |org: &String| {
        (policy.parties.get(org)).is_some_and(|p| policy.joins(&p.role) == Some(Joins::Submission))
    };
    let (together, alone): (Vec<String>, Vec<String>) =
        recipients.into_iter().partition(joins_at_submission);
    let mut groups = Vec::with_capacity(alone.len() + 1);
    if !together.is_empty() {
        groups.push(together);
    }
    groups.extend(alone.into_iter().map(|org| vec![org]));
    groups
}

/// Plans sealing `plaintexts` to every entitled party the consent covers. `strict` refuses
/// (403, naming the missing consent) when an entitled party is not covered; otherwise such
/// parties are left out and listed in `withheld`. A field no party gets is not sealed.
pub fn plan_sealing(
    policy: &Policy,
    parties: &[CaseParty],
    consent: &ConsentRecord,
    plaintexts: Vec<(String, Plaintext)>,
    keys: &RecipientKeys,
    strict: bool,
    today: &str,
) -> Result<SealingPlan, CaseError> {
    let mut plan = SealingPlan::default();
    for (field, plaintext) in plaintexts {
        let entitled = entitled(policy, &field, parties, consent, today);
        if let Some((org, reason)) = entitled.uncovered.first()
            && strict
        {
            return Err(CaseError::Forbidden(format!(
                "field `{field}` cannot be sealed for `{org}`: {reason}"
            )));
        }
        plan.withheld.extend(
            entitled
                .uncovered
                .iter()
                .map(|(org, _)| format!("{field} for {org}")),
        );
        if entitled.covered.is_empty() {
            continue;
        }
        plan.push(policy, field, plaintext, entitled.covered, keys)?;
    }
    Ok(plan)
}

/// The rows to store for a plan's fields, once the sealing module turned each job into its
/// age file (`ciphertexts`, in the order of the jobs).
pub fn sealed_rows(
    fields: Vec<PlannedField>,
    ciphertexts: Vec<Vec<u8>>,
    policy_version: &str,
) -> Vec<NewSealedField> {
    fields
        .into_iter()
        .zip(ciphertexts)
        .map(|(f, ciphertext)| NewSealedField {
            id: uuid::Uuid::new_v4().to_string(),
            field_id: f.field_id,
            category: f.category,
            ciphertext,
            chunked: false,
            policy_version: policy_version.to_owned(),
            recipients: f.recipients,
            item: None,
        })
        .collect()
}
