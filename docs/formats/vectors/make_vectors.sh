#!/usr/bin/env bash
# Signature vectors for docs/formats/signatures.md, made with OpenSSL (independently of
# Custos) from the RFC 8032 TEST 1 key. Run from this folder.
set -euo pipefail
seed=9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60
type='application/vnd.custos.example+json; version=1'
# PKCS#8 wrapping of a raw Ed25519 seed.
{ printf '302e020100300506032b657004220420'; printf '%s' "$seed"; } | xxd -r -p > /tmp/custos-test1.der
openssl pkey -inform DER -in /tmp/custos-test1.der -out /tmp/custos-test1.pem
printf '{"example":"exact bytes are signed","n":1}\n' > hello.json
len=$(wc -c < hello.json)
{ printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$len"; cat hello.json; } > /tmp/custos-pae.bin
sig=$(openssl pkeyutl -sign -inkey /tmp/custos-test1.pem -rawin -in /tmp/custos-pae.bin | base64 -w0)
keyid=21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9
sigfile() { # type sig
  printf '{\n  "custos_signatures": 1,\n  "payload_type": "%s",\n  "signatures": [\n    {\n      "key_id": "%s",\n      "sig": "%s"\n    }\n  ]\n}\n' "$1" "$keyid" "$2"
}
sigfile "$type" "$sig" > hello.json.sig
sigfile 'application/vnd.custos.manifest+json; version=1' "$sig" > fail_replayed-type.sig
flipped=$(printf '%s' "$sig" | base64 -d | xxd -p -c 64 | sed 's/^\(..\)\(..\)/\1ff/' | xxd -r -p | base64 -w0)
sigfile "$type" "$flipped" > fail_flipped-signature.sig
sigfile "$type" "$sig" | sed 's/"custos_signatures": 1,/"custos_signatures": 1,\n  "payload_type": "text\/plain",/' > fail_duplicate-key.sig
sigfile "$type" "$sig" | sed 's/"custos_signatures": 1,/"custos_signatures": 2,/' > fail_unknown-version.sig
rm -f /tmp/custos-test1.der /tmp/custos-test1.pem /tmp/custos-pae.bin
