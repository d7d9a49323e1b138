#!/usr/bin/python3
"""Red team of the web dashboard in headless chromium (run by test-attack-web.sh, which starts
the robot and restarts it when asked).

Environment: ZR_URL, ZR_ADMIN, ZR_CHROME_DIR as for test-dashboard.py, and ZR_HANDSHAKE (a
folder: this script creates restart-request there and waits for restart-done). Prints
"ok - ..." per check; any failure raises, prints the page's state and exits 1.
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
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["ZR_URL"]
ADMIN = os.environ["ZR_ADMIN"]
USER = os.environ["ZR_USER"]
HANDSHAKE = os.environ["ZR_HANDSHAKE"]


def ok(msg):
    print("ok - " + msg, flush=True)


def http(path, token=ADMIN, method="GET", body=None):
    req = urllib.request.Request(URL + path, method=method, data=body)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def create(t, name, data=None):
    st, body = http("/v1/" + t, method="POST",
                    body=json.dumps({"name": name, "data": data or {}}).encode())
    assert st == 201, "create %s/%s: %d %s" % (t, name, st, body)


def requests_total():
    """The robot's count of HTTP requests answered, all codes together."""
    st, body = http("/metrics")
    assert st == 200, "/metrics: %d" % st
    return sum(int(float(m)) for m in re.findall(
        r'^zrobot_http_requests_total\{[^}]*\} (\S+)$', body.decode(), re.M))


def main():
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
        except Exception as e:  # the browser itself may be the failure
            print("(no page state: %s)" % e, file=sys.stderr)
        raise
    finally:
        drv.quit()


def run(drv):
    wait = WebDriverWait(drv, 20, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException])
    by_id = lambda i: drv.find_element(By.ID, i)
    rows = lambda: [r.get_attribute("data-service")
                    for r in drv.find_elements(By.CSS_SELECTOR, "#services tbody tr")]

    drv.get(URL + "/")
    wait.until(lambda d: by_id("view-login").is_displayed())
    by_id("token").send_keys(ADMIN)
    by_id("login-form").submit()
    wait.until(lambda d: by_id("view-overview").is_displayed())
    wait.until(lambda d: by_id("live").text == "live")

    check_markup(drv, wait)
    check_overview_cost(drv, wait, rows)
    check_task_cost(drv, wait)
    check_graph_live(drv, wait)
    check_user(drv, wait, rows)
    check_bad_route(drv, wait)
    check_restart(drv, wait, rows)
    check_restart_task(drv, wait)
    check_revoked(drv)


def restart_robot(revoke=False):
    """Asks test-attack-web.sh for a restart of the robot and waits for it."""
    done = os.path.join(HANDSHAKE, "restart-done")
    if os.path.exists(done):
        os.unlink(done)
    if revoke:
        open(os.path.join(HANDSHAKE, "revoke"), "w").close()
    open(os.path.join(HANDSHAKE, "restart-request"), "w").close()
    for _ in range(300):
        if os.path.exists(done):
            return
        time.sleep(0.1)
    raise AssertionError("the robot was not restarted")


def check_restart_task(drv, wait):
    """A task run from the page when the robot restarts: its result (interrupted) shows once
    the robot is back, not a network error left for good."""
    by_id = lambda i: drv.find_element(By.ID, i)
    # The page has the user token now: a service of its own.
    st, body = http("/v1/kv", USER, "POST", json.dumps({"name": "mine", "data": {}}).encode())
    assert st == 201, "kv/mine: %d %s" % (st, body)
    drv.execute_script("location.hash = '#/svc/kv/mine'")
    wait.until(lambda d: by_id("svc-title").text == "kv/mine")
    drv.find_element(By.CSS_SELECTOR, "#svc-actions button[data-action=slow]").click()
    wait.until(lambda d: by_id("action-form").is_displayed())
    drv.find_element(By.CSS_SELECTOR, "#action-form button[type=submit]").click()
    wait.until(lambda d: "started" in by_id("task-log").text)
    restart_robot()
    WebDriverWait(drv, 40, poll_frequency=0.2).until(
        lambda d: by_id("action-result").get_attribute("data-state") not in (None, ""))
    state = by_id("action-result").get_attribute("data-state")
    assert state == "interrupted", "the task's state after the restart: %r" % state
    assert "[log:" not in by_id("task-log").text, by_id("task-log").text
    ok("a task running across a restart: the page shows it %s" % state)
    drv.execute_script("location.hash = '#/'")


