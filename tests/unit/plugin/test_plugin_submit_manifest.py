"""`kubectl portalis submit`'s TranslationJob: the model fallback flag reaches spec.model.fallback, and the
manifest it builds is one the API's own model accepts."""

from __future__ import annotations

import argparse

import pytest

from portalis_kubectl.commands import submit
from portalis_operator.api import TranslationJobSpec

pytestmark = pytest.mark.unit


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    submit.add(sub, argparse.ArgumentParser(add_help=False))
    return parser.parse_args(["submit", "./src", *argv])


def manifest(*argv: str) -> TranslationJobSpec:
    body = submit.job_manifest(parse(*argv), "app-x1", {"persistentVolumeClaim": {"claimName": "c"}}, "c")
    return TranslationJobSpec.model_validate(body["spec"])


def test_model_fallback_reaches_the_spec() -> None:
    spec = manifest("--backend", "auto", "--model-fallback", "rules")
    assert (spec.translation.backend, spec.model.fallback) == ("auto", "rules")


def test_without_the_flag_the_api_default_applies() -> None:
    assert manifest().model.fallback == "none"


def test_an_unknown_fallback_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("--model-fallback", "maybe")
    assert "--model-fallback: invalid choice: 'maybe'" in capsys.readouterr().err
