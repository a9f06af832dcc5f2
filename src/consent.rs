//! Consent declarations (toestemmingsverklaringen, art. 7.1, 8.2, 22; AVG art. 7): the record,
//! whether it covers a recipient role and a data category, and its HL7 FHIR R5 `Consent` form.
//! Pure: no I/O.
//!
//! The record maps one-to-one onto ISO/IEC TS 27560 and FHIR `Consent`:
//!
//! | record | ISO/IEC TS 27560 | FHIR R5 `Consent` |
//! |---|---|---|
//! | `id` | record identifier | `id` / `identifier` |
//! | `client` | PII principal (pseudonymous id) | `subject`, `grantor` |
//! | `case_id` | — (processing context) | `identifier` (case) |
//! | `signed_on` | consent timestamp | `date` |
//! | `valid_until` | expiry | `period.end` |
//! | `recorded_by_user`, `recorded_by_org` | recorder | `controller` / extension `recordedBy` |
//! | `purpose` | purpose | `provision.purpose` |
//! | `roles` | recipients (by role) | `provision.actor[].role` |
//! | `categories` | PII categories | `provision.securityLabel[]` |
//! | `document_sha256` | evidence | `sourceAttachment.hash` |
//! | `status`, `withdrawn_*` | state, withdrawal event | `status` (`active` / `inactive`) |

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::policy::Policy;

/// A consent record (routing metadata; the signed scan itself is a sealed field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// Record id.
    pub id: String,
    /// The case.
    pub case_id: String,
    /// The client's pseudonym.
    pub client: Option<String>,
    /// Date signed, `YYYY-MM-DD`.
    pub signed_on: String,
    /// Last day it holds, `YYYY-MM-DD`.
    pub valid_until: String,
    /// The purpose: this arrangement only.
    pub purpose: String,
    /// Recipient roles covered.
    pub roles: Vec<String>,
    /// Data categories covered.
    pub categories: Vec<String>,
    /// SHA-256 of the signed document, hex.
    pub document_sha256: String,
    /// `active` or `withdrawn`.
    pub status: String,
    /// When it was recorded.
    pub recorded_at: String,
    /// Who recorded it (user id).
    pub recorded_by_user: String,
    /// For which organisation.
    pub recorded_by_org: String,
    /// When it was withdrawn.
    pub withdrawn_at: Option<String>,
    /// Who recorded the withdrawal (user id).
    pub withdrawn_by_user: Option<String>,
    /// For which organisation.
    pub withdrawn_by_org: Option<String>,
}

/// The consent part of a submission: what the client signed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    /// Date signed, `YYYY-MM-DD`.
    pub signed_on: String,
    /// Last day it holds, `YYYY-MM-DD`.
    pub valid_until: String,
    /// Recipient roles it covers.
    pub roles: Vec<String>,
    /// Data categories it covers.
    pub categories: Vec<String>,
}

fn date(s: &str) -> Option<time::Date> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

impl Declaration {
    /// Checks the declaration against the policy and today's date (`YYYY-MM-DD`).
    pub fn validate(&self, policy: &Policy, today: &str) -> Result<(), String> {
        let signed =
            date(&self.signed_on).ok_or("consent `signed_on` must be a date as YYYY-MM-DD")?;
        let until =
            date(&self.valid_until).ok_or("consent `valid_until` must be a date as YYYY-MM-DD")?;
        let today = date(today).ok_or("today is not a date")?;
        if signed > today {
            return Err("consent `signed_on` lies in the future".into());
        }
        if until < today || until < signed {
            return Err("consent `valid_until` has passed".into());
        }
        if self.roles.is_empty() || self.categories.is_empty() {
            return Err(
                "consent must name the recipient roles and data categories it covers".into(),
            );
        }
        for r in &self.roles {
            if !policy.roles.contains_key(r) {
                return Err(format!(
                    "consent names unknown role {}",
                    crate::form::describe_id(r)
                ));
            }
        }
        for c in &self.categories {
            if !policy.categories.contains_key(c) {
                return Err(format!(
                    "consent names unknown category {}",
                    crate::form::describe_id(c)
                ));
            }
        }
        Ok(())
    }
}

impl ConsentRecord {
    /// Whether this record lets `role` receive `category` on `today` (`YYYY-MM-DD`).
    pub fn covers(&self, role: &str, category: &str, today: &str) -> bool {
        self.missing(role, category, today).is_none()
    }

    /// Why this record does not let `role` receive `category`, or `None` if it does.
    pub fn missing(&self, role: &str, category: &str, today: &str) -> Option<String> {
        if self.status != "active" {
            return Some(format!("the client's consent {} was withdrawn", self.id));
        }
        if self.valid_until.as_str() < today {
            return Some(format!(
                "the client's consent {} expired on {}",
                self.id, self.valid_until
            ));
        }
        if !self.roles.iter().any(|r| r == role) {
            return Some(format!(
                "the client's consent does not cover recipient role `{role}`"
            ));
        }
        if !self.categories.iter().any(|c| c == category) {
            return Some(format!(
                "the client's consent does not cover category `{category}`"
            ));
        }
        None
    }

