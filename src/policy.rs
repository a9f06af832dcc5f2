//! Policy as data: forms, fields, the category × role matrix with its legal basis, the
//! parties, and the routing metadata kept in the clear. Loaded from `policy/`, validated once
//! at start; everything here is pure except [`Policy::load_dir`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// How an organisation of a role becomes a party of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Joins {
    /// At submission: the submitting organisation, and every organisation of the other
    /// submission roles (the coordinator).
    Submission,
    /// When a party that refers re-shares fields to it (art. 9.5, 8.6).
    Referral,
    /// Never: the role sees no case content (admin, privacy officer).
    Never,
}

/// A role a party or user can have.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// What the role is, in the agreement's words.
    pub description: String,
    /// How its organisations join a case.
    pub joins: Joins,
    /// Whether it may re-share fields to new parties (the coordinator).
    #[serde(default)]
    pub refers: bool,
    /// Whether it reads the access log (the privacy officer).
    #[serde(default)]
    pub audits: bool,
}

/// A data category with the roles that may open it and the article that grants it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CategorySpec {
    /// The roles that may open fields of this category.
    pub roles: Vec<String>,
    /// The article(s) of the agreement granting that access.
    pub basis: String,
    /// What the category holds.
    pub description: String,
    /// Correspondence (messages, reports): its fields go only to the audience their writer
    /// picks among the parties its roles allow; they are never re-shared nor sealed anew to
    /// every entitled party.
    #[serde(default)]
    pub addressed: bool,
}

/// The kind of value a field holds, with its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldKind {
    /// Free text up to `max_len` characters.
    Text {
        /// Maximum number of characters.
        max_len: usize,
    },
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A whole number in `min..=max`.
    Integer {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// Whole euros in `min..=max`.
    AmountEur {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// Yes or no.
    Boolean,
    /// One of a fixed list of options.
    Choice {
        /// The allowed options.
        options: Vec<String>,
    },
    /// A list of short texts.
    List {
        /// Maximum number of items.
        max_items: usize,
        /// Maximum characters per item.
        max_len: usize,
    },
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// A Dutch citizen service number (BSN), checked with the eleven-test.
    Bsn,
    /// A document (scan, PDF), base64 in JSON, up to `max_bytes` decoded.
    Document {
        /// Maximum size in bytes after decoding.
        max_bytes: usize,
    },
    /// The coordinator's checklist: for each criterion `met`, `not_met` or `not_applicable`,
    /// with an optional note; every criterion answered.
    Checklist {
        /// The criteria, in order.
        criteria: Vec<Criterion>,
    },
}

/// One criterion of a checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// Its id (lower-case letters, digits and `_`).
    pub id: String,
    /// The article of the agreement.
    pub article: String,
    /// What it asks (Dutch).
    pub label: String,
}

/// The answers a checklist criterion takes.
pub const CRITERION_STATUSES: [&str; 3] = ["met", "not_met", "not_applicable"];

/// One field of a form.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FieldSpec {
    /// Unique across all forms.
    pub id: String,
    /// The form it belongs to.
    pub form: String,
    /// Label on the paper form (Dutch).
    pub label: String,
    /// Its data category.
    pub category: String,
    /// Its value kind and limits.
    #[serde(flatten)]
    pub kind: FieldKind,
    /// Whether a submission of the form must fill it.
    pub required: bool,
    /// A paper the case needs before the coordinator may accept it (art. 7.1, 8.2, 9.1): it may
    /// follow the registration (a change report, an upload), but not be missing at assessment.
    #[serde(default)]
    pub before_assessment: bool,
    /// The article of the agreement this field serves and what it asks, for the form's help.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub help: String,
}

/// A condition of the agreement across fields of one form (art. 7): when `when` holds (always,
/// if absent), `then` must. Evaluated by the broker before sealing; a problem names the fields
/// by id and the article, never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormRule {
    /// The article of the agreement, e.g. `7.3`.
    pub article: String,
    /// What the article asks, in the agreement's words (Dutch).
    pub text: String,
    /// When the rule applies; always if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<FieldTest>,
    /// What must then hold.
    pub then: FieldTest,
}

/// A test of one field's value as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldTest {
    /// The field id (of the rule's form).
    pub field: String,
    /// The field is given (`true`) or left out (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
    /// The field is given and equals this: a boolean, a choice option or a whole number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<RuleValue>,
    /// The field is a number above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<i64>,
    /// The field is a date of birth that makes an age (in whole years, on the broker's today)
    /// of at least this ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_from: Option<i64>,
    /// ... and at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_to: Option<i64>,
}

/// A value a rule compares with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RuleValue {
    /// Yes or no.
    Bool(bool),
    /// A whole number.
    Integer(i64),
    /// A choice option.
    Text(String),
}

/// A form: a named set of fields submitted by one role.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FormSpec {
    /// What the form is.
    pub description: String,
    /// The role whose organisations submit it.
    pub submitted_by: String,
    /// Field ids in form order.
    pub fields: Vec<String>,
    /// The conditions across its fields (art. 7), checked before sealing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<FormRule>,
}

/// A party of the arrangement, from the enrolment file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// Organisation id, used everywhere in Sluis (the key of `parties` in JSON).
    #[serde(skip_serializing, default)]
    pub id: String,
    /// Name as signed.
    pub name: String,
    /// Its role.
    pub role: String,
}

/// A fact the broker keeps unsealed, with the reason it must.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingFact {
    /// Why the broker needs it in the clear.
    pub reason: String,
}

