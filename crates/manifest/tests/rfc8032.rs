//! RFC 8032 §7.1 known answers (TEST 1–3) for the Ed25519 implementation every Custos
//! signature rests on, and `verify_strict`'s refusal of what is not a signature.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

fn h<const N: usize>(hex: &str) -> [u8; N] {
    let bytes: Vec<u8> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect();
    bytes.try_into().expect("length")
}

const VECTORS: [(&str, &str, &str, &str); 3] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
];

#[test]
fn rfc8032_test_vectors() {
    for (secret, public, message, signature) in VECTORS {
        let key = SigningKey::from_bytes(&h::<32>(secret));
        assert_eq!(key.verifying_key().to_bytes(), h::<32>(public));
        let message: Vec<u8> = (0..message.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&message[i..i + 2], 16).expect("hex"))
            .collect();
        let signed = key.sign(&message);
        assert_eq!(signed.to_bytes(), h::<64>(signature));
        let verifying = VerifyingKey::from_bytes(&h::<32>(public)).expect("point");
        assert!(verifying.verify_strict(&message, &Signature::from_bytes(&h::<64>(signature))).is_ok());
        let mut wrong = message.clone();
        wrong.push(0);
        assert!(verifying.verify_strict(&wrong, &signed).is_err());
    }
}

#[test]
fn verify_strict_refuses_a_non_canonical_s() {
    // S + ℓ (the group order) is the same scalar modulo ℓ; lenient verifiers accept it,
    // which makes signatures malleable. verify_strict must not.
    let (secret, public, _, signature) = VECTORS[0];
    let key = SigningKey::from_bytes(&h::<32>(secret));
    let mut bytes = h::<64>(signature);
    let order: [u8; 32] = h("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(bytes[32 + i]) + u16::from(order[i]) + carry;
        bytes[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    let verifying = VerifyingKey::from_bytes(&h::<32>(public)).expect("point");
    assert_eq!(verifying, key.verifying_key());
    assert!(verifying.verify_strict(b"", &Signature::from_bytes(&bytes)).is_err());
}
