"""Artifact listings on both backends: `uploader` (`me`, the portal's "mine", or someone whose uploads the caller
manages), `org`, sorting by name, size and date with keyset paging, and `count=true` totals; none of them shows a
caller anything it may not read, nor tells whether a user or an organisation it cannot see exists."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.inprocess import InProcessServer
from tests.security.people import EMAILS, PEOPLE, auth, is_problem, upload


@pytest.fixture(scope="module")
def api(auth_app_server: InProcessServer) -> httpx.Client:
    return auth_app_server.client(timeout=60)


@pytest.fixture(scope="module")
def world(api: httpx.Client) -> dict[str, Any]:
    """Under one fresh collection: alice uploads four artifacts (names and sizes out of order), bob (her colleague)
    one that he grants to alice, eve one of her own, and root (acme's admin, who reads alice's) one."""
    tag = uuid.uuid4().hex[:8]
    collection = f"listing-{tag}"
    alice = {}
    for name, size in (("delta", 30), ("alpha", 10), ("charlie", 40), ("bravo", 20)):
        alice[name], _ = upload(api, "creator", b"a" * size, filename=f"{name}-{tag}.bin", collection=collection)
    bobs, _ = upload(api, "member", b"b" * 5, filename=f"bobs-{tag}.bin", collection=collection)
    granted = api.post(f"/v1/artifacts/{bobs}/access", headers=auth("member"), json={"email": "alice@acme.test"})
    assert granted.status_code == 201, granted.text
    eves, _ = upload(api, "other", b"e" * 7, filename=f"eves-{tag}.bin", collection=collection)
    roots, _ = upload(api, "admin", b"r" * 9, filename=f"roots-{tag}.bin", collection=collection)
    return {"tag": tag, "collection": collection, "alice": alice, "bob": bobs, "eve": eves, "root": roots}


def listing(api: httpx.Client, role: str, path: str = "/v1/artifacts", **params: Any) -> dict[str, Any]:
    answer = api.get(path, headers=auth(role), params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def every_page(api: httpx.Client, role: str, **params: Any) -> list[dict[str, Any]]:
    """All items, following `next` links."""
    page = listing(api, role, **params)
    items = list(page["items"])
    while page["next"]:
        answer = api.get(page["next"], headers=auth(role))
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items += page["items"]
    return items


def urns(items: list[dict[str, Any]]) -> list[str]:
    return [item["urn"] for item in items]


def test_mine_lists_only_what_the_caller_uploaded(api: httpx.Client, world: dict[str, Any]) -> None:
    c = world["collection"]
    alices = set(world["alice"].values())
    everything = set(urns(every_page(api, "creator", collection=c)))
    assert everything == alices | {world["bob"]}  # she reads bob's (granted), not eve's nor root's
    assert set(urns(every_page(api, "creator", collection=c, uploader="me"))) == alices
    assert set(urns(every_page(api, "creator", collection=c, uploader="alice@acme.test"))) == alices
    # root reads alice's as acme's admin, yet "mine" is only his own
    assert world["alice"]["alpha"] in urns(every_page(api, "admin", collection=c))
    assert urns(every_page(api, "admin", collection=c, uploader="me")) == [world["root"]]
    assert urns(every_page(api, "other", collection=c, uploader="me")) == [world["eve"]]
    assert urns(every_page(api, "granted_user", collection=c, uploader="me")) == []
    mine = listing(api, "creator", collection=c, uploader="me", count="true", limit=1)
    assert mine["total"] == 4 and len(mine["items"]) == 1


def answer_of(api: httpx.Client, role: str, path: str = "/v1/artifacts", **params: Any) -> httpx.Response:
    answer = api.get(path, headers=auth(role), params=params)
    assert answer.status_code == 200, answer.text
    return answer


def test_uploader_narrows_to_the_uploads_the_caller_sees_the_uploader_of(
    api: httpx.Client, world: dict[str, Any]
) -> None:
    c = world["collection"]
    alices = set(world["alice"].values())
    # root, acme's admin, manages alice's and bob's, so he sees (and filters by) who uploaded them
    for named in ("alice@acme.test", "urn:fabric:user:alice@acme.test"):
        assert set(urns(every_page(api, "admin", collection=c, uploader=named, limit=2))) == alices
    assert urns(every_page(api, "admin", collection=c, uploader="bob@acme.test")) == [world["bob"]]
    by_name = every_page(api, "admin", collection=c, uploader="alice@acme.test", sort="name", limit=1)
    assert urns(by_name) == [world["alice"][name] for name in ("alpha", "bravo", "charlie", "delta")]
    assert listing(api, "admin", collection=c, uploader="alice@acme.test", count="true", limit=1)["total"] == 4
    assert set(urns(every_page(api, "creator", collection=c, uploader="alice@acme.test"))) == alices


def test_an_uploader_the_caller_may_not_see_answers_as_one_that_does_not_exist(
    api: httpx.Client, world: dict[str, Any]
) -> None:
    """alice reads bob's artifact (granted) but does not manage it, so she never sees that bob uploaded it: asking
    for bob's uploads answers exactly as asking for someone who never uploaded anything, and eve, who reads none of
    acme's, gets the same."""
    c = world["collection"]
    for role, asked in (("creator", "bob@acme.test"), ("other", "alice@acme.test"), ("other", "root@acme.test")):
        for params in ({"collection": c}, {"collection": c, "sort": "name"}, {}):
            hidden = answer_of(api, role, uploader=asked, count="true", **params)
            unknown = answer_of(api, role, uploader="nobody@nowhere.test", count="true", **params)
            assert hidden.json() == unknown.json() == {"items": [], "next": None, "total": 0}, (role, asked)
            assert hidden.headers.get("content-length") == unknown.headers.get("content-length")
            for email in EMAILS - {PEOPLE[role].email}:
                assert email not in hidden.text and email not in str(hidden.headers)


