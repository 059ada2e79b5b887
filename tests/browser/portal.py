"""The web portal in a real browser (issue 19), driven by tests/portal.rs.

Debian's chromium, headless, through Debian's chromium-driver and selenium (PyPI). The Rust
test started vozbox and does the SIP side: this script prints `STEP <name>` on stdout when
it needs SIPp to act and waits for `ok` on stdin. Anything missing fails: nothing is
skipped.

Arguments: base URL, operator password, screenshot directory, download directory.
"""

import os
import shutil
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

BASE, OPERATOR_PASSWORD, SHOTS, DOWNLOADS = sys.argv[1:5]
DESKTOP = (1280, 900)
PHONE = (390, 844)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def step(name):
    """Asks the Rust side to act (SIPp) and waits until it has."""
    print("STEP", name, flush=True)
    reply = sys.stdin.readline().strip()
    assert reply == "ok", "step %s: %s" % (name, reply)


def browser():
    o = webdriver.ChromeOptions()
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "chromium and chromium-driver are needed (apt-get install)"
    o.binary_location = chromium
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
              "--window-size=%d,%d" % DESKTOP, "--disable-gpu", "--lang=en-US"]:
        o.add_argument(a)
    o.add_experimental_option("prefs", {
        "download.default_directory": DOWNLOADS,
        "download.prompt_for_download": False,
    })
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # the system's driver: selenium must not fetch one
    return webdriver.Chrome(service=Service(driver), options=o)


d = browser()


def in_flux(e):
    """Chromium answers a look-up made while the page is being replaced with
    "Node with given id does not belong to the document": the old document's
    node, not a failure of the page. Looked at again, it is the new one."""
    return "does not belong to the document" in str(e)


def wait_for(cond, what, timeout=10.0):
    end = time.time() + timeout
    last = None
    while True:
        try:
            v = cond()
            if v:
                return v
        except (NoSuchElementException, StaleElementReferenceException, AssertionError) as e:
            last = e
        except WebDriverException as e:
            if not in_flux(e):
                raise
            last = e
        if time.time() > end:
            raise AssertionError("timed out waiting for %s on %s (last: %r)"
                                 % (what, d.current_url, last))
        time.sleep(0.1)


def console_errors():
    return [e for e in d.get_log("browser") if e["level"] == "SEVERE"]


def assert_clean():
    """No console error on the page (a refused CSP rule, a failed script, a 404 asset)."""
    errs = console_errors()
    assert not errs, "console errors on %s: %s" % (d.current_url, errs)


def go(path, clean=True):
    d.get(BASE + path)
    if clean:
        assert_clean()
    else:
        d.get_log("browser")  # an error page is expected: its status is logged


def text():
    return d.find_element(By.TAG_NAME, "body").text


def h1():
    return d.find_element(By.TAG_NAME, "h1").text


def shot(name):
    """The page at desktop and phone width."""
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        d.set_window_size(*size)
        time.sleep(0.3)
        # a whole page: the window as tall as the document
        height = d.execute_script("return document.documentElement.scrollHeight")
        d.set_window_size(size[0], min(max(size[1], height + 140), 3000))
        time.sleep(0.2)
        d.save_screenshot(os.path.join(SHOTS, "%s-%s.png" % (name, label)))
    d.set_window_size(*DESKTOP)
    assert_clean()


def login(name, password, expect_ok=True):
    go("/login")
    d.find_element(By.ID, "name").send_keys(name)
    d.find_element(By.ID, "password").send_keys(password)
    d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    if expect_ok:
        wait_for(lambda: h1() == "Dashboard", "the dashboard after login")
        assert name in d.find_element(By.CSS_SELECTOR, "header .who").text
        assert_clean()
    else:
        # the form again, with its message (its 401 or 429 is logged)
        wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "main.login .alert.error"),
                 "the login's refusal")
        d.get_log("browser")


def logout():
    d.find_element(By.CSS_SELECTOR, "form.logout button").click()
    wait_for(lambda: "/login" in d.current_url, "the login page after logout")
    # the session is over: a page leads to the login form again
    go("/users")
    assert "/login" in d.current_url, d.current_url


