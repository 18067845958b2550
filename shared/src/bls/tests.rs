use alloy::primitives::{address, U256};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;

fn key(seed: u8) -> SecretKey {
    SecretKey::derive_master(&[seed; 32]).unwrap()
}

fn scalar(decimal: &str) -> [u8; 32] {
    U256::from_str_radix(decimal, 10).unwrap().to_be_bytes()
}

/// EIP-2333 test cases 0-2 (values from the EIP's "Test Cases" section).
#[test]
fn eip2333_vectors() {
    let cases = [
        (
            "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04",
            "6083874454709270928345386274498605044986640685124978867557563392430687146096",
            0,
            "20397789859736650942317412262472558107875392172444076792671091975210932703118",
        ),
        (
            "3141592653589793238462643383279502884197169399375105820974944592",
            "29757020647961307431480504535336562678282505419141012933316116377660817309383",
            3141592653,
            "25457201688850691947727629385191704516744796114925897962676248250929345014287",
        ),
        (
            "0099FF991111002299DD7744EE3355BBDD8844115566CC55663355668888CC00",
            "27580842291869792442942448775674722299803720648445448686099262467207037398656",
            4294967295,
            "29358610794459428860402234341874281240803786294062035874021252734817515685787",
        ),
    ];
    for (seed, master, index, child) in cases {
        let seed = hex::decode(seed).unwrap();
        let master_key = SecretKey::derive_master(&seed).unwrap();
        assert_eq!(*master_key.to_bytes(), scalar(master));
        assert_eq!(*master_key.derive_child(index).to_bytes(), scalar(child));
    }
}

#[test]
fn eip2334_paths() {
    assert_eq!(parse_eip2334_path(EIP2334_VALIDATOR_PATH).unwrap(), vec![12381, 3600, 0, 0, 0]);
    assert_eq!(parse_eip2334_path("m").unwrap(), Vec::<u32>::new());
    for bad in ["", "x/1", "m/", "m/1/", "m/-1", "m/4294967296", "m/1a"] {
        assert!(matches!(parse_eip2334_path(bad), Err(BlsError::InvalidPath { .. })), "{bad}");
    }
    let seed = [7u8; 32];
    let by_path = SecretKey::derive_path(&seed, "m/12381/3600").unwrap();
    let by_hand = SecretKey::derive_master(&seed).unwrap().derive_child(12381).derive_child(3600);
    assert_eq!(by_path.public_key(), by_hand.public_key());
    assert_eq!(SecretKey::derive_master(&[1u8; 31]).unwrap_err(), BlsError::SeedTooShort { got: 31 });
}

#[test]
fn sign_verify_and_domain_separation() {
    let sk = key(1);
    let pk = sk.public_key();
    let sig = sk.sign(b"batch digest", SigningDomain::Batch);
    sig.verify(&pk, b"batch digest", SigningDomain::Batch).unwrap();
    assert_eq!(sig.verify(&pk, b"batch digesT", SigningDomain::Batch), Err(BlsError::VerificationFailed));
    assert_eq!(
        sig.verify(&key(2).public_key(), b"batch digest", SigningDomain::Batch),
        Err(BlsError::VerificationFailed)
    );
    // The same bytes signed for the other purpose are a different signature.
    assert_eq!(sig.verify(&pk, b"batch digest", SigningDomain::ProofOfPossession), Err(BlsError::VerificationFailed));
}

#[test]
fn random_keys_differ_and_verify() {
    let mut rng = StdRng::seed_from_u64(9);
    let a = SecretKey::random(&mut rng);
    let b = SecretKey::random(&mut rng);
    assert_ne!(a.public_key(), b.public_key());
    a.sign(b"m", SigningDomain::Batch).verify(&a.public_key(), b"m", SigningDomain::Batch).unwrap();
}

#[test]
fn encodings_round_trip() {
    let sk = key(3);
    let pk = sk.public_key();
    let sig = sk.sign(b"m", SigningDomain::Batch);
    assert_eq!(PublicKey::from_compressed(&pk.to_compressed()).unwrap(), pk);
    assert_eq!(PublicKey::from_eip2537(&pk.to_eip2537()).unwrap(), pk);
    assert_eq!(Signature::from_compressed(&sig.to_compressed()).unwrap(), sig);
    assert_eq!(Signature::from_eip2537(&sig.to_eip2537()).unwrap(), sig);
    assert_eq!(pk.to_string().parse::<PublicKey>().unwrap(), pk);
    assert_eq!(SecretKey::from_bytes(sk.to_bytes().as_ref()).unwrap().public_key(), pk);
}

