"""Orders record which artifacts a service used and produced, and how the run ended."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from fabric.client import Fabric, NotFound, OrderFailed
from fabric.client.client_schemas import ORDER_STATUS_SCHEMA
from fabric.client.order import PRODUCED_SCHEMA, USED_SCHEMA


def test_order_records_inputs_outputs_and_lineage(fab: Fabric, tmp_path: Path) -> None:
    image = fab.upload_artifact(name="photo.jpg", io_stream=io.BytesIO(b"jpeg bytes"))
    mask = fab.upload_artifact(name="mask.png", io_stream=io.BytesIO(b"png bytes"))
    payload = {
        "image": image.id,
        "params": {"threshold": 0.8, "masks": [mask.id, image.id]},
        "note": "urn:fabric:artifact is not a URN",
    }
    with fab.order(service="resize", inputs=payload) as order:
        assert order.urn.startswith("urn:fabric:order:")
        assert list(order.inputs) == [image.id, mask.id]
        first = order.input_path(image.id)
        assert first.read_bytes() == b"jpeg bytes"
        assert order.input_path(image.id) == first  # downloaded once, then reused
        out = tmp_path / "small.jpg"
        out.write_bytes(b"smaller")
        result = order.upload_artifact(name="small.jpg", file_path=out)
    assert order.status == "succeeded"
    if fab.mode == "platform":
        assert not first.exists()  # the order's downloads are cleaned up

    used = [a.content for a in fab.list_aspects(entity=image.id, schema=USED_SCHEMA)]
    assert used == [{"order": order.urn}]
    produced = [a.content for a in fab.list_aspects(entity=result.id, schema=PRODUCED_SCHEMA)]
    assert produced == [{"order": order.urn}]
    status = list(fab.list_aspects(entity=order.urn, schema=ORDER_STATUS_SCHEMA))
    assert len(status) == 1
    assert status[0].content["status"] == "succeeded"
    assert status[0].content["inputs"] == [image.id, mask.id]
    assert status[0].content["outputs"] == [result.id]
    history = list(fab.list_aspects(entity=order.urn, schema=ORDER_STATUS_SCHEMA, include_retracted=True))
    assert sorted(a.content["status"] for a in history) == ["running", "succeeded"]

    up = fab.lineage(result.id, direction="upstream", depth=5)
    urns = {node["urn"] for node in up["nodes"]}
    assert {result.id, order.urn, image.id, mask.id} <= urns
    rels = {(e["from"], e["rel"], e["to"]) for e in up["edges"]}
    assert (result.id, "WAS_GENERATED_BY", order.urn) in rels
    assert (order.urn, "USED", image.id) in rels
    down = fab.lineage(image.id, direction="downstream", depth=5)
    assert result.id in {node["urn"] for node in down["nodes"]}


def test_failing_order_records_its_failure(fab: Fabric) -> None:
    data = fab.upload_artifact(name="in.csv", io_stream=io.BytesIO(b"a,b"))
    with pytest.raises(RuntimeError, match="model diverged"):
        with fab.order(service="train", inputs={"data": data.id}) as order:
            raise RuntimeError("model diverged")
    assert order.status == "failed"
    [status] = fab.list_aspects(entity=order.urn, schema=ORDER_STATUS_SCHEMA)
    assert status.content["status"] == "failed"
    assert status.content["error"] == "RuntimeError: model diverged"
    assert "finished" in status.content


def test_missing_input_stops_the_order_before_anything_is_recorded(fab: Fabric) -> None:
    good = fab.upload_artifact(name="ok.txt", io_stream=io.BytesIO(b"ok"))
    missing = "urn:fabric:artifact:00000000-0000-4000-8000-000000000000"
    order = fab.order(service="join", inputs=[good.id, {"other": missing}])
    with pytest.raises(OrderFailed, match=missing) as caught, order:
        pytest.fail("the body must not run")
    assert caught.value.status == 404
    assert list(fab.list_aspects(entity=good.id, schema=USED_SCHEMA)) == []
    with pytest.raises(NotFound):  # the order was never written: not even its node exists
        list(fab.list_aspects(entity=order.urn))


def test_local_file_inputs_are_accepted(fab: Fabric, tmp_path: Path) -> None:
    path = tmp_path / "input.csv"
    path.write_bytes(b"1,2")
    urn = f"urn:file://{path}"
    with fab.order(service="count", inputs={"csv": urn}) as order:
        assert order.input_path(urn) == path
    assert order.status == "succeeded"


def test_order_without_artifact_inputs(fab: Fabric) -> None:
    with fab.order(service="hello", inputs={"text": "no artifacts here"}) as order:
        pass
    [status] = fab.list_aspects(entity=order.urn, schema=ORDER_STATUS_SCHEMA)
    assert status.content == {**status.content, "service": "hello", "status": "succeeded", "inputs": []}