def fill(values):
    for name, value in values.items():
        el = d.find_element(By.ID, "f-" + name)
        if el.tag_name == "select":
            Select(el).select_by_value(value)
        elif el.get_attribute("type") == "checkbox":
            if el.is_selected() != bool(value):
                el.click()
        else:
            el.clear()
            el.send_keys(value)


def submit():
    d.find_element(By.CSS_SELECTOR, "form.entity button[type=submit]").click()


def create(kind, values, done):
    go("/%s/new" % kind)
    fill(values)
    submit()
    wait_for(lambda: "done=created" in d.current_url, "%s created" % done)
    assert ("Created %s" % done) in text(), text()
    assert_clean()


def fetch(path, fields):
    """A POST the page did not offer (a forgery): its status and text."""
    answer = d.execute_async_script(
        """
        const [path, fields, done] = arguments;
        fetch(path, {method: 'POST', body: new URLSearchParams(fields), redirect: 'manual'})
          .then(r => r.text().then(t => done([r.status, t])))
          .catch(e => done([0, String(e)]));
        """, path, fields)
    d.get_log("browser")  # a refusal's status is logged
    return answer


def get(path, headers=None, expect_error=False):
    """A GET from the page's script (same origin, the session's cookie): its status,
    content type, content range, the body's first four bytes and its length."""
    answer = d.execute_async_script(
        """
        const [path, headers, done] = arguments;
        fetch(path, {headers: headers})
          .then(r => r.arrayBuffer().then(b => done([r.status, r.headers.get('content-type'),
              r.headers.get('content-range'), String.fromCharCode(...new Uint8Array(b.slice(0, 4))),
              b.byteLength])))
          .catch(e => done([0, String(e), null, '', 0]));
        """, path, headers or {})
    if expect_error:
        d.get_log("browser")  # its status is logged
    else:
        assert_clean()
    return answer


def only_row(table):
    """The one row of table `table` on the page: the row and its item's id."""
    rows = d.find_elements(By.CSS_SELECTOR, "#%s tbody tr" % table)
    assert len(rows) == 1, [r.text for r in rows] or text()
    return rows[0], rows[0].get_attribute("id").split("-", 1)[1]


def message_row():
    return only_row("messages")


def recording_row():
    return only_row("recordings")


def served(row, base, item):
    """The row's player: its source is the page's WAV, whole and by a byte range; the
    player and the WAV's size."""
    audio = row.find_element(By.TAG_NAME, "audio")
    src = audio.get_attribute("src")
    assert src == BASE + base + "/audio/" + item, src
    status, ctype, _, head, size = get(src)
    assert (status, ctype, head) == (200, "audio/x-wav", "RIFF"), (status, ctype, head)
    status, _, crange, _, part = get(src, {"Range": "bytes=0-99"})
    assert (status, crange, part) == (206, "bytes 0-99/%d" % size, 100), (status, crange, part)
    return audio, size


def downloaded(item, name, size):
    """The row's download button saves the WAV as `name`."""
    d.find_element(By.ID, "download-" + item).click()
    path = os.path.join(DOWNLOADS, name)
    wait_for(lambda: os.path.exists(path) and os.path.getsize(path) == size, name + " downloaded")
    with open(path, "rb") as f:
        assert f.read(4) == b"RIFF"


def filtered(key, value, row):
    """The list's filter `key` set to `value`: one row still."""
    Select(d.find_element(By.ID, key)).select_by_value(value)
    d.find_element(By.CSS_SELECTOR, "form[aria-label=Filter] button[type=submit]").click()
    query = "%s=%s" % (key, value.replace("/", "%2F"))
    wait_for(lambda: query in d.current_url, "the filtered list")
    row()


