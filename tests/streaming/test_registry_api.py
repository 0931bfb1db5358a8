"""The Confluent Schema Registry API over the contract store, driven by Confluent's own client: the twin's
topics registered, produced and consumed through `JSONSerializer`/`JSONDeserializer`, Confluent's error
codes, compatibility levels, deletes, modes and ids that survive a restart."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from twin.domain.entities import NavPoint
from twin.streaming.contracts.apply import apply_topics
from twin.streaming.contracts.registry import META_FILE, SchemaStore, json_schema
from twin.streaming.contracts.registry_api import CONTENT_TYPE, RegistryApi, RegistryServer
from twin.streaming.contracts.topics import TOPICS
from twin.streaming.memory import MemoryBroker

NAV = TOPICS["asset-management.nav.intraday"]


def obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required)}


def jschema(schema: dict[str, Any]) -> Schema:
    return Schema(json.dumps(schema), "JSON")


V1 = obj({"id": {"type": "string"}, "x": {"type": "string"}}, ("id",))
V2 = obj({"id": {"type": "string"}}, ("id",))  # drops optional x: compatible both ways (open content)
V3 = obj({"id": {"type": "string"}, "x": {"type": "integer"}}, ("id",))  # x is back, as an integer
ADDS_REQUIRED = obj({"id": {"type": "string"}, "d": {"type": "string"}}, ("id", "d"))
ENUM_AB = obj({"id": {"type": "string"}, "e": {"enum": ["A", "B"]}}, ("id",))
ENUM_ABC = obj({"id": {"type": "string"}, "e": {"enum": ["A", "B", "C"]}}, ("id",))


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[tuple[SchemaStore, SchemaRegistryClient]]:
    store = SchemaStore(tmp_path / "schemas")
    with RegistryServer(store) as server:
        yield store, SchemaRegistryClient({"url": server.url})


def nav_point() -> dict[str, Any]:
    point = NavPoint(fund_id="F00001", nav_date=date(2026, 12, 1), nav=Decimal("101.25"), aum=Decimal("5e6"))
    return point.model_dump(mode="json")


def sr_error(call: Any, *args: Any) -> SchemaRegistryError:
    with pytest.raises(SchemaRegistryError) as err:
        call(*args)
    return err.value


def test_confluent_serializers_produce_and_consume_a_twin_topic_through_the_registry(registry) -> None:
    store, client = registry
    # twin's own producer registers the contract first (as ContractProducer does); Confluent's client
    # must find that same version rather than add one
    store.register(NAV.subject, json_schema(NAV.value))
    broker = MemoryBroker()
    apply_topics(broker.admin(), [NAV])
    ctx = SerializationContext(NAV.name, MessageField.VALUE)
    serialize = JSONSerializer(json.dumps(json_schema(NAV.value)), client)
    producer = broker.producer()
    producer.produce(NAV.name, serialize(nav_point(), ctx), key=b"F00001")
    producer.flush()

    consumer = broker.consumer("g")
    consumer.subscribe([NAV.name])
    [record] = consumer.consume(10, 0.1)
    # Confluent's wire format: magic byte 0, then the 4-byte schema id the registry assigned
    assert record.value[0] == 0
    assert int.from_bytes(record.value[1:5], "big") == store.version(NAV.subject).id
    value = JSONDeserializer(None, schema_registry_client=client)(record.value, ctx)
    assert NavPoint.model_validate(value) == NavPoint.model_validate(nav_point())
    assert client.get_subjects() == [NAV.subject]
    assert store.versions(NAV.subject) == [1]


def test_an_incompatible_schema_is_refused_with_confluents_409(registry) -> None:
    store, client = registry
    client.register_schema("t-value", jschema(V1))
    err = sr_error(client.register_schema, "t-value", jschema(ADDS_REQUIRED))
    assert (err.http_status_code, err.error_code) == (409, 409)
    assert "incompatible with an earlier schema" in err.error_message
    assert "'d'" in err.error_message
    assert store.versions("t-value") == [1]


@pytest.mark.parametrize(
    "body, fragment",
    [
        (Schema("{not json", "JSON"), "not JSON"),
        (Schema(json.dumps({"type": 12}), "JSON"), "Invalid schema"),
        (Schema(json.dumps([1, 2]), "JSON"), "must be an object"),
        (Schema(json.dumps({"$ref": "http://elsewhere/x.json"}), "JSON"), "only local $ref"),
        (Schema(json.dumps({"$ref": "#/$defs/missing"}), "JSON"), "Invalid schema"),
        (Schema('{"type": "record", "name": "x", "fields": []}', "AVRO"), "JSON schemas only"),
        (
            Schema(
                json.dumps(
                    {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}
                ),
                "JSON",
            ),
            "circular",
        ),
    ],
)
def test_an_invalid_schema_is_refused_with_42201(registry, body: Schema, fragment: str) -> None:
    _, client = registry
    err = sr_error(client.register_schema, "t-value", body)
    assert (err.http_status_code, err.error_code) == (422, 42201)
    assert fragment in err.error_message


def test_not_found_errors_carry_confluents_codes(registry) -> None:
    _, client = registry
    assert sr_error(client.get_latest_version, "nope-value").error_code == 40401
    schema_id = client.register_schema("t-value", jschema(V1))
    assert sr_error(client.get_version, "t-value", 7).error_code == 40402
    assert sr_error(client.get_schema, schema_id + 100).error_code == 40403
    assert sr_error(client.lookup_schema, "t-value", jschema(V3)).error_code == 40403
    assert sr_error(client.get_compatibility, "t-value").error_code == 40408
    err = sr_error(client.get_version, "t-value", "0")
    assert (err.http_status_code, err.error_code) == (422, 42202)


def test_subjects_versions_and_ids_answer_as_confluents_registry_does(registry) -> None:
    _, client = registry
    first = client.register_schema("a-value", jschema(V1))
    assert client.register_schema("a-value", jschema(V1)) == first  # idempotent
    second = client.register_schema("a-value", jschema(V2))
    assert client.register_schema("b-value", jschema(V2)) == second  # one id per schema, across subjects
    assert client.get_subjects() == ["a-value", "b-value"]
    assert client.get_versions("a-value") == [1, 2]
    latest = client.get_latest_version("a-value")
    assert (latest.version, latest.schema_id, json.loads(latest.schema.schema_str)) == (2, second, V2)
    assert json.loads(client.get_schema(first).schema_str) == V1
    assert client.lookup_schema("a-value", jschema(V1)).version == 1
    pairs = {(v.subject, v.version) for v in client.get_schema_versions(second)}
    assert pairs == {("a-value", 2), ("b-value", 1)}
    assert client.get_subjects_by_schema_id(second) == ["a-value", "b-value"]


def test_ids_and_settings_survive_a_restart(tmp_path: Path) -> None:
    with RegistryServer(SchemaStore(tmp_path)) as server:
        client = SchemaRegistryClient({"url": server.url})
        ids = [client.register_schema(s, jschema(v)) for s, v in (("a-value", V1), ("b-value", ENUM_AB))]
        client.set_compatibility("b-value", "FULL")
        client.delete_version("a-value", 1)
    assert (tmp_path / META_FILE).exists()
    with RegistryServer(SchemaStore(tmp_path)) as server:
        client = SchemaRegistryClient({"url": server.url})
        assert [json.loads(client.get_schema(i).schema_str) for i in ids] == [V1, ENUM_AB]
        assert client.get_compatibility("b-value") == "FULL"
        assert client.get_subjects() == ["b-value"]  # a-value's only version stays soft-deleted
        assert client.register_schema("c-value", jschema(V1)) == ids[0]  # same schema, same id
        assert client.register_schema("c-value", jschema(V2)) == max(ids) + 1  # a new one, never reused


def test_ids_are_assigned_once_to_versions_stored_before_ids_existed(tmp_path: Path) -> None:
    (tmp_path / "old-value").mkdir()
    (tmp_path / "old-value" / "v1.json").write_text(json.dumps(V1))
    first = SchemaStore(tmp_path).version("old-value").id
    assert SchemaStore(tmp_path).version("old-value").id == first == 1


LEVEL_CASES = [
    # level, [history], candidate, accepted?
    ("BACKWARD", [V1], ADDS_REQUIRED, False),
    ("FORWARD", [V1], ADDS_REQUIRED, False),  # twin's checker: old data's readers require no new field
    ("BACKWARD", [ENUM_ABC], ENUM_AB, False),
    ("FORWARD", [ENUM_ABC], ENUM_AB, True),
    ("BACKWARD", [ENUM_AB], ENUM_ABC, True),
    ("FORWARD", [ENUM_AB], ENUM_ABC, False),
    ("FULL", [ENUM_AB], ENUM_ABC, False),
    ("FULL", [V1], ADDS_REQUIRED, False),
    # V3 follows V2 fine, but reads V1's string x as an integer: only the transitive forms see it
    ("BACKWARD", [V1, V2], V3, True),
    ("BACKWARD_TRANSITIVE", [V1, V2], V3, False),
    ("FORWARD", [V1, V2], V3, True),
    ("FORWARD_TRANSITIVE", [V1, V2], V3, False),
    ("FULL", [V1, V2], V3, True),
    ("FULL_TRANSITIVE", [V1, V2], V3, False),
    ("NONE", [V1], obj({"id": {"type": "integer"}}), True),
]


@pytest.mark.parametrize("level, history, candidate, accepted", LEVEL_CASES)
def test_each_compatibility_level_uses_twins_checker(registry, level, history, candidate, accepted) -> None:
    store, client = registry
    client.set_compatibility("t-value", level)
    for schema in history:
        client.register_schema("t-value", jschema(schema))
    assert client.test_compatibility_all_versions("t-value", jschema(candidate)) is accepted
    if accepted:
        client.register_schema("t-value", jschema(candidate))
        assert store.versions("t-value") == list(range(1, len(history) + 2))
    else:
        assert sr_error(client.register_schema, "t-value", jschema(candidate)).error_code == 409


def test_the_check_endpoint_answers_against_one_version_with_messages(registry) -> None:
    _, client = registry
    for schema in (V1, V2):
        client.register_schema("t-value", jschema(schema))
    assert client.test_compatibility("t-value", jschema(V3), version=2) is True
    assert client.test_compatibility("t-value", jschema(V3), version=1) is False
    assert client.test_compatibility("t-value", jschema(ADDS_REQUIRED)) is False
    assert sr_error(client.test_compatibility, "t-value", jschema(V3), 9).error_code == 40402
    api = RegistryApi(SchemaStore())
    api.store.register("t-value", V1)
    body = json.dumps({"schemaType": "JSON", "schema": json.dumps(V3)}).encode()
    status, answer = api.handle(
        "POST", "/compatibility/subjects/t-value/versions/latest", "verbose=true", body
    )
    assert status == 200 and answer["is_compatible"] is False
    assert any("'x' changed type" in m for m in answer["messages"])


def test_global_config_defaults_to_backward_and_refuses_unknown_levels(registry) -> None:
    _, client = registry
    assert client.get_compatibility() == "BACKWARD"
    assert client.set_compatibility(level="full_transitive") == {"compatibility": "FULL_TRANSITIVE"}
    assert client.get_compatibility() == "FULL_TRANSITIVE"
    err = sr_error(client.set_compatibility, None, "SIDEWAYS")
    assert (err.http_status_code, err.error_code) == (422, 42203)
    client.set_compatibility("t-value", "NONE")
    assert client.delete_config("t-value").compatibility_level == "NONE"
    assert sr_error(client.get_compatibility, "t-value").error_code == 40408


def test_soft_then_permanent_deletes_follow_confluents_rules(registry, tmp_path: Path) -> None:
    store, client = registry
    ids = [client.register_schema("t-value", jschema(s)) for s in (V1, V2)]
    assert sr_error(client.delete_version, "t-value", 1, True).error_code == 40407
    assert client.delete_version("t-value", 1) == 1
    assert client.get_versions("t-value") == [2]
    assert json.loads(client.get_schema(ids[0]).schema_str) == V1  # still readable by id
    assert sr_error(client.delete_subject, "t-value", True).error_code == 40405
    assert client.delete_subject("t-value") == [2]
    assert client.get_subjects() == []
    assert sr_error(client.delete_subject, "t-value").error_code == 40404
    assert sorted(client.delete_subject("t-value", permanent=True)) == [1, 2]
    assert not (tmp_path / "schemas" / "t-value").exists()
    assert sr_error(client.get_schema, ids[1]).error_code == 40403
    # a permanently deleted subject starts again at version 1, as in Confluent; its schema keeps its id
    assert client.register_schema("t-value", jschema(V2)) == ids[1]
    assert store.versions("t-value") == [1]


def test_a_soft_deleted_version_leaves_the_compatibility_history(registry) -> None:
    _, client = registry
    client.set_compatibility("t-value", "BACKWARD_TRANSITIVE")
    for schema in (V1, V2):
        client.register_schema("t-value", jschema(schema))
    client.delete_version("t-value", 1)
    client.register_schema("t-value", jschema(V3))  # only V1 made V3 incompatible


def test_read_only_mode_refuses_new_versions(registry) -> None:
    _, client = registry
    assert client.get_global_mode() == "READWRITE"
    client.register_schema("t-value", jschema(V1))
    assert client.update_mode("t-value", "READONLY") == "READONLY"
    err = sr_error(client.register_schema, "t-value", jschema(V2))
    assert (err.http_status_code, err.error_code) == (422, 42205)
    assert client.register_schema("t-value", jschema(V1)) > 0  # an existing schema is still found
    assert client.delete_mode("t-value") == "READONLY"
    client.register_schema("t-value", jschema(V2))
    assert sr_error(client.update_global_mode, "IMPORT").error_code == 42204


@pytest.mark.parametrize("subject", ["../escape", ".hidden", "a b", "x" * 300, "-dash"])
def test_subject_names_outside_the_allowlist_are_refused_and_write_nothing(
    registry, tmp_path, subject
) -> None:
    _, client = registry
    err = sr_error(client.register_schema, subject, jschema(V1))
    assert (err.http_status_code, err.error_code) == (422, 42208)
    assert not (tmp_path / "escape").exists()
    assert not any(tmp_path.rglob("*"))  # nothing written anywhere


def _raw(url: str, method: str, body: bytes | None, content_type: str) -> tuple[int, str, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], json.loads(e.read())


def test_wire_shapes_content_type_and_malformed_requests(tmp_path: Path) -> None:
    with RegistryServer(SchemaStore(tmp_path)) as server:
        url = f"{server.url}/subjects/t-value/versions"
        ok = json.dumps({"schemaType": "JSON", "schema": json.dumps(V1)}).encode()
        assert _raw(url, "POST", ok, CONTENT_TYPE) == (200, CONTENT_TYPE, {"id": 1})
        assert _raw(url, "POST", b"{", CONTENT_TYPE)[2]["error_code"] == 42201
        assert _raw(url, "POST", b"[" * 100_000, CONTENT_TYPE)[2]["error_code"] == 42201
        assert _raw(url, "POST", ok, "text/plain")[0] == 415
        # an oversized body is refused from its Content-Length, before any of it is read
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.putrequest("POST", "/subjects/t-value/versions")
        conn.putheader("Content-Type", CONTENT_TYPE)
        conn.putheader("Content-Length", str(2 << 20))
        conn.endheaders()
        assert conn.getresponse().status == 413
        conn.close()
        assert _raw(f"{server.url}/nowhere", "GET", None, CONTENT_TYPE)[:2] == (404, CONTENT_TYPE)
        assert _raw(f"{server.url}/subjects", "PUT", ok, CONTENT_TYPE)[0] == 405
        assert _raw(f"{server.url}/schemas/ids/abc", "GET", None, CONTENT_TYPE)[2]["error_code"] == 40403
        status, _, body = _raw(f"{server.url}/subjects/t-value/versions/1/schema", "GET", None, CONTENT_TYPE)
        assert (status, body) == (200, V1)


def test_the_server_binds_loopback_only() -> None:
    with RegistryServer(SchemaStore()) as server:
        assert server.httpd.server_address[0] == "127.0.0.1"


def test_concurrent_writers_and_readers_never_see_a_backend_error(tmp_path: Path) -> None:
    api = RegistryApi(SchemaStore(tmp_path))
    statuses: list[int] = []

    def work(n: int) -> None:
        for i in range(15):
            schema = obj({"id": {"type": "string"}, f"f{n}_{i}": {"type": "integer"}})
            body = json.dumps({"schemaType": "JSON", "schema": json.dumps(schema)}).encode()
            statuses.append(api.handle("POST", f"/subjects/s{n}-{i}/versions", "", body)[0])
            statuses.append(api.handle("GET", "/subjects", "", None)[0])
            statuses.append(api.handle("GET", "/schemas/ids/1/versions", "", None)[0])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(statuses) == {200}
    ids = [api.store.version(s).id for s in api.store.subjects()]
    assert sorted(ids) == list(range(1, 91))  # one fresh id per distinct schema, none lost or shared
