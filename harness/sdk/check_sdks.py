"""Points the official Python SDKs at `concord mock` and parses every non-fault scenario:
`openai` (Chat Completions and Responses, with the SDKs' own stream accumulators), `anthropic`
and `google-genai`, at the versions pinned in requirements.txt.

`cargo xtask ci` runs it (`cargo xtask sdk-check` alone), in a virtualenv under target/ it
creates from requirements.txt. By hand:

    python3 -m pip install -r harness/sdk/requirements.txt
    cargo build -p concord-cli
    python3 harness/sdk/check_sdks.py target/debug/concord

Exits non-zero naming each scenario an SDK failed to parse.
"""
import json
import os
import subprocess
import sys
import warnings

# The unknown_fields scenarios carry values the SDKs' models do not know, on purpose; the SDKs
# accept them with a warning each.
warnings.filterwarnings("ignore", category=UserWarning)

# Faults; bad_tool_ids (repeated ids no vendor sends, which the SDKs rightly reject);
# sse_comments (comment lines Gemini never sends, which google-genai cannot parse); and the
# Responses streams whose item ids rotate on every event (a proxy in front of GitHub Copilot),
# which the openai SDK refuses ("Completed output item identity changed") and concord reconciles.
FAULTS = {"truncated", "truncated_after_finish", "malformed_frame", "stream_error", "reset", "stall", "bad_arguments", "bad_tool_ids", "sse_comments", "spliced_message", "rotating_ids", "rotating_ids_tool_call"}
REQUIREMENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requirements.txt")
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures")


def modes(protocol, scenario):
    with open(os.path.join(FIXTURES, protocol, scenario, "scenario.json")) as f:
        sc = json.load(f)
    return "generate" in sc, "stream" in sc


def start(concord, protocol, key_header=None):
    args = [concord, "mock", "--protocol", protocol]
    if key_header:
        args += ["--key-header", key_header]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return proc, proc.stdout.readline().strip()


def scenarios(concord, protocol):
    out = subprocess.run([concord, "mock", "--protocol", protocol, "--list"], capture_output=True, text=True, check=True).stdout
    # `auto` picks among the others per request; each is checked by name.
    return [s for s in out.split() if not s.startswith("error_") and s not in FAULTS and s != "auto"]


def openai_check(base, scenario, generate, stream):
    import openai
    client = openai.OpenAI(api_key="sk-sdk-check", base_url=base, max_retries=0)
    h = {"x-mock-scenario": scenario}
    if generate:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], extra_headers=h)
    if stream:
        for _ in client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True, extra_headers=h):
            pass


def responses_check(base, scenario, generate, stream):
    import openai
    client = openai.OpenAI(api_key="sk-sdk-check", base_url=base, max_retries=0)
    h = {"x-mock-scenario": scenario}
    if generate:
        client.responses.create(model="m", input="hi", extra_headers=h)
    if stream:
        # Every event parsed into the SDK's typed models...
        for _ in client.responses.create(model="m", input="hi", stream=True, extra_headers=h):
            pass
        # ...and its accumulator rebuilding the response, except where the SDK's helper itself
        # stops: it wants `response.completed` and raises on the API's `response.incomplete`.
        if scenario != "incomplete":
            with client.responses.stream(model="m", input="hi", extra_headers=h) as s:
                s.get_final_response()


def origin(base):
    return base[: base.index("/", len("http://"))] if base.count("/") > 2 else base


def azure_chat_check(base, scenario, generate, stream):
    import openai
    # The classic deployment path with an api-version, and the `api-key` header.
    client = openai.AzureOpenAI(api_key="azure-sdk-check", azure_endpoint=origin(base), api_version="2024-10-21", max_retries=0)
    h = {"x-mock-scenario": scenario}
    if generate:
        client.chat.completions.create(model="my-deployment", messages=[{"role": "user", "content": "hi"}], extra_headers=h)
    if stream:
        for _ in client.chat.completions.create(model="my-deployment", messages=[{"role": "user", "content": "hi"}], stream=True, extra_headers=h):
            pass


def azure_responses_check(base, scenario, generate, stream):
    import openai
    client = openai.AzureOpenAI(api_key="azure-sdk-check", azure_endpoint=origin(base), api_version="2025-04-01-preview", max_retries=0)
    h = {"x-mock-scenario": scenario}
    if generate:
        client.responses.create(model="my-deployment", input="hi", extra_headers=h)
    if stream:
        for _ in client.responses.create(model="my-deployment", input="hi", stream=True, extra_headers=h):
            pass


