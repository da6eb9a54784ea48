"""Invalid TranslationJobs are refused by the API server itself, with a message that names the field.

Each file in invalid_manifests/ starts with `# expect: <substring of the error>`. A `NN-x.create.yaml` /
`NN-x.update.yaml` pair is a valid object and a change to it that must be refused (immutable fields).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.integration

DIR = Path(__file__).parent / "invalid_manifests"
SINGLE = sorted(p for p in DIR.glob("*.yaml") if not p.name.endswith((".create.yaml", ".update.yaml")))
PAIRS = sorted(DIR.glob("*.create.yaml"))
GROUP, VERSION, PLURAL = "portalis.dev", "v1alpha1", "translationjobs"


def _expect(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    return first.removeprefix("# expect: ").strip()


def _message(exc: ApiException) -> str:
    message: str = json.loads(exc.body)["message"]
    return message


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


def test_there_are_at_least_15_distinct_cases() -> None:
    assert len(SINGLE) + len(PAIRS) >= 15


@pytest.mark.parametrize("path", SINGLE, ids=lambda p: p.stem)
def test_invalid_job_is_refused_and_nothing_is_created(
    path: Path, crds: list[str], api_client: Any, namespace: str
) -> None:
    custom = client.CustomObjectsApi(api_client)
    with pytest.raises(ApiException) as refused:
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, _load(path))
    assert refused.value.status == 422, refused.value.body
    assert _expect(path) in _message(refused.value)
    assert custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"] == []


@pytest.mark.parametrize("create", PAIRS, ids=lambda p: p.name.removesuffix(".create.yaml"))
def test_change_to_an_immutable_field_is_refused(
    create: Path, crds: list[str], api_client: Any, namespace: str
) -> None:
    custom = client.CustomObjectsApi(api_client)
    update = create.with_name(create.name.replace(".create.", ".update."))
    created = custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, _load(create))
    name = created["metadata"]["name"]
    changed = _load(update)
    changed["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as refused:
        custom.replace_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, changed)
    assert refused.value.status == 422, refused.value.body
    assert _expect(update) in _message(refused.value)
    stored = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    assert stored["spec"] == created["spec"]


@pytest.mark.parametrize(
    ("ref", "path"),
    [
        ("main", "/"),
        ("release/v1.2.3", "/src/app"),
        ("0123456789abcdef0123456789abcdef01234567", "/..hidden/.x/a..b/..."),
        ("feature_x-1+build@2", "/a/./b/"),
    ],
)
def test_safe_refs_and_paths_are_accepted(
    ref: str, path: str, crds: list[str], api_client: Any, namespace: str
) -> None:
    # The refusals of a '..' segment and of unsafe refs (cases 32-40) must not catch ordinary names.
    custom = client.CustomObjectsApi(api_client)
    job = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TranslationJob",
        "metadata": {"name": "safe"},
        "spec": {
            "source": {"git": {"url": "https://example.com/app.git", "ref": ref, "path": path}},
            "output": {"persistentVolumeClaim": {"claimName": "crates", "path": path}},
            "target": {"crateName": "app"},
        },
    }
    created = custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, job)
    assert created["spec"]["source"]["git"]["ref"] == ref
    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "safe")


@pytest.mark.parametrize(
    "url",
    [
        "ssh://git@git.example.com/team/app.git",
        "git@github.com:team/app.git",
        "https://git.example.com:8443/team/app.git",
        "https://git.example.com/team/app@v2.git",
    ],
)
def test_urls_without_credentials_and_a_credentials_ref_are_accepted(
    url: str, crds: list[str], api_client: Any, namespace: str
) -> None:
    # The refusal of credentials in the URL (cases 41-43) must not catch an ssh user or an '@' in a path.
    custom = client.CustomObjectsApi(api_client)
    git = {"url": url, "credentialsSecretRef": {"name": "app-deploy-token"}}
    job = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TranslationJob",
        "metadata": {"name": "private"},
        "spec": {
            "source": {"git": git},
            "output": {"persistentVolumeClaim": {"claimName": "crates"}},
            "target": {"crateName": "app"},
        },
    }
    created = custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, job)
    assert created["spec"]["source"]["git"]["credentialsSecretRef"] == {"name": "app-deploy-token"}
    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "private")
