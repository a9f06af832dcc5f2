//! A case's correspondence: messages (berichten) between its parties, each sealed to the
//! audience its writer picks, and reports (verslagen) that every participant acknowledges —
//! the outflow consultation and the consultation at client level (art. 15), organised by the
//! coordinator, and the hand-over of guidance (art. 16), organised by the municipality of the
//! home. Who writes to whom about what, and who acknowledged when, is routing metadata; the
//! text is sealed. Pure; no I/O.

use crate::consent::ConsentRecord;
use crate::form::{FieldValue, FieldValues};
use crate::policy::Policy;
use crate::sealing::Plaintext;

use super::{
    Action, Case, CaseError, CaseParty, RecipientKeys, SealingPlan, StepContext, party_of,
};

/// The kind of a plain message: no acknowledgement asked.
pub const MESSAGE: &str = "message";

/// Each kind of report: its form, the category its fields are of (the only category its
/// participants receive it under), the role that writes it and the article it follows.
pub const REPORTS: [Report; 3] = [
    Report {
        kind: "outflow_consultation",
        form: "consultation",
        category: "consultation",
        author: "coordinator",
    },
    Report {
        kind: "client_consultation",
        form: "consultation",
        category: "consultation",
        author: "coordinator",
    },
    Report {
        kind: "handover",
        form: "handover",
        category: "handover",
        author: "municipality",
    },
];

/// A kind of report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The kind's code.
    pub kind: &'static str,
    /// The form of its fields.
    pub form: &'static str,
    /// The category its fields are sealed under.
    pub category: &'static str,
    /// The role that writes it.
    pub author: &'static str,
}

/// The report of `kind`, if there is one.
pub fn report(kind: &str) -> Result<Report, CaseError> {
    REPORTS.into_iter().find(|r| r.kind == kind).ok_or_else(|| {
        CaseError::Invalid(
            "`kind` is one of: outflow_consultation, client_consultation, handover".into(),
        )
    })
}

/// A message or a report as the broker keeps it: who wrote to whom, about which category,
/// when; and, of a report, who acknowledged it when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Message {
    /// Its id (a UUID); its sealed fields are the case's item of this id.
    pub id: String,
    /// The case.
    pub case: String,
    /// `message`, or the kind of report.
    pub kind: String,
    /// The organisation that wrote it.
    pub sender: String,
    /// The category it is sealed under: the policy's roles of this category are the only
    /// ones it can be addressed to.
    pub about: String,
    /// The organisations it is addressed to (the sender keeps its own copy besides).
    pub to: Vec<Addressee>,
    /// When it was sent.
    pub sent_at: String,
    /// The day a report's meeting was held, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_on: Option<String>,
    /// The message it answers, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// An organisation a message is addressed to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Addressee {
    /// Organisation id.
    pub org: String,
    /// When it acknowledged the report (a report only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<String>,
}

impl Message {
    /// Whether its addressees acknowledge it (a report).
    pub fn asks_acknowledgement(&self) -> bool {
        self.kind != MESSAGE
    }

    /// Whether `org` wrote it or is addressed: only they learn it exists.
    pub fn involves(&self, org: &str) -> bool {
        self.sender == org || self.to.iter().any(|a| a.org == org)
    }
}

/// What a new message or report is: the case's routing facts for it, checked.
#[derive(Debug, Clone, Copy)]
pub struct Draft<'a> {
    /// `message` or a report's kind.
    pub kind: &'a str,
    /// The category it is about.
    pub about: &'a str,
    /// The organisations addressed.
    pub to: &'a [String],
    /// A report's meeting day.
    pub held_on: Option<&'a str>,
    /// The message it answers.
    pub reply_to: Option<&'a str>,
}

