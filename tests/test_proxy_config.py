"""Tests of ``mixmaster_proxy.config``: environment parsing, validation, the secret key."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from anthropic._data import DEPRECATED_MODELS
from anthropic.types import Model

from mixmaster.errors import ParamError
from mixmaster_proxy.config import (
    DEFAULT_CLAUDE_MODEL,
    DEFAULT_RATE_LIMIT_PER_MIN,
    DEFAULT_WEB_DIR,
    Config,
    SecretStr,
)

KEY = "sk-ant-test-0123456789abcdef"


def test_defaults_from_empty_environment() -> None:
    config = Config.from_env({})
    assert config.api_key is None
    assert not config.claude_enabled
    assert config.base_url is None
    assert config.claude_model == DEFAULT_CLAUDE_MODEL
    assert config.claude_timeout_s == 20.0
    assert config.rate_limit_per_min == DEFAULT_RATE_LIMIT_PER_MIN == 60
    assert config.cors_origins == ()
    assert config.web_dir == DEFAULT_WEB_DIR
    assert config.max_body_bytes == 8192


def test_default_web_dir_is_the_repository_site(repo_root: Path) -> None:
    assert repo_root / "web" == DEFAULT_WEB_DIR


def test_every_variable_is_read(tmp_path: Path) -> None:
    config = Config.from_env(
        {
            "ANTHROPIC_API_KEY": KEY,
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
            "MIXMASTER_CLAUDE_MODEL": "claude-haiku-4-5",
            "MIXMASTER_CLAUDE_TIMEOUT_S": "2.5",
            "MIXMASTER_RATE_LIMIT_PER_MIN": "0",
            "MIXMASTER_CORS_ORIGINS": "https://a.example, http://localhost:5173/ ,",
            "MIXMASTER_WEB_DIR": str(tmp_path),
        }
    )
    assert config.api_key is not None and config.api_key.reveal() == KEY
    assert config.claude_enabled
    assert config.base_url == "http://127.0.0.1:9"
    assert config.claude_model == "claude-haiku-4-5"
    assert config.claude_timeout_s == 2.5
    assert config.rate_limit_per_min == 0
    assert config.cors_origins == ("https://a.example", "http://localhost:5173")
    assert config.web_dir == tmp_path


def test_the_key_never_shows_in_repr_or_str() -> None:
    config = Config.from_env({"ANTHROPIC_API_KEY": KEY})
    for text in (repr(config), str(config), repr(config.api_key), str(config.api_key), f"{config}"):
        assert KEY not in text
        assert "sk-ant" not in text


def test_secret_equality_compares_values() -> None:
    assert SecretStr("a") == SecretStr("a")
    assert SecretStr("a") != SecretStr("b")


def test_blank_key_means_no_key() -> None:
    assert Config.from_env({"ANTHROPIC_API_KEY": "  "}).api_key is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MIXMASTER_CLAUDE_TIMEOUT_S", "soon"),
        ("MIXMASTER_CLAUDE_TIMEOUT_S", "0"),
        ("MIXMASTER_CLAUDE_TIMEOUT_S", "-1"),
        ("MIXMASTER_CLAUDE_TIMEOUT_S", "nan"),
        ("MIXMASTER_CLAUDE_TIMEOUT_S", "inf"),
        ("MIXMASTER_CLAUDE_TIMEOUT_S", "601"),
        ("MIXMASTER_RATE_LIMIT_PER_MIN", "-1"),
        ("MIXMASTER_RATE_LIMIT_PER_MIN", "1.5"),
        ("MIXMASTER_CORS_ORIGINS", "*"),
        ("MIXMASTER_CORS_ORIGINS", "example.org"),
    ],
)
def test_bad_values_raise_a_param_error_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ParamError) as info:
        Config.from_env({name: value})
    assert info.value.code == "bad_config"
    assert info.value.field == name
    assert name in info.value.message


def test_default_model_is_a_current_sonnet_of_the_installed_sdk() -> None:
    known = typing.get_args(typing.get_args(Model)[0])
    assert DEFAULT_CLAUDE_MODEL in known
    assert "sonnet" in DEFAULT_CLAUDE_MODEL
    assert DEFAULT_CLAUDE_MODEL not in DEPRECATED_MODELS