def voicemail_listened():
    """The message alice left: listed, played in the page, downloaded, filtered."""
    step("message_left")
    go("/voicemail")
    assert "Voicemail" in d.find_element(By.CSS_SELECTOR, "nav.side ul").text
    row, mid = message_row()
    assert "bob" in row.text and "alice" in row.text and "new" in row.text, row.text
    audio, size = served(row, "/voicemail", mid)
    # a click on the player's play button plays it (the CSP's media-src lets it load)
    ActionChains(d).move_to_element_with_offset(audio, 16 - audio.size["width"] // 2, 0) \
        .click().perform()
    length = wait_for(lambda: d.execute_script(
        "const a = arguments[0]; return a.currentTime > 0.2 && a.duration", audio),
        "the message playing")
    d.execute_script("arguments[0].pause()", audio)
    assert 2 <= length <= 8, length
    assert_clean()
    downloaded(mid, "voicemail-bob-%s.wav" % mid, size)
    filtered("mailbox", "bluebird/bob", message_row)
    go("/voicemail?mailbox=bluebird/alice")
    assert "No messages in mailbox alice" in text(), text()
    return mid


def recordings_seen():
    """The operator: the recording alice asked for listed with its client, its player's
    source a WAV (ranges too), downloaded, filtered by client; its client keeps its
    recordings, so a delete is refused with the API's reason as a notice; then the client's
    form lets them be removed. Returns the recording's id."""
    go("/recordings")
    nav = d.find_element(By.CSS_SELECTOR, "nav.side ul").text
    assert nav.index("Voicemail") < nav.index("Recordings"), nav
    row, rid = recording_row()
    for part in ("bluebird", "alice", "101", "on demand", "by the caller (INFO)"):
        assert part in row.text, (part, row.text)
    assert "incomplete" not in row.text, row.text
    _, size = served(row, "/recordings", rid)
    assert size > 32000, size  # at least a second of 8 kHz 16-bit stereo
    downloaded(rid, "recording-bluebird-%s.wav" % rid, size)
    filtered("client", "bluebird", recording_row)
    go("/recordings?client=redbird")
    assert "No recordings of client redbird" in text(), text()
    go("/recordings")
    shot("recordings")
    d.find_element(By.ID, "delete-" + rid).click()
    accept_confirm()
    why = wait_for(lambda: d.find_element(By.ID, "refused").text, "the refusal")
    assert "does not allow removing" in why and "allow_recording_removal = false" in why, why
    d.get_log("browser")  # the page came back with 403
    recording_row()
    go("/clients/edit/bluebird")
    fill({"allow_recording_removal": True})
    submit()
    wait_for(lambda: "done=saved" in d.current_url, "bluebird saved")
    assert_clean()
    return rid


def mark():
    """A mark on the page: still there later means the page was not reloaded."""
    d.execute_script("window.__vozbox_mark = 42")


def marked():
    return d.execute_script("return window.__vozbox_mark") == 42


def csrf():
    return d.find_element(By.CSS_SELECTOR, "form.logout input[name=_csrf]").get_attribute("value")


def accept_confirm():
    def alert():
        try:
            return d.switch_to.alert
        except NoAlertPresentException:
            return None
    wait_for(alert, "the confirmation").accept()


def main():
    # -- the operator -------------------------------------------------------------------------
    login("admin", "not-the-password", expect_ok=False)
    assert "Wrong name or password" in text(), text()
    go("/login")
    shot("login")
    login("admin", OPERATOR_PASSWORD)

    # the client records on demand by INFO and keeps its recordings (the box starts ticked)
    go("/clients/new")
    assert d.find_element(By.ID, "f-allow_recording_removal").is_selected()
    create("clients", {"brand": "acme", "name": "bluebird", "domain": "127.0.0.1",
                       "on_demand_record": "info", "allow_recording_removal": False},
           "client bluebird")
    create("users", {"client": "bluebird", "name": "alice", "password": "Alice-Secret-1",
                     "extension": "100"}, "user bluebird/alice")
    create("friends", {"client": "bluebird", "name": "hq-pbx", "mode": "register",
                       "password": "HqPbx-Secret-1", "patterns": "^2[0-9]{2}$"},
           "friend bluebird/hq-pbx")
    assert "not registered" in text()

    # a duplicate extension: the validation's message next to the extension field
    go("/users/new")
    fill({"client": "bluebird", "name": "bob", "password": "Bob-Secret-22", "extension": "100"})
    submit()
    wait_for(lambda: d.find_elements(By.CSS_SELECTOR, ".field.invalid"), "a field marked invalid")
    field = d.find_element(By.CSS_SELECTOR, ".field.invalid")
    field.find_element(By.ID, "f-extension")
    err = field.find_element(By.ID, "err-extension").text
    assert "duplicate extension" in err and "100" in err, err
    assert d.find_element(By.ID, "f-extension").get_attribute("aria-describedby") == "err-extension"
    assert len(d.find_elements(By.CSS_SELECTOR, ".field.invalid")) == 1
    d.get_log("browser")  # the form came back with 422
    shot("user-error")
    fill({"extension": "101", "password": "Bob-Secret-22"})
    submit()
    wait_for(lambda: "done=created" in d.current_url, "bob created")
    # 150 leads to bob's mailbox (every user has one)
    create("extensions", {"client": "bluebird", "number": "150", "route": "voicemail",
                          "voicemail": "bob"}, "extension bluebird/150")

    # a phone registers: the registrations page shows it without a reload
    go("/registrations")
    assert "No phone is registered now" in text()
    mark()
    step("register")
    wait_for(lambda: "sip:alice@127.0.0.1" in d.find_element(By.ID, "live").text,
             "alice's registration on the page", timeout=15)
    assert marked(), "the page was reloaded"
    shot("registrations")
    go("/users")
    row = [r for r in d.find_elements(By.CSS_SELECTOR, "tbody tr") if "bluebird/alice" in r.text][0]
    assert "registered" in row.text and "not registered" not in row.text, row.text

    # a call appears on the calls page and is hung up from it
    go("/calls")
    assert "No call in progress" in text()
    mark()
    step("call")
    wait_for(lambda: "answered" in d.find_element(By.ID, "live").text, "the call, answered",
             timeout=15)
    assert marked(), "the page was reloaded"
    assert "alice" in d.find_element(By.ID, "live").text
    shot("calls")
    d.find_element(By.CSS_SELECTOR, "button[id^=hangup-]").click()
    accept_confirm()
    wait_for(lambda: "done=hung_up" in d.current_url, "the hang-up's answer")
    assert "Call hung up" in text()
    assert_clean()
    step("call_end")
    step("record")
    step("leave_message")
    step("failed_call")

    # the records: the call listed, and in the CSV downloaded
    go("/cdrs")
    for _ in range(50):
        if "hung up" in text():
            break
        time.sleep(0.1)
        go("/cdrs")
    assert "hung up" in text() and "alice" in text(), text()
    shot("cdrs")
    d.find_element(By.ID, "csv").click()
    path = os.path.join(DOWNLOADS, "cdrs.csv")
    wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0, "cdrs.csv downloaded")
    csv = open(path, encoding="utf-8").read()
    assert csv.startswith("start,answer,end,duration,client,caller"), csv
    assert any("hung_up" in line and "bluebird" in line and "alice" in line
               for line in csv.splitlines()), csv
    go("/cdrs?disposition=hung_up")
    assert "1 records" in text(), text()

    go("/")
    assert "Calls per hour" in text() and "Top failure causes" in text()
    assert d.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar-ok"), "no answered bar"
    assert d.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar-bad"), "no failed bar"
    assert "not found" in d.find_element(By.ID, "h-causes").find_element(By.XPATH, "..").text
    shot("dashboard")
    go("/users")
    shot("users")
    go("/users/edit/bluebird/alice")
    assert d.find_element(By.ID, "f-name").get_attribute("readonly") is not None
    shot("user-edit")
    rid = recordings_seen()
    administrators()
    step("admins")
    mid = read_only(rid)
    other_client(mid, rid)
    own_client(mid, rid)

    # -- failed logins are throttled like the API's ---------------------------------------------
    # (10 failures within a minute ban; the minute counts from the first failure, so one
    # that began before this loop may end in it: 9 of its failures, then 10 more)
    for _ in range(20):
        login("admin", "wrong-password", expect_ok=False)
        if "Too many failed logins" in text():
            break
    else:
        raise AssertionError("no throttle after 20 failed logins: " + text())


