#!/usr/bin/python3
"""The web dashboard in headless chromium (run by test-dashboard.sh, which starts the robot).

Environment: ZR_URL (the robot's http://127.0.0.1:PORT), ZR_ADMIN (its admin token), ZR_SHOTS
(a folder for the screenshots), ZR_CHROME_DIR (a private profile folder). Prints "ok - ..."
per check; any failure raises, prints the page's state and exits 1.
"""
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["ZR_URL"]
ADMIN = os.environ["ZR_ADMIN"]
SHOTS = os.environ["ZR_SHOTS"]
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'")


def ok(msg):
    print("ok - " + msg, flush=True)


def http(path, token=None, method="GET", body=None, ctype=None, headers=None):
    req = urllib.request.Request(URL + path, method=method, data=body, headers=headers or {})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def check_plain_http():
    """The page and its files need no token and carry the security headers; the API does."""
    for path, ctype in [("/", "text/html"), ("/assets/app.js", "text/javascript"),
                        ("/assets/style.css", "text/css"), ("/assets/icon.svg", "image/svg+xml")]:
        st, h, body = http(path)
        assert st == 200, "%s without a token: %d" % (path, st)
        assert h["Content-Type"].startswith(ctype), "%s: Content-Type %s" % (
            path, h["Content-Type"])
        assert h.get("Content-Security-Policy") == CSP, "%s: CSP %r" % (
            path, h.get("Content-Security-Policy"))
        assert h["X-Content-Type-Options"] == "nosniff", path
        assert h["Referrer-Policy"] == "no-referrer", path
        assert h["Cache-Control"] == "no-cache" and h["ETag"].startswith('"'), path
        assert len(body) > 100, path
        st, h2, body = http(path, method="HEAD")
        assert st == 200 and body == b"" and h2["ETag"] == h["ETag"], "HEAD %s: %d" % (path, st)
    etag = http("/assets/app.js")[1]["ETag"]
    for inm in (etag, 'W/' + etag, '"x", ' + etag):
        st, h, body = http("/assets/app.js", headers={"If-None-Match": inm})
        assert st == 304 and body == b"" and h["ETag"] == etag, "If-None-Match %s: %d" % (inm, st)
    st, _, _ = http("/assets/app.js", headers={"If-None-Match": '"x"'})
    assert st == 200, "another ETag: %d" % st
    st, _, _ = http("/assets/nope.js")
    assert st == 404, "an unknown asset: %d" % st
    st, h, _ = http("/", method="POST", body=b"x")
    assert st == 405 and h["Allow"] == "GET, HEAD", "POST /: %d" % st
    st, _, _ = http("/v1/@robot/info")
    assert st == 401, "the API without a token: %d" % st
    # The CSP forbids inline code: the page has none to forbid.
    _, _, page = http("/")
    page = page.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "an inline script in the page"
    assert not re.search(r"\sstyle=|<style", page), "an inline style in the page"
    assert not re.search(r"\son[a-z]+=", page), "an inline event handler in the page"
    ok("page and assets without a token, with CSP, nosniff, no-referrer, ETag (304); "
       "the API wants one")


def main():
    check_plain_http()
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,800", "--user-data-dir=" + os.environ["ZR_CHROME_DIR"],
              "--no-first-run", "--disable-extensions", "--disable-background-networking"]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        run(drv)
    except BaseException:
        try:
            print("---- page at failure: %s ----" % drv.current_url, file=sys.stderr)
            print(drv.find_element(By.TAG_NAME, "body").text[:3000], file=sys.stderr)
            for e in drv.get_log("browser"):
                print("browser: %s" % e, file=sys.stderr)
            drv.save_screenshot(os.path.join(SHOTS, "failure.png"))
        except Exception as e:  # the browser itself may be the failure
            print("(no page state: %s)" % e, file=sys.stderr)
        raise
    finally:
        drv.quit()