/// The validated policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    /// Declared version plus a digest of the policy files: `westfriesland-2021.1@3f2a…`.
    pub version: String,
    /// Roles by id.
    pub roles: BTreeMap<String, RoleSpec>,
    /// Categories by id.
    pub categories: BTreeMap<String, CategorySpec>,
    /// Forms by name.
    pub forms: BTreeMap<String, FormSpec>,
    /// Fields by id, across all forms.
    pub fields: BTreeMap<String, FieldSpec>,
    /// Parties by organisation id.
    pub parties: BTreeMap<String, Party>,
    /// The facts kept unsealed, by name.
    pub routing_metadata: BTreeMap<String, RoutingFact>,
    /// Access log settings.
    pub audit: AuditSpec,
    /// Purposes of use (process steps of the agreement) by id, with their description.
    pub purposes: BTreeMap<String, String>,
    /// Consent settings.
    pub consent: ConsentSpec,
    /// Change report settings.
    pub changes: ChangesSpec,
    /// Who reads a closed case, and how long.
    pub closed: ClosedSpec,
    /// How long a closed case's age files are kept, per final state (`rejected`, `ended`,
    /// `withdrawn`); a state not named is kept until a rule names it.
    pub retention: BTreeMap<String, RetentionRule>,
    /// Allocation (art. 11).
    pub allocation: Allocation,
    /// Role → what a party of it receives until an application is made to it.
    #[serde(default)]
    pub until_application: BTreeMap<String, UntilApplication>,
    /// Kinds of application to the municipality of the home, with their deadlines.
    #[serde(default)]
    pub applications: BTreeMap<String, ApplicationKind>,
    /// The annual monitor (art. 17).
    #[serde(default)]
    pub monitor: MonitorSpec,
}

/// Why a policy was refused. The message names the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A file could not be read.
    #[error("policy: cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not valid TOML of the expected shape.
    #[error("policy: {path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
    /// The files parse but contradict each other or the rules.
    #[error("policy: {0}")]
    Invalid(String),
}

/// Refuses an `[until_application]` naming an unknown role, an unknown category or one its role
/// is not granted, and an `[applications]` kind without days or basis.
fn check_applications(
    roles: &BTreeMap<String, RoleSpec>,
    until_application: &BTreeMap<String, UntilApplication>,
    applications: &BTreeMap<String, ApplicationKind>,
    categories: &BTreeMap<String, CategorySpec>,
) -> Result<(), PolicyError> {
    let invalid = |m: String| Err(PolicyError::Invalid(m));
    for (role, limit) in until_application {
        if !roles.contains_key(role) || limit.basis.trim().is_empty() {
            return invalid(format!(
                "until_application.{role}: needs a role of the policy and a basis"
            ));
        }
        for c in &limit.categories {
            if !categories
                .get(c)
                .is_some_and(|spec| spec.roles.contains(role))
            {
                return invalid(format!(
                    "until_application.{role} names `{c}`: not a category granted to `{role}`"
                ));
            }
        }
    }
    for (kind, spec) in applications {
        if !is_id(kind) || spec.days == 0 || spec.basis.trim().is_empty() {
            return invalid(format!(
                "applications.{kind}: needs a lower-case id, at least one day and a basis"
            ));
        }
    }
    Ok(())
}

/// The policy files as text, before validation.
#[derive(Debug, Clone)]
pub struct PolicySources {
    /// `policy.toml`.
    pub policy: String,
    /// `forms/*.toml` as (file name, text), in a stable order.
    pub forms: Vec<(String, String)>,
    /// `parties.toml`.
    pub parties: String,
    /// `allocation.toml`, if present.
    pub allocation: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: String,
    roles: BTreeMap<String, RoleSpec>,
    categories: BTreeMap<String, RawCategory>,
    #[serde(default)]
    routing: BTreeMap<String, RoutingFact>,
    audit: AuditSpec,
    purposes: BTreeMap<String, String>,
    #[serde(default)]
    consent: ConsentSpec,
    #[serde(default)]
    changes: ChangesSpec,
    closed: Option<ClosedSpec>,
    #[serde(default)]
    retention: BTreeMap<String, RetentionRule>,
    #[serde(default)]
    monitor: MonitorSpec,
    #[serde(default)]
    until_application: BTreeMap<String, UntilApplication>,
    #[serde(default)]
    applications: BTreeMap<String, ApplicationKind>,
}

/// How long the age files of a case closed in one final state are kept, and why.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    /// Days after the case closed.
    pub days: u32,
    /// The basis (a law, a selection list, or the parties' decision).
    pub basis: String,
}

/// A closed case (`rejected`, `ended`, `withdrawn`; AVG art. 5(1)(e)): downloads are refused
/// (410) to every party but `read_roles`, which keep read access for `read_days` after the
/// case closed, for the reason in `basis`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClosedSpec {
    /// The roles that still read a closed case.
    pub read_roles: Vec<String>,
    /// For how many days after it closed.
    pub read_days: u32,
    /// Why (the basis the parties chose).
    pub basis: String,
}

impl ClosedSpec {
    /// Without a `[closed]` table: the roles that join at submission, for 90 days.
    fn default_for(roles: &BTreeMap<String, RoleSpec>) -> Self {
        Self {
            read_roles: (roles.iter())
                .filter(|(_, r)| r.joins == Joins::Submission)
                .map(|(id, _)| id.clone())
                .collect(),
            read_days: 90,
            basis: "the parties' decision".into(),
        }
    }
}

