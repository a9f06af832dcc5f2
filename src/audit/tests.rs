//! Tests of events, checkpoints and verification.

use sha2::{Digest as _, Sha256};

use super::verify::verify_in_blocks;
use super::*;

struct TestSigner(ring::signature::Ed25519KeyPair);

impl NoteSigner for TestSigner {
    fn name(&self) -> &str {
        "sluis.test/audit"
    }
    fn public_key(&self) -> [u8; 32] {
        use ring::signature::KeyPair as _;
        self.0.public_key().as_ref().try_into().unwrap()
    }
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).as_ref().try_into().unwrap()
    }
}

fn signer() -> TestSigner {
    let doc =
        ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    TestSigner(ring::signature::Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap())
}

fn log(n: i64) -> Vec<StoredEvent> {
    let mut previous = [0u8; 32];
    (1..=n)
        .map(|seq| {
            let mut e = Event::new("read", "allowed");
            e.seq = seq;
            e.time = format!("2026-11-23T12:00:{:02}.000Z", seq % 60);
            e.org = Some("intermaris".into());
            let leaf = e.leaf_hash();
            previous = chain_hash(&previous, &leaf);
            StoredEvent {
                event: e,
                leaf_hash: hex::encode(leaf),
                chain_hash: hex::encode(previous),
                expired: false,
            }
        })
        .collect()
}

#[test]
fn pseudonyms_are_keyed_and_stable() {
    let a = Pseudonymiser::new(&[1u8; 32]).unwrap();
    let b = Pseudonymiser::new(&[2u8; 32]).unwrap();
    assert_eq!(a.pseudonym(b"111222333"), a.pseudonym(b"111 222 333"));
    assert_ne!(a.pseudonym(b"111222333"), b.pseudonym(b"111222333"));
    assert_ne!(a.pseudonym(b"111222333"), a.pseudonym(b"123456782"));
    assert!(!a.pseudonym(b"111222333").contains("111222333"));
    assert_eq!(a.pseudonym(b"111222333").len(), 34);
    assert!(Pseudonymiser::new(&[0u8; 16]).is_none());
}

fn read(seq: i64, time: &str, user: &str, client: &str) -> Event {
    Event {
        seq,
        time: time.into(),
        user: Some(user.into()),
        org: Some("intermaris".into()),
        client: Some(client.into()),
        fields: vec!["full_name".into()],
        ..Event::new("read", "allowed")
    }
}

#[test]
fn signals_point_at_what_deserves_a_look() {
    let mut events = vec![
        // Monday 23 November 2026, 09:00 in Hoorn (08:00 UTC, winter time): office hours.
        read(1, "2026-11-23T08:00:00.000Z", "u1", "p-a"),
        // 22:30 local: outside office hours.
        read(2, "2026-11-23T21:30:00.000Z", "u1", "p-b"),
        // Saturday: outside office hours.
        read(3, "2026-11-28T10:00:00.000Z", "u2", "p-a"),
        // Summer: 06:30 UTC is 08:30 local (inside); 05:30 UTC is 07:30 local (inside).
        read(4, "2026-07-01T05:30:00.000Z", "u2", "p-a"),
        read(5, "2026-11-23T09:00:00.000Z", "u1", "p-c"),
    ];
    let mut withdrawn = Event::new("update", "allowed");
    withdrawn.seq = 8;
    withdrawn.case = Some("k1".into());
    withdrawn.reason = Some("consent withdrawn".into());
    let mut late = read(9, "2026-11-23T10:00:00.000Z", "u4", "p-d");
    late.case = Some("k1".into());
    let mut early = read(10, "2026-11-23T10:00:00.000Z", "u4", "p-d");
    early.case = Some("k2".into());
    let mut denied = Event::new("read", "denied");
    denied.seq = 6;
    denied.user = Some("u3".into());
    denied.source = Some("10.0.0.9".into());
    denied.time = "2026-11-24T12:00:00.000Z".into();
    events.push(denied.clone());
    denied.seq = 7;
    events.push(denied);
    events.extend([withdrawn, late, early]);
    let s = signals(&events, (7, 19), 2);
    assert_eq!(s.outside_office_hours, vec![2, 3]);
    assert_eq!(
        s.denied_by_user,
        vec![Count {
            key: "u3".into(),
            count: 2
        }]
    );
    assert_eq!(
        s.denied_by_source,
        vec![Count {
            key: "10.0.0.9".into(),
            count: 2
        }]
    );
    assert_eq!(
        s.many_clients_in_a_day,
        vec![BusyDay {
            user: "u1".into(),
            org: "intermaris".into(),
            day: "2026-11-23".into(),
            clients: 3
        }]
    );
    assert_eq!(
        s.most_viewed_clients[0],
        Count {
            key: "p-a".into(),
            count: 3
        }
    );
    // Per Dutch day, oldest first: seq 2 (22:30 local) counts on the 23rd too.
    let day = |key: &str, count| Count {
        key: key.into(),
        count,
    };
    assert_eq!(
        s.accesses_per_day,
        vec![
            day("2026-07-01", 1),
            day("2026-11-23", 5),
            day("2026-11-28", 1)
        ]
    );
    assert_eq!(s.denied_per_day, vec![day("2026-11-24", 2)]);
}

