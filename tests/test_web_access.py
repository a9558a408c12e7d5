"""Who reads what in the web view: users, logging in, sessions, CSRF, the three access
modes, an administrator's withdrawal, failed logins slowed down."""

from __future__ import annotations

import http.cookiejar
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archiver.collection import Collection
from archiver.errors import UsageError
from archiver.packing import make_bag
from archiver.web.app import Attempts, view_app
from archiver.web.users import add_user, check_password, load
from tests.conftest import SAMPLE_RECORD, SAMPLE_TEXT
from tests.oai_helpers import serve_process
from tests.test_web import _clock

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"


@pytest.fixture
def made(tmp_path: Path) -> dict[str, Path]:
    col = tmp_path / "collection"
    make_bag([SAMPLE_TEXT], col, record=SAMPLE_RECORD, bag_id="sample", clock=_clock())
    users = tmp_path / "users.json"
    add_user(users, "ana", PASSWORD, admin=True)
    add_user(users, "ben", PASSWORD + "!")
    return {"collection": col, "users": users}


def _client(made: dict[str, Path], access: str) -> Any:
    catalog = Collection(made["collection"]).catalog()
    catalog.refresh(_clock().now())
    return view_app(catalog, access=access, users=made["users"], clock=_clock()).test_client()


def _csrf(client: Any, url: str = "/login") -> str:
    page = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


def _login(client: Any, name: str, password: str) -> Any:
    token = _csrf(client)
    return client.post(
        "/login", data={"csrf": token, "name": name, "password": password, "next": "/"}
    )


def test_passwords_are_stored_as_argon2_hashes_and_checked(made: dict[str, Path]) -> None:
    text = made["users"].read_text()
    assert PASSWORD not in text and "$argon2id$" in text
    assert made["users"].stat().st_mode & 0o777 == 0o600
    users = load(made["users"])
    found = check_password(users, "ana", PASSWORD)
    assert found is not None and found.admin
    assert check_password(users, "ana", "wrong password") is None
    assert check_password(users, "nobody", PASSWORD) is None
    with pytest.raises(UsageError):
        add_user(made["users"], "bad name", PASSWORD)
    with pytest.raises(UsageError):
        add_user(made["users"], "carl", "short")


def test_archiver_users_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    users = tmp_path / "people.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "archiver",
            "users",
            "add",
            "dora",
            "--admin",
            "--users",
            str(users),
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "dora is an administrator" in run.stderr
    found = check_password(load(users), "dora", PASSWORD)
    assert found is not None and found.admin


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("/dev/zero", "a password has 10 to 1024 characters"),  # no line end, ever
        (b"\xff\xfenot text at all\n", "a password is text: what was given is not UTF-8"),
    ],
    ids=["endless", "not-utf-8"],
)
def test_a_password_on_stdin_that_cannot_be_one_is_exit_2_and_nothing_written(
    tmp_path: Path, stdin: str | bytes, message: str
) -> None:
    users = tmp_path / "people.json"
    command = [sys.executable, "-m", "archiver", "users", "add", "dora", "--users", str(users)]
    if isinstance(stdin, str):
        with open(stdin, "rb") as endless:
            run = subprocess.run(command, stdin=endless, capture_output=True, timeout=60)
    else:
        run = subprocess.run(command, input=stdin, capture_output=True, timeout=60)
    err = run.stderr.decode("utf-8", "replace")
    assert run.returncode == 2, err
    assert err == f"archiver: error: {message}\n"
    assert not users.exists()


def test_logging_in_and_out_with_a_strict_http_only_session(made: dict[str, Path]) -> None:
    client = _client(made, "open")
    response = _login(client, "ana", PASSWORD)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = client.get("/").get_data(as_text=True)
    assert "ana (administrator)" in page
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    assert client.post("/logout", data={"csrf": token.group(1)}).status_code == 303
    assert "Log in" in client.get("/").get_data(as_text=True)


