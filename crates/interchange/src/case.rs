//! CASE 1.5.0 / UCO JSON-LD: the package as an investigation graph that CASE tools read.
//!
//! - every item is a `uco-observable:File` with a `FileFacet` (name, path, size) and a
//!   `ContentDataFacet` whose hashes are `uco-types:Hash` nodes (`hashMethod` from UCO's
//!   `HashNameVocab`, `hashValue` as `xsd:hexBinary`);
//! - every custody event (the first is the seal) is a `case-investigation:InvestigativeAction`
//!   with performer (the signer's identity), instrument (the Custos that sealed, with its
//!   version, for the seal), location, times as `xsd:dateTime`, the items as objects, and a
//!   `ProvenanceRecord` (with the exhibit number) as result; each action names the one before
//!   it with `wasInformedBy`, as the log chains its lines;
//! - the legal basis records, and every order recorded in the custody log (with its validity
//!   as `startTime` and `endTime`), are `Authorization`s of the `Investigation` named by the
//!   case reference;
//! - digests UCO's vocabulary has no name for (BLAKE3) and segment Merkle roots stay in the
//!   Custos manifest and are noted in an `Annotation`, never passed off as a `Hash`.
//!
//! Node ids are `kb:custos-KIND-UUID`, version-5 UUIDs of the manifest's SHA-256 and the
//! node's own key (item path, event sequence, key id): the same package always gives the
//! same ids, and two packages never share one. Format notes: `docs/formats/case.md`.

use std::collections::BTreeMap;

use custos_manifest::custody::{Action, Event};
use custos_manifest::manifest::Item;
use serde_json::{json, Map, Value};

use crate::{is_hex, shown, signature_statement, uuid5, Error, ExportSource, Exporter};

/// The CASE release the output is written for (`case_validate --built-version case-1.5.0`).
pub const CASE_VERSION: &str = "1.5.0";

/// Where `kb:` ids live: a URN of Custos' own, since the nodes describe one package and no
/// web server answers for them.
pub const KB_NAMESPACE: &str = "urn:custos:kb:";

/// Manifest algorithm names → UCO `HashNameVocab` values. Others (BLAKE3) are noted only.
fn hash_method(algorithm: &str) -> Option<&'static str> {
    match algorithm {
        "md5" => Some("MD5"),
        "sha1" => Some("SHA1"),
        "sha256" => Some("SHA256"),
        "sha512" => Some("SHA512"),
        _ => None,
    }
}

