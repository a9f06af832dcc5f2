//! Re-shares and referral (`design.md` §1): one share plan for both — who may receive which
//! field, who joins the case, and whether consent covers it.

use std::collections::{BTreeMap, BTreeSet};

use crate::consent::ConsentRecord;
use crate::form::{self, FieldValues};
use crate::policy::{Joins, Policy};

use super::{CaseError, CaseParty, Organisation, RecipientKeys, SealingPlan, party_of};

/// One item of a re-share: fields for a set of organisations.
#[derive(Debug, Clone)]
pub struct ShareItem {
    /// The organisations the fields are for.
    pub recipients: Vec<String>,
    /// The field ids.
    pub fields: Vec<String>,
}

/// What a valid re-share does: for each item the recipients, and the organisations that
/// become parties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharePlan {
    /// Organisations that join the case with this share, with their role.
    pub new_parties: Vec<(String, String)>,
}

/// Checks a re-share (`design.md` §1): the caller's role may refer and is a party; every
/// recipient is an enabled organisation with a key, of a role that joins by referral; every
/// field is allowed to every recipient's role. One refusal refuses the whole request.
/// Only organisations in `may_join` (those a referral names) can become parties; every other
/// recipient must already be one.
pub fn plan_share(
    policy: &Policy,
    caller_role: &str,
    parties: &[CaseParty],
    items: &[ShareItem],
    orgs: &BTreeMap<String, Organisation>,
    may_join: &BTreeSet<String>,
) -> Result<SharePlan, CaseError> {
    if !policy.refers(caller_role) {
        return Err(CaseError::Forbidden(format!(
            "role `{caller_role}` may not share fields with other parties"
        )));
    }
    if items.is_empty() {
        return Err(CaseError::Invalid("no shares given".into()));
    }
    let mut new_parties = Vec::new();
    let mut seen_pairs = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        if item.recipients.is_empty() {
            return Err(CaseError::Invalid(format!(
                "share {} names no recipients",
                i + 1
            )));
        }
        for (j, org_id) in item.recipients.iter().enumerate() {
            // Why an organisation the caller did not name itself takes part.
            let why = if may_join.contains(org_id) {
                "a party of this referral: the municipality, or a corporation with homes there \
                 per policy allocation.toml"
            } else {
                ""
            };
            let Some(org) = orgs.get(org_id) else {
                // A party of the policy (a municipality, or a corporation with homes there per
                // allocation.toml) may be named: its id is the policy's, not the caller's text.
                return Err(CaseError::Invalid(match policy.parties.get(org_id) {
                    Some(party) if why.is_empty() => format!(
                        "`{org_id}` ({} of the policy) receives this share but is not enrolled: \
                         enrol it (`sluis org enrol`) and register its recipient key first",
                        party.role
                    ),
                    Some(party) => format!(
                        "`{org_id}` ({} of the policy; {why}) is not enrolled: enrol it (`sluis \
                         org enrol`) and register its recipient key first",
                        party.role
                    ),
                    None => format!(
                        "share {}: recipient {} is not an enrolled organisation",
                        i + 1,
                        j + 1
                    ),
                }));
            };
            if org.disabled {
                return Err(CaseError::Invalid(format!(
                    "organisation `{org_id}` is disabled"
                )));
            }
            if org.recipient.is_none() {
                let why = if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({why})")
                };
                return Err(CaseError::Invalid(format!(
                    "organisation `{org_id}`{why} has no recipient key registered: register it \
                     first (`sluis org set-recipient`)"
                )));
            }
            let party = parties.iter().find(|p| &p.org_id == org_id);
            if party.is_none() && policy.joins(&org.role) != Some(Joins::Referral) {
                return Err(CaseError::Forbidden(format!(
                    "organisation `{org_id}` (role `{}`) cannot be referred a case",
                    org.role
                )));
            }
            if party.is_none() && !may_join.contains(org_id) {
                return Err(CaseError::Forbidden(format!(
                    "organisation `{org_id}` is not a party of this case; refer the case to its municipality first"
                )));
            }
            for (k, field) in item.fields.iter().enumerate() {
                let Some(spec) = policy.field(field) else {
                    return Err(CaseError::Invalid(format!(
                        "share {}: member {} of `fields` is not a field of any form",
                        i + 1,
                        k + 1
                    )));
                };
                if policy
                    .categories
                    .get(&spec.category)
                    .is_some_and(|c| c.addressed)
                {
                    return Err(CaseError::Forbidden(format!(
                        "field `{field}` (category `{}`) is correspondence: it goes only to the \
                         parties its writer addressed, never in a share",
                        spec.category
                    )));
                }
                if !policy.may_open(&org.role, field) {
                    return Err(CaseError::Forbidden(format!(
                        "field `{field}` (category `{}`) may not be shared with `{org_id}`: \
                         the policy does not grant category `{}` to role `{}`",
                        spec.category, spec.category, org.role
                    )));
                }
                if !policy.may_receive(&org.role, party.is_some_and(|p| p.applied), field) {
                    return Err(CaseError::Forbidden(format!(
                        "field `{field}` (category `{}`) goes to `{org_id}` only with an \
                         application to it (policy [until_application]: art. 8.6, 9.7)",
                        spec.category
                    )));
                }
                if !seen_pairs.insert((org_id.clone(), field.clone())) {
                    return Err(CaseError::Invalid(format!(
                        "field `{field}` is shared with `{org_id}` twice"
                    )));
                }
            }
            if party.is_none() && !new_parties.iter().any(|(o, _)| o == org_id) {
                new_parties.push((org_id.clone(), org.role.clone()));
            }
        }
    }
    Ok(SharePlan { new_parties })
}