def test_a_wrong_password_is_refused_and_repeated_failures_wait(made: dict[str, Path]) -> None:
    client = _client(made, "open")
    codes = [
        _login(client, "ana", "not the password").status_code for _ in range(Attempts.FAILURES)
    ]
    assert codes == [401] * Attempts.FAILURES
    slowed = _login(client, "ana", PASSWORD)  # even the right password waits now
    assert slowed.status_code == 429
    assert int(slowed.headers["Retry-After"]) > 0


def test_a_post_without_the_csrf_token_is_refused(made: dict[str, Path]) -> None:
    client = _client(made, "open")
    assert _login(client, "ana", PASSWORD).status_code == 303
    refused = client.post("/bags/sample/withdraw", data={"reason": "no token"})
    assert refused.status_code == 403
    for forged in ("x" * 43, "é" * 43, "\x00"):
        refused = client.post("/bags/sample/withdraw", data={"reason": "forged", "csrf": forged})
        assert refused.status_code == 403, forged
    assert (made["collection"] / "sample").is_dir()  # nothing happened
    fresh = _client(made, "open")  # no session at all
    assert fresh.post("/login", data={"name": "ana", "password": PASSWORD}).status_code == 403


def test_an_administrator_withdraws_a_bag_and_a_reader_may_not(made: dict[str, Path]) -> None:
    reader = _client(made, "open")
    assert _login(reader, "ben", PASSWORD + "!").status_code == 303
    page = reader.get("/bags/sample").get_data(as_text=True)
    assert "Withdraw this bag" not in page
    token = _csrf(reader, "/bags/sample")
    refused = reader.post("/bags/sample/withdraw", data={"csrf": token, "reason": "mine"})
    assert refused.status_code == 403
    admin = _client(made, "open")
    assert _login(admin, "ana", PASSWORD).status_code == 303
    token = _csrf(admin, "/bags/sample")
    for reason, why in (("in red \x1b[31m", "U+001B is a control"), ("x" * 1001, "1000")):
        bad = admin.post("/bags/sample/withdraw", data={"csrf": token, "reason": reason})
        assert bad.status_code == 400 and why in bad.get_data(as_text=True)
        assert (made["collection"] / "sample").is_dir()
    done = admin.post("/bags/sample/withdraw", data={"csrf": token, "reason": "a duplicate"})
    assert done.status_code == 303 and done.headers["Location"] == "/bags/sample"
    gone = admin.get("/bags/sample")
    assert gone.status_code == 410 and "a duplicate" in gone.get_data(as_text=True)
    assert not (made["collection"] / "sample").exists()


def test_metadata_access_keeps_the_texts_for_readers_who_logged_in(
    made: dict[str, Path],
) -> None:
    client = _client(made, "metadata")
    assert client.get("/bags/sample").status_code == 200
    text = "/bags/sample/data/a-giant-step-for-peace.txt"
    for url in (text, text + "?download", "/bags/sample.zip", "/bags/sample.tar"):
        response = client.get(url)
        assert response.status_code == 303 and "/login" in response.headers["Location"]
    found = client.get("/search?q=peace").get_data(as_text=True)
    assert "in the descriptions" in found
    assert "data/a-giant-step-for-peace.txt" not in found  # no snippet of the text itself
    assert _login(client, "ben", PASSWORD + "!").status_code == 303
    assert client.get(text).status_code == 200
    found = client.get("/search?q=sanctions").get_data(as_text=True)
    assert "1 bag found" in found