def run(drv):
    # The page re-renders its tables on each event: an element read a moment ago may be gone.
    wait = WebDriverWait(drv, 20, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException])
    by_id = lambda i: drv.find_element(By.ID, i)
    def visible(i):
        return wait.until(lambda d: d.find_element(By.ID, i).is_displayed()
                          and d.find_element(By.ID, i))

    def click(by, sel):
        # Found and clicked in one try, again if the element was re-rendered in between.
        wait.until(lambda d: d.find_element(by, sel).click() or True)

    def shot(name):
        # The whole page, not only the window: a window as tall as the page for a moment.
        w, h = drv.get_window_size()["width"], drv.get_window_size()["height"]
        full = drv.execute_script("return document.documentElement.scrollHeight")
        drv.set_window_size(w, max(h, full + 140))
        drv.save_screenshot(os.path.join(SHOTS, name + ".png"))
        drv.set_window_size(w, h)

    def login(token):
        by_id("token").clear()
        by_id("token").send_keys(token)
        click(By.CSS_SELECTOR, "#login-form button[type=submit]")

    drv.get(URL + "/")
    visible("view-login")
    assert not by_id("nav").is_displayed(), "the navigation shows before logging in"
    shot("login")
    ok("the login form")

    login("0" * 64)
    err = visible("login-error")
    assert "401" in err.text, "the bad token's message: %r" % err.text
    assert by_id("view-login").is_displayed() and not by_id("view-overview").is_displayed()
    assert drv.execute_script("return sessionStorage.getItem('zrobot.token')") is None
    shot("bad-token")
    ok("a bad token shows the 401 and stays on the login form")

    login(ADMIN)
    visible("view-overview")
    assert drv.execute_script("return sessionStorage.getItem('zrobot.token')") == ADMIN
    assert drv.execute_script("return localStorage.length") == 0, "the token went to localStorage"
    assert drv.get_cookies() == [], "a cookie was set"
    assert ADMIN not in drv.current_url
    wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
    marker = drv.execute_script("return window.zrLoadedAt")
    assert marker, "no load marker"
    rows = lambda: [r.text for r in drv.find_elements(By.CSS_SELECTOR, "#templates tbody th")]
    wait.until(lambda d: "app" in rows() and "kv" in rows())
    ok("logged in: templates listed, the token in sessionStorage only, the event stream live")

    # Create kv/main, then app/web1 that consumes it, from the templates' forms.
    def create(template, name, data=None):
        drv.get(URL + "/#/")
        visible("view-overview")
        click(By.CSS_SELECTOR, "#templates button[data-template='%s']" % template)
        visible("create-form")
        by_id("create-name").send_keys(name)
        prefilled = json.loads(by_id("create-data").get_attribute("value"))
        if data is not None:
            prefilled.update(data)
            by_id("create-data").clear()
            by_id("create-data").send_keys(json.dumps(prefilled))
        click(By.CSS_SELECTOR, "#create-form button[type=submit]")
        wait.until(lambda d: d.current_url.endswith("#/svc/%s/%s" % (template, name)))
        wait.until(lambda d: d.find_element(By.ID, "svc-title").text == template + "/" + name)
        return prefilled

    pre = create("kv", "main")
    assert pre == {"size": 64}, "the kv form's prefilled data: %r" % pre
    create("app", "web1", {"password": "hunter2", "db": "kv/main"})
    ok("services created from the templates' forms (data prefilled with the defaults)")

    # Back to the overview through the link (a hash change, not a load): both rows there.
    click(By.CSS_SELECTOR, "nav a[href='#/']")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#services tbody tr")) == 2)
    click(By.LINK_TEXT, "app/web1")
    wait.until(lambda d: d.find_element(By.ID, "svc-title").text == "app/web1")

    # Data: the secret never shows, even to the admin whose API answer holds it.
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#svc-data tr[data-field=password] td"))
    pw = drv.find_element(By.CSS_SELECTOR, "#svc-data tr[data-field=password] td").text
    assert pw == "***", "the secret field shows %r" % pw
    assert "hunter2" not in drv.find_element(By.TAG_NAME, "body").text
    port = drv.find_element(By.CSS_SELECTOR, "#svc-data tr[data-field=port] td").text
    assert port == "8080", port
    ok("the service page: data with the secret field as ***")

    # start (built in): the server runs; the process state changes without a reload.
    click(By.CSS_SELECTOR, "#svc-actions button[data-action=start]")
    visible("action-form")
    click(By.CSS_SELECTOR, "#action-form button[type=submit]")
    wait.until(lambda d: d.find_element(By.ID, "action-result").get_attribute("data-state") == "ok")
    wait.until(lambda d: "process ready" in d.find_element(By.ID, "svc-summary").text)
    ok("start from its button: the result and the process state shown")

    # greet: a form from the args schema; its log line shows while it runs, then the result.
    click(By.CSS_SELECTOR, "#svc-actions button[data-action=greet]")
    visible("action-form")
    who = by_id("arg-who")
    assert who.get_attribute("required") == "true", "who is required"
    assert by_id("arg-times").get_attribute("type") == "number"
    assert by_id("arg-times").get_attribute("value") == "1", "the default of times"
    assert by_id("arg-loud").get_attribute("type") == "checkbox"
    who.send_keys("selenium")
    by_id("arg-times").clear()
    by_id("arg-times").send_keys("2")
    click(By.CSS_SELECTOR, "#action-form button[type=submit]")
    wait.until(lambda d: "greeting selenium" in d.find_element(By.ID, "task-log").text)
    state = by_id("action-result").get_attribute("data-state")
    assert state in (None, ""), "the log line came only after the task ended (%r)" % state
    ok("the task's log line shows live while it runs")
    wait.until(lambda d: d.find_element(By.ID, "action-result").get_attribute("data-state") == "ok")
    assert by_id("result-text").text == "hello selenium\nhello selenium", by_id("result-text").text
    # The state lines come from the event stream: greet's own line and the action's.
    state_rows = lambda: [r.text for r in drv.find_elements(By.CSS_SELECTOR, "#svc-state tbody tr")]
    wait.until(lambda d: "greet last ok" in state_rows() and "actions greet ok" in state_rows())
    wait.until(lambda d: any("greet" in r.text and "ok" in r.text
                             for r in d.find_elements(By.CSS_SELECTOR, "#svc-tasks tbody tr")))
    assert drv.execute_script("return window.zrLoadedAt") == marker, "the page was reloaded"
    ok("the result and the state change show without a reload")

    # The chart: at least two samples of the running server.
    wait.until(lambda d: int(d.find_element(By.ID, "chart-rss").get_attribute("data-samples")) >= 2)
    wait.until(lambda d: int(d.find_element(By.ID, "chart-cpu").get_attribute("data-samples")) >= 2)
    assert drv.find_elements(By.CSS_SELECTOR, "#chart-rss polyline")
    shot("service")
    ok("the memory and CPU chart has samples")

    # The overview follows: the server ready, greet the last task (read after the events).
    click(By.CSS_SELECTOR, "nav a[href='#/']")
    row = lambda: drv.find_element(By.CSS_SELECTOR, "#services tr[data-service='app/web1']").text
    wait.until(lambda d: "ready" in row() and "greet #2 ok" in row())
    shot("overview")
    ok("the overview: template, state, process and last task per service")

    # The graph: the producer edge app/web1 -> kv/main, and links to the services' pages.
    click(By.CSS_SELECTOR, "nav a[href='#/graph']")
    visible("view-graph")
    edge = wait.until(lambda d: d.find_elements(
        By.CSS_SELECTOR, "#graph g.edge[data-from='app/web1'][data-to='kv/main']"))
    assert "db" in edge[0].text or edge[0].find_element(By.TAG_NAME, "text").get_attribute(
        "textContent") == "db", "the edge's role label"
    nodes = drv.find_elements(By.CSS_SELECTOR, "#graph .node")
    assert sorted(n.get_attribute("data-node") for n in nodes) == ["app/web1", "kv/main"]
    shot("graph")
    click(By.CSS_SELECTOR, "#graph a.node[data-node='kv/main']")
    wait.until(lambda d: d.find_element(By.ID, "svc-title").text == "kv/main")
    ok("the graph shows the producer edge with its role; a node links to its page")

    # Deleting asks first; app/web1 goes, its row leaves the overview.
    drv.get(URL + "/#/svc/app/web1")
    wait.until(lambda d: d.find_element(By.ID, "svc-title").text == "app/web1")
    click(By.ID, "svc-delete")
    wait.until(EC.alert_is_present()).accept()
    wait.until(lambda d: d.current_url.endswith("#/"))
    wait.until(lambda d: [r.get_attribute("data-service") for r in
                          d.find_elements(By.CSS_SELECTOR, "#services tbody tr")] == ["kv/main"])
    st, _, _ = http("/v1/app/web1", ADMIN)
    assert st == 404, "app/web1 after the delete: %d" % st
    ok("delete with a confirm")

    click(By.ID, "logout")
    visible("view-login")
    assert drv.execute_script("return sessionStorage.getItem('zrobot.token')") is None
    assert not by_id("nav").is_displayed()
    ok("log out clears the token")

    # No CSP violation nor script error on the way.
    bad = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"
           and "401" not in e["message"] and "404" not in e["message"]]
    assert not bad, "browser errors: %r" % bad
    ok("no script error nor CSP violation in the browser's console")

    # A phone's width: the page still fits (nothing wider than the window but the scrollers).
    drv.set_window_size(390, 844)
    drv.get(URL + "/")
    visible("view-login")
    w = drv.execute_script("return document.documentElement.scrollWidth")
    assert w <= 390, "the login page is %d px wide on a phone" % w
    ok("the page fits a phone's width")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, TimeoutException) as e:
        print("FAIL: test-dashboard.py: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        import traceback
        traceback.print_exc()
        sys.exit(1)