def check_revoked(drv):
    """The robot restarts without the page's (user) token: the login form comes back and
    says why, and the page stops asking."""
    by_id = lambda i: drv.find_element(By.ID, i)
    assert drv.execute_script("return sessionStorage.getItem('zrobot.token')") == USER
    restart_robot(revoke=True)
    WebDriverWait(drv, 30, poll_frequency=0.2).until(
        lambda d: by_id("view-login").is_displayed() and "401" in by_id("login-error").text)
    assert drv.execute_script("return sessionStorage.getItem('zrobot.token')") is None
    assert not by_id("nav").is_displayed()
    time.sleep(1)
    spent = idle_cost(5)
    assert spent <= 0, "the login form after a revoked token, idle 5 s: %d requests" % spent
    ok("a token revoked by a restart brings the login form back with the 401; nothing more")


def idle_cost(seconds=5):
    """The requests the robot answers while the page sits open for seconds (5: long enough
    for two of the chart's samples and any polling loop to show, short enough for CI)."""
    before = requests_total()
    time.sleep(seconds)
    return requests_total() - before - 1  # the second metrics read counts itself


def check_markup(drv, wait):
    """Markup in what the robot sends shows as text; nothing runs; no request leaves the
    robot's origin."""
    by_id = lambda i: drv.find_element(By.ID, i)
    create("evil", "e1", {"url": "javascript:window.zrPwned=9 <img src=x onerror=window.zrPwned=10>"})
    drv.execute_script("location.hash = '#/svc/evil/e1'")
    wait.until(lambda d: by_id("svc-title").text == "evil/e1")
    drv.find_element(By.CSS_SELECTOR, "#svc-actions button[data-action=boom]").click()
    wait.until(lambda d: by_id("action-form").is_displayed())
    assert "<script>window.zrPwned=3</script>" in by_id("action-title").text
    opts = [o.text for o in drv.find_elements(By.CSS_SELECTOR, "#arg-what option")]
    assert "<svg onload=window.zrPwned=4>" in opts, opts
    drv.find_element(By.CSS_SELECTOR, "#action-form button[type=submit]").click()
    wait.until(lambda d: by_id("action-result").get_attribute("data-state") == "ok")
    assert by_id("result-text").text == "<script>window.zrPwned=7</script>"
    wait.until(lambda d: "<img src=x onerror=window.zrPwned=6>" in by_id("task-log").text)
    st, state = http("/v1/evil/e1/state")
    if b"zrPwned=8" in state:
        wait.until(lambda d: "zrPwned=8" in by_id("svc-state").text)
    assert "zrPwned=10" in by_id("svc-data").text
    drv.execute_script("location.hash = '#/'")
    wait.until(lambda d: "\u202eevil" in by_id("templates").text)
    assert "<img src=x onerror=window.zrPwned=1>" in by_id("templates").text
    assert drv.execute_script("return window.zrPwned") is None, "a payload ran"
    made = drv.execute_script(
        "return document.querySelectorAll('main img, main script, main iframe, main b, "
        "main svg:not(.chart):not(#graph), [onerror], [onload]').length")
    assert made == 0, "%d elements made from the robot's text" % made
    names = drv.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)")
    away = [n for n in names if not n.startswith(URL + "/")]
    assert not away, "requests away from the robot: %r" % away
    ok("markup in descriptions, enums, logs, results, state and data shows as text; "
       "%d requests, all to the robot" % len(names))
    http("/v1/evil/e1", method="DELETE")


def run_task(path, action):
    st, body = http("/v1/%s/actions/%s" % (path, action), method="POST", body=b"{}")
    assert st in (200, 201, 202), "%s %s: %d %s" % (path, action, st, body)
    task = json.loads(body)["id"]
    st, _ = http("/v1/%s/tasks/%d/result?wait=20" % (path, task))
    assert st == 200, "%s's task %d: %d" % (path, task, st)
    return task