/// The annual monitor (art. 17): its suppression threshold, the coded routing facts a care
/// organisation declares at submission, and the counts each role reports per period.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorSpec {
    /// Published counts below this are shown as `<threshold`.
    pub threshold: u32,
    /// The client groups (doelgroepen) a case may be declared in.
    pub client_groups: Vec<String>,
    /// The origin a case may be declared to come from besides a municipality of the region.
    pub origin_elsewhere: String,
    /// Role → the counts its organisations report per period.
    pub indicators: BTreeMap<String, Vec<String>>,
    /// Roles that see the whole monitor; the other parties see their own rows.
    pub full_view: Vec<String>,
}

impl Default for MonitorSpec {
    fn default() -> Self {
        Self {
            threshold: 5,
            client_groups: Vec::new(),
            origin_elsewhere: "elsewhere".into(),
            indicators: BTreeMap::new(),
            full_view: Vec::new(),
        }
    }
}

/// What consent declarations are for, and what survives their withdrawal.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentSpec {
    /// The purpose a declaration covers (this arrangement only).
    #[serde(default)]
    pub purpose: String,
    /// Categories whose ciphertexts are kept after withdrawal (the declaration itself).
    #[serde(default)]
    pub retained_after_withdrawal: Vec<String>,
}

/// Which categories a change report (art. 6, 12) may carry.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesSpec {
    /// Categories the care organisation reports changes in.
    #[serde(default)]
    pub categories: Vec<String>,
}

/// What a party of one role receives until the care organisation applies to it (data
/// minimisation at referral, AVG art. 5(1)(c); art. 8.6, 9.7).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UntilApplication {
    /// The categories it receives before an application (each granted to the role).
    pub categories: Vec<String>,
    /// Why these and no more.
    pub basis: String,
}

/// A kind of application to the municipality of the home (art. 9.7, 12), with its deadline.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationKind {
    /// What is applied for.
    pub description: String,
    /// Days the municipality has to decide, from the day the application was made.
    pub days: u32,
    /// The article that sets them.
    pub basis: String,
}

/// Art. 11: yearly quotas, and which corporations own homes in which municipality.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    /// Municipality organisation id → its quota and the corporations with homes there.
    #[serde(default)]
    pub municipalities: BTreeMap<String, MunicipalityAllocation>,
    /// Corporation organisation id → its yearly quota.
    #[serde(default)]
    pub corporations: BTreeMap<String, u32>,
}

/// One municipality's allocation.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityAllocation {
    /// Homes a year (art. 11).
    pub quota: u32,
    /// Corporations that own homes in the municipality.
    pub corporations: Vec<String>,
}

/// Settings of the access log.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSpec {
    /// Years events are kept; at least 5.
    pub retention_years: u32,
    /// The field whose value identifies the client (keyed into the client pseudonym).
    pub client_identifier: String,
    /// Office hours `[start, end)` in Dutch local time; downloads outside are a signal.
    #[serde(default = "default_office_hours")]
    pub office_hours: (u8, u8),
    /// More distinct clients opened by one user in a day than this is a signal.
    #[serde(default = "default_distinct_clients")]
    pub distinct_clients_per_day: u64,
}

fn default_office_hours() -> (u8, u8) {
    (7, 19)
}

fn default_distinct_clients() -> u64 {
    20
}