def test_closed_access_shows_nothing_but_the_login_page(made: dict[str, Path]) -> None:
    client = _client(made, "closed")
    for url in ("/", "/search?q=peace", "/bags/sample", "/bags/sample/metadata/dc.xml"):
        response = client.get(url)
        assert response.status_code == 303, url
        assert response.headers["Location"].startswith("/login?next=")
    assert client.get("/login").status_code == 200
    style = client.get("/static/style.css")
    style.close()
    assert style.status_code == 200
    assert _login(client, "ben", PASSWORD + "!").status_code == 303
    assert client.get("/bags/sample").status_code == 200


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\\\evil.example", "javascript:x"]
)
def test_after_logging_in_no_target_leads_off_the_site(made: dict[str, Path], target: str) -> None:
    client = _client(made, "open")
    token = _csrf(client)
    response = client.post(
        "/login", data={"csrf": token, "name": "ana", "password": PASSWORD, "next": target}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_a_closed_repository_serves_oai_dc_only_unless_told(made: dict[str, Path]) -> None:
    from lxml import etree

    from archiver.oai.app import configuration
    from archiver.oai.protocol import Provider

    collection = Collection(made["collection"])
    catalog = collection.catalog()
    catalog.refresh(_clock().now())
    ns = {"o": "http://www.openarchives.org/OAI/2.0/"}

    def ask(formats: list[str] | None, *pairs: tuple[str, str]) -> etree._Element:
        config = configuration(collection, base_url="http://x.example/oai", formats=formats)
        return etree.fromstring(Provider(catalog, config).respond(list(pairs), _clock().now()))

    listed = ask(["oai_dc"], ("verb", "ListMetadataFormats"))
    assert listed.xpath("//o:metadataPrefix/text()", namespaces=ns) == ["oai_dc"]
    refused = ask(
        ["oai_dc"],
        ("verb", "GetRecord"),
        ("identifier", "oai:archiver.local:sample"),
        ("metadataPrefix", "mets"),
    )
    assert refused.xpath("//o:error/@code", namespaces=ns) == ["cannotDisseminateFormat"]
    every = ask(None, ("verb", "ListMetadataFormats"))
    assert len(every.xpath("//o:metadataPrefix", namespaces=ns)) > 1
    with pytest.raises(UsageError, match="oai_dc must be served"):
        configuration(collection, base_url="http://x.example/oai", formats=["mets"])
    with pytest.raises(UsageError, match="unknown metadata format 'marc'"):
        configuration(collection, base_url="http://x.example/oai", formats=["oai_dc", "marc"])


def test_serve_with_access_but_no_users_is_exit_2(made: dict[str, Path]) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "archiver", "serve", str(made["collection"]), "--access", "closed"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=60,
    )
    assert run.returncode == 2
    assert "--access closed needs --users FILE" in run.stderr
    assert "Traceback" not in run.stderr


def _page_once(client: Any, url: str, done: Callable[[str], bool]) -> str:
    """The page at ``url`` once ``done`` says so (an audit on the server's thread has
    ended), or as it is after a minute."""
    deadline = time.monotonic() + 60
    while True:
        page: str = client.get(url).get_data(as_text=True)
        if done(page) or time.monotonic() > deadline:
            return page
        time.sleep(0.1)


def test_an_administrator_starts_an_audit_and_reads_its_report(made: dict[str, Path]) -> None:
    reader = _client(made, "open")
    assert reader.get("/audits").status_code == 403
    assert _login(reader, "ben", PASSWORD + "!").status_code == 303
    assert reader.get("/audits").status_code == 403
    admin = _client(made, "open")
    assert _login(admin, "ana", PASSWORD).status_code == 303
    assert "never been audited" in admin.get("/audits").get_data(as_text=True)
    assert admin.post("/audits", data={}).status_code == 403  # no CSRF token
    token = _csrf(admin, "/audits")
    assert admin.post("/audits", data={"csrf": token}).status_code == 303
    page = _page_once(admin, "/audits", lambda p: "Run 1" in p and "is running" not in p)
    assert '<span class="status-new">1 new</span>' in page
    report = admin.get("/audits/1").get_data(as_text=True)
    assert 'href="/bags/sample"' in report and "status-new" in report
    assert admin.get("/audits/99").status_code == 404


