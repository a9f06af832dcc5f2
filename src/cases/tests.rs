//! Tests of who becomes a party and what a re-share may do.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::policy::Policy;

fn policy() -> Policy {
    Policy::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policy")).unwrap()
}

fn org(id: &str, role: &str) -> Organisation {
    Organisation {
        id: id.into(),
        name: id.into(),
        role: role.into(),
        recipient: Some("age1...".into()),
        disabled: false,
    }
}

fn party(id: &str, role: &str) -> CaseParty {
    CaseParty {
        org_id: id.into(),
        role: role.into(),
        added_at: String::new(),
        added_by: String::new(),
        applied: false,
    }
}

#[test]
fn submission_makes_submitter_and_coordinator_parties() {
    let p = policy();
    let enrolled = vec![
        org("leviaan", "care"),
        org("parlan", "care"),
        org("bct-westfriesland", "coordinator"),
        org("intermaris", "corporation"),
    ];
    let parties = submission_parties(&p, "registration", &enrolled[0], &enrolled).unwrap();
    assert_eq!(
        parties,
        vec![
            ("leviaan".to_string(), "care".to_string()),
            ("bct-westfriesland".to_string(), "coordinator".to_string())
        ]
    );
    assert!(matches!(
        submission_parties(&p, "registration", &enrolled[3], &enrolled),
        Err(CaseError::Forbidden(_))
    ));
}

#[test]
fn share_refuses_a_field_the_role_may_not_see() {
    let p = policy();
    let orgs: BTreeMap<_, _> = [
        org("intermaris", "corporation"),
        org("hoorn", "municipality"),
        org("parlan", "care"),
    ]
    .into_iter()
    .map(|o| (o.id.clone(), o))
    .collect();
    let parties = vec![
        party("leviaan", "care"),
        party("bct-westfriesland", "coordinator"),
    ];
    let referred = referral_recipients(&p, &["hoorn".to_string()]).unwrap();
    assert_eq!(
        referred.iter().map(String::as_str).collect::<Vec<_>>(),
        ["het-grootslag", "hoorn", "intermaris", "wooncompagnie"]
    );
    let ok = plan_share(
        &p,
        "coordinator",
        &parties,
        &[ShareItem {
            recipients: vec!["intermaris".into()],
            fields: vec!["full_name".into(), "debts_total".into()],
        }],
        &orgs,
        &referred,
    )
    .unwrap();
    assert_eq!(
        ok.new_parties,
        vec![("intermaris".to_string(), "corporation".to_string())]
    );

    let err = plan_share(
        &p,
        "coordinator",
        &parties,
        &[ShareItem {
            recipients: vec!["intermaris".into()],
            fields: vec!["full_name".into(), "bsn".into()],
        }],
        &orgs,
        &referred,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `bsn` (category `identifiers`) may not be shared with `intermaris`: the policy does not grant category `identifiers` to role `corporation`"
    );
    assert!(matches!(
        plan_share(
            &p,
            "care",
            &parties,
            &[ShareItem {
                recipients: vec!["intermaris".into()],
                fields: vec!["full_name".into()]
            }],
            &orgs,
            &referred
        ),
        Err(CaseError::Forbidden(_))
    ));
    assert!(matches!(
        plan_share(
            &p,
            "coordinator",
            &parties,
            &[ShareItem {
                recipients: vec!["parlan".into()],
                fields: vec!["full_name".into()]
            }],
            &orgs,
            &referred
        ),
        Err(CaseError::Forbidden(_))
    ));
    // A corporation with no homes in the referred municipality cannot be made a party.
    let mut orgs = orgs;
    orgs.insert("gwb-opmeer".into(), org("gwb-opmeer", "corporation"));
    let err = plan_share(
        &p,
        "coordinator",
        &parties,
        &[ShareItem {
            recipients: vec!["gwb-opmeer".into()],
            fields: vec!["full_name".into()],
        }],
        &orgs,
        &referred,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "organisation `gwb-opmeer` is not a party of this case; refer the case to its municipality first"
    );
}

/// A referral's parties that are not ready are named with the reason they take part, so the
/// operator knows why an organisation nobody typed is involved.
#[test]
fn a_referral_names_why_an_unready_party_takes_part() {
    let p = policy();
    let mut keyless = org("het-grootslag", "corporation");
    keyless.recipient = None;
    let mut orgs: BTreeMap<_, _> = [org("intermaris", "corporation"), keyless]
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
    let parties = vec![
        party("leviaan", "care"),
        party("bct-westfriesland", "coordinator"),
    ];
    let referred = referral_recipients(&p, &["hoorn".to_string()]).unwrap();
    let share = |to: &str| ShareItem {
        recipients: vec![to.into()],
        fields: vec!["full_name".into()],
    };
    let err = plan_share(
        &p,
        "coordinator",
        &parties,
        &[share("het-grootslag")],
        &orgs,
        &referred,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "organisation `het-grootslag` (a party of this referral: the municipality, or a corporation \
         with homes there per policy allocation.toml) has no recipient key registered: register \
         it first (`sluis org set-recipient`)"
    );
    orgs.remove("het-grootslag");
    let err = plan_share(
        &p,
        "coordinator",
        &parties,
        &[share("het-grootslag")],
        &orgs,
        &referred,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`het-grootslag` (corporation of the policy; a party of this referral: the municipality, \
         or a corporation with homes there per policy allocation.toml) is not enrolled: enrol it \
         (`sluis org enrol`) and register its recipient key first"
    );
}
