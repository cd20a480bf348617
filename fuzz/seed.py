"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) from fixtures/: every scenario
stream (with a chunking byte in front) and body, every error-table body, a few retry headers.

    python3 fuzz/seed.py && cd fuzz && cargo +nightly fuzz run -O stream_openai
"""
import glob
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
TARGETS = {"openai": "openai", "openai-responses": "responses", "anthropic": "anthropic", "gemini": "gemini"}


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


for protocol, suffix in TARGETS.items():
    for folder in glob.glob(os.path.join(FIXTURES, protocol, "*", "")):
        name = os.path.basename(folder.rstrip("/"))
        stream = os.path.join(folder, "stream.sse")
        if os.path.exists(stream):
            data = open(stream, "rb").read()
            write(f"stream_{suffix}", name, b"\x05" + data)
            write("sse_split", f"{protocol}_{name}", data)
        body = os.path.join(folder, "response.json")
        if os.path.exists(body):
            write(f"body_{suffix}", name, open(body, "rb").read())
    table = os.path.join(FIXTURES, protocol, "errors.json")
    if os.path.exists(table):
        for case in json.load(open(table))["cases"]:
            body = json.dumps(case["body"]) if case.get("body") is not None else case.get("body_text", "")
            write(f"body_{suffix}", f"error_{case['name']}", body.encode())
for i, value in enumerate(["20", "1500", "Wed, 21 Oct 2015 07:28:00 GMT", "34.4s", "true\nfalse"]):
    write("retry_signals", f"seed_{i}", value.encode())
