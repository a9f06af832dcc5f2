//! Cases (dossiers): the nouns of the exchange and every rule about them — the lifecycle, who
//! becomes a party at submission, who may receive which field on a re-share or referral, and
//! which entitled parties each field is sealed to. Domain modules take values and return
//! decisions with their own error type; none does I/O.

pub mod application;
pub mod entitlement;
pub mod lease;
pub mod lifecycle;
pub mod message;
mod model;
pub mod rekey;
pub mod sharing;
pub mod submission;

pub use application::Application;
pub use entitlement::{PlannedField, RecipientKeys, SealingPlan, plan_sealing, sealed_rows};
pub use lifecycle::{Action, CHECKLIST_FIELD, REGISTERED, Refusal, State, StepContext, transition};
pub use message::Message;
pub use model::{
    Case, CaseFacts, CaseParty, MonitorDeclaration, NewSealedField, Notice, Notification,
    Organisation, Rekeyed, SealedField, Slice, SliceField, Step,
};
pub use sharing::{ShareItem, SharePlan, plan_share, referral_recipients};
pub use submission::submission_parties;

use crate::form::FieldProblem;

/// A refused action. Messages name organisations, roles and field ids — never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    /// The caller's role may not do this, or consent does not cover it (403; recorded as a
    /// denied attempt).
    #[error("{0}")]
    Forbidden(String),
    /// Not possible in the case's state (409; recorded as a denied attempt).
    #[error("{0}")]
    Conflict(String),
    /// The request names something that does not fit (unknown organisation, wrong role).
    #[error("{0}")]
    Invalid(String),
    /// Fields of the request that are wrong, each named by id (never by value).
    #[error("{} field(s) are not valid", .0.len())]
    Fields(Vec<FieldProblem>),
    /// Stored data is not what it must be (500; the detail goes to the log only).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A refusal recorded as a denied attempt with `reason`, answered as `cause`.
    #[error("{cause}")]
    Refused {
        /// What the denied event says.
        reason: String,
        /// The answer.
        cause: Box<CaseError>,
    },
}

impl CaseError {
    /// The reason a denied event records, for refusals the access log keeps (403 and 409).
    pub fn denial(&self) -> Option<String> {
        match self {
            CaseError::Forbidden(m) | CaseError::Conflict(m) => Some(m.clone()),
            CaseError::Refused { reason, .. } => Some(reason.clone()),
            CaseError::Invalid(_) | CaseError::Fields(_) | CaseError::Corrupt(_) => None,
        }
    }

    /// Recorded as a denied attempt with `reason`, whatever it is answered as.
    pub fn refused(self, reason: &str) -> Self {
        CaseError::Refused {
            reason: reason.to_owned(),
            cause: Box::new(self),
        }
    }
}

/// The party entry of `org_id`, if it is a party of the case. Anything else is "not found".
pub fn party_of<'a>(parties: &'a [CaseParty], org_id: &str) -> Option<&'a CaseParty> {
    parties.iter().find(|p| p.org_id == org_id)
}

/// The age files of a step as one item of the case (an application, its decision, a signal):
/// a slice serves each item's fields apart, so a later item does not hide an earlier one.
pub fn as_item(mut sealed: Vec<NewSealedField>, item: &str) -> Vec<NewSealedField> {
    for f in &mut sealed {
        f.item = Some(item.to_owned());
    }
    sealed
}

/// Parties of the case other than `org_id`, each with a notification of `kind`.
pub fn notify_others(parties: &[CaseParty], org_id: &str, kind: &str, detail: &str) -> Vec<Notice> {
    parties
        .iter()
        .filter(|p| p.org_id != org_id)
        .map(|p| Notice::new(&p.org_id, kind, detail))
        .collect()
}

#[cfg(test)]
mod tests;
