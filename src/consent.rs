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

use crate::audit::Event;
use crate::policy::Policy;
use crate::sealing::Plaintext;

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
        for (i, r) in self.roles.iter().enumerate() {
            if !policy.roles.contains_key(r) {
                return Err(format!(
                    "consent `roles` member {} is not a role of the policy",
                    i + 1
                ));
            }
        }
        for (i, c) in self.categories.iter().enumerate() {
            if !policy.categories.contains_key(c) {
                return Err(format!(
                    "consent `categories` member {} is not a category of the policy",
                    i + 1
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
        if let Some(expired) = self.expired(today) {
            return Some(expired);
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

    /// Why the record no longer holds on `today`, if its `valid_until` has passed: with how to
    /// renew it.
    pub fn expired(&self, today: &str) -> Option<String> {
        (self.valid_until.as_str() < today).then(|| {
            format!(
                "the client's consent {} expired on {}: the care organisation records the \
                 client's renewed declaration (POST /v1/cases/{}/consent, `sluis consent renew`)",
                self.id, self.valid_until, self.case_id
            )
        })
    }

    /// The record as an HL7 FHIR R5 `Consent` resource.
    pub fn to_fhir(&self) -> Value {
        let pseudonym = |v: &Option<String>| json!({"identifier": {"system": "urn:sluis:client-pseudonym", "value": v}});
        let org = |v: &str| json!({"identifier": {"system": "urn:sluis:organisation", "value": v}});
        let hash = hex::decode(&self.document_sha256)
            .map(|h| BASE64.encode(h))
            .unwrap_or_default();
        // FHIR JSON has no nulls: the withdrawal's extensions only once it happened.
        let mut extensions = vec![
            json!({"url": "urn:sluis:recordedBy", "valueString": self.recorded_by_user}),
            json!({"url": "urn:sluis:recordedAt", "valueDateTime": self.recorded_at}),
            json!({"url": "urn:sluis:status", "valueCode": self.status}),
        ];
        if let Some(at) = &self.withdrawn_at {
            extensions.push(json!({"url": "urn:sluis:withdrawnAt", "valueDateTime": at}));
        }
        if let Some(by) = &self.withdrawn_by_user {
            extensions.push(json!({"url": "urn:sluis:withdrawnBy", "valueString": by}));
        }
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
            // R5's Attachment.hash is a SHA-1; the broker keeps the SHA-256 of the scan, so it
            // goes in an extension of the attachment.
            "sourceAttachment": [{
                "title": "Toestemmingsverklaring",
                "extension": [{"url": "urn:sluis:sha256", "valueBase64Binary": hash}]
            }],
            "regulatoryBasis": [{"coding": [{"system": "urn:sluis:basis", "code": "avg-6-1-a", "display": "AVG art. 6(1)(a), 9(2)(a); agreement art. 7.1, 8.2, 22"}]}],
            "decision": "permit",
            "provision": [{
                "period": {"start": self.signed_on, "end": self.valid_until},
                "actor": self.roles.iter().map(|r| json!({"role": {"coding": [{"system": "urn:sluis:role", "code": r}]}})).collect::<Vec<_>>(),
                "purpose": [{"system": "urn:sluis:purpose", "code": "outflow-westfriesland", "display": self.purpose}],
                "securityLabel": self.categories.iter().map(|c| json!({"system": "urn:sluis:category", "code": c})).collect::<Vec<_>>()
            }],
            "extension": extensions
        })
    }
}

/// How many days before its `valid_until` a consent is listed for renewal.
pub const RENEWAL_NOTICE_DAYS: i64 = 30;

/// The last `valid_until` that is listed for renewal on `today` (`YYYY-MM-DD`): today plus
/// [`RENEWAL_NOTICE_DAYS`] (today itself if it is not a date).
pub fn renewal_horizon(today: &str) -> String {
    date(today).map_or_else(
        || today.to_owned(),
        |d| (d + time::Duration::days(RENEWAL_NOTICE_DAYS)).to_string(),
    )
}

/// The circumstances of recording a declaration: the case, the client's pseudonym, the signed
/// document (only its digest is kept) and who recorded it when.
#[derive(Debug, Clone, Copy)]
pub struct Recording<'a> {
    /// The case.
    pub case_id: &'a str,
    /// The client's pseudonym.
    pub client: Option<&'a str>,
    /// The signed declaration (sealed elsewhere; here only hashed).
    pub document: &'a Plaintext,
    /// Now, as stored text.
    pub now: &'a str,
    /// The user who records it.
    pub user_id: &'a str,
    /// Their organisation.
    pub org_id: &'a str,
}

impl Declaration {
    /// The active consent record of this declaration, with the SHA-256 of its document.
    pub fn record(self, policy: &Policy, at: Recording<'_>) -> ConsentRecord {
        ConsentRecord {
            id: uuid::Uuid::new_v4().to_string(),
            case_id: at.case_id.to_owned(),
            client: at.client.map(str::to_owned),
            signed_on: self.signed_on,
            valid_until: self.valid_until,
            purpose: policy.consent.purpose.clone(),
            roles: self.roles,
            categories: self.categories,
            document_sha256: hex::encode(ring::digest::digest(
                &ring::digest::SHA256,
                at.document.expose(),
            )),
            status: "active".into(),
            recorded_at: at.now.to_owned(),
            recorded_by_user: at.user_id.to_owned(),
            recorded_by_org: at.org_id.to_owned(),
            withdrawn_at: None,
            withdrawn_by_user: None,
            withdrawn_by_org: None,
        }
    }
}

/// A category held back from a slice, and why.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Withheld {
    /// The category.
    pub category: String,
    /// The missing consent.
    pub reason: String,
}