def problem():
    """The refusal shown above the page's list (its status is logged)."""
    said = wait_for(lambda: d.find_element(By.ID, "problem").text, "the refusal")
    d.get_log("browser")
    return said


def answered():
    """The form submitted and its answer loaded (not the page it was sent from)."""
    mark()
    submit()
    wait_for(lambda: not marked(), "the form's answer")


def new_password():
    """The password vozbox made, shown once on the page that answered."""
    pw = wait_for(lambda: d.find_elements(By.ID, "new-password"), "the new password")[0].text
    assert len(pw) >= 12 and pw not in d.current_url, pw
    assert_clean()
    return pw


def administrators():
    """The operator adds a client's administrator (ann, used later) and an operator whose
    password vozbox makes, shown once; gives it a new one; the last operator cannot be
    removed; refusals come back with what was typed; the audit trail lists each change.
    Ends logged out."""
    go("/admins")
    assert "Administrators" in d.find_element(By.CSS_SELECTOR, "nav.side").text
    assert "everything" in d.find_element(By.ID, "admin-admin").text
    d.find_element(By.ID, "delete-admin").click()
    accept_confirm()
    assert "last operator cannot be removed" in problem()
    fill({"name": "ann", "client": "bluebird", "password": "Ann-Secret-123"})
    submit()
    wait_for(lambda: "done=added" in d.current_url, "ann added")
    assert "Administrator ann added" in text(), text()
    row = d.find_element(By.ID, "admin-ann").text
    assert "client" in row and "bluebird" in row, row
    fill({"name": "ann", "client": "bluebird", "password": "Ann-Secret-123"})
    answered()
    assert "already exists" in problem()
    fill({"name": "ned", "client": "bluebird", "read": "brands"})
    answered()
    said = problem()
    assert "Not added" in said and "brands" in said, said
    assert d.find_element(By.ID, "f-name").get_attribute("value") == "ned"
    assert d.find_element(By.ID, "f-read").get_attribute("value") == "brands"
    assert not d.find_elements(By.ID, "admin-ned")
    fill({"name": "temp", "client": "", "read": "", "write": ""})
    answered()
    first = new_password()
    assert "everything" in d.find_element(By.ID, "admin-temp").text
    go("/admins")
    assert first not in d.page_source, "the password shown twice"
    d.find_element(By.ID, "password-temp").click()
    accept_confirm()
    second = new_password()
    assert second != first
    shot("admins")
    go("/audit")
    audit = d.find_element(By.ID, "audit").text
    for part in ("admins", "temp", "ann", "create", "update", "bluebird/alice"):
        assert part in audit, (part, audit)
    shot("audit")
    logout()
    login("temp", first, expect_ok=False)
    login("temp", second)
    # temp removes itself: its session ends with it
    go("/admins")
    d.find_element(By.ID, "delete-temp").click()
    accept_confirm()
    wait_for(lambda: "/login" in d.current_url, "the login page after temp's removal")
    login("admin", OPERATOR_PASSWORD)
    go("/admins")
    assert not d.find_elements(By.ID, "admin-temp")
    logout()


