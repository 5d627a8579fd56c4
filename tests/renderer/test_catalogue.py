"""Catalogue pages over the real app: home, themes, search, a procedure's page and its states."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from renderer.routes.catalogue import search, theme_stylesheet_text
from renderer.routes.news import is_visible
from storage.requests import QuotaClaim, claim_quota, quota_used
from tests.renderer.conftest import EXAMPLE_PACK, FIXED_NOW, PARIS, RENDERER_PACK, run_in_app

START = "Commencer la démarche"


def text_of(html: str) -> str:
    """The visible text of a page, whitespace collapsed (for exact French sentences)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_home_shows_identity_themes_featured_news_and_search(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert "<title>Accueil – Commune de Testville</title>" in html
    assert '<img class="brand-logo" src="/logo"' in html
    assert "Bienvenue sur le <strong>guichet en ligne</strong> de Testville." in html
    assert "<script>alert('welcome')" not in html
    # themes with their procedures, in order; a theme without procedure is not listed
    assert html.index("Famille et école") < html.index("Citoyenneté")
    assert "Thème sans démarche" not in html
    assert "3 démarches" in html and "1 démarche<" in html
    assert 'class="icon icon-child"' in html
    # featured, in the order of portal.yaml
    assert html.index("Inscription à la cantine") < html.index("Inscription à l&#39;École")
    # the search box
    assert '<label for="recherche-accueil">Votre recherche</label>' in html
    assert 'class="icon icon-search"' in html
    # the 3 latest public news, newest first; private, future and expired ones are absent
    news = re.findall(r'href="/actualites/([a-z-]+)"', html)
    assert news == ["travaux", "fete", "vieux-marche"]
    assert "/infos-pratiques/horaires" in html
    assert "info-privee" not in html


def test_all_procedures_grouped_by_theme(client: TestClient) -> None:
    html = client.get("/demarches").text
    famille = html.index('id="theme-famille"')
    citoyennete = html.index('id="theme-citoyennete"')
    assert famille < html.index("Inscription à la cantine") < citoyennete
    assert citoyennete < html.index("Recensement citoyen")
    assert '<a href="/demarches" aria-current="page">Toutes les démarches</a>' in html


def test_theme_page_lists_its_procedures(client: TestClient) -> None:
    html = client.get("/demarches/theme/citoyennete").text
    assert "<h1" in html and "Citoyenneté</h1>" in html
    assert "Recensement citoyen" in html
    assert "Inscription à la cantine" not in html
    assert client.get("/demarches/theme/inconnu").status_code == 404


def test_locked_procedure_shows_padlock_in_lists(client: TestClient) -> None:
    html = client.get("/demarches").text
    card = html[html.index("Demande de place en crèche") :][:1200]
    assert "icon-padlock" in card
    assert "(nécessite un espace personnel)" in card


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ecole", ["Inscription à l'École"]),
        ("ÉCOLE", ["Inscription à l'École"]),
        ("repas", ["Inscription à la cantine"]),  # keyword
        ("écoliers", ["Inscription à la cantine"]),  # summary
        ("inscription", ["Inscription à l'École", "Inscription à la cantine"]),
        ("inscription cantine", ["Inscription à la cantine"]),
        ("citoyennete", []),  # a theme's label is not searched
        ("piscine", []),
    ],
    ids=["accents", "case", "keyword", "summary", "several", "all-words", "not-theme", "none"],
)
def test_search_ignores_accents_and_case(
    client: TestClient, query: str, expected: list[str]
) -> None:
    pack = client.app.state.pack  # type: ignore[attr-defined]
    titles = [p.title for p in search(pack, query)]
    assert titles == expected


def test_search_page_counts_results(client: TestClient) -> None:
    html = client.get("/recherche", params={"q": "Ecole"}).text
    assert "1 démarche trouvée pour « Ecole »" in text_of(html)
    assert 'href="/demarches/inscription-ecole"' in html
    html = client.get("/recherche", params={"q": "inscription"}).text
    assert "2 démarches trouvées pour « inscription »" in text_of(html)


