"""The gateway conformance run against LiteLLM's proxy (docs/gateways.md): LiteLLM pinned in a
virtualenv under target/, configured once with the suite's relay as its upstream (an OpenAI
route and an Anthropic route, model names passed through by wildcard), judged by
`cargo xtask conformance --gateway` for OpenAI and Anthropic through its OpenAI door
(`/v1/chat/completions`) and its Anthropic door (`/v1/messages`). Not in
CI: it installs from PyPI.

    python3 conformance/gateways/litellm.py                # installs litellm[proxy]==1.108.0
    python3 conformance/gateways/litellm.py --litellm /path/to/venv/bin/litellm

Prints each run's matrix and failures; exits 0 (its findings are facts, not this repo's bugs).
"""
import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PIN = "litellm[proxy]==1.108.0"
# The key every mock vendor of the suite accepts (conformance/src/cx.rs, MOCK_KEY).
MOCK_KEY = "sk-conformance-MOCKKEY-0123456789abcdef"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_litellm():
    venv = os.path.join(ROOT, "target", "litellm-venv")
    exe = os.path.join(venv, "bin", "litellm")
    if not os.path.exists(exe):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--quiet", PIN], check=True)
    return exe


def wait_ready(url, key, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            req = urllib.request.Request(url, headers={"authorization": f"Bearer {key}"})
            urllib.request.urlopen(req, timeout=2)
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.5)
    sys.exit(f"LiteLLM did not become ready at {url} within {timeout} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--litellm", help="the litellm executable of a virtualenv with litellm[proxy]")
    args = ap.parse_args()
    litellm = args.litellm or ensure_litellm()
    relay, port = free_port(), free_port()
    master = "sk-" + secrets.token_hex(32)
    work = tempfile.mkdtemp(prefix="concord-litellm-")
    config = os.path.join(work, "litellm.yaml")
    with open(config, "w") as f:
        f.write(
            "model_list:\n"
            '  - model_name: "mock-openai/*"\n'
            f'    litellm_params: {{model: "openai/*", api_base: "http://127.0.0.1:{relay}/v1", api_key: "{MOCK_KEY}"}}\n'
            '  - model_name: "mock-anthropic/*"\n'
            f'    litellm_params: {{model: "anthropic/*", api_base: "http://127.0.0.1:{relay}", api_key: "{MOCK_KEY}"}}\n'
        )
    # Offline: its bundled cost map, no telemetry; its own master key (it refuses to start without one).
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR",
               LITELLM_MASTER_KEY=master, LITELLM_TELEMETRY="False")
    proc = subprocess.Popen([litellm, "--config", config, "--host", "127.0.0.1", "--port", str(port),
                             "--num_workers", "1"], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(work, "litellm.log"), "w"), cwd=work)
    try:
        wait_ready(f"http://127.0.0.1:{port}/health/liveliness", master)
        # Through its Anthropic door LiteLLM calls an `openai/*` model with OpenAI's Responses
        # API (POST /v1/responses), so the OpenAI upstream there is the Responses mock.
        runs = [("openai", "openai", "mock-openai/"), ("openai", "anthropic", "mock-anthropic/"),
                ("anthropic", "openai-responses", "mock-openai/"), ("anthropic", "anthropic", "mock-anthropic/")]
        for door, provider, prefix in runs:
            print(f"\n## {provider} behind LiteLLM {PIN.split('==')[1]}, through its {door} door\n", flush=True)
            subprocess.run(["cargo", "xtask", "conformance", "--gateway", f"http://127.0.0.1:{port}",
                            "--gateway-key", master, "--door", door, "--upstream", provider,
                            "--gateway-model-prefix", prefix, "--relay-port", str(relay)], cwd=ROOT)
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