/// The EIP-2537 layout: 16 zero bytes before each 48-byte coordinate; G2 as c0 before c1.
#[test]
fn eip2537_layout_matches_generator() {
    // 1 is a valid scalar: its public key is the G1 generator, its signature over m is H(m).
    let mut one = [0u8; 32];
    one[31] = 1;
    let g1 = SecretKey::from_bytes(&one).unwrap().public_key().to_eip2537();
    // G1 generator x, from the BLS12-381 parameters (IETF pairing-friendly-curves draft).
    let x = "17f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb";
    assert_eq!(&g1[..16], &[0u8; 16]);
    assert_eq!(hex::encode(&g1[16..64]), x);
    let h = hash_to_g2_eip2537(b"abc", b"QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_");
    // RFC 9380 J.10.1, msg "abc": P.x = x0 + x1 * I.
    let x0 = "02c2d18e033b960562aae3cab37a27ce00d80ccd5ba4b7fe0e7a210245129dbec7780ccc7954725f4168aff2787776e6";
    let x1 = "139cddbccdc5e91b9623efd38c49f81a6f83f175e80b06fc374de9eb4b41dfe4ca3a230ed250fbe3a2acf73a41177fd8";
    assert_eq!(hex::encode(&h[16..64]), x0);
    assert_eq!(hex::encode(&h[64 + 16..128]), x1);
}

#[test]
fn malformed_points_are_rejected() {
    let pk = key(4).public_key();
    let sig = key(4).sign(b"m", SigningDomain::Batch);

    assert!(matches!(PublicKey::from_compressed(&[0u8; 47]), Err(BlsError::InvalidLength { what: "public key", .. })));
    assert!(matches!(PublicKey::from_eip2537(&[0u8; 127]), Err(BlsError::InvalidLength { .. })));
    assert!(matches!(Signature::from_eip2537(&[0u8; 255]), Err(BlsError::InvalidLength { what: "signature", .. })));

    // Infinity, in both encodings.
    let mut inf_g1 = [0u8; 48];
    inf_g1[0] = 0xc0;
    assert_eq!(PublicKey::from_compressed(&inf_g1), Err(BlsError::PointAtInfinity { what: "public key" }));
    assert_eq!(PublicKey::from_eip2537(&[0u8; 128]), Err(BlsError::PointAtInfinity { what: "public key" }));
    let mut inf_g2 = [0u8; 96];
    inf_g2[0] = 0xc0;
    assert_eq!(Signature::from_compressed(&inf_g2), Err(BlsError::PointAtInfinity { what: "signature" }));
    assert_eq!(Signature::from_eip2537(&[0u8; 256]), Err(BlsError::PointAtInfinity { what: "signature" }));

    // Non-zero padding.
    let mut padded = pk.to_eip2537();
    padded[0] = 1;
    assert_eq!(PublicKey::from_eip2537(&padded), Err(BlsError::NonZeroPadding { what: "public key" }));
    let mut padded = sig.to_eip2537();
    padded[64 * 3] = 1;
    assert_eq!(Signature::from_eip2537(&padded), Err(BlsError::NonZeroPadding { what: "signature" }));

    // Off the curve: perturb y.
    let mut off = pk.to_eip2537();
    off[127] ^= 1;
    assert_eq!(PublicKey::from_eip2537(&off), Err(BlsError::InvalidEncoding { what: "public key" }));
    let mut off = sig.to_eip2537();
    off[255] ^= 1;
    assert_eq!(Signature::from_eip2537(&off), Err(BlsError::InvalidEncoding { what: "signature" }));

    // A coordinate not below the modulus (all ones in the low 381 bits).
    let mut big = pk.to_eip2537();
    big[16] = 0x1f;
    big[17..64].fill(0xff);
    assert!(PublicKey::from_eip2537(&big).is_err());
}

