#!/usr/bin/env python3
"""A concord plugin (docs/plugins.md): the official `openai` Python SDK's Chat Completions
client as a concord provider, so the conformance suite can test a real client nobody here wrote.

It does what a careful wrapper does (one shared HTTP pool, no SDK retries, the context's
timeout, ids normalised per contract B3, finish reasons mapped per B1); what the suite still
finds is the SDK's behaviour, listed in known-failures.txt.

Run by `cargo xtask conformance --plugin plugins/openai-sdk/manifest.json --protocol openai`
with the venv `cargo xtask sdk-check` makes (target/sdk-venv, openai pinned in
harness/sdk/requirements.txt).
"""
import asyncio
import datetime
import email.utils
import json
import re
import sys

import openai

PROTOCOL = 1
CAPABILITIES = {
    "streaming": True, "tools": True, "parallel_tools": True, "tool_choice": True,
    "json_schema": True, "image_input": True, "reasoning_options": True,
    "reasoning_output": True, "usage_in_streams": True,
}
FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls",
          "function_call": "tool_calls", "content_filter": "content_filter"}
KINDS = {400: "invalid_request", 401: "authentication", 403: "permission_denied",
         404: "not_found", 408: "timeout", 413: "context_length_exceeded", 422: "invalid_request",
         429: "rate_limited", 500: "server_error", 502: "server_error", 503: "overloaded",
         504: "server_error", 529: "overloaded"}
RETRYABLE = {"rate_limited", "overloaded", "server_error", "timeout", "transport", "stream_interrupted"}


def write(message):
    # One event loop thread: a write and its flush never interleave with another line.
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


# --- tool-call ids (contract B3) ---------------------------------------------------------
VALID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def sanitize(s, limit):
    return "".join(c if (c.isascii() and (c.isalnum() or c in "_-")) else "_" for c in s)[:limit]


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def wire_id(i):
    if VALID.match(i):
        return i
    return f"{sanitize(i, 22) or 'call'}_{fnv1a(i.encode()):016x}"


class Ids:
    def __init__(self):
        self.seen, self.count = set(), 0

    def next(self, vendor):
        position = self.count
        self.count += 1
        if vendor and VALID.match(vendor) and vendor not in self.seen:
            self.seen.add(vendor)
            return vendor
        base = sanitize(vendor or "", 28) or "call"
        candidate, bump = f"{base}_{position}", 0
        while candidate in self.seen:
            bump += 1
            candidate = f"{base}_{position}_{bump}"
        self.seen.add(candidate)
        return candidate


# --- request -----------------------------------------------------------------------------
def image_url(source):
    if source["kind"] == "url":
        return source["url"]
    return f"data:{source['media_type']};base64,{source['data']}"