/// Least retention of access events, in years.
pub const MIN_RETENTION_YEARS: u32 = 5;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    #[serde(default)]
    description: String,
    roles: Vec<String>,
    basis: Option<String>,
    #[serde(default)]
    addressed: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForm {
    name: String,
    #[serde(default)]
    description: String,
    submitted_by: String,
    fields: Vec<RawField>,
    #[serde(default)]
    rules: Vec<FormRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    id: String,
    #[serde(default)]
    label: String,
    category: Option<String>,
    kind: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    before_assessment: bool,
    #[serde(default)]
    help: String,
    max_len: Option<usize>,
    max_items: Option<usize>,
    min: Option<i64>,
    max: Option<i64>,
    options: Option<Vec<String>>,
    max_bytes: Option<usize>,
    criteria: Option<Vec<Criterion>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParties {
    parties: Vec<Party>,
}

fn parse<T: for<'de> Deserialize<'de>>(path: &str, text: &str) -> Result<T, PolicyError> {
    toml::from_str(text).map_err(|e| PolicyError::Syntax {
        path: path.to_owned(),
        message: e.message().to_owned(),
    })
}

fn invalid(message: String) -> PolicyError {
    PolicyError::Invalid(message)
}

/// A rule names fields of its own form, and each test fits the field's kind: `above` a
/// number, `equals` a boolean, option or number of the field, `age_from`/`age_to` a date; a
/// `when` tests one thing, a `then` one thing (or an age range).
fn check_rule(
    form: &str,
    index: usize,
    rule: &FormRule,
    fields: &BTreeMap<String, FieldSpec>,
) -> Result<(), PolicyError> {
    let at = format!("rule {} of form `{form}`", index + 1);
    if rule.article.trim().is_empty() || rule.text.trim().is_empty() {
        return Err(invalid(format!("{at} needs its `article` and `text`")));
    }
    let tests = rule
        .when
        .iter()
        .map(|t| (t, "when"))
        .chain([(&rule.then, "then")]);
    for (test, part) in tests {
        let Some(spec) = fields.get(&test.field).filter(|f| f.form == form) else {
            return Err(invalid(format!(
                "{at}: `{part}` names `{}`, not a field of the form",
                test.field
            )));
        };
        let ages = test.age_from.is_some() || test.age_to.is_some();
        let given = [
            test.present.is_some(),
            test.equals.is_some(),
            test.above.is_some(),
            ages,
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(invalid(format!(
                "{at}: `{part}` tests one of present, equals, above, age_from/age_to"
            )));
        }
        let numeric = matches!(
            spec.kind,
            FieldKind::Integer { .. } | FieldKind::AmountEur { .. }
        );
        let fits = match (&test.equals, test.above) {
            (Some(RuleValue::Bool(_)), _) => spec.kind == FieldKind::Boolean,
            (Some(RuleValue::Integer(_)), _) | (None, Some(_)) => numeric,
            (Some(RuleValue::Text(t)), _) => {
                matches!(&spec.kind, FieldKind::Choice { options } if options.contains(t))
            }
            (None, None) if ages => spec.kind == FieldKind::Date && part == "then",
            (None, None) => true,
        };
        if !fits {
            return Err(invalid(format!(
                "{at}: `{part}` does not fit field `{}` (kind or option)",
                test.field
            )));
        }
    }
    Ok(())
}

const DEFAULT_TEXT_LEN: usize = 1000;
const DEFAULT_LIST_ITEMS: usize = 20;
const DEFAULT_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

impl RawField {
    fn kind(&self, form: &str) -> Result<FieldKind, PolicyError> {
        let id = &self.id;
        let range = |default_max: i64| -> Result<(i64, i64), PolicyError> {
            let (min, max) = (self.min.unwrap_or(0), self.max.unwrap_or(default_max));
            if min > max {
                return Err(invalid(format!(
                    "field `{id}` in form `{form}` has min {min} above max {max}"
                )));
            }
            Ok((min, max))
        };
        Ok(match self.kind.as_str() {
            "text" => FieldKind::Text {
                max_len: self.max_len.unwrap_or(DEFAULT_TEXT_LEN),
            },
            "date" => FieldKind::Date,
            "integer" => {
                let (min, max) = range(i64::from(i32::MAX))?;
                FieldKind::Integer { min, max }
            }
            "amount_eur" => {
                let (min, max) = range(1_000_000_000)?;
                FieldKind::AmountEur { min, max }
            }
            "boolean" => FieldKind::Boolean,
            "choice" => match &self.options {
                Some(options) if !options.is_empty() => FieldKind::Choice {
                    options: options.clone(),
                },
                _ => {
                    return Err(invalid(format!(
                        "field `{id}` in form `{form}` is a choice without options"
                    )));
                }
            },
            "list" => FieldKind::List {
                max_items: self.max_items.unwrap_or(DEFAULT_LIST_ITEMS),
                max_len: self.max_len.unwrap_or(DEFAULT_TEXT_LEN),
            },
            "email" => FieldKind::Email,
            "phone" => FieldKind::Phone,
            "bsn" => FieldKind::Bsn,
            "document" => FieldKind::Document {
                max_bytes: self.max_bytes.unwrap_or(DEFAULT_DOCUMENT_BYTES),
            },
            "checklist" => match &self.criteria {
                Some(criteria)
                    if !criteria.is_empty()
                        && criteria
                            .iter()
                            .all(|c| is_id(&c.id) && !c.article.is_empty()) =>
                {
                    let ids: std::collections::BTreeSet<_> =
                        criteria.iter().map(|c| &c.id).collect();
                    if ids.len() != criteria.len() {
                        return Err(invalid(format!(
                            "field `{id}` in form `{form}` names a criterion twice"
                        )));
                    }
                    FieldKind::Checklist {
                        criteria: criteria.clone(),
                    }
                }
                _ => {
                    return Err(invalid(format!(
                        "field `{id}` in form `{form}` is a checklist without criteria (each with an id and an article)"
                    )));
                }
            },
            other => {
                return Err(invalid(format!(
                    "field `{id}` in form `{form}` has unknown kind `{other}`"
                )));
            }
        })
    }
}

impl Policy {
    /// Reads `policy.toml`, `forms/*.toml` and `parties.toml` from `dir` and validates them.
    pub fn load_dir(dir: &Path) -> Result<Self, PolicyError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
                path: path.display().to_string(),
                source,
            })
        };
        let forms_dir = dir.join("forms");
        let entries = std::fs::read_dir(&forms_dir).map_err(|source| PolicyError::Read {
            path: forms_dir.display().to_string(),
            source,
        })?;
        let mut form_paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        form_paths.sort();
        let mut forms = Vec::with_capacity(form_paths.len());
        for path in form_paths {
            let name = format!(
                "forms/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            forms.push((name, read(&path)?));
        }
        Self::from_sources(&PolicySources {
            policy: read(&dir.join("policy.toml"))?,
            forms,
            parties: read(&dir.join("parties.toml"))?,
            allocation: match dir.join("allocation.toml") {
                p if p.exists() => Some(read(&p)?),
                _ => None,
            },
        })
    }

    /// Validates policy files given as text.
    pub fn from_sources(src: &PolicySources) -> Result<Self, PolicyError> {
        let raw: RawPolicy = parse("policy.toml", &src.policy)?;
        if raw.version.trim().is_empty() {
            return Err(invalid("policy.toml has an empty version".into()));
        }
        if raw.roles.is_empty() {
            return Err(invalid("policy.toml defines no roles".into()));
        }
        let mut categories = BTreeMap::new();
        for (name, cat) in raw.categories {
            for role in &cat.roles {
                if !raw.roles.contains_key(role) {
                    return Err(invalid(format!(
                        "category `{name}` grants unknown role `{role}`"
                    )));
                }
            }
            let basis = cat.basis.unwrap_or_default();
            if !cat.roles.is_empty() && basis.trim().is_empty() {
                return Err(invalid(format!(
                    "category `{name}` grants roles {:?} without a legal basis (`basis`)",
                    cat.roles
                )));
            }
            categories.insert(
                name,
                CategorySpec {
                    roles: cat.roles,
                    basis,
                    description: cat.description,
                    addressed: cat.addressed,
                },
            );
        }

        let mut forms = BTreeMap::new();
        let mut fields: BTreeMap<String, FieldSpec> = BTreeMap::new();
        for (path, text) in &src.forms {
            let form: RawForm = parse(path, text)?;
            if forms.contains_key(&form.name) {
                return Err(invalid(format!(
                    "{path}: form `{}` defined twice",
                    form.name
                )));
            }
            if !raw.roles.contains_key(&form.submitted_by) {
                return Err(invalid(format!(
                    "form `{}` is submitted by unknown role `{}`",
                    form.name, form.submitted_by
                )));
            }
            let mut ids = Vec::with_capacity(form.fields.len());
            for f in &form.fields {
                if !is_id(&f.id) {
                    return Err(invalid(format!(
                        "form `{}` has a field id that is not lower-case letters, digits and `_`",
                        form.name
                    )));
                }
                let category = match &f.category {
                    None => {
                        return Err(invalid(format!(
                            "field `{}` in form `{}` has no category",
                            f.id, form.name
                        )));
                    }
                    Some(c) if !categories.contains_key(c) => {
                        return Err(invalid(format!(
                            "field `{}` in form `{}` has unknown category `{c}`",
                            f.id, form.name
                        )));
                    }
                    Some(c) => c.clone(),
                };
                if let Some(other) = fields.get(&f.id) {
                    return Err(invalid(format!(
                        "field id `{}` is used in form `{}` and in form `{}`",
                        f.id, other.form, form.name
                    )));
                }
                let spec = FieldSpec {
                    id: f.id.clone(),
                    form: form.name.clone(),
                    label: f.label.clone(),
                    category,
                    kind: f.kind(&form.name)?,
                    required: f.required,
                    before_assessment: f.before_assessment,
                    help: f.help.clone(),
                };
                ids.push(f.id.clone());
                fields.insert(f.id.clone(), spec);
            }
            for (i, rule) in form.rules.iter().enumerate() {
                check_rule(&form.name, i, rule, &fields)?;
            }
            forms.insert(
                form.name,
                FormSpec {
                    description: form.description,
                    submitted_by: form.submitted_by,
                    fields: ids,
                    rules: form.rules,
                },
            );
        }

        let enrolment: RawParties = parse("parties.toml", &src.parties)?;
        let mut parties = BTreeMap::new();
        for p in enrolment.parties {
            if !is_org_id(&p.id) {
                return Err(invalid(format!(
                    "party id `{}` must be lower-case letters, digits and `-`",
                    p.id
                )));
            }
            if !raw.roles.contains_key(&p.role) {
                return Err(invalid(format!(
                    "party `{}` has unknown role `{}`",
                    p.id, p.role
                )));
            }
            if parties.contains_key(&p.id) {
                return Err(invalid(format!("party `{}` is enrolled twice", p.id)));
            }
            parties.insert(p.id.clone(), p);
        }

        let closed = (raw.closed.clone()).unwrap_or_else(|| ClosedSpec::default_for(&raw.roles));
        if let Some(role) = (closed.read_roles.iter()).find(|r| !raw.roles.contains_key(*r)) {
            return Err(invalid(format!(
                "closed read_roles names unknown role `{role}`"
            )));
        }
        for (state, rule) in &raw.retention {
            if !["rejected", "ended", "withdrawn"].contains(&state.as_str()) {
                return Err(invalid(format!(
                    "retention names `{state}`: only the final states rejected, ended, withdrawn"
                )));
            }
            if rule.days < closed.read_days || rule.basis.trim().is_empty() {
                return Err(invalid(format!(
                    "retention of `{state}` needs a basis and at least the {} days of [closed]",
                    closed.read_days
                )));
            }
        }
        if raw.audit.retention_years < MIN_RETENTION_YEARS {
            return Err(invalid(format!(
                "audit retention of {} years is below the minimum of {MIN_RETENTION_YEARS}",
                raw.audit.retention_years
            )));
        }
        // The events of a case are kept at least as long as its age files.
        if let Some((state, rule)) = (raw.retention.iter())
            .find(|(_, r)| u64::from(raw.audit.retention_years) * 365 < u64::from(r.days))
        {
            return Err(invalid(format!(
                "audit retention of {} years is shorter than the {} days of retention.{state}",
                raw.audit.retention_years, rule.days
            )));
        }
        if !fields.contains_key(&raw.audit.client_identifier) {
            return Err(invalid(format!(
                "audit client_identifier `{}` is not a field",
                raw.audit.client_identifier
            )));
        }
        if raw.purposes.is_empty() || raw.purposes.keys().any(|k| !is_id(k)) {
            return Err(invalid(
                "purposes must be a non-empty table of lower-case ids".into(),
            ));
        }
        for cat in raw
            .consent
            .retained_after_withdrawal
            .iter()
            .chain(&raw.changes.categories)
        {
            if !categories.contains_key(cat) {
                return Err(invalid(format!(
                    "consent or changes name unknown category `{cat}`"
                )));
            }
        }
        let allocation: Allocation = match &src.allocation {
            Some(text) => parse("allocation.toml", text)?,
            None => Allocation::default(),
        };
        let role_of = |id: &str| parties.get(id).map(|p: &Party| p.role.as_str());
        for (m, alloc) in &allocation.municipalities {
            if role_of(m) != Some("municipality") {
                return Err(invalid(format!(
                    "allocation: `{m}` is not an enrolled municipality"
                )));
            }
            for c in &alloc.corporations {
                if role_of(c) != Some("corporation") {
                    return Err(invalid(format!(
                        "allocation: `{c}` (homes in `{m}`) is not an enrolled corporation"
                    )));
                }
            }
        }
        for c in allocation.corporations.keys() {
            if role_of(c) != Some("corporation") {
                return Err(invalid(format!(
                    "allocation: `{c}` is not an enrolled corporation"
                )));
            }
        }
        if raw.monitor.threshold < 2 {
            return Err(invalid("monitor threshold must be at least 2".into()));
        }
        if let Some(r) = raw
            .monitor
            .full_view
            .iter()
            .find(|r| !raw.roles.contains_key(*r))
        {
            return Err(invalid(format!(
                "monitor full_view names unknown role `{r}`"
            )));
        }
        for (role, indicators) in &raw.monitor.indicators {
            if !raw.roles.contains_key(role) {
                return Err(invalid(format!(
                    "monitor indicators for unknown role `{role}`"
                )));
            }
            if indicators.iter().any(|i| !is_id(i)) {
                return Err(invalid(format!(
                    "monitor indicators of `{role}` must be lower-case ids"
                )));
            }
        }
        if raw.monitor.client_groups.iter().any(|g| !is_id(g))
            || !is_id(&raw.monitor.origin_elsewhere)
        {
            return Err(invalid(
                "monitor client groups and origin_elsewhere must be lower-case ids".into(),
            ));
        }
        check_applications(
            &raw.roles,
            &raw.until_application,
            &raw.applications,
            &categories,
        )?;
        let version = format!("{}@{}", raw.version.trim(), digest(src));
        Ok(Self {
            version,
            roles: raw.roles,
            categories,
            forms,
            fields,
            parties,
            routing_metadata: raw.routing,
            audit: raw.audit,
            purposes: raw.purposes,
            consent: raw.consent,
            changes: raw.changes,
            closed,
            retention: raw.retention,
            allocation,
            monitor: raw.monitor,
            until_application: raw.until_application,
            applications: raw.applications,
        })
    }

    /// Reads the JSON a broker serves at `GET /v1/policy` (clients use the broker's policy).
    pub fn from_json(value: serde_json::Value) -> Result<Self, PolicyError> {
        let mut policy: Self = serde_json::from_value(value).map_err(|e| PolicyError::Syntax {
            path: "GET /v1/policy".into(),
            message: e.to_string(),
        })?;
        for (id, party) in &mut policy.parties {
            party.id.clone_from(id);
        }
        Ok(policy)
    }

    /// The field's spec, if the policy knows it.
    pub fn field(&self, id: &str) -> Option<&FieldSpec> {
        self.fields.get(id)
    }

    /// Whether an organisation in `role` may open `field`.
    pub fn may_open(&self, role: &str, field: &str) -> bool {
        self.fields
            .get(field)
            .and_then(|f| self.categories.get(&f.category))
            .is_some_and(|c| c.roles.iter().any(|r| r == role))
    }

    /// The organisations among `parties` (organisation id, role) entitled to `field`, sorted.
    pub fn entitled<'a>(&self, field: &str, parties: &'a [(String, String)]) -> Vec<&'a str> {
        let mut orgs: Vec<&str> = parties
            .iter()
            .filter(|(_, role)| self.may_open(role, field))
            .map(|(org, _)| org.as_str())
            .collect();
        orgs.sort_unstable();
        orgs.dedup();
        orgs
    }

    /// Names an organisation in a message by its id if it is a party of the policy, else as
    /// `instead` (an id the caller made up is never repeated back).
    pub fn describe_party(&self, id: &str, instead: &str) -> String {
        if self.parties.contains_key(id) {
            format!("`{id}`")
        } else {
            instead.to_owned()
        }
    }

    /// The categories of the known fields among `fields`, each once, in order.
    pub fn categories_of(&self, fields: &[String]) -> Vec<String> {
        let set: std::collections::BTreeSet<&str> = fields
            .iter()
            .filter_map(|f| self.field(f))
            .map(|f| f.category.as_str())
            .collect();
        set.into_iter().map(str::to_owned).collect()
    }

    /// How organisations of `role` join a case; `None` for an unknown role.
    pub fn joins(&self, role: &str) -> Option<Joins> {
        self.roles.get(role).map(|r| r.joins)
    }

    /// Whether a party of `role` receives `field` now (`may_receive_category` of its
    /// category).
    pub fn may_receive(&self, role: &str, applied: bool, field: &str) -> bool {
        self.fields
            .get(field)
            .is_some_and(|f| self.may_receive_category(role, applied, &f.category))
    }

    /// Whether a party of `role` receives fields of `category` now: the policy grants it the
    /// category, and either its role receives everything before an application, or the
    /// category is one it receives until then, or the care organisation applied to it
    /// (`applied`).
    pub fn may_receive_category(&self, role: &str, applied: bool, category: &str) -> bool {
        (self.categories.get(category)).is_some_and(|c| c.roles.iter().any(|r| r == role))
            && (applied
                || (self.until_application.get(role))
                    .is_none_or(|limit| limit.categories.iter().any(|c| c == category)))
    }

    /// Whether `role` may re-share fields to new parties.
    pub fn refers(&self, role: &str) -> bool {
        self.roles.get(role).is_some_and(|r| r.refers)
    }

    /// The JSON document served at `GET /v1/policy` and printed by `sluis policy show --json`.
    #[expect(
        clippy::expect_used,
        reason = "a validated policy is plain data with string keys, which serde_json always writes"
    )]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a policy is plain data and always serialises")
    }

    /// A readable summary: the matrix with its articles, the forms and the parties.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(out, "Sluis policy {}\n", self.version);
        let _ = writeln!(out, "Who may open what (category x role):");
        for (name, cat) in &self.categories {
            let _ = writeln!(out, "  {name:<22} {}", cat.roles.join(", "));
            let _ = writeln!(out, "  {:<22} basis: {}", "", cat.basis);
        }
        let _ = writeln!(out, "\nForms:");
        for (name, form) in &self.forms {
            let _ = writeln!(
                out,
                "  {name} (submitted by {}): {} fields",
                form.submitted_by,
                form.fields.len()
            );
            for (id, f) in form
                .fields
                .iter()
                .filter_map(|id| Some((id, self.fields.get(id)?)))
            {
                let req = if f.required { " *" } else { "" };
                let _ = writeln!(out, "    {id:<34} {:<22}{req}", f.category);
            }
        }
        let _ = writeln!(out, "\nParties:");
        for (id, p) in &self.parties {
            let _ = writeln!(out, "  {id:<20} {:<16} {}", p.role, p.name);
        }
        let _ = writeln!(out, "\nKept unsealed (routing metadata):");
        for (name, fact) in &self.routing_metadata {
            let _ = writeln!(out, "  {name:<12} {}", fact.reason);
        }
        out
    }
}