def vertex_check(base, scenario, generate, stream):
    from google import genai
    from google.genai import types
    from google.oauth2.credentials import Credentials
    client = genai.Client(vertexai=True, project="conformance", location="us-central1", credentials=Credentials(token="vertex-sdk-check"),
                          http_options=types.HttpOptions(base_url=origin(base) + "/", api_version="v1", headers={"x-mock-scenario": scenario}))
    if generate:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    if stream:
        for _ in client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"):
            pass


def anthropic_check(base, scenario, generate, stream):
    import anthropic
    client = anthropic.Anthropic(api_key="sk-ant-sdk-check", base_url=base, max_retries=0)
    h = {"x-mock-scenario": scenario}
    if generate:
        client.messages.create(model="m", max_tokens=64, messages=[{"role": "user", "content": "hi"}], extra_headers=h)
    if stream:
        with client.messages.stream(model="m", max_tokens=64, messages=[{"role": "user", "content": "hi"}], extra_headers=h) as s:
            s.get_final_message()


def gemini_check(base, scenario, generate, stream):
    from google import genai
    from google.genai import types
    client = genai.Client(api_key="sdk-check", http_options=types.HttpOptions(base_url=base, api_version="v1beta", headers={"x-mock-scenario": scenario}))
    if generate:
        client.models.generate_content(model="m", contents="hi")
    if stream:
        for _ in client.models.generate_content_stream(model="m", contents="hi"):
            pass


# Requests the `auto` mock answers from the request itself: a forced tool it has no fixture for,
# with a schema nobody wrote a fixture for, and a strict JSON schema answer. Shaped like OpenAI's
# Structured Outputs examples (a strict function with an enum, additionalProperties false).
SCHEMA = {"type": "object", "properties": {
    "city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 7},
    "units": {"type": "string", "enum": ["metric", "imperial"]},
    "tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["city", "days", "units", "tags"], "additionalProperties": False}
ASK = "Forecast for Lisbon, 3 days, metric."


def fits(what, args):
    """The schema, checked by hand: the pinned SDKs bring no JSON Schema validator."""
    problems = []
    if set(args) != set(SCHEMA["required"]):
        problems.append(f"properties {sorted(args)}")
    if not isinstance(args.get("city"), str):
        problems.append("city")
    days = args.get("days")
    if not (isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= 7):
        problems.append("days")
    if args.get("units") not in ("metric", "imperial"):
        problems.append("units")
    if not (isinstance(args.get("tags"), list) and all(isinstance(t, str) for t in args["tags"])):
        problems.append("tags")
    if problems:
        raise AssertionError(f"{what}: {args} breaks the schema at {', '.join(problems)}")


def expect(what, got, want):
    if got != want:
        raise AssertionError(f"{what}: expected {want!r}, got {got!r}")


def openai_synth(base):
    import openai
    client = openai.OpenAI(api_key="sk-sdk-check", base_url=base, max_retries=0)
    tools = [{"type": "function", "function": {"name": "other", "parameters": {"type": "object", "properties": {}}}},
             {"type": "function", "function": {"name": "forecast", "parameters": SCHEMA, "strict": True}}]
    ask = dict(model="gpt-4o-mini", messages=[{"role": "user", "content": ASK}], tools=tools,
               tool_choice={"type": "function", "function": {"name": "forecast"}})
    r = client.chat.completions.create(**ask)
    expect("forced call finish", r.choices[0].finish_reason, "tool_calls")
    call = r.choices[0].message.tool_calls[0]
    expect("forced call name", call.function.name, "forecast")
    fits("forced call", json.loads(call.function.arguments))
    # No include_usage: no chunk carries usage, as OpenAI streams it.
    chunks = list(client.chat.completions.create(**ask, stream=True))
    expect("usage without include_usage", [c.usage for c in chunks if c.usage is not None], [])
    args = "".join(tc.function.arguments or "" for c in chunks for ch in c.choices for tc in (ch.delta.tool_calls or []))
    fits("streamed forced call", json.loads(args))
    chunks = list(client.chat.completions.create(**ask, stream=True, stream_options={"include_usage": True}))
    expect("usage with include_usage", chunks[-1].usage is not None and chunks[-1].choices == [], True)
    r = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": ASK}],
                                       response_format={"type": "json_schema", "json_schema": {"name": "forecast", "schema": SCHEMA, "strict": True}})
    fits("strict json_schema answer", json.loads(r.choices[0].message.content))
    r = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": ASK + " Answer in JSON."}],
                                       response_format={"type": "json_object"})
    expect("json_object answer is an object", isinstance(json.loads(r.choices[0].message.content), dict), True)