#[test]
fn dutch_time_switches_on_the_last_sundays_of_march_and_october() {
    let at = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
    };
    assert_eq!(dutch_offset_hours(at("2026-03-29T00:59:59Z")), 1);
    assert_eq!(dutch_offset_hours(at("2026-03-29T01:00:00Z")), 2);
    assert_eq!(dutch_offset_hours(at("2026-10-25T00:59:59Z")), 2);
    assert_eq!(dutch_offset_hours(at("2026-10-25T01:00:00Z")), 1);
}

#[test]
fn canonical_encoding_is_fixed() {
    let mut e = Event::new("read", "allowed");
    e.seq = 7;
    e.time = "2026-11-23T12:00:00.000Z".into();
    e.fields = vec!["full_name".into()];
    assert_eq!(
        String::from_utf8(e.canonical()).unwrap(),
        r#"{"seq":7,"time":"2026-11-23T12:00:00.000Z","action":"read","outcome":"allowed","reason":null,"user":null,"role":null,"org":null,"on_behalf_of":null,"purpose":null,"case":null,"client":null,"fields":["full_name"],"categories":[],"recipients":[],"consent":null,"policy_rule":null,"request_id":null,"source":null,"user_agent":null}"#
    );
}

#[test]
fn rfc9162_hashing_of_a_small_tree() {
    // Three leaves: root = H(0x01 ‖ H(0x01 ‖ l0 ‖ l1) ‖ l2), written out with sha2 here.
    let events: Vec<Event> = log(3).into_iter().map(|s| s.event).collect();
    let leaf = |e: &Event| -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([0]);
        h.update(e.canonical());
        h.finalize().into()
    };
    let node = |l: &[u8; 32], r: &[u8; 32]| -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([1]);
        h.update(l);
        h.update(r);
        h.finalize().into()
    };
    let expected = node(
        &node(&leaf(&events[0]), &leaf(&events[1])),
        &leaf(&events[2]),
    );
    assert_eq!(Tree::of(&events).root(), expected);
    assert_eq!(events[0].leaf_hash(), leaf(&events[0]));
}

#[test]
fn proofs_verify_and_forgeries_do_not() {
    let events: Vec<Event> = log(13).into_iter().map(|s| s.event).collect();
    let tree = Tree::of(&events);
    let root = tree.root();
    for e in &events {
        let proof = tree.inclusion_proof(e.seq as u64).unwrap();
        assert!(proof.len() <= 4, "at most ceil(log2 13) = 4 hashes");
        assert!(verify_inclusion(e, 13, &root, &proof));
    }
    let proof = tree.inclusion_proof(5).unwrap();
    assert!(
        !verify_inclusion(&events[5], 13, &root, &proof),
        "wrong event"
    );
    let mut forged = proof.clone();
    forged[0][0] ^= 1;
    assert!(
        !verify_inclusion(&events[4], 13, &root, &forged),
        "altered hash"
    );
    assert!(
        !verify_inclusion(&events[4], 13, &root, &proof[1..]),
        "short proof"
    );

    let old = Tree::of(&events[..6]);
    let consistency = tree.consistency_proof(6).unwrap();
    assert!(consistency.len() <= 4);
    assert!(verify_consistency(6, &old.root(), 13, &root, &consistency));
    let other = Tree::of(
        &log(6)
            .into_iter()
            .map(|mut s| {
                s.event.org = Some("hoorn".into());
                s.event
            })
            .collect::<Vec<_>>(),
    );
    assert!(
        !verify_consistency(6, &other.root(), 13, &root, &consistency),
        "not a prefix"
    );
    let mut bad = consistency;
    bad[0][5] ^= 0x80;
    assert!(!verify_consistency(6, &old.root(), 13, &root, &bad));
}