/// Lower-case letters, digits and `_`, 1 to 64 characters: field and category ids.
pub fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Lower-case letters, digits and `-`, 1 to 64 characters: organisation ids.
pub fn is_org_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// First 12 hex digits of SHA-256 over the policy files, so an edit without a version bump
/// still changes the version stamped on sealed fields.
fn digest(src: &PolicySources) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut add = |name: &str, text: &str| {
        ctx.update(name.as_bytes());
        ctx.update(&[0]);
        ctx.update(text.as_bytes());
        ctx.update(&[0]);
    };
    add("policy.toml", &src.policy);
    for (name, text) in &src.forms {
        add(name, text);
    }
    add("parties.toml", &src.parties);
    if let Some(a) = &src.allocation {
        add("allocation.toml", a);
    }
    let d = ctx.finish();
    d.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
version = "t1"
[roles.care]
description = "c"
joins = "submission"
[roles.corporation]
description = "w"
joins = "referral"
[categories.personalia]
roles = ["care", "corporation"]
basis = "art. 9.5"
[categories.placement]
roles = ["care"]
basis = "art. 9.4"
[audit]
retention_years = 5
client_identifier = "full_name"
[purposes]
matching = "art. 9.6"
"#;
    const FORM: &str = r#"
name = "registration"
submitted_by = "care"
[[fields]]
id = "full_name"
category = "personalia"
kind = "text"
[[fields]]
id = "preferred_municipalities"
category = "placement"
kind = "list"
"#;
    const PARTIES: &str = r#"
