"""LiteLLM's cost and model lookup, timed like benches/benches/models.rs times concord's: the
tool a team would otherwise use to price its calls. Run with LiteLLM installed (the version the
vendored snapshot came from):

    python3 -m venv /tmp/litellm-venv
    /tmp/litellm-venv/bin/pip install litellm==1.110.2
    LITELLM_LOCAL_MODEL_COST_MAP=True /tmp/litellm-venv/bin/python benches/compare/litellm_cost.py

It prints per-call times and LiteLLM's costs for the bench's usages, to compare with
concord's figures (docs/benchmarks.md) and its hand-computed costs.
"""
import os
import timeit

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at start
import litellm  # noqa: E402


def per_call(stmt, number):
    best = min(timeit.repeat(stmt, number=number, repeat=5))
    return best / number * 1e9


lookup = per_call(lambda: litellm.get_model_info("gpt-4o-mini"), 20_000)
plain = per_call(
    lambda: litellm.cost_per_token(
        model="gemini/gemini-2.5-pro",
        prompt_tokens=1200,
        completion_tokens=300,
        cache_read_input_tokens=400,
    ),
    20_000,
)
print(f"litellm.get_model_info: {lookup:,.0f} ns per call")
print(f"litellm.cost_per_token: {plain:,.0f} ns per call")
for name, kw in [
    ("gemini-2.5-pro 1200 in (400 cached) / 300 out",
     dict(prompt_tokens=1200, completion_tokens=300, cache_read_input_tokens=400)),
    ("gemini-2.5-pro 250000 in / 2000 out",
     dict(prompt_tokens=250_000, completion_tokens=2_000)),
]:
    i, o = litellm.cost_per_token(model="gemini/gemini-2.5-pro", **kw)
    print(f"{name}: input ${i!r} output ${o!r} total ${i + o!r}")