def test_search_page_empty_and_no_result(client: TestClient) -> None:
    assert (
        "Saisissez un ou plusieurs mots pour trouver une démarche." in client.get("/recherche").text
    )
    html = client.get("/recherche", params={"q": "<b>piscine</b>"}).text
    assert "Aucune démarche ne correspond à « &lt;b&gt;piscine&lt;/b&gt; »." in html


def test_procedure_page(client: TestClient) -> None:
    html = client.get("/demarches/inscription-ecole").text
    words = text_of(html)
    assert "<h1>Inscription à l&#39;École</h1>" in html
    assert "Inscrivez votre enfant dans une école publique de la commune." in words
    assert "Durée maximale de la saisie 15 minutes" in words
    assert "Justificatif de domicile obligatoire Facture de moins de 3 mois." in words
    assert "Pièce d'identité selon votre situation Recto et verso. Celle du responsable légal." in (
        words.replace("&#39;", "'")
    )
    assert "Aide à la saisie" in html
    assert "<strong>livret de famille</strong>" in html
    assert (
        '<a class="button button-large" href="/demarches/inscription-ecole/etapes/demarche">'
        f"{START}</a>" in html
    )


def test_help_markdown_is_sanitised(client: TestClient) -> None:
    html = client.get("/demarches/inscription-ecole").text
    help_html = html[html.index("Aide à la saisie") :]
    assert "<script" not in help_html
    assert "javascript:" not in help_html.replace("[Piège](javascript:", "")
    assert 'href="javascript' not in html
    assert '<a href="https://www.service-public.fr/" rel="noopener noreferrer">' in html


def test_unknown_procedure_is_404(client: TestClient) -> None:
    page = client.get("/demarches/inconnue")
    assert page.status_code == 404
    assert "Page introuvable" in page.text


def test_padlock_page_offers_login_and_no_start(client: TestClient) -> None:
    html = client.get("/demarches/creche").text
    assert "Cette démarche nécessite un espace personnel" in html
    assert 'href="/connexion?suite=/demarches/creche">Se connecter</a>' in html
    assert 'href="/inscription">Je crée mon espace</a>' in html
    assert START not in html
    assert "/etapes/" not in html


def test_login_and_signup_links_lead_to_a_page_until_accounts_exist(client: TestClient) -> None:
    page = client.get("/connexion", params={"suite": "/demarches/creche"})
    assert page.status_code == 200
    text = text_of(page.text).replace("&#39;", "'")
    assert "L'espace personnel n'est pas encore ouvert" in text
    assert 'href="/demarches/creche">Revenir à la démarche</a>' in page.text
    signup = client.get("/inscription")
    assert signup.status_code == 200
    assert "Créer mon espace personnel" in signup.text
    assert "Revenir à la démarche" not in signup.text
    # Only a path of this portal comes back as a link (no open redirect through it).
    for outside in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"):
        html = client.get("/connexion", params={"suite": outside}).text
        assert "Revenir à la démarche" not in html, outside
        assert "evil.example" not in html, outside


def test_closed_window_says_so_with_dates(client: TestClient) -> None:
    html = client.get("/demarches/recensement").text
    assert "Démarche fermée" in html
    assert "Cette démarche était ouverte jusqu'au 31 mars 2026." in html.replace("&#39;", "'")
    assert START not in html


def test_window_not_yet_open(client_factory: Callable[..., TestClient]) -> None:
    client = client_factory(RENDERER_PACK, now=dt.datetime(2026, 4, 30, 23, 59, tzinfo=PARIS))
    html = client.get("/demarches/cantine").text
    assert "Démarche fermée" in html
    assert "Cette démarche sera ouverte du 1er mai au 15 juillet 2026." in html
    assert START not in html
    client.app.state.now.now = dt.datetime(2026, 5, 1, 0, 0, tzinfo=PARIS)  # type: ignore[attr-defined]
    assert START in client.get("/demarches/cantine").text
    client.app.state.now.now = dt.datetime(2026, 7, 16, 0, 0, tzinfo=PARIS)  # type: ignore[attr-defined]
    html = client.get("/demarches/cantine").text
    assert "Cette démarche était ouverte du 1er mai au 15 juillet 2026." in html