def message(m):
    role = m["role"]
    if role == "system":
        return {"role": "system", "content": m["content"]}
    if role == "user":
        parts = [{"type": "text", "text": p["text"]} if p["type"] == "text"
                 else {"type": "image_url", "image_url": {"url": image_url(p["source"])}}
                 for p in m["content"]]
        return {"role": "user", "content": parts}
    if role == "assistant":
        out = {"role": "assistant", "content": m.get("content") or None}
        calls = [{"id": wire_id(c["id"]), "type": "function",
                  "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
                 for c in m.get("tool_calls", [])]
        if calls:
            out["tool_calls"] = calls
        return out
    return {"role": "tool", "tool_call_id": wire_id(m["call_id"]), "content": m["content"]}


def arguments(request, context, stream):
    kw = {"model": context["model"], "messages": [message(m) for m in request["messages"]]}
    if request.get("tools"):
        kw["tools"] = [{"type": "function", "function": {
            "name": t["name"], "description": t.get("description", ""), "parameters": t["parameters"]}}
            for t in request["tools"]]
    choice = request.get("tool_choice")
    if isinstance(choice, str):
        kw["tool_choice"] = choice
    elif isinstance(choice, dict) and "named" in choice:
        kw["tool_choice"] = {"type": "function", "function": {"name": choice["named"]}}
    params = request.get("params", {})
    for ours, theirs in [("temperature", "temperature"), ("top_p", "top_p"),
                         ("max_output_tokens", "max_completion_tokens")]:
        if params.get(ours) is not None:
            kw[theirs] = params[ours]
    if params.get("stop"):
        kw["stop"] = params["stop"]
    fmt = request.get("response_format")
    if fmt:
        kw["response_format"] = {"type": "json_schema", "json_schema": {
            "name": fmt["name"], "schema": fmt["schema"], "strict": fmt.get("strict", False)}}
    if request.get("reasoning"):
        kw["reasoning_effort"] = request["reasoning"].get("effort") or "medium"
    if stream:
        kw["stream"] = True
        kw["stream_options"] = {"include_usage": True}
    return kw


# --- answers -----------------------------------------------------------------------------
def usage(u):
    if u is None:
        return {"input_tokens": None, "output_tokens": None, "total_tokens": None}
    i, o = u.prompt_tokens, u.completion_tokens
    out = {"input_tokens": i, "output_tokens": o,
           "total_tokens": i + o if i is not None and o is not None else None}
    details = getattr(u, "prompt_tokens_details", None)
    if details is not None and details.cached_tokens is not None:
        out["cache_read_tokens"] = details.cached_tokens
    details = getattr(u, "completion_tokens_details", None)
    if details is not None and details.reasoning_tokens is not None:
        out["reasoning_tokens"] = details.reasoning_tokens
    return out


class Malformed(Exception):
    pass


class Interrupted(Exception):
    pass


def parse_args(name, text):
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as e:
        raise Malformed(f"tool call {name}: arguments are not JSON ({e})")
    if not isinstance(value, dict):
        raise Malformed(f"tool call {name}: arguments are not a JSON object")
    return value


def finish(raw, has_calls):
    reason = FINISH.get(raw, "other") if raw is not None else "other"
    return "tool_calls" if has_calls and reason in ("stop", "other") else reason


def reasoning_of(obj):
    # Compatible servers put reasoning in fields the SDK's types do not declare
    # (`reasoning_content`, `reasoning`); the SDK keeps unknown fields as extras.
    extra = getattr(obj, "model_extra", None) or {}
    value = extra.get("reasoning_content") or extra.get("reasoning")
    return value if isinstance(value, str) else None


def response(r):
    choice = r.choices[0] if r.choices else None
    msg = choice.message if choice else None
    ids = Ids()
    calls = [{"id": ids.next(c.id or None), "provider_id": c.id or None, "name": c.function.name,
              "arguments": parse_args(c.function.name, c.function.arguments)}
             for c in ((msg.tool_calls if msg else None) or [])]
    raw = choice.finish_reason if choice else None
    return {"id": r.id or "", "model": r.model or "", "text": (msg.content if msg else None) or "",
            "reasoning": reasoning_of(msg) if msg else None, "tool_calls": calls, "finish_reason": finish(raw, bool(calls)),
            "raw_finish_reason": raw, "usage": usage(r.usage)}


async def stream_events(call_id, chunks):
    started, ids, calls, raw, last_usage = False, Ids(), {}, None, None
    async for chunk in chunks:
        if not started:
            write({"type": "event", "id": call_id, "event": {"type": "start", "id": chunk.id or "", "model": chunk.model or ""}})
            started = True
        if chunk.usage is not None:
            last_usage = chunk.usage
        for choice in chunk.choices or []:
            delta = choice.delta
            thought = reasoning_of(delta) if delta else None
            if thought:
                write({"type": "event", "id": call_id, "event": {"type": "reasoning_delta", "text": thought}})
            if delta and delta.content:
                write({"type": "event", "id": call_id, "event": {"type": "text_delta", "text": delta.content}})
            for tc in (delta.tool_calls if delta else None) or []:
                entry = calls.get(tc.index)
                if entry is None:
                    name = tc.function.name if tc.function else ""
                    entry = calls[tc.index] = {"position": len(calls), "args": "", "name": name}
                    write({"type": "event", "id": call_id, "event": {
                        "type": "tool_call_start", "index": entry["position"],
                        "id": ids.next(tc.id or None), "provider_id": tc.id or None, "name": name}})
                if tc.function and tc.function.arguments:
                    entry["args"] += tc.function.arguments
                    write({"type": "event", "id": call_id, "event": {
                        "type": "tool_call_delta", "index": entry["position"], "arguments": tc.function.arguments}})
            if choice.finish_reason:
                raw = choice.finish_reason
    if raw is None:
        # The SDK ends its iteration quietly when the connection closes before `[DONE]`; a
        # stream without a finish reason was certainly cut (B4). One cut after the finish
        # reason cannot be told from a whole one through the SDK (known-failures.txt).
        raise Interrupted("the stream ended before a finish reason")
    for entry in calls.values():
        write({"type": "event", "id": call_id, "event": {
            "type": "tool_call_end", "index": entry["position"], "arguments": parse_args(entry["name"], entry["args"])}})
    write({"type": "event", "id": call_id, "event": {
        "type": "finish", "finish_reason": finish(raw, bool(calls)), "raw_finish_reason": raw, "usage": usage(last_usage)}})


def error(call_id, kind, text, secret, status=None, retry_after_ms=None, request_id=None, retryable=None):
    e = {"kind": kind, "message": text.replace(secret, "[REDACTED]") if secret else text,
         "retryable": kind in RETRYABLE if retryable is None else retryable}
    if status is not None:
        e["status"] = status
    if retry_after_ms is not None:
        e["retry_after_ms"] = retry_after_ms
    if request_id:
        e["request_id"] = request_id
    write({"type": "error", "id": call_id, "error": e})


def status_error(e):
    kind = KINDS.get(e.status_code, "server_error" if e.status_code >= 500 else "invalid_request")
    body = e.body if isinstance(e.body, dict) else {}
    code = body.get("code") or body.get("type")
    kind = {"context_length_exceeded": "context_length_exceeded",
            "insufficient_quota": "quota_exceeded", "content_filter": "content_filter"}.get(code, kind)
    return kind, retry_after_ms(e.response.headers), e.response.headers.get("x-request-id")


def duration_ms(text):
    """OpenAI's reset durations: `1.5s`, `6m0s`, `120ms`, `1h2m3s`."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    scale = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000}
    return int(sum(float(n) * scale[u] for n, u in parts))


def retry_after_ms(headers):
    """Contract A6: retry-after-ms (Azure: x-ms-retry-after-ms), then retry-after in seconds or
    as an HTTP date, then the longest x-ratelimit-reset-*."""
    try:
        for name in ("retry-after-ms", "x-ms-retry-after-ms"):
            if headers.get(name):
                return int(float(headers[name]))
        value = headers.get("retry-after")
        if not value:
            # Only the reset times: the longest of them (A6).
            resets = [duration_ms(headers[h]) for h in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens") if headers.get(h)]
            resets = [r for r in resets if r is not None]
            return max(resets) if resets else None
        if value:
            if value.strip().isdigit():
                return int(value) * 1000
            when = email.utils.parsedate_to_datetime(value)
            return max(0, int((when - datetime.datetime.now(datetime.timezone.utc)).total_seconds() * 1000))
    except (ValueError, TypeError):
        return None
    return None


async def run(msg, http):
    call_id, ctx, request = msg["id"], msg["context"], msg["request"]
    secret = ctx["credential"]
    timeout = ctx.get("timeout_ms")
    client = openai.AsyncOpenAI(
        api_key=secret, base_url=ctx["base_url"], http_client=http,
        max_retries=0,  # the contract: one call is one request (ERR-001)
        timeout=timeout / 1000 if timeout else 600.0,
        default_headers=dict(ctx.get("headers", [])))
    stream = msg["type"] == "stream"
    try:
        result = await client.chat.completions.create(**arguments(request, ctx, stream))
        if stream:
            await stream_events(call_id, result)
        else:
            write({"type": "response", "id": call_id, "response": response(result)})
    except openai.APIStatusError as e:
        kind, retry, request_id = status_error(e)
        should = e.response.headers.get("x-should-retry")
        error(call_id, kind, str(e), secret, e.status_code, retry, request_id,
              retryable={"true": True, "false": False}.get(should))
    except Interrupted as e:
        error(call_id, "stream_interrupted", str(e), secret)
    except openai.APITimeoutError as e:
        error(call_id, "timeout", str(e), secret)
    except openai.APIConnectionError as e:
        error(call_id, "transport", f"{e}: {e.__cause__}", secret)
    except (Malformed, openai.APIResponseValidationError, ValueError) as e:
        error(call_id, "malformed_response", str(e), secret)
    except openai.APIError as e:  # an error event inside a stream
        error(call_id, "server_error", str(e), secret)


async def main():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    write({"type": "handshake", "protocol": PROTOCOL, "name": "openai-python-sdk",
           "version": openai.__version__, "capabilities": CAPABILITIES})
    # One pool for every call (SL-004); the SDK's own client type, whatever HTTP library it uses.
    http = openai.DefaultAsyncHttpxClient()
    tasks = {}
    while line := await reader.readline():
        msg = json.loads(line)
        if msg["type"] == "cancel":
            task = tasks.pop(msg["id"], None)
            if task:
                task.cancel()  # closes the call's response, so the vendor sees the disconnect
            continue
        task = asyncio.create_task(run(msg, http))
        tasks[msg["id"]] = task
        task.add_done_callback(lambda _t, i=msg["id"]: tasks.pop(i, None))
    await http.aclose()


if __name__ == "__main__":
    asyncio.run(main())
