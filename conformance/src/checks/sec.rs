//! SEC: secrets.

use concord::{context::resolve, Credential, Request};

use crate::cx::Cx;
use crate::fail;
use crate::outcome::CheckResultOf;

pub async fn sec_001(cx: &Cx<'_>) -> CheckResultOf {
    const KEY: &str = "sk-conformance-DEBUGLEAK-1234567890";
    const HEADER_SECRET: &str = "hdr-secret-DEBUGLEAK-0987";
    let ctx = concord::RuntimeContext::new()
        .model("m")
        .credential(KEY)
        .base_url("http://127.0.0.1:9")
        .header("x-extra-auth", HEADER_SECRET)
        // The run's client: building one loads the TLS roots, tens of ms that would block a
        // runtime worker every check shares.
        .client(cx.client().clone());
    let credential = Credential::new(KEY);
    let mut outputs = vec![
        format!("{ctx:?}"),
        format!("{ctx:#?}"),
        format!("{credential:?}"),
    ];
    let name = cx.subject.provider.name();
    if let Ok(call) = resolve(name, &cx.caps(), &Request::user("hi"), &ctx, false) {
        outputs.push(format!("{call:?}"));
    }
    for text in outputs {
        if text.contains("DEBUGLEAK") {
            fail!("a secret appears in Debug output: {text}");
        }
    }
    Ok(())
}

pub async fn sec_002(cx: &Cx<'_>) -> CheckResultOf {
    let root = cx.fixtures.root().to_owned();
    // Reading every fixture is blocking work: off the runtime's workers, which the other checks
    // running meanwhile (SL-005 watching for a disconnect, say) need.
    let scanned = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || concord_harness::cassette::scan::scan_dir(&root))
            .await
            .map_err(|e| crate::Outcome::Fail(format!("the fixture scan failed: {e}")))?
    };
    let findings = scanned
        .map_err(|e| crate::Outcome::Fail(format!("cannot scan {}: {e}", root.display())))?;
    if !findings.is_empty() {
        fail!(
            "credentials in fixtures:\n{}",
            findings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(())
}