#[test]
fn checkpoint_notes_sign_and_verify() {
    let s = signer();
    let key = VerifierKey {
        name: s.name().into(),
        public_key: s.public_key(),
    };
    let cp = sign_checkpoint(&s, 13, &[7u8; 32], 1_795_000_000);
    assert!(cp.note.starts_with("sluis.test/audit\n13\n"));
    assert!(
        cp.note
            .contains("\ntime 1795000000\n\n\u{2014} sluis.test/audit ")
    );
    assert_eq!(open_checkpoint(&cp.note, &key).unwrap(), cp);
    assert_eq!(VerifierKey::from_vkey(&key.to_vkey()).unwrap(), key);
    // Base64 key data may contain `+`, the separator.
    let plus = VerifierKey {
        name: "a/b".into(),
        public_key: [0xfb; 32],
    };
    assert!(plus.to_vkey().matches('+').count() > 2);
    assert_eq!(VerifierKey::from_vkey(&plus.to_vkey()).unwrap(), plus);
    let tampered = cp.note.replace("\n13\n", "\n12\n");
    assert_eq!(
        open_checkpoint(&tampered, &key),
        Err(NoteError::BadSignature)
    );
    let other = signer();
    let other_key = VerifierKey {
        name: other.name().into(),
        public_key: other.public_key(),
    };
    assert_eq!(
        open_checkpoint(&cp.note, &other_key),
        Err(NoteError::BadSignature)
    );
}

#[test]
fn verifying_in_blocks_gives_the_same_report() {
    let s = signer();
    let key = VerifierKey {
        name: s.name().into(),
        public_key: s.public_key(),
    };
    let good = log(37);
    let events: Vec<Event> = good.iter().map(|e| e.event.clone()).collect();
    let checkpoint =
        |n: usize| sign_checkpoint(&s, n as u64, &Tree::of(&events[..n]).root(), 1).note;
    // Checkpoints inside blocks, at their ends, and at the end of the log.
    let notes = vec![checkpoint(3), checkpoint(8), checkpoint(16), checkpoint(37)];
    let mut changed = good.clone();
    changed[20].event.org = Some("someone-else".into());
    for n in [1, 7, 8, 9, 16, 33, 37] {
        let covered: Vec<String> = [3, 8, 16, 37]
            .iter()
            .zip(&notes)
            .filter(|(size, _)| **size <= n)
            .map(|(_, note)| note.clone())
            .collect();
        let whole = verify_in_blocks(&good[..n], &covered, std::slice::from_ref(&key), 1 << 20);
        assert!(whole.ok, "{n}");
        assert_eq!(whole.checkpoints, covered.len() as u64);
        assert_eq!(
            whole.root,
            hex::encode(Tree::of(&events[..n]).root()),
            "{n}"
        );
        for block in [1, 2, 4, 8] {
            let blocks = verify_in_blocks(&good[..n], &covered, std::slice::from_ref(&key), block);
            assert!(blocks.ok, "{n} in blocks of {block}");
            assert_eq!(blocks.root, whole.root, "{n} in blocks of {block}");
            assert_eq!(blocks.checkpoints, whole.checkpoints);
        }
    }
    for block in [1, 4, 8, 1 << 20] {
        assert_eq!(
            verify_in_blocks(&changed, &notes, std::slice::from_ref(&key), block).first_problem,
            Some(Finding::Changed { seq: 21 }),
            "blocks of {block}"
        );
    }
    // A checkpoint whose root does not match, inside a block: found with blocks too.
    let wrong = sign_checkpoint(&s, 11, &[7u8; 32], 1).note;
    for block in [4, 8, 1 << 20] {
        assert_eq!(
            verify_in_blocks(
                &good,
                std::slice::from_ref(&wrong),
                std::slice::from_ref(&key),
                block
            )
            .first_problem,
            Some(Finding::CheckpointMismatch { from: 1, to: 11 }),
            "blocks of {block}"
        );
    }
}

