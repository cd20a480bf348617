"""LangChain's own standard integration tests (`langchain-tests`) for its OpenAI and Anthropic
chat models, pointed at `concord mock` as a new user would point them. Not part of CI (it needs
PyPI); how to run it and what passes: docs/mock.md.

    python3 -m venv /tmp/lc && /tmp/lc/bin/pip install langchain-openai langchain-anthropic langchain-tests pytest pytest-asyncio
    concord mock --protocol openai      # prints MOCK_OPENAI
    concord mock --protocol anthropic   # prints MOCK_ANTHROPIC
    MOCK_OPENAI=… MOCK_ANTHROPIC=… /tmp/lc/bin/python -m pytest -q -p no:cacheprovider \
        --asyncio-mode=auto -o asyncio_default_test_loop_scope=session \
        -o asyncio_default_fixture_loop_scope=session harness/sdk/langchain/test_concord_mock.py
"""
import os

from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI
from langchain_tests.integration_tests import ChatModelIntegrationTests


class TestOpenAIAtConcordMock(ChatModelIntegrationTests):
    @property
    def chat_model_class(self):
        return ChatOpenAI

    @property
    def chat_model_params(self):
        return {"model": "gpt-4o-mini", "base_url": os.environ["MOCK_OPENAI"], "api_key": "sk-test",
                "max_retries": 0, "stream_usage": True}

    @property
    def supports_image_inputs(self):
        return True

    @property
    def supports_json_mode(self):
        return True


class TestAnthropicAtConcordMock(ChatModelIntegrationTests):
    @property
    def chat_model_class(self):
        return ChatAnthropic

    @property
    def chat_model_params(self):
        return {"model": "claude-sonnet-4-5-20250929", "base_url": os.environ["MOCK_ANTHROPIC"],
                "api_key": "sk-ant-test", "max_retries": 0}

    @property
    def supports_image_inputs(self):
        return True