@pytest.mark.parametrize("value", ["not an address", "urn:fabric:org:acme", "", "a'b@x.test"])
def test_an_uploader_that_names_no_user_is_400(api: httpx.Client, value: str) -> None:
    answer = api.get("/v1/artifacts", headers=auth("creator"), params={"uploader": value})
    assert is_problem(answer, 400), answer.text
    assert "uploader must be" in answer.json()["detail"]
    assert api.get("/v1/artifacts", params={"uploader": "me"}).status_code == 401


def test_org_lists_what_its_members_uploaded_among_what_the_caller_reads(
    api: httpx.Client, world: dict[str, Any]
) -> None:
    c = world["collection"]
    alices = set(world["alice"].values())
    for named in ("acme", "urn:fabric:org:acme"):
        # alice reads her own and bob's (granted), both acme's; not root's
        assert set(urns(every_page(api, "creator", collection=c, org=named, limit=2))) == alices | {world["bob"]}
    everything_acme = alices | {world["bob"], world["root"]}
    assert set(urns(every_page(api, "admin", collection=c, org="acme", sort="size", limit=2))) == everything_acme
    assert listing(api, "admin", collection=c, org="acme", count="true", limit=1)["total"] == len(everything_acme)
    assert urns(every_page(api, "other", collection=c, org="rival")) == [world["eve"]]
    assert urns(every_page(api, "admin", collection=c, org="acme", uploader="me")) == [world["root"]]
    # shared with me, by one organisation: bob (acme) granted his to alice
    assert urns(listing(api, "creator", "/v1/shared/artifacts", org="acme")["items"]) == [world["bob"]]
    assert listing(api, "creator", "/v1/shared/artifacts", org="rival", count="true")["total"] == 0


def test_an_org_the_caller_reads_nothing_of_answers_as_one_that_does_not_exist(
    api: httpx.Client, world: dict[str, Any]
) -> None:
    c = world["collection"]
    for role, asked in (("other", "acme"), ("creator", "rival"), ("granted_user", "acme")):
        for path in ("/v1/artifacts", "/v1/shared/artifacts"):
            for params in ({"collection": c}, {"sort": "name"}, {}):
                if path.endswith("shared/artifacts") and "collection" in params:
                    continue
                hidden = answer_of(api, role, path, org=asked, count="true", **params)
                unknown = answer_of(api, role, path, org="no-such-org", count="true", **params)
                assert hidden.json() == unknown.json() == {"items": [], "next": None, "total": 0}, (role, asked)
                for email in EMAILS - {PEOPLE[role].email}:
                    assert email not in hidden.text