#[test]
fn verify_names_the_first_bad_sequence_number() {
    let s = signer();
    let key = VerifierKey {
        name: s.name().into(),
        public_key: s.public_key(),
    };
    let good = log(10);
    let tree = Tree::of(good.iter().map(|e| &e.event));
    let cp = sign_checkpoint(&s, 10, &tree.root(), 1).note;
    assert!(verify(&good, std::slice::from_ref(&cp), std::slice::from_ref(&key)).ok);

    let mut changed = good.clone();
    changed[3].event.org = Some("hoorn".into());
    assert_eq!(
        verify(&changed, &[], std::slice::from_ref(&key)).first_problem,
        Some(Finding::Changed { seq: 4 })
    );

    let mut missing = good.clone();
    missing.remove(6);
    assert_eq!(
        verify(&missing, &[], std::slice::from_ref(&key)).first_problem,
        Some(Finding::Missing { seq: 7 })
    );

    let mut swapped = good.clone();
    let (a, b) = (swapped[2].clone(), swapped[5].clone());
    swapped[2] = StoredEvent {
        event: Event { seq: 3, ..b.event },
        ..b
    };
    swapped[5] = StoredEvent {
        event: Event { seq: 6, ..a.event },
        ..a
    };
    let found = verify(&swapped, &[], std::slice::from_ref(&key))
        .first_problem
        .unwrap();
    assert!(
        matches!(
            found,
            Finding::Changed { seq: 3 } | Finding::Reordered { seq: 3 }
        ),
        "{found}"
    );

    let truncated = good[..8].to_vec();
    assert_eq!(
        verify(
            &truncated,
            std::slice::from_ref(&cp),
            std::slice::from_ref(&key)
        )
        .first_problem,
        Some(Finding::Truncated {
            seq: 9,
            size: 10,
            have: 8
        })
    );

    // Rewritten with fresh hashes: only the checkpoint can tell.
    let mut rewritten: Vec<Event> = good.iter().map(|s| s.event.clone()).collect();
    rewritten[4].org = Some("hoorn".into());
    let mut previous = [0u8; 32];
    let rehashed: Vec<StoredEvent> = rewritten
        .into_iter()
        .map(|e| {
            let leaf = e.leaf_hash();
            previous = chain_hash(&previous, &leaf);
            StoredEvent {
                event: e,
                leaf_hash: hex::encode(leaf),
                chain_hash: hex::encode(previous),
                expired: false,
            }
        })
        .collect();
    assert_eq!(
        verify(
            &rehashed,
            std::slice::from_ref(&cp),
            std::slice::from_ref(&key)
        )
        .first_problem,
        Some(Finding::CheckpointMismatch { from: 1, to: 10 })
    );
    let forged_note = cp.replace("\ntime 1\n", "\ntime 2\n");
    assert_eq!(
        verify(&good, &[forged_note], std::slice::from_ref(&key)).first_problem,
        Some(Finding::BadSignature { size: 10 })
    );
}

#[test]
fn a_log_fed_in_pages_of_any_size_verifies_as_in_one_pass() {
    let s = signer();
    let key = VerifierKey {
        name: s.name().into(),
        public_key: s.public_key(),
    };
    let good = log(37);
    let events: Vec<Event> = good.iter().map(|e| e.event.clone()).collect();
    let notes = vec![
        sign_checkpoint(&s, 12, &Tree::of(&events[..12]).root(), 1).note,
        sign_checkpoint(&s, 37, &Tree::of(&events).root(), 2).note,
    ];
    let whole = verify(&good, &notes, std::slice::from_ref(&key));
    assert!(whole.ok);
    let mut changed = good.clone();
    changed[25].event.purpose = Some("altered".into());
    for (block, page) in [(4, 3), (8, 5), (4, 1), (16, 37)] {
        let mut verifier =
            super::verify::Verifier::with_block(&notes, std::slice::from_ref(&key), 37, block);
        for chunk in good.chunks(page) {
            assert!(verifier.feed(chunk).is_continue());
        }
        let paged = verifier.finish();
        assert_eq!(paged.root, whole.root, "block {block}, pages of {page}");
        assert!(paged.ok && paged.checkpoints == 2, "{paged:?}");
        let mut verifier =
            super::verify::Verifier::with_block(&notes, std::slice::from_ref(&key), 37, block);
        let stopped = changed.chunks(page).any(|c| verifier.feed(c).is_break());
        assert!(
            stopped,
            "block {block}, pages of {page}: the change stops the reading"
        );
        assert_eq!(
            verifier.finish().first_problem,
            Some(Finding::Changed { seq: 26 }),
            "block {block}, pages of {page}"
        );
    }
}
