#!/usr/bin/python3
"""The reference host (examples/host/) driven in a real browser.

Seeds a demo agency (build/host --seed-demo), starts the host on a free
loopback port with its clock pinned by a file, and walks headless Chromium
(Debian's chromium + chromium-driver, through Debian's python3-selenium)
through a client's and an agent's day:

  the client logs in with the invitation's temporary password, sets her
  own, goes through the welcome slides and the tour, marks one offered
  property not interested (with reasons) and the other interesting, opens
  it, requests a viewing with three dates; the agent confirms the second;
  the client sees it under Upcoming in the confirmed colour and downloads
  a valid .ics (and her calendar feed); the clock passes the viewing and
  the host's tick loop completes it; the client rates it and adds a note;
  the agent sees both; the maildir holds the seed's e-mails in order.

And the refusals a browser can provoke — a fourth date, a past date, a
cross-client URL, a form replayed without its CSRF token — each answered
with its status and message, the database unchanged (a digest of every
row).  A screenshot of each page goes to DIR/shots/.  The server is
stopped by the test; everything stays on 127.0.0.1; an alarm ends the run
at 115 s.  Last lines: the figures and "N passed, M failed".

usage: host_browser.py --host build/host --dir build/host-test
                       [--readme-shot examples/host/appointments.png]
"""
import argparse
import base64
import hashlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

T0 = 1780297200                  # Monday 1 June 2026, 09:00 in Amsterdam
DATES = ["2026-06-03T10:00", "2026-06-03T14:00", "2026-06-04T11:00"]
CONFIRMED_AT = 1780488000        # the second date: 3 June 14:00 CEST, in UTC
PASSED = CONFIRMED_AT + 2 * 3600 + 300   # after the end and the feedback hour
PASSWORD = "Grachten#2026"
GREEN = "rgb(47, 158, 68)"       # the confirmed / completed badge (host.css)
YELLOW = "rgb(240, 180, 41)"     # pending
WALK_MAILS = [                   # seed 001's e-mails, then the reminders'
    ("Meeting Created By Portal User", "andy@tesoro.example"),
    ("Meeting Status Changed By Portal User", "bram@example.com"),
    ("Viewing Reminder", "bram@example.com"),
    ("Viewing Feedback Request", "bram@example.com"),
]


class Failure(Exception):
    pass


