"""The ``KeyStore`` contract (assistant/keys.py): the SQLite and PostgreSQL key stores pass the same tests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.errors import NotFound
from assistant.keys import KeyStore, SQLiteKeyStore
from assistant.pg.keys import PgKeyStore
from tests.contract.services import BACKENDS, Backend, open_backend

TABLE = {"sqlite": "keys", "postgres": "api_keys"}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from open_backend(request, tmp_path)


@pytest.fixture
def open_keys(backend: Backend) -> Callable[[], KeyStore]:
    """Opens key stores on the test's backend, each as another process would."""

    def sqlite(folder: Path) -> KeyStore:
        return SQLiteKeyStore(folder / "keys.sqlite3")

    def open_() -> KeyStore:
        return backend.open(sqlite, PgKeyStore)

    return open_


@pytest.fixture
def store(open_keys: Callable[[], KeyStore]) -> KeyStore:
    return open_keys()


def test_a_created_key_authenticates_as_its_user_groups_and_roles(store: KeyStore) -> None:
    record, secret = store.create(" ann ", ["battery", "software", "battery"], ["ingest"])
    assert secret.startswith("eka_") and len(secret) > 40
    found = store.authenticate(secret)
    assert found == record
    assert found.user == "ann" and found.groups == ("battery", "software") and found.roles == ("ingest",)
    assert found.principal.groups == frozenset({"battery", "software", "public"})
    assert found.revoked_at is None and found.created_at.endswith("+00:00")


def test_only_the_hash_of_a_key_is_stored(store: KeyStore, backend: Backend) -> None:
    _, secret = store.create("ann", ["battery"])
    rows = backend.raw("keys", f"SELECT * FROM {TABLE[backend.name]}")
    dump = repr(rows)
    assert secret not in dump and secret[len("eka_") :] not in dump
    assert hashlib.sha256(secret.encode()).hexdigest() in [v for row in rows for v in row]


@pytest.mark.parametrize(
    "attempt", ["", "eka_", "eka_wrong", "Bearer eka_x", "x" * 300, "eka_" + "a" * 300, "eka_\x00", "eka_é"]
)
def test_unknown_keys_do_not_authenticate(store: KeyStore, attempt: str) -> None:
    store.create("ann", [])
    assert store.authenticate(attempt) is None


def test_a_key_without_its_prefix_does_not_authenticate(store: KeyStore) -> None:
    _, secret = store.create("ann", [])
    assert store.authenticate(secret.removeprefix("eka_")) is None


def test_keys_are_listed_oldest_first_and_revoked_ones_only_on_request(store: KeyStore) -> None:
    made = [store.create(user, [])[0] for user in ("ann", "bob", "cyd")]
    listed = store.keys()
    assert {k.key_id for k in listed} == {k.key_id for k in made}
    assert [k.created_at for k in listed] == sorted(k.created_at for k in made)
    store.revoke("bob")
    active = store.keys()
    assert sorted(k.user for k in active) == ["ann", "cyd"]
    assert sorted(k.user for k in store.keys(include_revoked=True)) == ["ann", "bob", "cyd"]


def test_revoking_a_key_by_id_stops_only_that_key(store: KeyStore) -> None:
    first, secret1 = store.create("ann", [])
    _, secret2 = store.create("ann", [])
    assert store.revoke(first.key_id) == [first.key_id]
    assert store.authenticate(secret1) is None and store.authenticate(secret2) is not None
    assert first.key_id not in [k.key_id for k in store.keys(include_revoked=False)]
    revoked = next(k for k in store.keys(include_revoked=True) if k.key_id == first.key_id)
    assert revoked.revoked_at is not None and revoked.revoked_at >= revoked.created_at
    with pytest.raises(NotFound):
        store.revoke(first.key_id)  # already revoked


def test_revoking_a_user_stops_all_their_keys(store: KeyStore) -> None:
    made = [store.create("ann", []) for _ in range(2)]
    _, other = store.create("bob", [])
    assert store.revoke("ann") == sorted(record.key_id for record, _ in made)
    assert all(store.authenticate(secret) is None for _, secret in made)
    assert store.authenticate(other) is not None


@pytest.mark.parametrize("target", ["nobody", "", "key_\x00", "x" * 5000])
def test_revoking_what_does_not_exist_is_not_found(store: KeyStore, target: str) -> None:
    store.create("ann", [])
    with pytest.raises(NotFound):
        store.revoke(target)


def test_keys_need_a_user_known_roles_and_no_nul(store: KeyStore) -> None:
    with pytest.raises(ValueError, match="user"):
        store.create("  ", [])
    with pytest.raises(ValueError, match="root"):
        store.create("ann", [], ["root"])
    with pytest.raises(ValueError, match="NUL"):
        store.create("an\x00n", [])
    with pytest.raises(ValueError, match="NUL"):
        store.create("ann", ["bat\x00tery"])
    assert store.keys(include_revoked=True) == []


def test_key_groups_are_case_insensitive_like_document_groups(store: KeyStore) -> None:
    record, _ = store.create("ann", ["Battery"])
    assert record.groups == ("battery",) and "battery" in record.principal.groups


def test_keys_survive_reopening_the_store(open_keys: Callable[[], KeyStore]) -> None:
    first = open_keys()
    record, secret = first.create("ann", ["battery"], ["auditor"])
    first.close()
    assert open_keys().authenticate(secret) == record


def test_a_revoked_key_is_refused_by_another_instance_at_once(open_keys: Callable[[], KeyStore]) -> None:
    admin, worker = open_keys(), open_keys()  # the CLI, and an API worker elsewhere
    record, secret = admin.create("ann", ["battery"])
    assert worker.authenticate(secret) == record
    admin.revoke(record.key_id)
    assert worker.authenticate(secret) is None
