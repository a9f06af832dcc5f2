//! The nouns of the exchange: organisations, cases and their parties, sealed fields and
//! slices, lifecycle steps and notifications. Plain data, shared by the domain, the store and
//! the API.

use serde::{Deserialize, Serialize};

use crate::consent::Withheld;

/// An organisation (party) as enrolled.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Organisation {
    /// Organisation id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role from the policy.
    pub role: String,
    /// Its age recipient (public key), once registered.
    pub recipient: Option<String>,
    /// Disabled organisations cannot log in or be shared to.
    pub disabled: bool,
}

/// A case's routing metadata (no field values).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Case {
    /// Case id.
    pub id: String,
    /// Form of the registration.
    pub form: String,
    /// Lifecycle state.
    pub state: String,
    /// Submitting organisation.
    pub created_by: String,
    /// When it was submitted.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// Keyed hash of the client's identifier (routing metadata; see `audit`).
    pub client_pseudonym: Option<String>,
    /// Lifecycle facts (dates, home), set as the case moves on.
    #[serde(flatten)]
    pub facts: CaseFacts,
}

/// Routing facts the lifecycle records on a case (art. 17 needs them; no field values).
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct CaseFacts {
    /// Position in the coordinator's queue of referred cases (art. 8.4).
    pub queue_position: Option<i64>,
    /// When it was referred.
    pub referred_at: Option<String>,
    /// When a corporation reported a home.
    pub matched_at: Option<String>,
    /// The corporation that did.
    pub matched_by: Option<String>,
    /// The municipality of the home.
    pub home_municipality: Option<String>,
    /// `regular`, `youth_room` or `youth_studio`.
    pub home_kind: Option<String>,
    /// Key handover date, `YYYY-MM-DD`.
    pub key_handover: Option<String>,
    /// Why the case ended, a code of `lifecycle::END_REASONS`.
    pub end_reason: Option<String>,
    /// The lease at the key handover: `triangle` (the client's, the corporation's and the
    /// municipality's, art. 4) or `regular`.
    pub lease_kind: Option<String>,
    /// The day the triangle lease became a regular one, `YYYY-MM-DD`.
    pub lease_converted_on: Option<String>,
}

/// A party of a case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CaseParty {
    /// Organisation id.
    pub org_id: String,
    /// Its role in the case.
    pub role: String,
    /// When it became a party.
    pub added_at: String,
    /// The organisation that made it a party.
    pub added_by: String,
    /// Whether the care organisation applied to it (a municipality of the home, art. 9.7): it
    /// then receives every category its role is granted, not only those of
    /// `[until_application]`.
    #[serde(skip)]
    pub applied: bool,
}

/// One age file to store: a field sealed to exactly `recipients`.
#[derive(Debug, Clone)]
pub struct NewSealedField {
    /// Row id.
    pub id: String,
    /// Field id from the policy.
    pub field_id: String,
    /// Its category.
    pub category: String,
    /// The age file (empty if `chunked`).
    pub ciphertext: Vec<u8>,
    /// Whether the age file was stored in pieces while it streamed in (`put_chunk` with this
    /// row's id) instead of in `ciphertext`.
    pub chunked: bool,
    /// The policy version that decided the recipients.
    pub policy_version: String,
    /// The organisations it is sealed to.
    pub recipients: Vec<String>,
    /// The item it belongs to when a case holds several of its kind (an application id).
    pub item: Option<String>,
}

/// The coded facts a care organisation declares for the monitor at submission (art. 17).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorDeclaration {
    /// One of the policy's client groups.
    pub client_group: Option<String>,
    /// A municipality of the region, or the policy's `origin_elsewhere`.
    pub origin_municipality: Option<String>,
}

/// An organisation's copy of a field, sealed again to its new key.
#[derive(Debug, Clone)]
pub struct Rekeyed {
    /// Row id of the new age file.
    pub id: String,
    /// The age file it replaces for the organisation.
    pub replaces: String,
    /// Field id (must be the replaced file's).
    pub field_id: String,
    /// The new age file, sealed to the organisation alone.
    pub ciphertext: Vec<u8>,
}