[[parties]]
id = "intermaris"
name = "Intermaris"
role = "corporation"
"#;

    fn sources(policy: &str, form: &str, parties: &str) -> PolicySources {
        PolicySources {
            policy: policy.into(),
            forms: vec![("forms/registration.toml".into(), form.into())],
            parties: parties.into(),
            allocation: None,
        }
    }

    fn refused(policy: &str, form: &str, parties: &str) -> String {
        Policy::from_sources(&sources(policy, form, parties))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn valid_policy_decides_per_role() {
        let p = Policy::from_sources(&sources(POLICY, FORM, PARTIES)).unwrap();
        assert!(p.version.starts_with("t1@"));
        assert!(p.may_open("corporation", "full_name"));
        assert!(!p.may_open("corporation", "preferred_municipalities"));
        assert!(!p.may_open("corporation", "no_such_field"));
        let parties = vec![
            ("leviaan".to_string(), "care".to_string()),
            ("intermaris".to_string(), "corporation".to_string()),
        ];
        assert_eq!(
            p.entitled("full_name", &parties),
            vec!["intermaris", "leviaan"]
        );
        assert_eq!(
            p.entitled("preferred_municipalities", &parties),
            vec!["leviaan"]
        );
    }

    #[test]
    fn a_rule_is_checked_against_its_form_at_start() {
        let with =
            |rule: &str| format!("{FORM}\n[[rules]]\narticle = \"7.3\"\ntext = \"t\"\n{rule}\n");
        assert!(
            Policy::from_sources(&sources(
                POLICY,
                &with(r#"then = { field = "full_name", present = true }"#),
                PARTIES
            ))
            .is_ok()
        );
        for (rule, problem) in [
            (
                r#"then = { field = "full_nam", present = true }"#,
                "policy: rule 1 of form `registration`: `then` names `full_nam`, not a field of the form",
            ),
            (
                r#"when = { field = "full_name", above = 500 }
then = { field = "full_name", present = true }"#,
                "policy: rule 1 of form `registration`: `when` does not fit field `full_name` (kind or option)",
            ),
            (
                r#"then = { field = "full_name", present = true, equals = true }"#,
                "policy: rule 1 of form `registration`: `then` tests one of present, equals, above, age_from/age_to",
            ),
            (
                r#"then = { field = "full_name", age_from = 18 }"#,
                "policy: rule 1 of form `registration`: `then` does not fit field `full_name` (kind or option)",
            ),
        ] {
            assert_eq!(refused(POLICY, &with(rule), PARTIES), problem, "{rule}");
        }
    }

    #[test]
    fn unknown_role_in_category_is_refused() {
        let bad = POLICY.replace(r#"["care", "corporation"]"#, r#"["care", "corporatoin"]"#);
        assert_eq!(
            refused(&bad, FORM, PARTIES),
            "policy: category `personalia` grants unknown role `corporatoin`"
        );
    }

    #[test]
    fn unknown_category_of_field_is_refused() {
        let bad = FORM.replace(r#"category = "placement""#, r#"category = "plaatsing""#);
        assert_eq!(
            refused(POLICY, &bad, PARTIES),
            "policy: field `preferred_municipalities` in form `registration` has unknown category `plaatsing`"
        );
    }

    #[test]
    fn field_without_category_is_refused() {
        let bad = FORM.replace("category = \"placement\"\n", "");
        assert_eq!(
            refused(POLICY, &bad, PARTIES),
            "policy: field `preferred_municipalities` in form `registration` has no category"
        );
    }

    #[test]
    fn permission_without_basis_is_refused() {
        let bad = POLICY.replace("basis = \"art. 9.4\"\n", "");
        assert_eq!(
            refused(&bad, FORM, PARTIES),
            "policy: category `placement` grants roles [\"care\"] without a legal basis (`basis`)"
        );
        let blank = POLICY.replace("basis = \"art. 9.4\"", "basis = \"  \"");
        assert!(refused(&blank, FORM, PARTIES).contains("without a legal basis"));
    }

    #[test]
    fn an_audit_retention_shorter_than_a_case_retention_is_refused() {
        let bad = format!("{POLICY}\n[retention.ended]\ndays = 2200\nbasis = \"test\"\n")
            .replace("retention_years = 5", "retention_years = 6");
        assert_eq!(
            refused(&bad, FORM, PARTIES),
            "policy: audit retention of 6 years is shorter than the 2200 days of retention.ended"
        );
    }

    #[test]
    fn short_retention_is_refused() {
        let bad = POLICY.replace("retention_years = 5", "retention_years = 2");
        assert_eq!(
            refused(&bad, FORM, PARTIES),
            "policy: audit retention of 2 years is below the minimum of 5"
        );
    }

    #[test]
    fn party_with_unknown_role_is_refused() {
        let bad = PARTIES.replace("role = \"corporation\"", "role = \"woningcorporatie\"");
        assert_eq!(
            refused(POLICY, FORM, &bad),
            "policy: party `intermaris` has unknown role `woningcorporatie`"
        );
    }

    #[test]
    fn duplicate_field_id_across_forms_is_refused() {
        let mut src = sources(POLICY, FORM, PARTIES);
        src.forms.push((
            "forms/other.toml".into(),
            FORM.replace("registration", "other"),
        ));
        assert_eq!(
            Policy::from_sources(&src).unwrap_err().to_string(),
            "policy: field id `full_name` is used in form `registration` and in form `other`"
        );
    }

    #[test]
    fn unknown_key_and_kind_are_refused() {
        let typo = FORM.replace("kind = \"text\"", "kind = \"text\"\nrequird = true");
        assert!(
            refused(POLICY, &typo, PARTIES)
                .starts_with("policy: forms/registration.toml: unknown field `requird`")
        );
        let kind = FORM.replace("kind = \"text\"", "kind = \"txt\"");
        assert_eq!(
            refused(POLICY, &kind, PARTIES),
            "policy: field `full_name` in form `registration` has unknown kind `txt`"
        );
    }

    #[test]
    fn shipped_policy_is_valid_and_encodes_article_9_5() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policy");
        let p = Policy::load_dir(&dir).unwrap();
        assert_eq!(
            p.categories["personalia"].roles,
            ["care", "coordinator", "corporation", "municipality"]
        );
        assert_eq!(
            p.categories["identifiers"].roles,
            ["care", "coordinator", "municipality"]
        );
        assert_eq!(p.categories["assessment"].roles, ["coordinator", "care"]);
        assert_eq!(p.parties["intermaris"].role, "corporation");
        assert_eq!(p.parties.len(), 22);
        assert_eq!(p.allocation.municipalities["hoorn"].quota, 35);
        let total: u32 = p.allocation.municipalities.values().map(|m| m.quota).sum();
        assert_eq!(
            total, 100,
            "art. 11: 100 homes a year over the municipalities"
        );
        assert_eq!(
            p.allocation.corporations.values().sum::<u32>(),
            100,
            "and over the corporations"
        );
        let back = Policy::from_json(p.to_json()).unwrap();
        assert_eq!(back.to_json(), p.to_json());
        assert_eq!(back.parties["hoorn"].id, "hoorn");
        assert_eq!(back.fields["bsn"].kind, FieldKind::Bsn);
    }
}