/// The organisations a referral to `municipalities` makes parties: the municipalities and the
/// corporations with homes there (policy `allocation.toml`).
pub fn referral_recipients(
    policy: &Policy,
    municipalities: &[String],
) -> Result<BTreeSet<String>, CaseError> {
    if municipalities.is_empty() {
        return Err(CaseError::Invalid(
            "a referral names at least one municipality".into(),
        ));
    }
    let mut out = BTreeSet::new();
    for (i, m) in municipalities.iter().enumerate() {
        let alloc = policy.allocation.municipalities.get(m).ok_or_else(|| {
            let named = format!("`municipalities` member {}", i + 1);
            CaseError::Invalid(format!(
                "{} is not a municipality of the allocation",
                policy.describe_party(m, &named)
            ))
        })?;
        out.insert(m.clone());
        out.extend(alloc.corporations.iter().cloned());
    }
    Ok(out)
}

/// Checks that active consent covers every recipient's role for every shared field (403,
/// recorded, naming the first field and organisation it does not cover).
pub fn consent_covers_shares(
    policy: &Policy,
    consent: &ConsentRecord,
    items: &[ShareItem],
    orgs: &BTreeMap<String, Organisation>,
    today: &str,
) -> Result<(), CaseError> {
    for item in items {
        for org in &item.recipients {
            let Some(role) = orgs.get(org).map(|o| o.role.as_str()) else {
                continue;
            };
            for field in &item.fields {
                let Some(spec) = policy.field(field) else {
                    continue;
                };
                if let Some(reason) = consent.missing(role, &spec.category, today) {
                    return Err(CaseError::Forbidden(format!(
                        "field `{field}` cannot be shared with `{org}`: {reason}"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// A re-share as the caller's client sent it: for each item the recipients and the values it
/// opened for them.
#[derive(Debug)]
pub struct ShareInput<'a> {
    /// The organisations the values are for.
    pub recipients: &'a [String],
    /// Field id → value.
    pub values: &'a FieldValues,
}

/// The field ids and recipients of share inputs, for the policy check.
pub fn share_items(inputs: &[ShareInput<'_>]) -> Vec<ShareItem> {
    inputs
        .iter()
        .map(|s| ShareItem {
            recipients: s.recipients.to_vec(),
            fields: s.values.0.iter().map(|(k, _)| k.clone()).collect(),
        })
        .collect()
}

/// The whole decision on a re-share or the share of a referral: consent covers every
/// recipient, the share plan holds (who joins, every field allowed to every recipient's
/// role), and each item's values are valid; the sealing plan seals each field to exactly its
/// item's recipients. `may_join` are the organisations a referral names.
#[expect(
    clippy::too_many_arguments,
    reason = "one decision over the whole case: policy, caller, parties, consent, request, orgs, referral, date"
)]
pub fn plan_shares(
    policy: &Policy,
    caller_role: &str,
    parties: &[CaseParty],
    consent: &ConsentRecord,
    inputs: &[ShareInput<'_>],
    orgs: &BTreeMap<String, Organisation>,
    may_join: &BTreeSet<String>,
    today: &str,
) -> Result<(SharePlan, Vec<ShareItem>), CaseError> {
    let items = share_items(inputs);
    consent_covers_shares(policy, consent, &items, orgs, today)?;
    let plan = plan_share(policy, caller_role, parties, &items, orgs, may_join)?;
    Ok((plan, items))
}

/// Validates each share input's values and plans sealing each field to exactly that input's
/// recipients.
pub fn plan_share_sealing(
    policy: &Policy,
    inputs: &[ShareInput<'_>],
    keys: &RecipientKeys,
) -> Result<SealingPlan, CaseError> {
    let mut plan = SealingPlan::default();
    for input in inputs {
        let plaintexts = form::validate_fields(policy, input.values).map_err(CaseError::Fields)?;
        let mut to = input.recipients.to_vec();
        to.sort();
        to.dedup();
        for (field, plaintext) in plaintexts {
            plan.push(policy, field, plaintext, to.clone(), keys)?;
        }
    }
    Ok(plan)
}

/// A referral goes to every organisation it makes a party: each must receive its share.
pub fn referral_covers_joining(
    municipalities: &[String],
    joining: &BTreeSet<String>,
    items: &[ShareItem],
    parties: &[CaseParty],
) -> Result<(), CaseError> {
    let receiving: BTreeSet<&String> = items.iter().flat_map(|i| i.recipients.iter()).collect();
    for org in joining {
        if !receiving.contains(org) && party_of(parties, org).is_none() {
            return Err(CaseError::Invalid(format!(
                "a referral to {} goes to `{org}` too: include its share",
                municipalities.join(", ")
            )));
        }
    }
    Ok(())
}

/// The parties that join with a share, as stored.
pub fn joining_parties(plan: &SharePlan, by_org: &str, now: &str) -> Vec<CaseParty> {
    plan.new_parties
        .iter()
        .map(|(org_id, role)| CaseParty {
            org_id: org_id.clone(),
            role: role.clone(),
            added_at: now.to_owned(),
            added_by: by_org.to_owned(),
            applied: false,
        })
        .collect()
}