def own_client(mid, rid):
    """A client administrator sees its own client only; it deletes the message and the
    recording."""
    login("ann", "Ann-Secret-123")
    go("/users")
    assert "bluebird/alice" in text() and "redbird" not in text(), text()
    go("/clients")
    assert "bluebird" in text() and "redbird" not in text(), text()
    for path in ["/users/edit/redbird/carol", "/clients/edit/redbird",
                 "/extensions/edit/redbird/200"]:
        go(path, clean=False)
        assert h1() == "Not found", (path, h1(), text())
    go("/cdrs?client=redbird")
    assert "No call records match" in text(), text()
    go("/brands", clean=False)
    assert h1() == "Not allowed"
    nav = d.find_element(By.CSS_SELECTOR, "nav.side").text
    assert "Brands" not in nav and "Carriers" not in nav and "Users" in nav, nav
    # CSRF: a POST without the token, or with a wrong one, is refused
    go("/users")
    fields = {"client": "bluebird", "name": "mallory", "password": "Mallory-Secret-1"}
    status, body = fetch("/users", fields)
    assert status == 403 and "CSRF" in body, (status, body)
    status, body = fetch("/users", dict(fields, _csrf="0" * 64))
    assert status == 403, status
    status, _ = fetch("/registrations/remove", {"aor": "sip:alice@127.0.0.1"})
    assert status == 403, status
    go("/users?q=mallory")
    assert "No users match" in text(), text()
    # with the token, the same form creates
    status, body = fetch("/users", dict(fields, _csrf=csrf()))
    assert status in (0, 303), (status, body)  # a redirect (not followed)
    go("/users?q=mallory")
    assert "bluebird/mallory" in text(), text()
    # its client's changes in the audit trail, not the administrators'; no administrators
    go("/audit")
    audit = d.find_element(By.ID, "audit").text
    assert "bluebird/mallory" in audit and "admins" not in audit, audit
    nav = d.find_element(By.CSS_SELECTOR, "nav.side").text
    assert "Audit trail" in nav and "Administrators" not in nav, nav
    go("/admins", clean=False)
    assert h1() == "Not allowed"
    status, body = fetch("/admins", {"name": "eve", "password": "Eve-Secret-1234",
                                     "_csrf": csrf()})
    assert status == 403 and "only an operator" in body, (status, body)
    # the message is deleted from its page
    go("/voicemail")
    message_row()
    shot("voicemail")
    deleted(mid, "Message deleted", "No voicemail messages", "no_messages")
    go("/recordings")
    row, _ = recording_row()
    assert "bluebird" not in row.text, "a client column for a client's administrator"
    deleted(rid, "Recording deleted", "No call recordings", "no_recordings")
    logout()