/// Checks a message or report `draft` by `sender` on the case of `ctx` and returns it to store, sent
/// `now`, with the parties its sealed fields go to (the addressees and the sender).
///
/// A message is about a category the sender's role may see, and goes only to parties whose
/// role the policy grants that category (a municipality before an application only what
/// `[until_application]` allows) and whose receipt the client's consent covers. A report goes
/// from its author role to the parties that took part, under its own category; the
/// hand-over only from the municipality of the home.
pub fn new_message(
    policy: &Policy,
    ctx: &StepContext,
    sender: &CaseParty,
    draft: Draft<'_>,
    thread: &[Message],
    (now, today): (&str, &str),
) -> Result<(Message, Vec<CaseParty>), CaseError> {
    let (case, parties, consent) = (&ctx.case, &ctx.parties, ctx.consent()?);
    let Some(category) = policy.categories.get(draft.about) else {
        return Err(CaseError::Invalid(format!(
            "`about` is a category of the policy: {}",
            (policy.categories.keys())
                .filter(|id| REPORTS.iter().all(|r| r.category != id.as_str()))
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    if draft.kind == MESSAGE && REPORTS.iter().any(|r| r.category == draft.about) {
        return Err(CaseError::Invalid(format!(
            "`about`: category `{}` is a report's; a message is about a category of the case's \
             fields",
            draft.about
        )));
    }
    if !category.roles.contains(&sender.role) {
        return Err(CaseError::Forbidden(format!(
            "role `{}` may not write about category `{}`: the policy does not grant it to that \
             role",
            sender.role, draft.about
        )));
    }
    if draft.kind != MESSAGE {
        check_report(case, sender, draft, today)?;
    } else if draft.held_on.is_some() {
        return Err(CaseError::Invalid("`held_on` is for a report only".into()));
    }
    let audience = audience(policy, parties, consent, sender, draft, today)?;
    if let Some(answered) = draft.reply_to
        && !thread
            .iter()
            .any(|m| m.id == answered && m.involves(&sender.org_id))
    {
        return Err(CaseError::Invalid(
            "`reply_to` is not a message of this case you wrote or received".into(),
        ));
    }
    let message = Message {
        id: uuid::Uuid::new_v4().to_string(),
        case: case.id.clone(),
        kind: draft.kind.to_owned(),
        sender: sender.org_id.clone(),
        about: draft.about.to_owned(),
        to: (draft.to.iter())
            .map(|org| Addressee {
                org: org.clone(),
                acknowledged_at: None,
            })
            .collect(),
        sent_at: now.to_owned(),
        held_on: draft.held_on.map(str::to_owned),
        reply_to: draft.reply_to.map(str::to_owned),
    };
    Ok((message, audience))
}

/// A report's own rules: its author role, the hand-over by the municipality of the home, the
/// meeting day from the past.
fn check_report(
    case: &Case,
    sender: &CaseParty,
    draft: Draft<'_>,
    today: &str,
) -> Result<(), CaseError> {
    let report = report(draft.kind)?;
    if draft.about != report.category {
        return Err(CaseError::Invalid(format!(
            "a report of kind `{}` is about category `{}`",
            report.kind, report.category
        )));
    }
    if sender.role != report.author {
        return Err(CaseError::Forbidden(format!(
            "a report of kind `{}` is written by the {} (art. {})",
            report.kind,
            report.author,
            if report.kind == "handover" {
                "16"
            } else {
                "15"
            }
        )));
    }
    if report.kind == "handover"
        && case.facts.home_municipality.as_deref() != Some(sender.org_id.as_str())
    {
        return Err(CaseError::Forbidden(
            "the municipality of the home organises the hand-over and writes its report (art. 16)"
                .into(),
        ));
    }
    let valid_day = draft
        .held_on
        .is_some_and(|d| d.len() == 10 && crate::form::is_date(d) && d <= today);
    if !valid_day {
        return Err(CaseError::Fields(vec![crate::form::FieldProblem {
            field: "held_on".into(),
            problem: "a report needs the day it was held, as YYYY-MM-DD, not after today".into(),
        }]));
    }
    Ok(())
}

/// The parties a draft goes to, the sender included; refuses an addressee the policy or the
/// consent does not let receive its category.
fn audience(
    policy: &Policy,
    parties: &[CaseParty],
    consent: &ConsentRecord,
    sender: &CaseParty,
    draft: Draft<'_>,
    today: &str,
) -> Result<Vec<CaseParty>, CaseError> {
    if draft.to.is_empty() {
        return Err(CaseError::Invalid(
            "`to` names at least one party of the case".into(),
        ));
    }
    let mut audience = vec![sender.clone()];
    for (i, org) in draft.to.iter().enumerate() {
        if org == &sender.org_id {
            return Err(CaseError::Invalid(format!(
                "`to` member {}: the sender keeps its own copy; name the others",
                i + 1
            )));
        }
        let Some(party) = party_of(parties, org) else {
            return Err(CaseError::Invalid(format!(
                "`to` member {} is not a party of the case",
                i + 1
            )));
        };
        if audience.iter().any(|p| p.org_id == *org) {
            return Err(CaseError::Invalid(format!(
                "`{org}` is named twice in `to`"
            )));
        }
        if !policy.may_receive_category(&party.role, party.applied, draft.about) {
            let why = if policy.may_receive_category(&party.role, true, draft.about) {
                "it goes to a municipality only with an application to it (policy \
                 [until_application]: art. 8.6, 9.7)"
                    .to_owned()
            } else {
                format!("the policy does not grant it to role `{}`", party.role)
            };
            return Err(CaseError::Forbidden(format!(
                "category `{}` may not be sent to `{org}`: {why}",
                draft.about
            )));
        }
        audience.push(party.clone());
    }
    for party in &audience {
        if let Some(reason) = consent.missing(&party.role, draft.about, today) {
            return Err(CaseError::Forbidden(format!(
                "category `{}` cannot be sealed for `{}`: {reason}",
                draft.about, party.org_id
            )));
        }
    }
    Ok(audience)
}

/// An acknowledgement of `message` by `org`: only a report asks for one (409), only an
/// addressee gives it (the author and others 403), once (409).
pub fn check_acknowledgement(message: &Message, org: &str) -> Result<(), CaseError> {
    if !message.asks_acknowledgement() {
        return Err(CaseError::Conflict(
            "a message asks no acknowledgement; only a report does".into(),
        ));
    }
    match message.to.iter().find(|a| a.org == org) {
        None => Err(CaseError::Forbidden(
            "only the participants the report is addressed to acknowledge it".into(),
        )),
        Some(a) if a.acknowledged_at.is_some() => Err(CaseError::Conflict(
            "the report was acknowledged by your organisation already".into(),
        )),
        Some(_) => Ok(()),
    }
}

/// The coordinator's question when it asks for information, or its reason when it rejects, as
/// the text of a message to the care organisation (art. 8.3): it stands in the case's thread,
/// where the answer can follow it. None for other steps or without the text.
pub fn assessment_message(action: Action, fields: &FieldValues) -> Option<FieldValues> {
    let field = match action {
        Action::RequestInfo => "coordinator_notes",
        Action::Reject => "decision_reason",
        _ => return None,
    };
    match fields.0.iter().find(|(id, _)| id == field) {
        Some((_, FieldValue::Text(text))) if !text.trim().is_empty() => {
            let copy = FieldValue::Text(zeroize::Zeroizing::new(text.as_str().to_owned()));
            Some(FieldValues(vec![("message_text".to_owned(), copy)]))
        }
        _ => None,
    }
}

/// The sealing plan of a message's or report's fields: each sealed to the whole `audience`
/// under the category the message is about.
pub fn sealing_plan(
    policy: &Policy,
    message: &Message,
    audience: &[CaseParty],
    plaintexts: Vec<(String, Plaintext)>,
    keys: &RecipientKeys,
) -> Result<SealingPlan, CaseError> {
    let orgs: Vec<String> = audience.iter().map(|p| p.org_id.clone()).collect();
    let mut plan = SealingPlan::default();
    for (field, plaintext) in plaintexts {
        let category = message.about.clone();
        plan.push_in(policy, (field, category), plaintext, orgs.clone(), keys)?;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests;
