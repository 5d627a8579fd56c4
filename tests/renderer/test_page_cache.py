"""Pages rendered once with holes: the cache itself, and wizard pages served from it."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from renderer.templating import PageCache
from tests.renderer import journey
from tests.renderer.conftest import EXAMPLE_PACK, FIXED_NOW, csrf_token_of

PROC = "inscription-cantine"


def test_a_page_is_built_once_and_filled_per_call() -> None:
    cache = PageCache()
    builds: list[int] = []

    def build(marks: dict[str, Markup]) -> str:
        builds.append(1)
        return f"<p>{marks['b']}</p><i>{marks['a']}</i>"

    assert cache.fill("k", build, {"a": "1", "b": "2"}) == "<p>2</p><i>1</i>"
    assert cache.fill("k", build, {"a": "&lt;", "b": "x"}) == "<p>x</p><i>&lt;</i>"
    assert len(builds) == 1
    assert cache.fill("other", build, {"a": "3", "b": "4"}) == "<p>4</p><i>3</i>"
    assert len(builds) == 2


def test_bytes_are_the_page_in_utf8() -> None:
    cache = PageCache()
    builds: list[int] = []

    def build(marks: dict[str, Markup]) -> str:
        builds.append(1)
        return f"<h1>Démarche</h1>{marks['csrf']}<p>Pièces : {marks['fields']}</p>"

    holes = {"csrf": "<input value='é'>", "fields": "Léa"}
    page = cache.fill("k", build, holes)
    assert page is not None
    assert cache.fill_bytes("k", build, holes) == page.encode()
    assert cache.fill_bytes("k", build, {"csrf": "", "fields": "€"}) == (
        "<h1>Démarche</h1><p>Pièces : €</p>".encode()
    )
    assert len(builds) == 1
    assert cache.fill_bytes("none", lambda marks: "<p>no hole</p>", holes) is None


def test_with_repeats_a_mark_may_come_back() -> None:
    cache = PageCache(repeats=True)
    twice = lambda marks: f"<title>{marks['r']}</title><p>{marks['r']}</p>"  # noqa: E731
    assert cache.fill("k", twice, {"r": "R1"}) == "<title>R1</title><p>R1</p>"
    assert cache.fill("k", lambda marks: "unused", {"r": "R2"}) == "<title>R2</title><p>R2</p>"
    assert cache.fill("none", lambda marks: "<p>no hole</p>", {"r": "R1"}) is None


def test_a_page_missing_or_repeating_a_mark_is_not_cached() -> None:
    cache = PageCache()
    assert cache.fill("k", lambda marks: "<p>no hole</p>", {"a": "1"}) is None
    assert cache.fill("k", lambda marks: f"{marks['a']}{marks['a']}", {"a": "1"}) is None
    assert cache.fill("k", lambda marks: f"[{marks['a']}]", {"a": "1"}) == "[1]"


def test_the_cache_is_bounded() -> None:
    cache = PageCache(limit=3)
    for n in range(10):
        assert cache.fill(n, lambda marks: f"<{marks['a']}>", {"a": str(n)}) == f"<{n}>"
    assert len(cache._pages) <= 3


def _at_first_request_step(client: Any) -> str:
    proc = client.app.state.pack.procedures[PROC]
    url = f"/demarches/{PROC}/etapes/demarche"
    journey.post(client, url, [])
    applicant = list(journey.APPLICANT.items())
    response = journey.post(client, f"/demarches/{PROC}/etapes/informations", applicant)
    assert response.status_code == 303, proc.id
    return str(response.headers["location"])


def test_two_citizens_get_the_same_page_with_their_own_token(client_factory: Any) -> None:
    first = client_factory(EXAMPLE_PACK)
    url = _at_first_request_step(first)
    second = first.__class__(first.app)
    second.__enter__()
    try:
        assert _at_first_request_step(second) == url
        page_one, page_two = first.get(url).text, second.get(url).text
        token_one, token_two = csrf_token_of(page_one), csrf_token_of(page_two)
        assert token_one != token_two
        assert page_one.replace(token_one, "T") == page_two.replace(token_two, "T")
        assert first.get(url).text == page_one  # served again from the cache
    finally:
        second.__exit__(None, None, None)


def test_a_cached_page_shows_this_citizen_values(client_factory: Any) -> None:
    client = client_factory(EXAMPLE_PACK)
    proc = client.app.state.pack.procedures[PROC]
    url = _at_first_request_step(client)
    blank = client.get(url).text
    assert "(terminée)" in blank  # the steps before are done
    step = proc.steps[0]
    pairs = journey.step_pairs(proc, step.id, FIXED_NOW.date(), text="Valeur saisie")
    assert any(value.startswith("Valeur saisie") for _, value in pairs)
    assert journey.post(client, url, pairs).status_code == 303
    again = client.get(url).text
    assert "Valeur saisie" in again and "Valeur saisie" not in blank