def test_an_administrator_checks_one_bag_from_its_page(made: dict[str, Path]) -> None:
    make_bag([SAMPLE_TEXT], made["collection"], record={"title": "Other"}, bag_id="other")
    reader = _client(made, "open")
    assert _login(reader, "ben", PASSWORD + "!").status_code == 303
    assert "Check its fixity now" not in reader.get("/bags/sample").get_data(as_text=True)
    token = _csrf(reader, "/bags/sample")
    assert reader.post("/bags/sample/audit", data={"csrf": token}).status_code == 403
    admin = _client(made, "open")
    assert _login(admin, "ana", PASSWORD).status_code == 303
    assert admin.post("/bags/sample/audit", data={}).status_code == 403  # no CSRF token
    token = _csrf(admin, "/bags/sample")
    assert admin.post("/bags/nothing/audit", data={"csrf": token}).status_code == 404
    assert admin.post("/bags/sample/audit", data={"csrf": token}).status_code == 303
    page = _page_once(
        admin,
        "/bags/sample",
        lambda p: "<strong>fixity check</strong>" in p and "is running" not in p,
    )
    assert "<strong>fixity check</strong>: new" in page
    runs = Collection(made["collection"]).history()["runs"]
    assert [run["bags"] for run in runs] == [{"new": 1}]  # "other" was not checked
    other = admin.get("/bags/other").get_data(as_text=True)
    assert "<strong>fixity check</strong>" not in other


def test_the_collection_sorts_by_last_check_never_checked_first(made: dict[str, Path]) -> None:
    from archiver.clock import Clock
    from tests.conftest import BAGS_EPOCH

    for name in ("b-second", "c-first", "d-never"):
        make_bag([SAMPLE_TEXT], made["collection"], record={"title": name}, bag_id=name)
    collection = Collection(made["collection"])
    for day, bag_id in enumerate(["c-first", "b-second", "sample"]):
        clock = Clock.from_epoch(BAGS_EPOCH + day * 86400)
        collection.audit(workers=1, clock=clock, bag_ids=[bag_id])
    page = _client(made, "open").get("/?sort=checked").get_data(as_text=True)
    listed = re.findall(r'<a href="/bags/([^"/]+)">', page)
    assert listed == ["d-never", "c-first", "b-second", "sample"]
    assert '<strong aria-current="true">last check</strong>' in page
    facet = _client(made, "open").get("/?sort=checked&fixity=never+checked")
    assert re.findall(r'<a href="/bags/([^"/]+)">', facet.get_data(as_text=True)) == ["d-never"]


def _login_statuses(site: str, client: str, names: list[str]) -> list[int]:
    """Each name's wrong-password login, as ``client`` behind a proxy on this machine
    (X-Forwarded-For), with its own session: the HTTP statuses."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    forwarded = {"X-Forwarded-For": client}
    statuses = []
    for name in names:
        with opener.open(urllib.request.Request(f"{site}/login", headers=forwarded)) as page:
            found = re.search(r'name="csrf" value="([^"]+)"', page.read().decode())
        assert found is not None
        form = {"csrf": found.group(1), "name": name, "password": "not the password"}
        sent = urllib.request.Request(
            f"{site}/login", data=urllib.parse.urlencode(form).encode(), headers=forwarded
        )
        try:
            with opener.open(sent) as answer:
                statuses.append(answer.status)
        except urllib.error.HTTPError as refused:
            statuses.append(refused.code)
            refused.close()
    return statuses


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted-proxy", "no-proxy-trusted"])
def test_behind_a_trusted_proxy_each_client_is_limited_and_logged_as_itself(
    made: dict[str, Path], trusted: bool
) -> None:
    proxy = ["--trusted-proxy", "127.0.0.1"] if trusted else []
    arguments = [str(made["collection"]), "--users", str(made["users"]), *proxy]
    names = [f"nobody-{n}" for n in range(Attempts.FAILURES + 1)]  # no name fails twice
    with serve_process(arguments) as server:
        site = server.url.removesuffix("/oai")
        first = _login_statuses(site, "203.0.113.7", names)
        second = _login_statuses(site, "198.51.100.1", ["somebody"])
    logged = {line.split(" ", 1)[0] for line in server.log if '"POST /login' in line}
    assert first == [401] * Attempts.FAILURES + [429]
    if trusted:  # the proxy's header names each client: the second is not the first
        assert second == [401]
        assert logged == {"203.0.113.7", "198.51.100.1"}
    else:  # a header from any peer is dropped: one client, the one connecting, now waits
        assert second == [429]
        assert logged == {"127.0.0.1"}
