//! `cargo xtask conformance --record` against a local stand-in vendor (a mock that accepts only
//! one fake key), then `--replay` from what was written: the cassettes replay, pass, and hold
//! no trace of the key.

use std::process::Command;

use concord_harness::{MockConfig, MockVendor, Protocol};

const KEY: &str = "sk-standin-FAKEKEY-0123456789abcdef";

fn xtask(args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    for var in concord::descriptor::env_vars() {
        cmd.env_remove(var.name);
    }
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    cmd.output().expect("xtask runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_then_replay_without_the_key() {
    // The stand-in answers each request as the vendor would (`auto`), as the live checks expect.
    let vendor = MockVendor::start_with(
        MockConfig::new(Protocol::Openai)
            .scenario(concord_harness::mock::AUTO)
            .expect_key(KEY),
    )
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("concord-record-{}", std::process::id()));
    let dir_arg = dir.to_str().unwrap().to_owned();
    let base = vendor.base_url();
    let record = tokio::task::spawn_blocking({
        let dir_arg = dir_arg.clone();
        move || {
            xtask(
                &[
                    "conformance",
                    "--record",
                    "--provider",
                    "openai",
                    "--cassette-dir",
                    &dir_arg,
                ],
                &[("OPENAI_API_KEY", KEY.into()), ("OPENAI_BASE_URL", base)],
            )
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&record.stdout);
    assert!(
        record.status.success(),
        "record failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&record.stderr)
    );
    assert!(stdout.contains("0 failed"), "{stdout}");

    let written: Vec<_> = std::fs::read_dir(dir.join("openai"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        written.iter().any(|p| p.ends_with("CTR-001.json"))
            && written.iter().any(|p| p.ends_with("CTR-002.json")),
        "{written:?}"
    );
    for path in &written {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            !text.contains(KEY) && !text.contains("FAKEKEY"),
            "{} holds the key",
            path.display()
        );
        concord_harness::cassette::Cassette::load(path).unwrap();
    }
    assert!(concord_harness::cassette::scan::scan_dir(&dir)
        .unwrap()
        .is_empty());
    let recorded_requests = vendor.requests().len();
    assert!(recorded_requests > 0);

    // Replay: no key, and the stand-in vendor sees nothing more.
    let replay = tokio::task::spawn_blocking(move || {
        xtask(
            &[
                "conformance",
                "--replay",
                "--provider",
                "openai",
                "--cassette-dir",
                &dir_arg,
            ],
            &[],
        )
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&replay.stdout);
    assert!(
        replay.status.success(),
        "replay failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(
        stdout.contains("pass") && stdout.contains("0 failed"),
        "{stdout}"
    );
    assert_eq!(
        vendor.requests().len(),
        recorded_requests,
        "replay must not reach the vendor"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