/// One age file of a slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedField {
    /// Row id of the age file.
    pub id: String,
    /// Field id.
    pub field_id: String,
    /// Its category.
    pub category: String,
    /// The age file.
    pub ciphertext: Vec<u8>,
    /// Policy version at sealing.
    pub policy_version: String,
    /// When it was sealed.
    pub sealed_at: String,
    /// Which organisation's data it was (the submitter or the re-sharer).
    pub sealed_by: String,
    /// The item it belongs to, if any.
    pub item: Option<String>,
}

/// One lifecycle step, as the store applies it in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// The case.
    pub case_id: String,
    /// The state it must be in.
    pub from: String,
    /// The state after.
    pub to: String,
    /// The organisation taking the step.
    pub by_org: String,
    /// Facts to record (unset ones are kept).
    pub facts: CaseFacts,
    /// Organisations that become parties.
    pub new_parties: Vec<CaseParty>,
    /// Age files to store.
    pub sealed: Vec<NewSealedField>,
    /// Delete every age file of the case except those of these categories.
    pub delete_sealed_except: Option<Vec<String>>,
    /// Withdraw the active consent: (user, organisation).
    pub withdraw_consent: Option<(String, String)>,
    /// A new consent declaration that supersedes the case's active one.
    pub renew_consent: Option<crate::consent::ConsentRecord>,
    /// Organisations that stop being parties (at a match): their copies are deleted, their
    /// party role ends, and each gets its own access event (here, written with the step).
    pub revoke: Vec<(String, crate::audit::Event)>,
    /// Evaluations that become due: (period, due date).
    pub evaluations_due: Vec<(i64, String)>,
    /// The evaluation period received with this step.
    pub evaluation_received: Option<i64>,
    /// An application to the municipality of the home made with this step.
    pub application: Option<crate::cases::Application>,
    /// A decision recorded with this step: the application with its outcome and date.
    pub decision: Option<crate::cases::Application>,
    /// The conversion's conditions met, with the day each was (art. 4): (condition, date).
    pub lease_conditions: Vec<(String, String)>,
    /// A signal given with this step (its id).
    pub signal: Option<String>,
    /// A message or report written with this step.
    pub message: Option<crate::cases::Message>,
    /// The report the step's organisation acknowledges with this step.
    pub acknowledged: Option<String>,
    /// Notifications to parties.
    pub notify: Vec<Notice>,
}

/// A notification to put in an organisation's inbox with a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The organisation notified.
    pub org: String,
    /// What happened (`referred`, `slice_changed`, `matched`, `state`, …).
    pub kind: String,
    /// Which fields or state, never values.
    pub detail: String,
}

impl Notice {
    /// A notification of `kind` for `org`.
    pub fn new(org: &str, kind: &str, detail: &str) -> Self {
        Self {
            org: org.to_owned(),
            kind: kind.to_owned(),
            detail: detail.to_owned(),
        }
    }
}

/// An entry of an organisation's inbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Notification {
    /// Its id, to mark it read; none for what the calendar keeps in the inbox until it is
    /// done (a consent to renew, an overdue application or evaluation, a report to
    /// acknowledge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Whether the organisation marked it read.
    #[serde(default)]
    pub read: bool,
    /// The case.
    pub case: String,
    /// What happened (`referred`, `slice_changed`, `matched`, `state`, …).
    pub kind: String,
    /// Which fields or state, never values.
    pub detail: String,
    /// When.
    pub at: String,
}

/// One field of a slice as served: the age file, base64.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SliceField {
    /// The age file's id (what a rekey names).
    #[serde(default)]
    pub id: String,
    /// Field id.
    pub field: String,
    /// Its category.
    pub category: String,
    /// Policy version that sealed it.
    pub policy_version: String,
    /// When it was sealed.
    pub sealed_at: String,
    /// Which organisation's data it was sealed from.
    pub sealed_by: String,
    /// The item it belongs to when a case holds several of its kind: an application (its id)
    /// with its decision, a signal. Each item's fields are served apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The age file, base64 (standard alphabet, padded).
    pub age: String,
}

/// An organisation's slice of a case: only the fields sealed to it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Slice {
    /// Case id.
    pub case: String,
    /// The caller's organisation.
    pub organisation: String,
    /// The case's state.
    pub state: String,
    /// The sealed fields, by field id.
    pub fields: Vec<SliceField>,
    /// Categories sealed to the organisation that consent no longer lets it download.
    #[serde(default)]
    pub withheld: Vec<Withheld>,
}
