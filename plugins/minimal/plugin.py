#!/usr/bin/env python3
"""The smallest concord plugin (docs/plugins.md): OpenAI Chat Completions, `generate` only,
Python's standard library only. It declares every optional capability absent (no streaming,
tools, JSON schema, images, reasoning), so the suite skips those checks with that reason and
tests the rest. It is written the way a first attempt usually is; `known-failures.txt` lists
what the suite finds in it, and `cargo xtask ci` fails if that list stops being true.
"""
import json
import sys
import threading
import urllib.error
import urllib.request

CAPABILITIES = dict.fromkeys(
    ["streaming", "tools", "parallel_tools", "tool_choice", "json_schema", "image_input",
     "reasoning_options", "reasoning_output", "usage_in_streams"], False)
KINDS = {400: "invalid_request", 401: "authentication", 403: "permission_denied",
         404: "not_found", 408: "timeout", 413: "context_length_exceeded", 422: "invalid_request",
         429: "rate_limited", 500: "server_error", 502: "server_error", 503: "overloaded",
         504: "server_error"}
FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter"}
lock = threading.Lock()


def send(message):
    with lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def body_of(request, ctx):
    messages = []
    for m in request["messages"]:
        content = m["content"]
        if m["role"] == "user":
            content = "".join(part.get("text", "") for part in content)
        messages.append({"role": m["role"], "content": content})
    body = {"model": ctx["model"], "messages": messages}
    params = request.get("params", {})
    for ours, theirs in [("temperature", "temperature"), ("top_p", "top_p"),
                         ("max_output_tokens", "max_completion_tokens"), ("stop", "stop")]:
        if params.get(ours) not in (None, []):
            body[theirs] = params[ours]
    return body


def generate(id, request, ctx):
    http = urllib.request.Request(
        ctx["base_url"] + "/chat/completions",
        data=json.dumps(body_of(request, ctx)).encode(),
        headers={"Authorization": "Bearer " + ctx["credential"], "Content-Type": "application/json",
                 **dict(ctx.get("headers", []))})
    try:
        with urllib.request.urlopen(http, timeout=ctx.get("timeout_ms", 60000) / 1000) as r:
            answer = json.load(r)
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8", "replace").replace(ctx["credential"], "[REDACTED]")
        try:
            text = json.loads(text)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            pass
        return send({"type": "error", "id": id, "error": {
            "kind": KINDS.get(e.code, "server_error" if e.code >= 500 else "invalid_request"),
            "message": text, "status": e.code}})
    except OSError as e:
        kind = "timeout" if "timed out" in str(e) else "transport"
        return send({"type": "error", "id": id, "error": {"kind": kind, "message": str(e)}})
    choice = answer["choices"][0]
    usage = answer.get("usage") or {}
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    send({"type": "response", "id": id, "response": {
        "id": answer.get("id", ""), "model": answer.get("model", ""),
        "text": choice["message"].get("content") or "", "reasoning": None, "tool_calls": [],
        "finish_reason": FINISH.get(choice.get("finish_reason"), "other"),
        "raw_finish_reason": choice.get("finish_reason"),
        "usage": {"input_tokens": prompt, "output_tokens": completion,
                  "total_tokens": prompt + completion if None not in (prompt, completion) else None,
                  "cache_read_tokens": None, "cache_write_tokens": None, "reasoning_tokens": None}}})


send({"type": "handshake", "protocol": 1, "name": "minimal", "version": "0.1.0",
      "capabilities": CAPABILITIES})
for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "generate":
        threading.Thread(target=generate, daemon=True,
                         args=(message["id"], message["request"], message["context"])).start()