class Walk:
    def __init__(self, args):
        self.args = args
        self.dir = os.path.abspath(args.dir)
        self.db = os.path.join(self.dir, "demo.db")
        self.clock = os.path.join(self.dir, "clock")
        self.maildir = os.path.join(self.dir, "maildir")
        self.shots = os.path.join(self.dir, "shots")
        self.downloads = os.path.join(self.dir, "downloads")
        self.server = None
        self.driver = None
        self.base = None
        self.passed = self.failed = 0
        self.pages = set()
        self.nshots = 0
        self.refusals = 0
        self.summary = ""

    # -- checks, pages, screenshots ----------------------------------------

    def check(self, ok, what):
        if not ok:
            self.failed += 1
            raise Failure(what)
        self.passed += 1

    def get(self, path):
        self.driver.get(self.base + path)
        self.loaded()

    def loaded(self):
        WebDriverWait(self.driver, 10).until(
            lambda d: d.execute_script("return document.readyState") == "complete")
        self.pages.add(urllib.parse.urlparse(self.driver.current_url).path)

    def navigates(self, act):
        """Do what leaves the page (a click, a submit) and wait for the next
        one: the old page's window carries a mark the new one lacks.  While
        the page changes, chromedriver may answer with an error about a node
        of the old document; those answers are waited out."""
        self.driver.execute_script("window.walkOldPage = true")
        try:
            act()
        except WebDriverException as e:
            if "does not belong to the document" not in str(e):
                raise
        WebDriverWait(self.driver, 10, ignored_exceptions=(WebDriverException,)
                      ).until(lambda d: d.execute_script(
                          "return !window.walkOldPage && "
                          "document.readyState === 'complete'"))
        self.loaded()

    def click(self, css):
        """Click what submits a form or follows a link; wait for the new page."""
        self.navigates(
            lambda: self.driver.find_element(By.CSS_SELECTOR, css).click())

    def script_submit(self, js):
        self.navigates(lambda: self.driver.execute_script(js))

    def fill(self, css, text):
        el = self.driver.find_element(By.CSS_SELECTOR, css)
        el.clear()
        el.send_keys(text)

    def set_value(self, css, value):
        """datetime-local fields: typing depends on the locale; set the value."""
        el = self.driver.find_element(By.CSS_SELECTOR, css)
        self.driver.execute_script("arguments[0].value = arguments[1]", el, value)

    def text(self, css="body"):
        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def colour(self, el):
        """An element's computed background colour, as rgb(r, g, b)."""
        return self.driver.execute_script(
            "return getComputedStyle(arguments[0]).backgroundColor", el)

    def status(self):
        """The HTTP status of the page shown (Navigation Timing)."""
        return self.driver.execute_script(
            "return performance.getEntriesByType('navigation')[0].responseStatus")

    def path(self):
        u = urllib.parse.urlparse(self.driver.current_url)
        return u.path + ("?" + u.query if u.query else "")

    def shot(self, name):
        """The whole page, down to the end of its content."""
        self.nshots += 1
        path = os.path.join(self.shots, "%02d-%s.png" % (self.nshots, name))
        width, height = self.driver.execute_script(
            "return [document.documentElement.clientWidth, Math.ceil(Math.max("
            "300, window.scrollY + document.querySelector('main')"
            ".getBoundingClientRect().bottom + 24))]")
        png = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height,
                     "scale": 1}})
        with open(path, "wb") as f:
            f.write(base64.b64decode(png["data"]))
        return path

    # -- the database, the clock, the maildir --------------------------------

    def digest(self):
        """Every row of every table, read-only.  Two columns move without a
        change of ours: a delivery's status (the host's delivery loop) and a
        session's last use; those tables are digested by key."""
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        h = hashlib.sha256()
        try:
            tables = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "ORDER BY name")]
            for t in tables:
                cols = {"outbox": "id", "portal_session": "token_hash, account_id"}
                rows = con.execute('SELECT %s FROM "%s" ORDER BY 1' %
                                   (cols.get(t, "*"), t)).fetchall()
                h.update(repr((t, rows)).encode())
        finally:
            con.close()
        return h.hexdigest()

    def set_clock(self, t):
        tmp = self.clock + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % t)
        os.replace(tmp, self.clock)

    def mails(self):
        new = os.path.join(self.maildir, "new")
        out = []
        for name in sorted(os.listdir(new)):
            with open(os.path.join(new, name), encoding="utf-8") as f:
                head = f.read().split("\n\n", 1)[0]
            fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", head, re.M))
            to = re.search(r"<([^>]+)>", fields.get("To", ""))
            out.append((name, fields.get("X-Tesoro-Template"), to and to.group(1)))
        return out

    def wait_for(self, what, cond, seconds=15):
        end = time.time() + seconds
        while time.time() < end:
            v = cond()
            if v:
                return v
            time.sleep(0.1)
        raise Failure("timed out waiting for " + what)

    # -- set-up and tear-down ----------------------------------------------

    def start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        for d in (self.shots, self.downloads):
            os.makedirs(d)
        self.set_clock(T0)
        host = os.path.abspath(self.args.host)
        seed = subprocess.run([host, "--db", self.db, "--seed-demo",
                               "--clock-file", self.clock],
                              capture_output=True, text=True, timeout=60)
        if seed.returncode != 0:
            raise Failure("seed failed: " + seed.stderr)
        self.temp_password = re.search(r"temporary password (\S+)",
                                       seed.stdout).group(1)
        self.carla_appointment = int(re.search(r"appointment (\d+)",
                                               seed.stdout).group(1))
        self.log = open(os.path.join(self.dir, "host.log"), "w")
        self.server = subprocess.Popen(
            self.args.wrap.split() + [host, "--db", self.db, "--port", "0", "--clock-file", self.clock,
             "--maildir", self.maildir, "--tick-ms", "100", "--deliver-ms", "100",
             "--verbose"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.server.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not m:
            raise Failure("the host did not start: " + line)
        self.base = "http://127.0.0.1:%s" % m.group(1)

        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ["--headless=new", "--no-sandbox", "--disable-gpu",
                  "--disable-dev-shm-usage", "--window-size=1100,860",
                  "--lang=en-GB", "--no-first-run", "--no-default-browser-check",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-extensions", "--hide-scrollbars",
                  "--force-device-scale-factor=1",
                  # loopback only: every other address goes to a dead proxy
                  "--proxy-server=http://127.0.0.1:9",
                  "--proxy-bypass-list=127.0.0.1"]:
            opts.add_argument(a)
        opts.add_experimental_option("prefs", {
            "download.default_directory": self.downloads,
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False})
        self.driver = webdriver.Chrome(
            service=Service("/usr/bin/chromedriver"), options=opts)
        try:
            self.driver.execute_cdp_cmd("Page.setDownloadBehavior", {
                "behavior": "allow", "downloadPath": self.downloads})
        except WebDriverException:
            pass
        # the seed's e-mails are delivered before the walk starts
        last = [None]

        def settled():
            now = len(self.mails())
            done = now and now == last[0]
            last[0] = now
            time.sleep(0.3)
            return done
        self.wait_for("the seed's e-mails", settled)
        self.seed_mails = [m[0] for m in self.mails()]

    def stop(self):
        if self.driver:
            try:
                self.driver.quit()
            except Exception:
                pass
        if self.server and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                out, _ = self.server.communicate(timeout=60)
                self.summary = out.strip().splitlines()[-1] if out.strip() else ""
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
                raise Failure("the host did not stop on SIGTERM")
            if self.server.returncode != 0:
                raise Failure("the host exited with %d" % self.server.returncode)

    # -- the walk -------------------------------------------------------------

    def login(self, email, password):
        self.get("/login")
        self.fill("#email", email)
        self.fill("#password", password)
        self.click("#login")

    def onboarding(self):
        self.get("/")
        self.check(self.path() == "/login", "a visitor is sent to the login page")
        self.shot("login")
        self.login("bram@example.com", self.temp_password)
        self.check(self.path() == "/password",
                   "the temporary password leads to 'set password'")
        self.shot("set-password")
        self.fill("#current", self.temp_password)
        self.fill("#new", PASSWORD)
        self.fill("#repeat", PASSWORD)
        self.click("#set-password")
        self.check("/login" in self.path() and "password is changed" in
                   self.text("#flash"), "after the change: log in again")
        self.login("bram@example.com", PASSWORD)
        self.check(self.path() == "/welcome", "first login: the welcome slides")
        self.shot("welcome")
        self.click("#welcome-done")
        self.check(self.path() == "/tour", "then the tour")
        self.shot("tour")
        self.click("#tour-skip")
        self.check(self.path() == "/", "the tour skipped: home")
        self.check(self.text("#tile-new").startswith("2"),
                   "home counts the two new properties")
        self.shot("home")

    def feed(self):
        self.get("/properties?view=all")
        self.shot("feed")
        self.click("a.title[href='/property/2']")     # the apartment
        self.check("Apartment by the Vondelpark" in self.text("h1"),
                   "the property's page")
        for reason in ("price", "location"):
            self.driver.find_element(
                By.CSS_SELECTOR, "input[name=reason][value=%s]" % reason).click()
        self.fill("form.not-interested textarea", "Too far from the station")
        self.click("#not-interested")
        self.check("Not for me: Price, Location" in self.text(".reasons"),
                   "the rejection reasons are kept and shown")
        self.get("/properties?view=all")
        body = self.text()
        self.check("not interested" in body.lower() and
                   "Too far from the station" in body,
                   "the feed shows the status and the reasons")
        self.shot("feed-rejected")
        self.click("a.title[href='/property/1']")     # the canal house
        self.click("#interested")
        self.check(self.text("#status").lower() == "interesting", "marked interesting")
        self.click("#favourite")
        self.check("favourite" in self.text(".card"), "a favourite")
        widths = self.driver.execute_script(
            "return Array.from(document.querySelectorAll('img.photo'))"
            ".map(i => i.complete ? i.naturalWidth : 0)")
        self.check(len(widths) == 2 and all(w == 360 for w in widths),
                   "the property's two photos load")
        self.shot("property")

    def request_viewing(self):
        before = self.digest()
        for i, d in enumerate(DATES, 1):
            self.set_value("#preferred%d" % i, d)
        self.click("#request-viewing")
        self.check(self.path().startswith("/appointments?tab=unconfirmed"),
                   "a request lands under Unconfirmed")
        row = self.driver.find_element(By.CSS_SELECTOR, ".appointment")
        self.appointment = int(row.get_attribute("id").split("-")[1])
        badge = row.find_element(By.CSS_SELECTOR, ".badge")
        self.check(badge.text.lower() == "pending" and
                   self.colour(badge) == YELLOW,
                   "pending, in yellow")
        self.check(row.text.count("Jun 2026") == 3, "with its three dates")
        self.check(self.digest() != before, "the request was stored")
        self.shot("unconfirmed")

    def refused(self, name, act, status, words):
        before = self.digest()
        act()
        shown = self.text("#error-message")
        self.check(self.status() == status,
                   "%s: HTTP %s, not %s" % (name, status, self.status()))
        self.check(words in shown, "%s: the message (%r)" % (name, shown))
        self.check(self.digest() == before, "%s: nothing changed" % name)
        self.shot("refused-" + name)
        self.refusals += 1

    def refusals_walk(self):
        form = "document.querySelector('form.request-viewing')"

        def fourth_date():
            self.get("/property/1")
            for i, d in enumerate(DATES, 1):
                self.set_value("#preferred%d" % i, d)
            self.driver.execute_script(
                "var i = document.createElement('input'); i.type = "
                "'datetime-local'; i.name = 'preferred'; i.value = "
                "'2026-06-05T10:00'; %s.appendChild(i);" % form)
            self.click("#request-viewing")
        self.refused("fourth-date", fourth_date, 400,
                     "a viewing request needs 1 to 3 preferred date-times, not 4")

        def past_date():
            self.get("/property/1")
            self.set_value("#preferred1", "2026-05-30T10:00")
            # the page's `min` keeps it out; a stale page or a script does not
            self.script_submit(form + ".submit()")
        self.refused("past-date", past_date, 409,
                     "preferred date-time 1 (1780128000) is in the past")

        def cross_client():
            self.get("/appointment/%d" % self.carla_appointment)
        self.refused("cross-client", cross_client, 403,
                     "belongs to another client than actor")

        def no_csrf():
            self.get("/property/1")
            self.set_value("#preferred1", "2026-06-05T10:00")
            self.driver.execute_script(
                form + ".querySelector('input[name=csrf]').remove()")
            self.click("#request-viewing")
        self.refused("no-csrf", no_csrf, 403, "CSRF token is missing")

    def desk(self, confirm):
        self.get("/desk")
        if self.path() == "/desk/login":
            self.shot("desk-login")
            self.fill("#email", "andy@tesoro.example")
            self.fill("#password", "Andy#Desk2026")
            self.click("#desk-login")
        self.check(self.path() == "/desk", "the agent's desk")
        card = "#desk-%d" % self.appointment
        if confirm:
            self.check("Bram Buyer" in self.text(card), "Bram's request is there")
            self.shot("desk")
            pipeline = {r.get_attribute("data-stage"):
                        int(r.find_element(By.CSS_SELECTOR, ".count").text)
                        for r in self.driver.find_elements(
                            By.CSS_SELECTOR, "#pipeline tr[data-stage]")}
            self.check(all(pipeline.get(s) == 1 for s in (
                "left_voicemail", "connected", "meeting_scheduled",
                "coming_soon", "failed")) and sum(pipeline.values()) == 5,
                "the referral pipeline counts (%r)" % pipeline)
            self.driver.find_element(
                By.CSS_SELECTOR, "#start-%d-2" % self.appointment).click()
            self.click("#confirm-%d" % self.appointment)
            self.check("Viewing confirmed" in self.text("#flash") and
                       "Wed 3 Jun 2026, 14:00" in self.text(card),
                       "confirmed at the second date")
            self.shot("desk-confirmed")
        else:
            text = self.text(card)
            self.check("★★★★☆" in text and "Lovely light" in text,
                       "the desk shows the client's rating and note")
            self.check(len(self.driver.find_elements(
                By.CSS_SELECTOR, "#no-show-%d" % self.appointment)) == 1,
                "the viewing was completed by the clock (a no-show can be "
                "recorded)")
            self.shot("desk-completed")

    def upcoming(self):
        self.get("/appointments?tab=upcoming")
        row = self.driver.find_element(By.CSS_SELECTOR,
                                       "#appointment-%d" % self.appointment)
        badge = row.find_element(By.CSS_SELECTOR, ".badge")
        self.check(badge.text.lower() == "confirmed" and
                   self.colour(badge) == GREEN,
                   "under Upcoming, in the confirmed colour")
        self.check("Wed 3 Jun 2026, 14:00" in row.text, "at the confirmed time")
        path = self.shot("appointments-upcoming")
        if self.args.readme_shot:
            shutil.copyfile(path, self.args.readme_shot)

    def calendar(self):
        self.click("#appointment-%d a.title" % self.appointment)
        self.shot("appointment")
        self.driver.find_element(By.CSS_SELECTOR, "#ics").click()
        name = "viewing-%d.ics" % self.appointment
        path = os.path.join(self.downloads, name)
        self.wait_for("the .ics download", lambda: os.path.exists(path))
        with open(path, "rb") as f:
            ics = f.read()
        lines = ics.split(b"\r\n")
        self.check(ics.startswith(b"BEGIN:VCALENDAR\r\n") and
                   ics.endswith(b"END:VCALENDAR\r\n") and
                   b"\n" not in ics.replace(b"\r\n", b""),
                   "the .ics is one VCALENDAR with CRLF lines")
        self.check(all(len(l) <= 75 for l in lines), "lines folded at 75 octets")
        unfolded = ics.replace(b"\r\n ", b"").decode()
        for want in ("BEGIN:VEVENT", "DTSTART:20260603T120000Z",
                     "DTEND:20260603T130000Z", "STATUS:CONFIRMED",
                     "SUMMARY:Canal house on the Oudegracht Property Viewing",
                     "BEGIN:VALARM", "UID:appointment-"):
            self.check(want in unfolded, ".ics has " + want)
        uid = re.search(r"^UID:(.*)$", unfolded, re.M).group(1).strip()
        # the profile: the language, the tour again, the calendar feed
        self.get("/profile")
        self.driver.find_element(By.CSS_SELECTOR,
                                 "#language option[value=nl]").click()
        self.click("#language ~ button")
        self.check("Language saved" in self.text("#flash") and self.driver
                   .find_element(By.CSS_SELECTOR, "#language")
                   .get_attribute("value") == "nl", "the portal language")
        self.shot("profile")
        self.click("#restart-tour")
        self.check(self.path() == "/tour", "the tour restarted")
        self.click("#tour-finish")
        self.check(self.path() == "/", "and finished")
        self.get("/profile")
        url = self.driver.find_element(By.CSS_SELECTOR, "#feed-url") \
            .get_attribute("value")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        feed = opener.open(url, timeout=10).read().decode()
        self.check(feed.startswith("BEGIN:VCALENDAR") and uid in feed,
                   "the calendar feed holds the viewing")
        try:
            opener.open(url[:-3] + "AAA", timeout=10)
            self.check(False, "a wrong feed key is refused")
        except urllib.error.HTTPError as e:
            self.check(e.code == 403, "a wrong feed key is refused")

    def after_the_viewing(self):
        # a day before the viewing the tick loop sends the reminder (one it
        # reached only after the start would be dropped, not sent)
        self.set_clock(CONFIRMED_AT - 86400 + 60)
        self.wait_for("the tick loop's reminder e-mail", lambda: any(
            m[1] == "Viewing Reminder" for m in self.mails()))
        self.set_clock(PASSED)
        # only the tick loop fires the feedback timer: its e-mail shows it ran
        self.wait_for("the tick loop's feedback e-mail", lambda: any(
            m[1] == "Viewing Feedback Request" for m in self.mails()))
        self.get("/appointments?tab=recent")
        self.check(self.path() == "/login?ok=ended",
                   "two days later the session has ended")
        self.login("bram@example.com", PASSWORD)
        self.get("/appointments?tab=recent")
        row = self.driver.find_element(By.CSS_SELECTOR,
                                       "#appointment-%d" % self.appointment)
        badge = row.find_element(By.CSS_SELECTOR, ".badge")
        self.check(badge.text.lower() == "completed" and
                   self.colour(badge) == GREEN,
                   "completed by the tick loop, under Recent, green")
        self.click("#appointment-%d a.title" % self.appointment)
        self.driver.find_element(By.CSS_SELECTOR, "#stars4").click()
        self.click("#rate")
        self.check("★★★★☆" in self.text("#rating"), "rated four stars")
        self.fill("#note", "Lovely light; the kitchen needs work. <b>&</b>")
        self.click("#add-note")
        self.check("Lovely light" in self.text(".note") and
                   "<b>&</b>" in self.text(".note"),
                   "the note is kept, and shown as text (escaped)")
        self.shot("rated")
        self.get("/appointments?tab=recent")
        self.shot("appointments-recent")

    def hostile(self):
        """Requests no page sends: each is refused, and the host goes on."""
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args):
                return None
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             NoRedirect())

        def status(path, data=None, method=None, headers=None):
            req = urllib.request.Request(self.base + path, data=data,
                                         method=method, headers=headers or {})
            try:
                return opener.open(req, timeout=10).status
            except urllib.error.HTTPError as e:
                return e.code
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for want, args in [
                (404, ("/appointment/99999999999999999999",)),
                (404, ("/property/0",)),
                (404, ("/no/such/page",)),
                (405, ("/", None, "PUT")),
                (303, ("/appointment/1",)),
                (303, ("/", None, None, {"Cookie": "tesoro_session=%3Cx%3E"})),
                (403, ("/photo/1",)),
                (403, ("/calendar/3.ics?key=x",)),
                (415, ("/login", b"csrf=x", "POST",
                       {"Content-Type": "text/plain"})),
                (403, ("/login", b"email=a&password=b", "POST", form)),
                (413, ("/login", b"a=" + b"x" * 70000, "POST", form)),
                (200, ("/login",))]:
            got = status(*args)
            self.check(got == want, "%s %s: %s, not %s" % (
                args[2] if len(args) > 2 and args[2] else "GET", args[0],
                want, got))

    def mail_order(self):
        def walk_mails():
            got = [(t, to) for name, t, to in self.mails()
                   if name not in self.seed_mails]
            return got if len(got) >= len(WALK_MAILS) else None
        got = self.wait_for("the walk's e-mails", walk_mails)
        self.check(got == WALK_MAILS, "the maildir holds the e-mails in order: %r"
                   % got)
        self.check(("Portal Invitation", "bram@example.com") in
                   [(t, to) for _, t, to in self.mails()],
                   "and the seed's invitation")

    def run(self):
        self.start()
        self.onboarding()
        self.feed()
        self.request_viewing()
        self.refusals_walk()
        self.desk(confirm=True)
        self.upcoming()
        self.calendar()
        self.after_the_viewing()
        self.desk(confirm=False)
        self.mail_order()
        self.hostile()
        self.get("/")
        self.click("header form button")
        self.check("logged out" in self.text("#flash"), "logged out")
        self.shot("logged-out")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--readme-shot")
    p.add_argument("--wrap", default="",
                   help="run the host under this, e.g. 'valgrind -q'")
    p.add_argument("--timeout", type=int, default=115)
    args = p.parse_args()
    started = time.time()

    def alarm(signum, frame):
        raise Failure("the walk took longer than %d s" % args.timeout)
    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(args.timeout)
    w = Walk(args)
    error = None
    try:
        w.run()
    except (Failure, WebDriverException, OSError, AttributeError) as e:
        error = e
        where = [f for f in traceback.extract_tb(e.__traceback__)
                 if f.filename == __file__]
        if where:
            print("at %s, line %d" % (where[-1].name, where[-1].lineno))
        if w.driver:
            try:
                w.shot("FAILED")
            except Exception:
                pass
    finally:
        try:
            w.stop()
        except Failure as e:
            error = error or e
        signal.alarm(0)
    m = re.search(r"requests=(\d+).*?mails=(\d+)", w.summary)
    print("host pages=%d requests=%s refusals=%d mails=%s screenshots=%d" % (
        len(w.pages), m.group(1) if m else "?", w.refusals,
        m.group(2) if m else "?", w.nshots))
    if error:
        w.failed = max(w.failed, 1)
        print("FAILED: %s (see %s/shots and host.log)" % (error, w.dir))
    print("the walk took %.1f s" % (time.time() - started))
    print("host: %d passed, %d failed" % (w.passed, w.failed))
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
