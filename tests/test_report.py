"""The day report: written by score-calls and `serflow report`, self-contained, and rendered in a real browser."""
import os
import re
import shutil
from pathlib import Path

import pytest

from data_contracts import schemas
from flows.cli import main
from flows.score import score_calls
from tasks.lib.day import day_calls, emotion_shares, today, top_calls
from tasks.lib.report import write_report
from tasks.lib.store import Store
from tasks.lib.synth import synth_calls

ARTIFACTS = Path(os.environ.get("SERFLOW_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
N_CALLS = 3


@pytest.fixture(scope="module")
def scored(trained_store, tmp_path_factory, dask_address):
    """A copy of the trained store with N_CALLS synthetic calls scored today, and the run's summary."""
    root = tmp_path_factory.mktemp("report") / "store"
    shutil.copytree(trained_store, root)
    inbox = tmp_path_factory.mktemp("report-inbox")
    synth_calls(inbox, n_calls=N_CALLS, turns=4)
    summary = score_calls(inbox=str(inbox), model="ser", store=str(root), dask_address=dask_address)
    return root, summary


def test_score_run_ends_with_a_self_contained_report(scored):
    root, summary = scored
    index = Path(summary.report.path)
    assert index == root / "reports" / today() / "index.html"
    calls = day_calls(Store.open(str(root)), today(), summary.model)  # what the artifact shows: the same rows
    assert summary.report.shares == emotion_shares(calls) and sum(summary.report.shares.values()) > 0.99
    assert summary.report.top["escalation"].equals(top_calls(calls, "escalation"))
    page = index.read_text()
    linked = set(re.findall(r'href="calls/(call-[^"]+\.html)"', page))
    assert len(linked) == N_CALLS and {p.name for p in (index.parent / "calls").iterdir()} == linked
    for html in [page, *(p.read_text() for p in (index.parent / "calls").iterdir())]:
        assert not re.search(r'(src|href)="(https?:)?//', html)  # no network: every image is inline
    assert page.count('src="data:image/png;base64,') == 2  # emotion shares, negative share by hour
    turns = Store.open(str(root)).read(schemas.TURNS_TABLE)
    for call in (index.parent / "calls").iterdir():  # a timeline bar for every row of the segments table
        timeline, table = call.read_text().split("<h2>Segments</h2>")
        assert 0 < timeline.count('class="segment"') == table.count("<tr") - 1
        call_id = re.search(r"<h1>Call (.+?)</h1>", timeline).group(1)
        turn_table = timeline.split("<h2>Turns</h2>")[1]  # a row per turn of the call
        assert turn_table.count("<tr") - 1 == (turns["call_id"] == call_id).sum() > 0


def test_report_command_and_an_empty_day(scored, tmp_path, capsys):
    root, _ = scored
    assert main(["report", "--store", str(root), "--date", today()]) == 0
    assert capsys.readouterr().out.strip() == str(root / "reports" / today() / "index.html")
    pages = list((root / "reports" / today() / "calls").iterdir())  # redrawn from the tables, turns included
    assert pages and all("<h2>Turns</h2>" in p.read_text() for p in pages)
    empty = Path(write_report(Store.open(str(tmp_path)), "2020-01-01"))
    assert "No call with speech" in empty.read_text()
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--store", str(root), "--date", "2026-13-01"])
    assert exit_.value.code == 2 and "not a YYYY-MM-DD date" in capsys.readouterr().err


def browser():
    """Headless Debian Chromium through Selenium, offline and with a throwaway profile; skip if absent."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("chromium and chromium-driver are not installed (make test installs them with apt-get)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1200,1600"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def rendered(driver, selector: str) -> bool:
    """Every image matched has decoded (naturalWidth > 0), and there is at least one."""
    return driver.execute_script(
        "const imgs = [...document.querySelectorAll(arguments[0])];"
        "return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);", selector)


def test_report_renders_in_a_headless_browser(scored, tmp_path):
    root, summary = scored
    driver = browser()
    try:
        from selenium.webdriver.common.by import By

        driver.get(Path(summary.report.path).as_uri())
        rows = driver.find_elements(By.CSS_SELECTOR, "#calls a.call")
        assert len({r.text for r in rows}) == N_CALLS
        assert rendered(driver, "img")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "report-day.png"))
        rows[0].click()
        assert driver.find_element(By.TAG_NAME, "h1").text.startswith("Call ")
        timeline = driver.find_element(By.CSS_SELECTOR, 'svg[aria-label="emotion timeline"]')
        bars = timeline.find_elements(By.CSS_SELECTOR, "rect.segment")
        assert timeline.size["width"] > 500 and bars and all(b.size["width"] >= 1 for b in bars)
        assert driver.find_elements(By.CSS_SELECTOR, "table tr")  # KPIs and segments
        driver.save_screenshot(str(ARTIFACTS / "report-call.png"))
    finally:
        driver.quit()