    /// The record as an HL7 FHIR R5 `Consent` resource.
    pub fn to_fhir(&self) -> Value {
        let pseudonym = |v: &Option<String>| json!({"identifier": {"system": "urn:sluis:client-pseudonym", "value": v}});
        let org = |v: &str| json!({"identifier": {"system": "urn:sluis:organisation", "value": v}});
        let hash = hex::decode(&self.document_sha256)
            .map(|h| BASE64.encode(h))
            .unwrap_or_default();
        json!({
            "resourceType": "Consent",
            "id": self.id,
            "identifier": [
                {"system": "urn:sluis:consent", "value": self.id},
                {"system": "urn:sluis:case", "value": self.case_id}
            ],
            "status": if self.status == "active" { "active" } else { "inactive" },
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]}],
            "subject": pseudonym(&self.client),
            "date": self.signed_on,
            "period": {"start": self.signed_on, "end": self.valid_until},
            "grantor": [pseudonym(&self.client)],
            "controller": [org(&self.recorded_by_org)],
            "sourceAttachment": [{"title": "Toestemmingsverklaring", "hash": hash}],
            "regulatoryBasis": [{"coding": [{"system": "urn:sluis:basis", "code": "avg-6-1-a", "display": "AVG art. 6(1)(a), 9(2)(a); agreement art. 7.1, 8.2, 22"}]}],
            "decision": "permit",
            "provision": [{
                "period": {"start": self.signed_on, "end": self.valid_until},
                "actor": self.roles.iter().map(|r| json!({"role": {"coding": [{"system": "urn:sluis:role", "code": r}]}})).collect::<Vec<_>>(),
                "purpose": [{"system": "urn:sluis:purpose", "code": "outflow-westfriesland", "display": self.purpose}],
                "securityLabel": self.categories.iter().map(|c| json!({"system": "urn:sluis:category", "code": c})).collect::<Vec<_>>()
            }],
            "extension": [
                {"url": "urn:sluis:recordedBy", "valueString": self.recorded_by_user},
                {"url": "urn:sluis:recordedAt", "valueDateTime": self.recorded_at},
                {"url": "urn:sluis:withdrawnAt", "valueDateTime": self.withdrawn_at},
                {"url": "urn:sluis:withdrawnBy", "valueString": self.withdrawn_by_user}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ConsentRecord {
        ConsentRecord {
            id: "c1".into(),
            case_id: "k1".into(),
            client: Some("p-abc".into()),
            signed_on: "2026-11-01".into(),
            valid_until: "2027-10-31".into(),
            purpose: "Uitstroomregeling".into(),
            roles: vec!["care".into(), "coordinator".into(), "corporation".into()],
            categories: vec!["personalia".into(), "income".into()],
            document_sha256: "00".repeat(32),
            status: "active".into(),
            recorded_at: "2026-11-02T10:00:00.000Z".into(),
            recorded_by_user: "u1".into(),
            recorded_by_org: "leviaan".into(),
            withdrawn_at: None,
            withdrawn_by_user: None,
            withdrawn_by_org: None,
        }
    }

    #[test]
    fn consent_covers_only_its_roles_categories_and_period() {
        let r = record();
        assert!(r.covers("corporation", "income", "2026-11-23"));
        assert_eq!(
            r.missing("municipality", "income", "2026-11-23").as_deref(),
            Some("the client's consent does not cover recipient role `municipality`")
        );
        assert_eq!(
            r.missing("corporation", "health_care", "2026-11-23")
                .as_deref(),
            Some("the client's consent does not cover category `health_care`")
        );
        assert!(!r.covers("corporation", "income", "2027-11-01"), "expired");
        let withdrawn = ConsentRecord {
            status: "withdrawn".into(),
            ..record()
        };
        assert_eq!(
            withdrawn
                .missing("care", "personalia", "2026-11-23")
                .as_deref(),
            Some("the client's consent c1 was withdrawn")
        );
    }

    #[test]
    fn fhir_export_is_a_consent_resource() {
        let f = record().to_fhir();
        assert_eq!(f["resourceType"], "Consent");
        assert_eq!(f["status"], "active");
        assert_eq!(f["decision"], "permit");
        assert_eq!(f["period"]["end"], "2027-10-31");
        assert_eq!(
            f["provision"][0]["actor"][2]["role"]["coding"][0]["code"],
            "corporation"
        );
        assert_eq!(f["provision"][0]["securityLabel"][1]["code"], "income");
        assert_eq!(f["sourceAttachment"][0]["hash"], BASE64.encode([0u8; 32]));
        let withdrawn = ConsentRecord {
            status: "withdrawn".into(),
            ..record()
        };
        assert_eq!(withdrawn.to_fhir()["status"], "inactive");
    }
}