/// The JSON-LD document (pretty, with a final newline).
pub fn export(source: &ExportSource, exporter: &Exporter) -> Result<String, Error> {
    let graph = Graph::build(source, exporter)?;
    let document = json!({
        "@context": context(),
        "@graph": graph.nodes,
    });
    let mut text = custos_manifest::safe_text::to_string_pretty(&document)
        .map_err(|e| Error::Unsupported(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

fn context() -> Value {
    json!({
        "kb": KB_NAMESPACE,
        "case-investigation": "https://ontology.caseontology.org/case/investigation/",
        "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
        "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
        "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
        "uco-location": "https://ontology.unifiedcyberontology.org/uco/location/",
        "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
        "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
        "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
    })
}

fn typed(datatype: &str, value: impl ToString) -> Value {
    json!({ "@type": datatype, "@value": value.to_string() })
}

fn reference(id: &str) -> Value {
    json!({ "@id": id })
}

struct Graph<'a> {
    source: &'a ExportSource,
    nodes: Vec<Value>,
    /// Item path → File node id.
    files: BTreeMap<&'a str, String>,
    /// Key id → Identity node id.
    identities: BTreeMap<String, String>,
    /// Location text → Location node id.
    locations: BTreeMap<String, String>,
}

impl<'a> Graph<'a> {
    fn id(&self, kind: &str, key: &str) -> String {
        format!("kb:custos-{kind}-{}", uuid5(&format!("{}/{kind}/{key}", self.source.manifest_sha256)))
    }

    fn build(source: &'a ExportSource, exporter: &Exporter) -> Result<Graph<'a>, Error> {
        let mut graph = Graph {
            source,
            nodes: Vec::new(),
            files: BTreeMap::new(),
            identities: BTreeMap::new(),
            locations: BTreeMap::new(),
        };
        let manifest = &source.manifest;
        let sealing_tool = graph.id("tool", "sealing");
        graph.nodes.push(json!({
            "@id": sealing_tool,
            "@type": "uco-tool:Tool",
            "uco-core:name": manifest.tool.name,
            "uco-tool:version": manifest.tool.version,
            "uco-tool:toolType": "evidence sealing",
        }));
        // Custody events do not record which Custos build appended them: named, not versioned.
        let recording_tool = graph.id("tool", "recording");
        graph.nodes.push(json!({
            "@id": recording_tool,
            "@type": "uco-tool:Tool",
            "uco-core:name": "custos",
            "uco-tool:toolType": "custody log",
            "uco-core:description": "the Custos that appended a custody event; the signed event does not record its version",
        }));
        let exporting_tool = graph.id("tool", "exporting");
        graph.nodes.push(json!({
            "@id": exporting_tool,
            "@type": "uco-tool:Tool",
            "uco-core:name": "custos",
            "uco-tool:version": exporter.version,
            "uco-tool:toolType": "CASE export",
            "uco-core:description": format!("wrote this graph: {}", exporter.command_line),
        }));

        for item in &manifest.items {
            graph.add_file(item)?;
        }
        let authorizations: Vec<Value> = manifest
            .legal_basis
            .iter()
            .enumerate()
            .map(|(index, basis)| {
                let id = graph.id("authorization", &index.to_string());
                let mut node = json!({
                    "@id": id,
                    "@type": "case-investigation:Authorization",
                    "case-investigation:authorizationType": basis.kind,
                    "case-investigation:authorizationIdentifier": basis.reference,
                });
                if let Some(authority) = &basis.authority {
                    node["uco-core:description"] = json!(format!("issued by {authority}"));
                }
                graph.nodes.push(node);
                reference(&id)
            })
            .collect();
        // Each recorded order too: what it authorises, from when until when.
        let mut authorizations = authorizations;
        for event in &source.events {
            let Some(order) = &event.order else { continue };
            let id = graph.id("order", &event.sequence.to_string());
            let mut about =
                vec![format!("issued by {} ({}) at {}", order.issuer, order.issuing_state, order.issued_at)];
            if let Some(state) = &order.enforcing_state {
                about.push(format!("executed in {state}"));
            }
            if let Some(categories) = &order.categories {
                let names: Vec<&str> = categories.iter().map(|c| c.name()).collect();
                about.push(format!("for {} data", names.join(", ")));
            }
            if let Some(old) = &order.extends {
                about.push(format!("extends order {old}"));
            }
            if let Some(document) = &order.document {
                about.push(format!("document {} (SHA-256 {})", document.path, document.sha256));
            }
            about.push(format!("recorded by custody event {}", event.sequence));
            graph.nodes.push(json!({
                "@id": id,
                "@type": "case-investigation:Authorization",
                "case-investigation:authorizationType": order.kind,
                "case-investigation:authorizationIdentifier": order.reference,
                "uco-core:startTime": typed("xsd:dateTime", &order.valid_from),
                "uco-core:endTime": typed("xsd:dateTime", &order.valid_until),
                "uco-core:description": about.join("; "),
            }));
            authorizations.push(reference(&id));
        }
        for key in &source.signers {
            graph.identity(&custos_manifest::custody::Actor::of(key));
        }

        let mut actions = Vec::new();
        let mut records = Vec::new();
        let mut previous: Option<String> = None;
        for event in &source.events {
            let instrument = if event.action == Action::Sealed { &sealing_tool } else { &recording_tool };
            let (action, record) = graph.add_event(event, instrument, previous.as_deref());
            previous = Some(action.clone());
            actions.push(reference(&action));
            records.push(reference(&record));
        }

        let mut annotated = Vec::new();
        let statement_id = graph.id("annotation", "signature");
        let mut objects: Vec<Value> = actions.first().cloned().into_iter().collect();
        objects.extend(graph.files.values().map(|id| reference(id)));
        graph.nodes.push(json!({
            "@id": statement_id,
            "@type": "uco-core:Annotation",
            "uco-core:statement": signature_statement(source),
            "uco-core:object": objects,
        }));
        annotated.push(reference(&statement_id));
        for item in &manifest.items {
            if let Some(note) = graph.unmapped_note(item) {
                annotated.push(note);
            }
        }

        let investigation = graph.id("investigation", "case");
        let mut everything: Vec<Value> = actions.clone();
        everything.extend(records);
        everything.extend(graph.files.values().map(|id| reference(id)));
        everything.extend(annotated);
        let mut description = format!("Custos evidence package sealed {}", manifest.sealed_at);
        if let Some(jurisdiction) = &manifest.jurisdiction {
            description.push_str(&format!(" in jurisdiction {jurisdiction}"));
        }
        if let Some(exhibit) = &manifest.case.exhibit {
            description.push_str(&format!(", exhibit {exhibit}"));
        }
        let mut node = json!({
            "@id": investigation,
            "@type": "case-investigation:Investigation",
            "uco-core:name": manifest.case.reference,
            "uco-core:description": description,
            "uco-core:object": everything,
        });
        if !authorizations.is_empty() {
            node["case-investigation:relevantAuthorization"] = Value::Array(authorizations);
        }
        graph.nodes.push(node);
        Ok(graph)
    }

    fn add_file(&mut self, item: &'a Item) -> Result<(), Error> {
        let id = self.id("file", &item.path);
        let mut hashes = Vec::new();
        for (algorithm, digest) in &item.digests {
            let Some(method) = hash_method(algorithm) else { continue };
            if !is_hex(digest) {
                return Err(Error::BadDigest { path: shown(&item.path), algorithm: algorithm.clone() });
            }
            hashes.push(json!({
                "@id": self.id("hash", &format!("{}/{algorithm}", item.path)),
                "@type": "uco-types:Hash",
                // A plain xsd:string from HashNameVocab: UCO 1.4 deprecates the vocabulary
                // datatype (case_validate warns on it; UCO 2.0 will reject it).
                "uco-types:hashMethod": method,
                "uco-types:hashValue": typed("xsd:hexBinary", digest.to_ascii_lowercase()),
            }));
        }
        let name = item.path.rsplit('/').next().unwrap_or(&item.path);
        let mut file_facet = json!({
            "@id": self.id("file-facet", &item.path),
            "@type": "uco-observable:FileFacet",
            "uco-observable:fileName": name,
            "uco-observable:filePath": item.path,
            "uco-observable:sizeInBytes": typed("xsd:integer", item.size),
        });
        if let Some(extension) = name.rsplit_once('.').map(|(_, e)| e).filter(|e| !e.is_empty()) {
            file_facet["uco-observable:extension"] = json!(extension);
        }
        let mut content = json!({
            "@id": self.id("content-facet", &item.path),
            "@type": "uco-observable:ContentDataFacet",
            "uco-observable:sizeInBytes": typed("xsd:integer", item.size),
        });
        if !hashes.is_empty() {
            content["uco-observable:hash"] = Value::Array(hashes);
        }
        // An item kept in several files is their content, not a file at its path: no
        // FileFacet claims one; the files are named in the description.
        let mut node = match &item.stored_as {
            None => json!({
                "@id": id,
                "@type": "uco-observable:File",
                "uco-core:hasFacet": [file_facet, content],
            }),
            Some(_) => json!({
                "@id": id,
                "@type": "uco-observable:ObservableObject",
                "uco-core:hasFacet": [content],
            }),
        };
        let mut notes = Vec::new();
        if let Some(stored) = &item.stored_as {
            let files: Vec<&str> = stored.parts.iter().map(|p| p.path.as_str()).collect();
            notes.push(match stored.format {
                custos_manifest::manifest::PartFormat::Split => format!(
                    "a raw image kept as {} parts, concatenated: {}; size and hashes are the whole image's (each part's own digests are in custos/manifest.json)",
                    files.len(),
                    files.join(", ")
                ),
                custos_manifest::manifest::PartFormat::E01 => format!(
                    "the media of an E01 set of {} segment files: {}; size and hashes are the media's (each file's own digests are in custos/manifest.json)",
                    files.len(),
                    files.join(", ")
                ),
            });
        }
        if item.reference {
            notes.push("referenced where it is, outside the package (sealed without a copy)".to_owned());
        } else {
            notes.push("in the package's BagIt payload".to_owned());
        }
        if let Some(category) = item.category {
            notes.push(format!(
                "category {}",
                serde_json::to_value(category).unwrap_or_default().as_str().unwrap_or("")
            ));
        }
        if item.acquisition.is_some() {
            notes.push(
                "acquired by custos acquire; the acquisition record is in the signed manifest".to_owned(),
            );
        }
        node["uco-core:description"] = json!(notes.join("; "));
        self.nodes.push(node);
        self.files.insert(&item.path, id);
        Ok(())
    }

    /// An Annotation naming what the manifest records of `item` that UCO cannot type.
    fn unmapped_note(&mut self, item: &Item) -> Option<Value> {
        let mut kept: Vec<String> = item
            .digests
            .iter()
            .filter(|(algorithm, _)| hash_method(algorithm).is_none())
            .map(|(algorithm, digest)| format!("{} {digest}", algorithm.to_ascii_uppercase()))
            .collect();
        if let Some(segments) = &item.segments {
            kept.push(format!(
                "{} segments of {} bytes under a {} Merkle root {} (custos/segments/, docs/segments.md)",
                segments.count, segments.size, segments.algorithm, segments.root
            ));
        }
        if kept.is_empty() {
            return None;
        }
        let id = self.id("annotation", &format!("unmapped/{}", item.path));
        let file = self.files.get(item.path.as_str()).cloned().unwrap_or_default();
        self.nodes.push(json!({
            "@id": id,
            "@type": "uco-core:Annotation",
            "uco-core:statement": format!(
                "recorded in the signed Custos manifest and not given as uco-types:Hash (UCO's HashNameVocab has no name for it): {}",
                kept.join("; ")
            ),
            "uco-core:object": [reference(&file)],
        }));
        Some(reference(&id))
    }

    fn identity(&mut self, actor: &custos_manifest::custody::Actor) -> String {
        if let Some(id) = self.identities.get(&actor.key_id) {
            return id.clone();
        }
        let id = self.id("identity", &actor.key_id);
        let mut about = vec![format!("role {}", actor.role)];
        if let Some(organisation) = &actor.organisation {
            about.push(format!("organisation {organisation}"));
        }
        if let Some(jurisdiction) = &actor.jurisdiction {
            about.push(format!("jurisdiction {jurisdiction}"));
        }
        about.push(format!("Ed25519 key {}", actor.key_id));
        self.nodes.push(json!({
            "@id": id,
            "@type": "uco-identity:Identity",
            "uco-core:name": actor.name,
            "uco-core:description": about.join(", "),
        }));
        self.identities.insert(actor.key_id.clone(), id.clone());
        id
    }

    fn location(&mut self, text: &str) -> String {
        if let Some(id) = self.locations.get(text) {
            return id.clone();
        }
        let id = self.id("location", text);
        self.nodes.push(json!({ "@id": id, "@type": "uco-location:Location", "uco-core:name": text }));
        self.locations.insert(text.to_owned(), id.clone());
        id
    }

    /// The action and its provenance record for one custody event; returns their ids.
    fn add_event(&mut self, event: &Event, instrument: &str, previous: Option<&str>) -> (String, String) {
        let sequence = event.sequence.to_string();
        let action_id = self.id("action", &sequence);
        let record_id = self.id("provenance-record", &sequence);
        // No items named: the event concerns every item. A path the manifest does not list
        // is named in the description, not linked: a link to a node the graph lacks would
        // break the ontology's class constraints.
        let unlisted: Vec<&str> =
            event.items.iter().filter(|p| !self.files.contains_key(p.as_str())).map(String::as_str).collect();
        let objects: Vec<Value> = if event.items.is_empty() {
            self.files.values().map(|id| reference(id)).collect()
        } else {
            event
                .items
                .iter()
                .filter_map(|path| self.files.get(path.as_str()))
                .map(|id| reference(id))
                .collect()
        };
        let performer = self.identity(&event.actor);
        let mut about = vec![format!(
            "custody event {} of custos/custody.jsonl, signed by key {}",
            event.sequence, event.actor.key_id
        )];
        if let Some(previous) = &event.previous {
            about.push(format!("chained to the line before by SHA-256 {previous}"));
        }
        let onward = event.onward.map(|o| o.name().to_owned());
        let to = match event.action {
            Action::Disclosed => "disclosed to key",
            Action::OnwardAuthorised => "onward transfer authorised to key",
            _ => "released to key",
        };
        for (label, value) in [
            ("purpose", &event.purpose),
            ("legal basis", &event.legal_basis),
            ("country", &event.country),
            (to, &event.receiver),
            ("release line SHA-256", &event.release),
            ("conditions", &event.conditions),
            ("retain until", &event.retain_until),
            ("onward transfer", &onward),
            ("authorisation", &event.authorisation),
            ("disclosure line SHA-256", &event.disclosure),
            ("state notified", &event.to_state),
            ("note", &event.note),
        ] {
            if let Some(value) = value {
                about.push(format!("{label}: {value}"));
            }
        }
        for attachment in &event.attachments {
            about.push(format!("attached {} (SHA-256 {})", attachment.path, attachment.sha256));
        }
        if !unlisted.is_empty() {
            about.push(format!("concerns paths the manifest does not list: {}", unlisted.join(", ")));
        }
        for (path, digests) in &event.observed_digests {
            let observed: Vec<String> = digests.iter().map(|(a, d)| format!("{a} {d}")).collect();
            about.push(format!("observed {path}: {}", observed.join(", ")));
        }
        let mut action = Map::new();
        action.insert("@id".into(), json!(action_id));
        action.insert("@type".into(), json!("case-investigation:InvestigativeAction"));
        action.insert("uco-core:name".into(), json!(event.action.name()));
        action.insert("uco-core:description".into(), json!(about.join("; ")));
        action.insert("uco-action:startTime".into(), typed("xsd:dateTime", &event.time));
        action.insert("uco-action:endTime".into(), typed("xsd:dateTime", &event.time));
        action.insert("uco-action:performer".into(), reference(&performer));
        action.insert("uco-action:instrument".into(), reference(instrument));
        if let Some(location) = &event.location {
            let location = self.location(location);
            action.insert("uco-action:location".into(), reference(&location));
        }
        action.insert("uco-action:object".into(), Value::Array(objects.clone()));
        action.insert("uco-action:result".into(), json!([reference(&record_id)]));
        if let Some(previous) = previous {
            action.insert("case-investigation:wasInformedBy".into(), json!([reference(previous)]));
        }
        self.nodes.push(Value::Object(action));
        let mut record = json!({
            "@id": record_id,
            "@type": "case-investigation:ProvenanceRecord",
            "uco-core:description": format!("the items after custody event {} ({})", event.sequence, event.action.name()),
            "uco-core:object": objects,
        });
        if let Some(exhibit) = &self.source.manifest.case.exhibit {
            record["case-investigation:exhibitNumber"] = json!(exhibit);
        }
        self.nodes.push(record);
        (action_id, record_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests_support::{exporter, sample};

    #[test]
    fn maps_items_events_and_notes_what_does_not_map() {
        let source = sample();
        let text = export(&source, &exporter()).expect("exports");
        let document: Value = serde_json::from_str(&text).expect("JSON");
        let graph = document["@graph"].as_array().expect("a graph");
        let of_type = |t: &str| graph.iter().filter(move |n| n["@type"] == t).collect::<Vec<_>>();
        assert_eq!(of_type("uco-observable:File").len(), 2);
        assert_eq!(of_type("case-investigation:InvestigativeAction").len(), 2);
        assert_eq!(of_type("case-investigation:ProvenanceRecord").len(), 2);
        assert_eq!(of_type("case-investigation:Authorization").len(), 1);
        // BLAKE3 is never a Hash; it is named in an annotation.
        assert!(!text.contains("\"BLAKE3\""), "{text}");
        assert!(text.contains("BLAKE3 "), "noted");
        let hashes: Vec<&Value> = graph
            .iter()
            .flat_map(|n| n["uco-core:hasFacet"].as_array().into_iter().flatten())
            .flat_map(|f| f["uco-observable:hash"].as_array().into_iter().flatten())
            .collect();
        assert_eq!(hashes.len(), 4, "md5 and sha256 of two items");
        assert!(hashes.iter().all(|h| h["uco-types:hashValue"]["@type"] == "xsd:hexBinary"));
        let sealed = of_type("case-investigation:InvestigativeAction")[0];
        assert_eq!(sealed["uco-action:startTime"]["@type"], "xsd:dateTime");
        let record = of_type("case-investigation:ProvenanceRecord")[0];
        assert_eq!(record["case-investigation:exhibitNumber"], "A-1");
        // Every node has an id, and ids are unique.
        let mut ids: Vec<&str> = graph.iter().map(|n| n["@id"].as_str().expect("an id")).collect();
        ids.sort();
        let count = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), count);
    }

    #[test]
    fn ids_are_stable_and_hostile_names_round_trip() {
        let source = sample();
        let a = export(&source, &exporter()).expect("exports");
        let b = export(&source, &exporter()).expect("exports");
        assert_eq!(a, b);
        let document: Value = serde_json::from_str(&a).expect("JSON");
        let hostile = "data/a<b>&\"c\nd ö.txt";
        assert!(document["@graph"]
            .as_array()
            .expect("graph")
            .iter()
            .flat_map(|n| n["uco-core:hasFacet"].as_array().into_iter().flatten())
            .any(|f| f["uco-observable:filePath"] == hostile));
        let mut other = sample();
        other.manifest_sha256 = "11".repeat(32);
        let c = export(&other, &exporter()).expect("exports");
        let first_id = |text: &str| {
            let v: Value = serde_json::from_str(text).expect("JSON");
            v["@graph"][0]["@id"].as_str().expect("id").to_owned()
        };
        assert_ne!(first_id(&a), first_id(&c), "another package, other ids");
    }
}