/// A point on the curve but outside the prime-order subgroup must be refused: these are what
/// the G1ADD/G2ADD precompiles would happily accept.
#[test]
fn points_outside_the_subgroup_are_rejected() {
    // Small search for an x with a curve point y^2 = x^3 + 4 over Fp: compressed encodings with
    // increasing x decode (on curve) but almost never land in the subgroup (cofactor h1 is huge).
    let mut found = 0;
    for x in 1u8..=60 {
        let mut compressed = [0u8; 48];
        compressed[0] = 0x80;
        compressed[47] = x;
        match PublicKey::from_compressed(&compressed) {
            Err(BlsError::NotInSubgroup { what: "public key" }) => found += 1,
            Err(BlsError::InvalidEncoding { .. }) => {} // x has no point on the curve
            other => panic!("x={x}: unexpected {other:?}"),
        }
    }
    assert!(found > 0, "expected some on-curve points outside the subgroup");

    let mut found = 0;
    for x in 1u8..=60 {
        let mut compressed = [0u8; 96];
        compressed[0] = 0x80;
        compressed[95] = x;
        match Signature::from_compressed(&compressed) {
            Err(BlsError::NotInSubgroup { what: "signature" }) => found += 1,
            Err(BlsError::InvalidEncoding { .. }) => {}
            other => panic!("x={x}: unexpected {other:?}"),
        }
    }
    assert!(found > 0, "expected some on-curve G2 points outside the subgroup");
}

#[test]
fn aggregation_and_fast_aggregate_verify() {
    let keys: Vec<SecretKey> = (10..14).map(key).collect();
    let pks: Vec<PublicKey> = keys.iter().map(SecretKey::public_key).collect();
    let sigs: Vec<Signature> = keys.iter().map(|k| k.sign(b"root", SigningDomain::Batch)).collect();
    let aggregate = Signature::aggregate(&sigs).unwrap();
    aggregate.fast_aggregate_verify(&pks, b"root", SigningDomain::Batch).unwrap();
    PublicKey::aggregate(&pks).unwrap();
    assert_eq!(
        aggregate.fast_aggregate_verify(&pks[..3], b"root", SigningDomain::Batch),
        Err(BlsError::VerificationFailed)
    );

    // Aggregate of all minus a non-signer verifies the aggregate of the remaining signatures.
    let all = PublicKey::aggregate(&pks).unwrap();
    let signers = all.subtract(&pks[3..]).unwrap();
    assert_eq!(signers, PublicKey::aggregate(&pks[..3]).unwrap());
    Signature::aggregate(&sigs[..3]).unwrap().verify(&signers, b"root", SigningDomain::Batch).unwrap();

    assert_eq!(all.subtract(&pks), Err(BlsError::PointAtInfinity { what: "public key" }));
    assert!(matches!(PublicKey::aggregate(&[]), Err(BlsError::EmptyAggregate { .. })));
    assert!(matches!(Signature::aggregate(&[]), Err(BlsError::EmptyAggregate { .. })));
}

#[test]
fn verify_many_accepts_valid_and_rejects_one_bad() {
    let mut rng = StdRng::seed_from_u64(1);
    let keys: Vec<SecretKey> = (20..28).map(key).collect();
    let messages: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 32]).collect();
    let mut items: Vec<(PublicKey, &[u8], Signature)> = keys
        .iter()
        .zip(&messages)
        .map(|(k, m)| (k.public_key(), m.as_slice(), k.sign(m, SigningDomain::Batch)))
        .collect();
    Signature::verify_many(&items, SigningDomain::Batch, &mut rng).unwrap();
    items[5].2 = keys[5].sign(b"other", SigningDomain::Batch);
    assert_eq!(Signature::verify_many(&items, SigningDomain::Batch, &mut rng), Err(BlsError::VerificationFailed));
    assert!(Signature::verify_many(&[], SigningDomain::Batch, &mut rng).is_err());
}

#[test]
fn proof_of_possession_binds_operator_registry_and_chain() {
    let sk = key(30);
    let pk = sk.public_key();
    let registry = address!("0x00000000000000000000000000000000000000aa");
    let operator = address!("0x00000000000000000000000000000000000000bb");
    let pop = sk.prove_possession(31337, registry, operator);
    pk.verify_possession(&pop, 31337, registry, operator).unwrap();
    let other = address!("0x00000000000000000000000000000000000000cc");
    assert!(pk.verify_possession(&pop, 31337, registry, other).is_err());
    assert!(pk.verify_possession(&pop, 1, registry, operator).is_err());
    assert!(pk.verify_possession(&pop, 31337, other, operator).is_err());
}

#[test]
fn secrets_never_print() {
    let sk = key(5);
    let secret_hex = hex::encode(sk.to_bytes().as_ref());
    let debug = format!("{sk:?}");
    assert!(!debug.contains(&secret_hex), "{debug}");
    assert!(debug.contains(&hex::encode(sk.public_key().to_compressed())));
    assert!(matches!(SecretKey::from_bytes(&[0u8; 32]), Err(BlsError::InvalidSecretKey)));
    assert!(matches!(SecretKey::from_bytes(&[0xffu8; 32]), Err(BlsError::InvalidSecretKey)));
}
