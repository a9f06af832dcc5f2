//! A new case: who becomes a party at submission, and the monitor declaration's check.

use crate::audit::Pseudonymiser;
use crate::consent::{ConsentRecord, Declaration, Recording};
use crate::form::{self, FieldProblem, FieldValue, FieldValues, RuleScope};
use crate::policy::{Joins, Policy};
use crate::sealing::Plaintext;

use super::{
    Case, CaseError, CaseFacts, CaseParty, MonitorDeclaration, Organisation, RecipientKeys,
    SealingPlan, plan_sealing,
};

/// The parties of a new case: the submitting organisation and every enabled organisation of
/// the other roles that join at submission (the coordinator).
pub fn submission_parties(
    policy: &Policy,
    form: &str,
    submitter: &Organisation,
    enrolled: &[Organisation],
) -> Result<Vec<(String, String)>, CaseError> {
    let form_spec = policy
        .forms
        .get(form)
        .ok_or_else(|| CaseError::Invalid(format!("unknown form `{form}`")))?;
    if form_spec.submitted_by != submitter.role
        || policy.joins(&submitter.role) != Some(Joins::Submission)
    {
        return Err(CaseError::Forbidden(format!(
            "role `{}` may not submit form `{form}` (submitted by `{}`)",
            submitter.role, form_spec.submitted_by
        )));
    }
    let mut parties = vec![(submitter.id.clone(), submitter.role.clone())];
    for org in enrolled {
        if org.role != submitter.role
            && !org.disabled
            && policy.joins(&org.role) == Some(Joins::Submission)
        {
            parties.push((org.id.clone(), org.role.clone()));
        }
    }
    for (org, _) in &parties {
        if enrolled
            .iter()
            .chain([submitter])
            .any(|o| &o.id == org && o.recipient.is_none())
        {
            return Err(CaseError::Invalid(format!(
                "organisation `{org}` has no recipient key registered; an admin must run `sluis org set-recipient`"
            )));
        }
    }
    Ok(parties)
}

/// The coded facts a care organisation declares for the monitor at submission, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorCodes {
    /// One of the policy's `[monitor] client_groups`.
    pub client_group: Option<String>,
    /// A municipality of the region (organisation id) or the policy's `origin_elsewhere`.
    pub origin_municipality: Option<String>,
}

impl MonitorCodes {
    /// Checks the codes against the policy; names the key that is wrong, never its value.
    pub fn declaration(self, policy: &Policy) -> Result<MonitorDeclaration, CaseError> {
        let mut problems = Vec::new();
        if let Some(g) = &self.client_group
            && !policy.monitor.client_groups.contains(g)
        {
            problems.push(FieldProblem {
                field: "monitor.client_group".into(),
                problem: format!(
                    "must be one of: {}",
                    policy.monitor.client_groups.join(", ")
                ),
            });
        }
        if let Some(o) = &self.origin_municipality
            && *o != policy.monitor.origin_elsewhere
            && policy
                .parties
                .get(o)
                .is_none_or(|p| p.role != "municipality")
        {
            problems.push(FieldProblem {
                field: "monitor.origin_municipality".into(),
                problem: format!(
                    "must be a municipality of the region (an organisation id) or `{}`",
                    policy.monitor.origin_elsewhere
                ),
            });
        }
        if problems.is_empty() {
            Ok(MonitorDeclaration {
                client_group: self.client_group,
                origin_municipality: self.origin_municipality,
            })
        } else {
            Err(CaseError::Fields(problems))
        }
    }
}

/// A registration as the care organisation submits it.
#[derive(Debug)]
pub struct Submission {
    /// The form's id.
    pub form: String,
    /// Field id → value.
    pub fields: FieldValues,
    /// The client's consent declaration.
    pub declaration: Declaration,
    /// The signed declaration (PDF or image).
    pub consent_document: FieldValue,
    /// The monitor's coded facts, if declared.
    pub monitor: Option<MonitorCodes>,
}

/// Who submits, and when by the store's clock.
#[derive(Debug, Clone, Copy)]
pub struct Submitter<'a> {
    /// The submitting organisation.
    pub org: &'a Organisation,
    /// The user who submits.
    pub user_id: &'a str,
    /// Now, as stored text.
    pub now: &'a str,
    /// Today, `YYYY-MM-DD`.
    pub today: &'a str,
}

/// Everything a valid submission stores: the case, its parties, the consent record, the
/// monitor declaration, and what to seal for whom.
#[derive(Debug)]
pub struct SubmissionPlan {
    /// The new case (state `registered`).
    pub case: Case,
    /// Its parties.
    pub parties: Vec<CaseParty>,
    /// The consent record.
    pub consent: ConsentRecord,
    /// The monitor's coded facts.
    pub monitor: MonitorDeclaration,
    /// The fields, each to every entitled party (consent must cover each).
    pub sealing: SealingPlan,
}

