"""The load benchmark of `concord serve`, side by side with LiteLLM's proxy, on this machine:
the same upstream (`concord mock`, a Rust mock of OpenAI's Chat Completions), the same
open-loop fixed-rate load generator correcting for coordinated omission (`oha -q RATE
--latency-correction`), one process each. Not run in CI: it takes minutes and needs oha and a
LiteLLM virtualenv. Loopback only; every run is bounded in count and time.

Setup (once):

    cargo install --locked oha                               # or --root DIR, then --oha DIR/bin/oha
    python3 -m venv /tmp/litellm-proxy
    /tmp/litellm-proxy/bin/pip install 'litellm[proxy]==1.108.0'

Run:

    python3 benches/load/compare.py --litellm /tmp/litellm-proxy/bin/litellm

It prints a Markdown table: per gateway and rate, the achieved rate, success, p50 / p99 /
p99.9 latency and what the gateway adds over calling the mock directly at the same rate, the
gateway's resident memory after the run; then each gateway's highest rate with p99 under 5 ms,
and the time to first token a stream gains through each (sequential, unloaded).
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, timeout=60, headers=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            req = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def tree_rss_mb(pid):
    """Resident memory of a process and its children (LiteLLM runs workers under uvicorn)."""
    total = rss_mb(pid)[0]
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
        for child in out.split():
            total += tree_rss_mb(int(child))
    except Exception:  # noqa: BLE001 - a child that went away
        pass
    return total


def oha(binary, url, key, rate, seconds):
    out = subprocess.run(
        [binary, "-z", f"{seconds}s", "-q", str(rate), "-c", "100", "--latency-correction", "--no-tui",
         "--output-format", "json", "-t", "10s", "-m", "POST", "-H", f"authorization: Bearer {key}",
         "-T", "application/json", "-d", BODY, url],
        capture_output=True, text=True, check=True).stdout
    d = json.loads(out)
    p = d["latencyPercentiles"]
    return {"rps": d["summary"]["requestsPerSec"], "ok": d["summary"]["successRate"],
            "codes": d.get("statusCodeDistribution", {}),
            "p50": p["p50"] * 1000, "p99": p["p99"] * 1000, "p999": p["p99.9"] * 1000}


def ttft(url, key, n=200):
    """Median time to the first `data:` line of a streamed answer, sequentially."""
    import http.client
    from urllib.parse import urlparse
    u = urlparse(url)
    body = json.dumps({"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "Hello"}]})
    times = []
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    for _ in range(n):
        t = time.perf_counter()
        conn.request("POST", u.path, body=body, headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
        r = conn.getresponse()
        while True:
            line = r.readline()
            if line.startswith(b"data:") or not line:
                break
        times.append((time.perf_counter() - t) * 1000)
        r.read()
    conn.close()
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--oha", default=shutil.which("oha") or "oha")
    ap.add_argument("--litellm", help="the litellm executable of a virtualenv with litellm[proxy]")
    ap.add_argument("--rates", default="100,500,1000,2000,3000,4000")
    ap.add_argument("--litellm-rates", default="25,50,100,200")
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "concord-cli"], cwd=ROOT, check=True)
    concord = os.path.join(ROOT, "target", "release", "concord")
    work = tempfile.mkdtemp(prefix="concord-load-")
    procs = []
    try:
        mock = subprocess.Popen([concord, "mock", "--protocol", "openai", "--scenario", "text"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(mock)
        mock_base = mock.stdout.readline().strip()  # http://127.0.0.1:PORT/v1
        env = dict(os.environ, CONCORD_DATA_DIR=work, BENCH_VENDOR_KEY="sk-bench-vendor-000000", CONCORD_LOG="error")
        config = os.path.join(work, "concord.toml")
        with open(config, "w") as f:
            f.write(f'[providers.openai]\ntype = "openai"\nbase_url = "{mock_base}"\n'
                    'credential = { env = "BENCH_VENDOR_KEY" }\n\n[registry]\ndiscover_env = false\n')
        key = subprocess.run([concord, "tenants", "create", "bench"], env=env, capture_output=True, text=True,
                             check=True).stdout.strip()
        port = free_port()
        serve = subprocess.Popen([concord, "serve", "--config", config, "--listen", f"127.0.0.1:{port}"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(serve)
        wait_ready(f"http://127.0.0.1:{port}/health/ready")
        gateways = [("concord serve", serve.pid, f"http://127.0.0.1:{port}/v1/chat/completions", key,
                     [int(r) for r in args.rates.split(",")])]
        if args.litellm:
            lport = free_port()
            lconfig = os.path.join(work, "litellm.yaml")
            with open(lconfig, "w") as f:
                f.write("model_list:\n  - model_name: gpt-4o-mini\n    litellm_params:\n"
                        f"      model: openai/gpt-4o-mini\n      api_base: {mock_base}\n      api_key: sk-bench-vendor-000000\n")
            # Its own master key (it refuses to start without one), the key the load presents.
            master = "sk-" + os.urandom(32).hex()
            lenv = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR",
                        LITELLM_MASTER_KEY=master)
            litellm = subprocess.Popen([args.litellm, "--config", lconfig, "--host", "127.0.0.1", "--port", str(lport),
                                        "--num_workers", "1"], env=lenv, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, cwd=work)
            procs.append(litellm)
            wait_ready(f"http://127.0.0.1:{lport}/health/liveliness", timeout=120,
                       headers={"authorization": f"Bearer {master}"})
            gateways.append(("LiteLLM proxy 1.108.0", litellm.pid, f"http://127.0.0.1:{lport}/v1/chat/completions", master,
                             [int(r) for r in args.litellm_rates.split(",")]))
        direct_url = f"{mock_base}/chat/completions"
        print(f"upstream: concord mock at {mock_base}; {args.seconds} s per rate; oha -c 100 --latency-correction\n")
        print("| gateway | rate asked | achieved | success | p50 ms | p99 ms | p99.9 ms | added p50 | added p99 | added p99.9 | RSS MB |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        best = {}
        direct_cache = {}
        for name, pid, url, k, rates in gateways:
            for rate in rates:
                if rate not in direct_cache:
                    direct_cache[rate] = oha(args.oha, direct_url, "sk-bench-vendor-000000", rate, args.seconds)
                d = direct_cache[rate]
                g = oha(args.oha, url, k, rate, args.seconds)
                rss = tree_rss_mb(pid)
                added = [g[p] - d[p] for p in ("p50", "p99", "p999")]
                print(f"| {name} | {rate} | {g['rps']:.0f} | {g['ok']*100:.1f}% | {g['p50']:.3f} | {g['p99']:.3f} | "
                      f"{g['p999']:.3f} | {added[0]:.3f} | {added[1]:.3f} | {added[2]:.3f} | {rss:.0f} |", flush=True)
                if g["ok"] == 1.0 and g["p99"] < 5.0 and g["rps"] > rate * 0.95:
                    best[name] = max(best.get(name, 0), rate)
        print()
        for name, *_ in gateways:
            print(f"- {name}: highest rate tried with p99 < 5 ms and every request answered: {best.get(name, 'none')}")
        print("\n| time to first token, median of 200 sequential streams | ms |\n|---|---|")
        print(f"| direct to the mock | {ttft(direct_url, 'sk-bench-vendor-000000'):.3f} |")
        for name, _, url, k, _ in gateways:
            print(f"| through {name} | {ttft(url, k):.3f} |")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