def deleted(item, notice, empty, check):
    """The row's delete button, confirmed: the list says so and is empty; the Rust side
    checks (step `check`) that the item and its file are gone."""
    d.find_element(By.ID, "delete-" + item).click()
    accept_confirm()
    wait_for(lambda: "done=deleted" in d.current_url, "the delete's answer")
    assert notice in text() and empty in text(), text()
    assert_clean()
    step(check)


def read_only(rid):
    """A read-only administrator: no edit controls, a forged POST refused; it listens to
    the voicemail message (its id is returned) but may not delete it, nor the recording."""
    login("rita", "Rita-Secret-123")
    nav = d.find_element(By.CSS_SELECTOR, "nav.side").text
    assert "Users" in nav and "Extensions" not in nav and "Calls" not in nav, nav
    go("/users")
    assert "bluebird/alice" in text()
    assert not d.find_elements(By.LINK_TEXT, "New user")
    go("/users/edit/bluebird/alice")
    assert "Read only" in text()
    assert not d.find_elements(By.CSS_SELECTOR, "button[type=submit]:not(.link)"), "an edit button"
    assert all(not e.is_enabled() for e in d.find_elements(By.CSS_SELECTOR, "form.entity input:not([type=hidden]), form.entity select, form.entity textarea"))
    shot("read-only")
    forged = {"client": "bluebird", "name": "alice", "password": "Owned-Secret-1",
              "extension": "100", "email": "rita@evil.example", "_csrf": csrf()}
    status, body = fetch("/users/edit/bluebird/alice", forged)
    assert status == 403 and "may not change users" in body, (status, body)
    status, _ = fetch("/users", dict(forged, name="eve"))
    assert status == 403, status
    status, _ = fetch("/users/delete/bluebird/alice", {"_csrf": csrf()})
    assert status == 403, status
    go("/users/new", clean=False)
    assert h1() == "Not allowed"
    go("/users/edit/bluebird/alice")
    assert d.find_element(By.ID, "f-email").get_attribute("value") == ""
    mid = voicemail_listened()
    assert not d.find_elements(By.CSS_SELECTOR, "button[id^=delete-]"), "a delete button"
    status, body = fetch("/voicemail/delete/" + mid, {"_csrf": csrf()})
    assert status == 403 and "may not change voicemail_messages" in body, (status, body)
    go("/recordings")
    recording_row()
    assert d.find_elements(By.ID, "download-" + rid), "no download"
    assert not d.find_elements(By.CSS_SELECTOR, "button[id^=delete-]"), "a delete button"
    status, body = fetch("/recordings/delete/" + rid, {"_csrf": csrf()})
    assert status == 403 and "may not change recordings" in body, (status, body)
    logout()
    return mid


def other_client(mid, rid):
    """Another client's administrator: nothing of bluebird's voicemail or recordings, their
    audio 404."""
    login("rob", "Rob-Secret-123")
    for base, item, empty in (("/voicemail", mid, "No voicemail messages"),
                              ("/recordings", rid, "No call recordings")):
        go(base)
        assert empty in text() and not d.find_elements(By.TAG_NAME, "audio"), text()
        for what in ("/audio/", "/download/"):
            status = get(base + what + item, expect_error=True)[0]
            assert status == 404, (base, what, status)
        status, _ = fetch(base + "/delete/" + item, {"_csrf": csrf()})
        assert status in (0, 303), status  # "already gone": not his to see
    logout()


try:
    main()
finally:
    d.quit()
print("DONE", flush=True)