def responses_synth(base):
    import openai
    client = openai.OpenAI(api_key="sk-sdk-check", base_url=base, max_retries=0)
    ask = dict(model="gpt-5-mini", input=ASK, tools=[{"type": "function", "name": "forecast", "parameters": SCHEMA, "strict": True}],
               tool_choice={"type": "function", "name": "forecast"})
    r = client.responses.create(**ask)
    calls = [o for o in r.output if o.type == "function_call"]
    expect("forced call name", [c.name for c in calls], ["forecast"])
    fits("forced call", json.loads(calls[0].arguments))
    with client.responses.stream(**ask) as s:
        final = s.get_final_response()
    fits("streamed forced call", json.loads([o for o in final.output if o.type == "function_call"][0].arguments))
    r = client.responses.create(model="gpt-5-mini", input=ASK, text={"format": {"type": "json_schema", "name": "forecast", "schema": SCHEMA, "strict": True}})
    fits("strict json_schema answer", json.loads(r.output_text))


def anthropic_synth(base):
    import anthropic
    client = anthropic.Anthropic(api_key="sk-ant-sdk-check", base_url=base, max_retries=0)
    ask = dict(model="claude-sonnet-4-6", max_tokens=256, messages=[{"role": "user", "content": ASK}],
               tools=[{"name": "forecast", "description": "A forecast.", "input_schema": SCHEMA}])
    for choice in ({"type": "tool", "name": "forecast"}, {"type": "any"}):
        r = client.messages.create(**ask, tool_choice=choice)
        expect("stop reason", r.stop_reason, "tool_use")
        # Forced: the API prefills the turn, so nothing comes before the call, and no thinking.
        expect("blocks of a forced call", [b.type for b in r.content], ["tool_use"])
        expect("forced call name", r.content[0].name, "forecast")
        fits("forced call", r.content[0].input)
        with client.messages.stream(**ask, tool_choice=choice) as s:
            final = s.get_final_message()
        expect("streamed blocks", [b.type for b in final.content], ["tool_use"])
        fits("streamed forced call", final.content[0].input)
    r = client.messages.create(model="claude-sonnet-4-6", max_tokens=256, messages=[{"role": "user", "content": ASK}],
                               extra_body={"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}})
    fits("json_schema answer", json.loads(r.content[0].text))


def gemini_synth(base):
    from google import genai
    from google.genai import types
    client = genai.Client(api_key="sdk-check", http_options=types.HttpOptions(base_url=base, api_version="v1beta"))
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="forecast", description="A forecast.", parameters_json_schema=SCHEMA)])],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY", allowed_function_names=["forecast"])))
    r = client.models.generate_content(model="gemini-2.5-flash", contents=ASK, config=config)
    expect("forced call name", [c.name for c in r.function_calls], ["forecast"])
    fits("forced call", r.function_calls[0].args)
    calls = [c for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents=ASK, config=config) for c in (chunk.function_calls or [])]
    fits("streamed forced call", calls[0].args)
    r = client.models.generate_content(model="gemini-2.5-flash", contents=ASK, config=types.GenerateContentConfig(
        response_mime_type="application/json", response_json_schema=SCHEMA))
    fits("json schema answer", json.loads(r.text))


def main():
    concord = sys.argv[1] if len(sys.argv) > 1 else "target/debug/concord"
    failures = []
    checked = 0
    try:
        import openai, anthropic  # noqa: F401
        from google import genai  # noqa: F401
    except ImportError as e:
        print(f"the official SDKs are not installed ({e}): python3 -m pip install -r {REQUIREMENTS}")
        sys.exit(2)
    runs = [("openai", None, openai_check), ("openai-responses", None, responses_check),
            ("anthropic", None, anthropic_check), ("gemini", None, gemini_check),
            # Azure and Vertex: the same mock vendors at their paths, with their auth.
            ("openai", "api-key", azure_chat_check), ("openai-responses", "api-key", azure_responses_check),
            ("gemini", "authorization", vertex_check)]
    for protocol, key_header, check in runs:
        proc, base = start(concord, protocol, key_header)
        try:
            for scenario in scenarios(concord, protocol):
                try:
                    check(base, scenario, *modes(protocol, scenario))
                    checked += 1
                except Exception as e:  # noqa: BLE001 - report every SDK failure
                    failures.append(f"{check.__name__} {protocol}/{scenario}: {type(e).__name__}: {e}")
        finally:
            proc.terminate()
    # The auto mock, answering what it has no fixture for, as each SDK reads it.
    for protocol, check in [("openai", openai_synth), ("openai-responses", responses_synth),
                            ("anthropic", anthropic_synth), ("gemini", gemini_synth)]:
        proc, base = start(concord, protocol)
        try:
            check(base)
            checked += 1
        except Exception as e:  # noqa: BLE001 - report every SDK failure
            failures.append(f"{check.__name__} {protocol}: {type(e).__name__}: {e}")
        finally:
            proc.terminate()
    for f in failures:
        print("FAIL", f)
    print(f"{checked} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