def check_task_cost(drv, wait):
    """A task run while a service's page is open costs a few requests, not a re-read of the
    20 tasks listed."""
    by_id = lambda i: drv.find_element(By.ID, i)
    for _ in range(20):
        run_task("kv/s000", "ping")
    drv.execute_script("location.hash = '#/svc/kv/s000'")
    wait.until(lambda d: by_id("svc-title").text == "kv/s000")
    task_rows = lambda: drv.find_elements(By.CSS_SELECTOR, "#svc-tasks tbody tr")
    wait.until(lambda d: len(task_rows()) == 20)
    time.sleep(1)
    before = requests_total()
    task = run_task("kv/s000", "ping")
    wait.until(lambda d: any(r.get_attribute("data-task") == str(task) and "ok" in r.text
                             for r in task_rows()))
    time.sleep(2)
    spent = requests_total() - before
    assert len(task_rows()) == 20, "%d tasks listed" % len(task_rows())
    # The POST, the result's wait, the metrics read; the page: the task list and the new task
    # (its action, state, created) per burst of events, the state lines.
    assert spent <= 16, "one task run with its service's page open cost %d requests" % spent
    ok("one task run with its service's page open (20 tasks listed) costs %d requests" % spent)

    # A page for a server that does not exist (an old bookmark) says so and stops asking.
    drv.execute_script("location.hash = '#/svc/app/nope'")
    wait.until(lambda d: "404" in by_id("svc-error").text)
    time.sleep(1)
    spent = idle_cost()
    assert spent <= 1, "the page of no service, idle for 5 s, cost %d requests" % spent
    ok("the page of a server that does not exist: the 404 shown, %d requests idle" % spent)
    drv.execute_script("location.hash = '#/'")


def check_graph_live(drv, wait):
    """The graph follows a relation changed by a data write, without a reload."""
    drv.execute_script("location.hash = '#/graph'")
    edge = lambda d, to: d.find_elements(
        By.CSS_SELECTOR, "#graph g.edge[data-from='web/w1'][data-to='%s']" % to)
    create("web", "w1", {"db": "kv/s000"})
    wait.until(lambda d: edge(d, "kv/s000"))
    st, body = http("/v1/web/w1/data", method="PUT", body=b'{"db": "kv/s001"}')
    assert st == 204, "web/w1's data: %d %s" % (st, body)
    wait.until(lambda d: edge(d, "kv/s001") and not edge(d, "kv/s000"))
    ok("the graph follows a relation changed by a data write")
    drv.execute_script("location.hash = '#/'")


def check_user(drv, wait, rows):
    """A user token sees what Roles allow and is told the rest; a page left open stays cheap:
    no retry loop on a refusal."""
    by_id = lambda i: drv.find_element(By.ID, i)
    create("app", "adm", {"password": "hunter2"})
    st, body = http("/v1/app/adm/actions/start", method="POST", body=b"{}")
    assert st in (200, 201, 202), "start app/adm: %d %s" % (st, body)
    task = json.loads(body)["id"]
    st, _ = http("/v1/app/adm/tasks/%d/result?wait=20" % task)
    assert st == 200, "app/adm's start: %d" % st
    # The admin's API answer holds the secret's value; the page never shows it, not even in
    # its source.
    drv.execute_script("location.hash = '#/svc/app/adm'")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#svc-data tr[data-field=password]"))
    drv.find_element(By.CSS_SELECTOR, "#svc-actions button[data-action=hi]").click()
    assert "hunter2" not in drv.page_source, "the secret is in the admin's page"
    assert drv.execute_script(
        "return [...document.querySelectorAll('input, textarea')].some((e) => "
        "e.value.includes('hunter2'))") is False, "the secret is in a form"
    ok("the admin's service page: the secret in no text, attribute nor form")
    drv.execute_script("location.hash = '#/'")
    by_id("logout").click()
    wait.until(lambda d: by_id("view-login").is_displayed())
    by_id("token").send_keys(USER)
    by_id("login-form").submit()
    wait.until(lambda d: by_id("view-overview").is_displayed())
    wait.until(lambda d: "app/adm" in rows() and by_id("live").text == "live")
    time.sleep(1)
    spent = idle_cost()
    assert spent <= 2, "the overview, idle for 5 s with a user token, cost %d requests" % spent
    ok("the overview with a user token: idle for 5 s, %d requests" % spent)

    drv.execute_script("location.hash = '#/svc/app/adm'")
    wait.until(lambda d: by_id("svc-title").text == "app/adm")
    note = wait.until(lambda d: by_id("svc-data-note").is_displayed() and by_id("svc-data-note"))
    assert "may not read" in note.text, "the data note: %r" % note.text
    assert "hunter2" not in drv.page_source
    wait.until(lambda d: int(by_id("chart-rss").get_attribute("data-samples")) >= 1)
    spent = idle_cost()
    # The chart's sample every 2 s, and nothing else.
    assert spent <= 4, "another's service page, idle for 5 s with a user token, cost %d " \
        "requests" % spent
    ok("another's server's page with a user token: data refused and said so; idle 5 s, "
       "%d requests" % spent)
    drv.find_element(By.CSS_SELECTOR, "#svc-actions button[data-action=hi]").click()
    wait.until(lambda d: by_id("action-form").is_displayed())
    drv.find_element(By.CSS_SELECTOR, "#action-form button[type=submit]").click()
    err = wait.until(lambda d: by_id("action-error").is_displayed() and by_id("action-error"))
    assert "403" in err.text, "the refused action's message: %r" % err.text
    ok("an action on another's service: the 403 shows on its form")

    st, _ = http("/v1/app/adm", method="DELETE")
    assert st in (200, 204), "delete app/adm: %d" % st
    wait.until(lambda d: "deleted" in by_id("svc-error").text)
    time.sleep(1)
    spent = idle_cost()
    assert spent <= 1, "a deleted service's page, idle for 5 s, cost %d requests" % spent
    ok("the page of a service deleted meanwhile says so and stops reading it (%d requests)"
       % spent)

    drv.execute_script("location.hash = '#/graph'")
    wait.until(lambda d: by_id("view-graph").is_displayed())
    time.sleep(1)
    spent = idle_cost()
    assert spent <= 1, "the graph, idle for 5 s, cost %d requests" % spent
    ok("the graph idle for 5 s: %d requests" % spent)