/// Decides a submission: the form and the submitter's role, the monitor codes, every field of
/// the form, the consent declaration and its document; then seals every field (and the
/// declaration) to exactly the entitled parties, refusing (recorded) if consent does not
/// cover one of them.
pub fn plan_submission(
    policy: &Policy,
    submission: Submission,
    by: Submitter<'_>,
    enrolled: &[Organisation],
    pseudonyms: &Pseudonymiser,
) -> Result<SubmissionPlan, CaseError> {
    let Submission {
        form,
        fields,
        declaration,
        consent_document,
        monitor,
    } = submission;
    if !policy.forms.contains_key(&form) {
        return Err(CaseError::Invalid(format!(
            "unknown form; known forms: {}",
            policy.forms.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    let parties = stored_parties(submission_parties(policy, &form, by.org, enrolled)?, &by);
    let monitor = match monitor {
        Some(m) => m.declaration(policy)?,
        None => MonitorDeclaration::default(),
    };
    let mut plaintexts =
        form::validate_form(policy, &form, &fields, true).map_err(CaseError::Fields)?;
    let broken = form::check_rules(policy, &form, &fields, by.today, RuleScope::Submission);
    if !broken.is_empty() {
        return Err(CaseError::Fields(broken));
    }
    drop(fields);
    declaration
        .validate(policy, by.today)
        .map_err(CaseError::Invalid)?;
    let document = consent_document_plaintext(policy, &consent_document)?;
    drop(consent_document);
    let client = plaintexts
        .iter()
        .find(|(id, _)| *id == policy.audit.client_identifier)
        .map(|(_, p)| pseudonyms.pseudonym(p.expose()));
    let case = Case {
        id: uuid::Uuid::new_v4().to_string(),
        form,
        state: super::REGISTERED.to_owned(),
        created_by: by.org.id.clone(),
        created_at: by.now.to_owned(),
        updated_at: by.now.to_owned(),
        client_pseudonym: client,
        facts: CaseFacts::default(),
    };
    let client = case.client_pseudonym.clone();
    let consent = declaration.record(
        policy,
        Recording {
            case_id: &case.id,
            client: client.as_deref(),
            document: &document,
            now: by.now,
            user_id: by.user_id,
            org_id: &by.org.id,
        },
    );
    plaintexts.push((CONSENT_DOCUMENT.to_owned(), document));
    let keys = RecipientKeys::of(enrolled);
    let sealing = plan_sealing(
        policy, &parties, &consent, plaintexts, &keys, true, by.today,
    )
    .map_err(|e| e.refused("consent does not cover the submission"))?;
    Ok(SubmissionPlan {
        case,
        parties,
        consent,
        monitor,
        sealing,
    })
}

/// A new consent declaration for an open case (a renewal, before or after `valid_until`, or a
/// wider scope): valid on `today`, covering at least what the declaration it follows covered
/// (narrowing consent is a withdrawal, not a renewal). The record, with the previous one's
/// client, and the new declaration's document sealed to the parties it entitles.
pub struct Renewal<'a> {
    /// The consent in force.
    pub previous: &'a ConsentRecord,
    /// What the client signed now.
    pub declaration: Declaration,
    /// The signed document, base64.
    pub document: &'a FieldValue,
    /// The case's parties.
    pub parties: &'a [CaseParty],
    /// The enrolled organisations' keys.
    pub keys: &'a RecipientKeys,
}

/// Plans a renewal (see [`Renewal`]): the new record and the sealing of its document.
pub fn plan_renewal(
    policy: &Policy,
    renewal: Renewal<'_>,
    by: Submitter<'_>,
) -> Result<(ConsentRecord, SealingPlan), CaseError> {
    let Renewal {
        previous,
        declaration,
        document,
        parties,
        keys,
    } = renewal;
    if previous.status == "withdrawn" {
        return Err(CaseError::Conflict(
            "the client withdrew consent for this case; a withdrawn case cannot be renewed".into(),
        ));
    }
    declaration
        .validate(policy, by.today)
        .map_err(CaseError::Invalid)?;
    let narrower = (previous.roles.iter())
        .find(|r| !declaration.roles.contains(r))
        .map(|r| format!("role `{r}`"))
        .or_else(|| {
            (previous.categories.iter())
                .find(|c| !declaration.categories.contains(c))
                .map(|c| format!("category `{c}`"))
        });
    if let Some(missing) = narrower {
        return Err(CaseError::Invalid(format!(
            "a renewal covers at least what the consent it follows covered ({missing} is missing); \
             narrowing consent is a withdrawal"
        )));
    }
    let document = consent_document_plaintext(policy, document)?;
    let record = declaration.record(
        policy,
        Recording {
            case_id: &previous.case_id,
            client: previous.client.as_deref(),
            document: &document,
            now: by.now,
            user_id: by.user_id,
            org_id: &by.org.id,
        },
    );
    let plaintexts = vec![(CONSENT_DOCUMENT.to_owned(), document)];
    let sealing = plan_sealing(policy, parties, &record, plaintexts, keys, true, by.today)
        .map_err(|e| e.refused("the new consent does not cover the declaration's holders"))?;
    Ok((record, sealing))
}

/// The field that holds the signed consent declaration.
pub const CONSENT_DOCUMENT: &str = "consent_document";

fn consent_document_plaintext(
    policy: &Policy,
    document: &FieldValue,
) -> Result<Plaintext, CaseError> {
    let spec = policy
        .field(CONSENT_DOCUMENT)
        .ok_or_else(|| CaseError::Invalid("the policy has no `consent_document` field".into()))?;
    form::to_plaintext(spec, document).map_err(|mut p| {
        p.field = "consent.document".into();
        CaseError::Fields(vec![p])
    })
}

fn stored_parties(parties: Vec<(String, String)>, by: &Submitter<'_>) -> Vec<CaseParty> {
    parties
        .into_iter()
        .map(|(org_id, role)| CaseParty {
            org_id,
            role,
            added_at: by.now.to_owned(),
            added_by: by.org.id.clone(),
            applied: false,
        })
        .collect()
}
