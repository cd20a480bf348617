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
        .client(reqwest::Client::new());
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
    let root = cx.fixtures.root();
    let findings = concord_harness::cassette::scan::scan_dir(root)
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