def test_quota_reached_shows_the_message(pack_client: TestClient) -> None:
    client = pack_client
    db = client.app.state.db  # type: ignore[attr-defined]
    assert START in client.get("/demarches/cantine").text
    claim = QuotaClaim(period_key="2026", scope_key="portal", max=2)

    async def take_place() -> None:
        async with db.transaction():
            await claim_quota(db, "cantine", claim)

    run_in_app(client, take_place)
    assert START in client.get("/demarches/cantine").text
    assert card_badges(client, "/demarches") == {"recensement": "Fermée"}
    run_in_app(client, take_place)
    assert run_in_app(client, quota_used, db, "cantine", "2026", "portal") == 2
    html = client.get("/demarches/cantine").text
    assert "Démarche complète" in html
    assert "Les inscriptions à la cantine sont complètes pour cette année." in html
    assert START not in html
    # The cards say it too, wherever the procedure is listed.
    badges = card_badges(client, "/demarches")
    assert badges == {"recensement": "Fermée", "cantine": "Complet"}
    for page in ("/demarches/theme/famille", "/recherche?q=cantine"):
        assert card_badges(client, page)["cantine"] == "Complet", page
    # next year's counter is a new one
    client.app.state.now.now = dt.datetime(2027, 6, 1, tzinfo=PARIS)  # type: ignore[attr-defined]
    html = client.get("/demarches/cantine").text
    assert "Les inscriptions à la cantine sont complètes" not in html
    assert card_badges(client, "/demarches")["cantine"] == "Fermée"  # 2027: outside its window


def card_badges(client: TestClient, path: str) -> dict[str, str]:
    """Procedure id -> the badge of its card on the page at ``path``."""
    html = client.get(path).text
    cards = re.findall(r'href="/demarches/([\w-]+)">.*?</h[23]>', html, re.S)
    found = re.findall(
        r'href="/demarches/([\w-]+)">(?:(?!</h[23]>).)*?class="tag tag-\w+">([^<]+)<', html, re.S
    )
    assert cards, f"no procedure card on {path}"
    return dict(found)


def test_theme_css_and_logo(client: TestClient) -> None:
    css = client.get("/theme.css")
    assert css.headers["content-type"].startswith("text/css")
    assert "--accent: #e1000f;" in css.text
    logo = client.get("/logo")
    assert logo.headers["content-type"] == "image/svg+xml"
    assert logo.text.startswith("<svg")


def test_theme_colours_are_darkened_to_readable_contrast() -> None:
    css = theme_stylesheet_text("#ffcc00", "#1f4e79")
    primary = re.search(r"--primary: (#[0-9a-f]{6});", css)
    assert primary and primary.group(1) != "#ffcc00"
    from renderer.routes.catalogue import contrast

    assert contrast(primary.group(1), "#ffffff") >= 4.5
    assert "--secondary: #1f4e79;" in css  # already readable: unchanged


def test_every_page_renders_with_the_example_pack(
    client_factory: Callable[..., TestClient],
) -> None:
    client = client_factory(EXAMPLE_PACK)
    pack = client.app.state.pack  # type: ignore[attr-defined]
    urls = ["/", "/demarches", "/recherche?q=ecole", "/actualites", "/infos-pratiques", "/logo"]
    urls += [f"/demarches/theme/{t}" for t in pack.themes]
    urls += [f"/demarches/{p}" for p in pack.procedures]
    shown = [n for n in pack.news.values() if is_visible(n, FIXED_NOW.date())]
    urls += [f"/actualites/{n.id}" for n in shown if n.kind == "news"]
    urls += [f"/infos-pratiques/{n.id}" for n in shown if n.kind == "info"]
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert "Inscription à la restauration scolaire" in client.get("/recherche?q=cantine").text
