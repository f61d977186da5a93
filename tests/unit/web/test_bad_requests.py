"""Query parameters no list can take answer 400 with what is wrong."""

from __future__ import annotations

import html

import pytest
from fastapi.testclient import TestClient

from tests.unit.web.conftest import csrf_of, login
from tests.unit.web.test_api import h

HUGE = "9223372036854775807"


@pytest.fixture
def strict_client(web):
    """A client that sees a server error as a 500 answer, as a browser would."""
    with TestClient(
        web, base_url="https://testserver", raise_server_exceptions=False
    ) as c:
        yield c


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (f"page={HUGE}", "Parameter 'page' paling besar 1000000."),
        ("page=99999999999999999999", "Parameter 'page' paling besar 1000000."),
        ("page=0", "Parameter 'page' paling kecil 1."),
        ("page=-3", "Parameter 'page' paling kecil 1."),
        ("page=abc", "Parameter 'page' harus berupa bilangan bulat."),
        ("page=1e3", "Parameter 'page' harus berupa bilangan bulat."),
    ],
)
def test_a_bad_page_number_on_the_dashboard_is_a_400_page(
    strict_client, cases, users, query, message
):
    login(strict_client, "admin")
    response = strict_client.get(f"/?{query}")
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]
    assert message in html.unescape(response.text)
    assert strict_client.get("/?page=1").status_code == 200
    assert strict_client.get("/?page=999999").status_code == 200  # empty page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (f"offset={HUGE}", "'offset' must be at most 100000000"),
        ("offset=99999999999999999999", "'offset' must be at most 100000000"),
        ("offset=-5", "'offset' must be at least 0"),
        (f"limit={HUGE}", "'limit' must be at most 500"),
        ("limit=0", "'limit' must be at least 1"),
        ("limit=abc", "'limit' must be a whole number"),
        ("limit=-1&offset=x", "'limit' must be at least 1; query parameter 'offset'"),
    ],
)
def test_a_bad_limit_or_offset_in_the_api_is_a_400_saying_why(
    strict_client, cases, keys, query, message
):
    response = strict_client.get(f"/api/v1/cases?{query}", headers=h(keys["PUPR"]))
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_good_paging_in_the_api_still_works(strict_client, cases, keys):
    first = strict_client.get("/api/v1/cases?limit=1", headers=h(keys["PUPR"]))
    rest = strict_client.get(
        "/api/v1/cases?limit=500&offset=1", headers=h(keys["PUPR"])
    )
    assert first.status_code == rest.status_code == 200
    assert len(first.json()) == 1
    numbers = {c["tracking_no"] for c in first.json() + rest.json()}
    assert len(numbers) == len(first.json()) + len(rest.json())


def test_a_deeply_nested_json_body_is_a_400_not_a_500(strict_client, cases, keys):
    deep = "[" * 100_000 + "]" * 100_000
    response = strict_client.post(
        f"/api/v1/cases/{cases['pupr']}/status",
        headers={**h(keys["PUPR"]), "content-type": "application/json"},
        content=deep,
    )
    assert response.status_code == 400
    # a body of the wrong shape keeps FastAPI's documented 422
    wrong = strict_client.post(
        f"/api/v1/cases/{cases['pupr']}/status",
        headers=h(keys["PUPR"]),
        json={"status": "closed"},
    )
    assert wrong.status_code == 422


def test_an_id_beyond_64_bits_is_not_found_not_a_500(strict_client, cases, keys, users):
    big = "99999999999999999999"
    api = strict_client.get(
        f"/api/v1/cases/{cases['pupr']}/attachments/{big}", headers=h(keys["PUPR"])
    )
    assert api.status_code == 404
    login(strict_client, "admin")
    for path in (f"/kasus/{big}", f"/lampiran/{big}", "/kasus/\u00b2"):
        assert strict_client.get(path).status_code == 404, path
    token = csrf_of(strict_client, "/")
    for path in (f"/triase/{big}/terima", f"/kasus/{big}/status/verifikasi"):
        answer = strict_client.post(
            path, data={"csrf_token": token}, follow_redirects=False
        )
        assert answer.status_code in (303, 404), path