def check_bad_route(drv, wait):
    """A malformed address (a lone % in the hash) is not a page stuck on the login form."""
    by_id = lambda i: drv.find_element(By.ID, i)
    drv.execute_script("location.hash = '#/svc/%E0%A4%A/x'")
    wait.until(lambda d: by_id("view-overview").is_displayed())
    drv.refresh()
    wait.until(lambda d: by_id("view-overview").is_displayed() and by_id("nav").is_displayed())
    assert not by_id("view-login").is_displayed()
    ok("a malformed hash shows the overview, before and after a reload")


def check_overview_cost(drv, wait, rows):
    """A service created while the overview is open costs a few requests, not a re-read of
    every service (the page must stay cheap with hundreds of services)."""
    n = 60
    for i in range(n):
        create("kv", "s%03d" % i)
    drv.refresh()
    wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
    wait.until(lambda d: len(rows()) == n)
    time.sleep(1)
    before = requests_total()
    create("kv", "zz-new")
    wait.until(lambda d: "kv/zz-new" in rows())
    time.sleep(2)  # whatever the page does for this event, it has done by now
    # The create, the two metric reads, and the page's reads of one service (info, state,
    # tasks): a full re-read would be more than n.
    spent = requests_total() - before
    assert spent <= 12, "one service created cost %d requests with %d services shown" % (
        spent, n + 1)
    ok("a service created with %d services shown costs %d requests" % (n, spent))
    st, _ = http("/v1/kv/zz-new", method="DELETE")
    assert st in (200, 204), "delete kv/zz-new: %d" % st
    wait.until(lambda d: "kv/zz-new" not in rows())
    time.sleep(2)
    assert len(rows()) == n, "rows after the delete: %d" % len(rows())
    ok("a deleted service leaves the overview")


def check_restart(drv, wait, rows):
    """The robot restarts (its event numbers start again from 1) while the page is open: the
    page reconnects and shows what changed, here a service created before it reconnected."""
    assert "kv/after-restart" not in rows()
    restart_robot()
    WebDriverWait(drv, 30, poll_frequency=0.2,
                  ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: "kv/after-restart" in rows() and d.find_element(By.ID, "live").text == "live")
    ok("after a robot restart the page shows the service created before it reconnected")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, TimeoutException) as e:
        print("FAIL: test-attack-web.py: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        import traceback
        traceback.print_exc()
        sys.exit(1)
