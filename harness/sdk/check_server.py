"""Points the official `openai` and `anthropic` Python SDKs (pinned in requirements.txt) at
`concord serve --mock-providers`, each through its own door: chat, streams (with the SDKs' own
accumulators) and tool calls with their results in history, each routed to the other vendors
as well as its own, and the errors an SDK user must be able to catch by type (authentication,
not found, bad request).

`cargo xtask sdk-check` runs it after check_sdks.py. By hand:

    cargo build -p concord-cli
    python3 harness/sdk/check_server.py target/debug/concord

Exits non-zero naming each failure.
"""
import os
import subprocess
import sys
import tempfile
import warnings

# The anthropic SDK warns about model names it knows are retired; the mocks answer any name.
warnings.filterwarnings("ignore", category=DeprecationWarning)

MODELS = ["gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"]
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "The weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def start(concord, data):
    env = dict(os.environ, CONCORD_DATA_DIR=data)
    for var in list(env):
        if var.endswith("_API_KEY") or var.startswith("CONCORD_") and var != "CONCORD_DATA_DIR":
            del env[var]
    proc = subprocess.Popen([concord, "serve", "--mock-providers", "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    base = proc.stdout.readline().split("listening on ")[1].split()[0]
    key = proc.stdout.readline().rsplit(" ", 1)[1].strip()
    return proc, base, key


def main():
    concord = sys.argv[1] if len(sys.argv) > 1 else "target/debug/concord"
    import openai
    failures, checked = [], 0
    with tempfile.TemporaryDirectory() as data:
        proc, base, key = start(concord, data)
        try:
            client = openai.OpenAI(api_key=key, base_url=base + "/v1", max_retries=0)

            def check(name, f):
                nonlocal checked
                try:
                    f()
                    checked += 1
                except Exception as e:  # noqa: BLE001 - report every failure
                    failures.append(f"{name}: {type(e).__name__}: {e}")

            for model in MODELS:
                def chat(model=model):
                    r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello"}])
                    assert r.choices[0].message.content, r
                    assert r.usage.prompt_tokens > 0, r.usage

                def stream(model=model):
                    text, usage = "", None
                    for chunk in client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello"}],
                                                                stream=True, stream_options={"include_usage": True}):
                        if chunk.choices and chunk.choices[0].delta.content:
                            text += chunk.choices[0].delta.content
                        if chunk.usage:
                            usage = chunk.usage
                    assert text, "no text streamed"
                    assert usage and usage.total_tokens > 0, usage

                def helper(model=model):
                    # The SDK's own stream accumulator.
                    with client.chat.completions.stream(model=model, messages=[{"role": "user", "content": "Hello"}]) as s:
                        final = s.get_final_completion()
                    assert final.choices[0].message.content, final

                def tools(model=model):
                    r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Weather in Paris?"}],
                                                       tools=[WEATHER], tool_choice="required")
                    calls = r.choices[0].message.tool_calls
                    assert calls and calls[0].function.name == "get_weather", r
                    assert r.choices[0].finish_reason == "tool_calls", r
                    # The call goes back as history, with its result.
                    r2 = client.chat.completions.create(model=model, messages=[
                        {"role": "user", "content": "Weather in Paris?"},
                        {"role": "assistant", "content": None, "tool_calls": [c.model_dump() for c in calls]},
                        {"role": "tool", "tool_call_id": calls[0].id, "content": "18 C, sunny"}], tools=[WEATHER])
                    assert r2.choices[0].message.content, r2

                def stream_tools(model=model):
                    names = []
                    for chunk in client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Weather in Paris?"}],
                                                                tools=[WEATHER], tool_choice="required", stream=True):
                        for c in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                            if c.function and c.function.name:
                                names.append(c.function.name)
                    assert names == ["get_weather"], names

                for name, f in [("chat", chat), ("stream", stream), ("stream helper", helper), ("tools", tools), ("streamed tools", stream_tools)]:
                    check(f"{name} {model}", f)

            def expect(error, f):
                def run():
                    try:
                        f()
                    except error:
                        return
                    raise AssertionError(f"no {error.__name__}")
                return run

            bad_key = openai.OpenAI(api_key="sk-concord-wrong", base_url=base + "/v1", max_retries=0)
            check("wrong key", expect(openai.AuthenticationError, lambda: bad_key.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])))
            check("unknown model", expect(openai.NotFoundError, lambda: client.chat.completions.create(
                model="no-such-model", messages=[{"role": "user", "content": "hi"}])))
            check("unsupported field", expect(openai.BadRequestError, lambda: client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], logit_bias={"50256": -100})))
            check("models list", lambda: next(m for m in client.models.list() if m.id == "anthropic/claude-sonnet-4-5"))

            # The anthropic SDK through the Anthropic door, answered by other vendors too.
            import anthropic
            claude = anthropic.Anthropic(api_key=key, base_url=base, max_retries=0)
            ANTH_WEATHER = {"name": "get_weather", "description": "The weather in a city",
                            "input_schema": WEATHER["function"]["parameters"]}
            for model in MODELS:
                def a_chat(model=model):
                    m = claude.messages.create(model=model, max_tokens=256, messages=[{"role": "user", "content": "Hello"}])
                    assert m.content[0].type == "text" and m.content[0].text, m
                    assert m.usage.output_tokens > 0, m.usage

                def a_stream(model=model):
                    with claude.messages.stream(model=model, max_tokens=256, messages=[{"role": "user", "content": "Hello"}]) as s:
                        final = s.get_final_message()
                    assert final.content[0].text, final
                    assert final.stop_reason == "end_turn", final

                def a_tools(model=model):
                    m = claude.messages.create(model=model, max_tokens=256, tools=[ANTH_WEATHER], tool_choice={"type": "any"},
                                               messages=[{"role": "user", "content": "Weather in Paris?"}])
                    uses = [b for b in m.content if b.type == "tool_use"]
                    assert uses and uses[0].name == "get_weather", m
                    assert m.stop_reason == "tool_use", m
                    m2 = claude.messages.create(model=model, max_tokens=256, tools=[ANTH_WEATHER], messages=[
                        {"role": "user", "content": "Weather in Paris?"},
                        {"role": "assistant", "content": [b.model_dump() for b in m.content]},
                        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "18 C"}]}])
                    assert m2.content, m2

                def a_stream_tools(model=model):
                    with claude.messages.stream(model=model, max_tokens=256, tools=[ANTH_WEATHER], tool_choice={"type": "any"},
                                                messages=[{"role": "user", "content": "Weather in Paris?"}]) as s:
                        final = s.get_final_message()
                    uses = [b for b in final.content if b.type == "tool_use"]
                    assert uses and uses[0].input, final

                for name, f in [("messages", a_chat), ("messages stream", a_stream), ("messages tools", a_tools),
                                ("messages streamed tools", a_stream_tools)]:
                    check(f"{name} {model}", f)
            bad_claude = anthropic.Anthropic(api_key="sk-concord-wrong", base_url=base, max_retries=0)
            check("anthropic wrong key", expect(anthropic.AuthenticationError, lambda: bad_claude.messages.create(
                model="gpt-4o-mini", max_tokens=10, messages=[{"role": "user", "content": "hi"}])))
            check("anthropic unknown model", expect(anthropic.NotFoundError, lambda: claude.messages.create(
                model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}])))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    for f in failures:
        print("FAIL", f)
    print(f"concord serve: {checked} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