@pytest.mark.parametrize("value", ["two words", "urn:fabric:user:alice@acme.test", ""])
def test_an_org_that_names_no_organisation_is_400(api: httpx.Client, value: str) -> None:
    for path in ("/v1/artifacts", "/v1/shared/artifacts"):
        answer = api.get(path, headers=auth("creator"), params={"org": value})
        assert is_problem(answer, 400), (path, answer.text)
        assert "org must be" in answer.json()["detail"]


@pytest.mark.parametrize(
    "sort, order, expected",
    [
        ("name", None, ["alpha", "bravo", "charlie", "delta"]),
        ("name", "desc", ["delta", "charlie", "bravo", "alpha"]),
        ("size", None, ["charlie", "delta", "bravo", "alpha"]),
        ("size", "asc", ["alpha", "bravo", "delta", "charlie"]),
        ("created", "asc", ["delta", "alpha", "charlie", "bravo"]),
        ("created", None, ["bravo", "charlie", "alpha", "delta"]),
    ],
)
def test_sorted_listings_page_through_every_item_once(
    api: httpx.Client, world: dict[str, Any], sort: str, order: str | None, expected: list[str]
) -> None:
    params: dict[str, Any] = {"collection": world["collection"], "uploader": "me", "sort": sort, "limit": 1}
    if order:
        params["order"] = order
    items = every_page(api, "creator", **params)
    assert urns(items) == [world["alice"][name] for name in expected]


def test_sorting_and_counting_keep_to_what_the_caller_reads(api: httpx.Client, world: dict[str, Any]) -> None:
    c = world["collection"]
    for role, readable in (
        ("creator", {*world["alice"].values(), world["bob"]}),
        ("other", {world["eve"]}),
        ("admin", {*world["alice"].values(), world["bob"], world["root"]}),  # acme's admin reads acme's
    ):
        for sort in ("name", "size", "created"):
            items = every_page(api, role, collection=c, sort=sort, limit=2)
            assert set(urns(items)) == readable and len(items) == len(readable), (role, sort)
        assert listing(api, role, collection=c, count="true", sort="name", limit=2)["total"] == len(readable)
    everything = every_page(api, "creator", collection=c, sort="name", order="asc", limit=2)
    names = [item["name"] for item in everything]
    assert names == sorted(names)


def test_shared_with_me_sorts_and_counts(api: httpx.Client, world: dict[str, Any]) -> None:
    shared = listing(api, "creator", "/v1/shared/artifacts", sort="name", count="true", limit=1000)
    assert world["bob"] in urns(shared["items"])
    assert not set(world["alice"].values()) & set(urns(shared["items"]))
    assert shared["total"] == len(shared["items"])
    names = [item["name"] for item in shared["items"]]
    assert names == sorted(names)
    assert listing(api, "other", "/v1/shared/artifacts", count="true")["total"] == 0


@pytest.mark.parametrize(
    "params",
    [{"sort": "owner"}, {"sort": "name", "order": "up"}, {"count": "maybe"}, {"sort": "name", "cursor": "bogus"}],
)
def test_bad_listing_parameters_are_400(api: httpx.Client, params: dict[str, str]) -> None:
    for path in ("/v1/artifacts", "/v1/shared/artifacts"):
        answer = api.get(path, headers=auth("creator"), params=params)
        assert is_problem(answer, 400), (path, answer.status_code, answer.text)


def test_a_cursor_of_one_order_is_refused_by_another(api: httpx.Client, world: dict[str, Any]) -> None:
    first = listing(api, "creator", collection=world["collection"], sort="name", limit=1)
    cursor = first["next"].split("cursor=")[1]
    for other in ({"sort": "size"}, {"sort": "name", "order": "desc"}, {}):
        answer = api.get("/v1/artifacts", headers=auth("creator"), params={**other, "cursor": cursor})
        assert is_problem(answer, 400), answer.text