/// What consent lets an organisation download of a case's slice (the release rule).
#[derive(Debug, Clone)]
pub struct ReleaseRule {
    /// The case's consent record, if it has one.
    pub consent: Option<ConsentRecord>,
    /// Today, `YYYY-MM-DD`.
    pub today: String,
    /// The downloading organisation's role.
    pub org_role: String,
    /// Categories that stay downloadable after withdrawal (policy).
    pub retained: Vec<String>,
    /// The policy version, for the event's rule.
    pub policy_version: String,
}

impl ReleaseRule {
    /// Why consent holds back a category, if it does. The declaration itself stays
    /// downloadable for its holders after withdrawal: its basis then is AVG art. 7(1)
    /// (demonstrating the consent that was given), not the consent.
    pub fn missing(&self, category: &str) -> Option<String> {
        match &self.consent {
            _ if self.retained.iter().any(|r| r == category) => None,
            Some(c) => c.missing(&self.org_role, category, &self.today),
            None => Some("the case has no consent record".to_owned()),
        }
    }

    /// The categories among `categories` held back, with the reason.
    pub fn withheld<'a>(&self, categories: impl IntoIterator<Item = &'a str>) -> Vec<Withheld> {
        let cats: std::collections::BTreeSet<&str> = categories.into_iter().collect();
        cats.into_iter()
            .filter_map(|c| {
                self.missing(c).map(|reason| Withheld {
                    category: c.to_owned(),
                    reason,
                })
            })
            .collect()
    }

    /// Why nothing at all may be served to the organisation, if so.
    pub fn blocked(&self) -> Option<String> {
        let Some(c) = &self.consent else {
            return Some("the case has no consent record".to_owned());
        };
        if c.status != "active" {
            return Some(format!("the client's consent {} was withdrawn", c.id));
        }
        if let Some(expired) = c.expired(&self.today) {
            return Some(expired);
        }
        (!c.roles.contains(&self.org_role)).then(|| {
            format!(
                "the client's consent does not cover recipient role `{}`",
                self.org_role
            )
        })
    }

    /// The download's event for what was read, given the `(field id, category)` of each file
    /// of the slice: the fields served, or a denial if nothing may be (nothing left to serve
    /// because consent no longer covers the organisation at all, e.g. withdrawn and its
    /// ciphertexts deleted, is a refusal, not an empty slice).
    pub fn describe(&self, files: &[(&str, &str)], mut event: Event) -> Event {
        let withheld = self.withheld(files.iter().map(|(_, c)| *c));
        let served: Vec<&(&str, &str)> = files
            .iter()
            .filter(|(_, c)| !withheld.iter().any(|w| w.category == *c))
            .collect();
        let blocked = withheld
            .first()
            .map(|w| w.reason.clone())
            .or_else(|| self.blocked());
        if served.is_empty() && blocked.is_some() {
            event.outcome = "denied".into();
            event.reason = blocked;
            return event;
        }
        event.fields = served.iter().map(|(f, _)| (*f).to_owned()).collect();
        let served_cats: std::collections::BTreeSet<&str> =
            served.iter().map(|(_, c)| *c).collect();
        event.categories = served_cats.into_iter().map(str::to_owned).collect();
        event.policy_rule = Some(format!(
            "slice sealed to the organisation ({})",
            self.policy_version
        ));
        event
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
        assert_eq!(
            f["sourceAttachment"][0]["extension"][0],
            json!({"url": "urn:sluis:sha256", "valueBase64Binary": BASE64.encode([0u8; 32])})
        );
        // FHIR JSON has no nulls: an active consent has no withdrawal extensions.
        assert!(!f.to_string().contains("null"), "{f}");
        assert_eq!(f["extension"].as_array().unwrap().len(), 3);
        let withdrawn = ConsentRecord {
            status: "withdrawn".into(),
            withdrawn_at: Some("2026-12-01T09:00:00.000Z".into()),
            withdrawn_by_user: Some("u2".into()),
            withdrawn_by_org: Some("leviaan".into()),
            ..record()
        };
        let w = withdrawn.to_fhir();
        assert_eq!(w["status"], "inactive");
        assert_eq!(
            w["extension"][3],
            json!({"url": "urn:sluis:withdrawnAt", "valueDateTime": "2026-12-01T09:00:00.000Z"})
        );
        assert!(!w.to_string().contains("null"), "{w}");
    }
}
