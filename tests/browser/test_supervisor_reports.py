"""The supervisors' report page (``GET /supervisor/reports``) in headless chromium, over the SAME
hand-built day of calls as the KPI test (tests/queueing/test_kpis.py: imported, not copied): every
figure the page shows is that test's known answer, the server's plots load as images, the range
picker picks that day, the texts switch language, and a call-taker is told the page is not theirs."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from api.report_plots import PLOTS, SIZE_PX
from queueing.accounts import Accounts, check_user
from queueing.keys import Keys
from tests.browser.conftest import CITY, SCREENSHOTS, Requests, Server
from tests.queueing.test_kpis import CALLBACKS, CALLS, DAY, T0, TRANSFERS

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
SECTIONS = 8


def seed_kpi_day(server: Server) -> None:
    """The KPI test's records, as Redis holds them: call hashes indexed by arrival, callback tasks, transfers."""
    keys, client = Keys(), server.client
    for record in CALLS:
        client.hset(keys.call(record["call_id"]), mapping=record)
        client.zadd(keys.calls(), {record["call_id"]: int(record["arrived_ms"])})
    for task in CALLBACKS:
        client.hset(keys.callback(task["call_id"]), mapping=task)
    for call_id, transfer in TRANSFERS.items():
        client.hset(keys.transfer(call_id), mapping=transfer)


@pytest.fixture
def reports(browser, server: Server, request: pytest.FixtureRequest):
    """A page in a UTC browser (so a picked day is T0's), signed out; no request leaves 127.0.0.1."""
    seed_kpi_day(server)
    accounts = Accounts(server.client)
    accounts.add_user(check_user(CITY, "sup.anh", "supervisor", None, None), PASSWORD)
    accounts.add_user(check_user(CITY, "lan.nguyen", "call_taker", "police", None), PASSWORD)
    context = browser.new_context(base_url=server.url, locale="vi-VN", timezone_id="UTC",
                                  viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    seen, errors = Requests(), []
    page.on("request", lambda r: seen.urls.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield page
        assert not errors, f"the page threw: {errors}"
        assert not seen.outside(), f"requests to other hosts: {seen.outside()}"
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"reports-{request.node.name}.png"), full_page=True)
        context.close()


def sign_in(page: Page, user: str = "sup.anh") -> None:
    expect(page.locator("#signin")).to_be_visible()
    page.fill("#signin-user", user)
    page.fill("#signin-password", PASSWORD)
    page.press("#signin-password", "Enter")


def cell(page: Page, key: str):
    return page.locator(f'[data-key="{key}"]')


def plots_loaded(page: Page) -> None:
    """Every plot image fetched and decoded by the browser at the server's size."""
    expect(page.locator("img[data-plot]")).to_have_count(SECTIONS)
    page.wait_for_function(
        "([w, h]) => [...document.querySelectorAll('img[data-plot]')]"
        ".every((i) => i.complete && i.naturalWidth === w && i.naturalHeight === h)", arg=list(SIZE_PX))
    assert {p for p in page.locator("img[data-plot]").evaluate_all("els => els.map((e) => e.dataset.plot)")} <= set(PLOTS)


# The KPI test's known answers (tests/queueing/test_kpis.py), as the page words them: ms as seconds
# with one decimal, percentages with two.
KNOWN = {
    # test_overall
    "overall.calls": "14", "overall.answered": "7", "overall.abandoned": "5", "overall.short_abandoned": "2",
    "overall.answer_histogram.0-5": "0", "overall.answer_histogram.5-10": "2", "overall.answer_histogram.10-15": "1",
    "overall.answer_histogram.15-20": "2", "overall.answer_histogram.20-40": "1", "overall.answer_histogram.>40": "1",
    "overall.answer_ms.p50": "16.0 s", "overall.answer_ms.p90": "45.0 s", "overall.answer_ms.p95": "45.0 s",
    "overall.average_answer_ms": "19.0 s",
    "overall.queue_to_answer.count": "7", "overall.queue_to_answer.average_ms": "12.1 s",
    "overall.queue_to_answer.p90_ms": "42.0 s",
    "overall.abandon_rate_percent": "35.71 %",
    "overall.abandon_rate_by_stage_percent.ivr": "2 · 14.29 %",
    "overall.abandon_rate_by_stage_percent.queued": "2 · 14.29 %",
    "overall.abandon_rate_by_stage_percent.ringing": "1 · 7.14 %",
    "overall.abandon_rate_without_short_percent": "21.43 %",
    "overall.false_calls": "2", "overall.pranks": "1", "overall.false_call_percent": "28.57 %",
    "overall.prank_percent": "14.29 %",
    "overall.eu112.average_answer_ms": "19.0 s", "overall.eu112.answered_within_10s_percent": "28.57 %",
    "overall.eu112.slowest_10_percent_average_ms": "45.0 s", "overall.eu112.abandon_rate_percent": "35.71 %",
    "overall.eu112.false_call_percent": "42.86 %",
    "overall.calls_per_hour.8": "3", "overall.calls_per_hour.9": "2", "overall.calls_per_hour.23": "1",
    # test_police
    "police.calls": "6", "police.answered": "4", "police.answer_ms.p50": "9.0 s", "police.answer_ms.p90": "25.0 s",
    "police.average_answer_ms": "13.0 s", "police.queue_to_answer.average_ms": "7.3 s",
    "police.abandon_rate_percent": "16.67 %", "police.false_call_percent": "25.00 %", "police.prank_percent": "25.00 %",
    "police.eu112.answered_within_10s_percent": "50.00 %", "police.eu112.false_call_percent": "50.00 %",
    "police.calls_per_hour.8": "3",
    # test_fire
    "fire.calls": "4", "fire.answered": "2", "fire.answer_histogram.15-20": "1", "fire.answer_histogram.>40": "1",
    "fire.average_answer_ms": "30.5 s", "fire.queue_to_answer.average_ms": "24.0 s", "fire.short_abandoned": "1",
    "fire.abandon_rate_percent": "50.00 %", "fire.abandon_rate_without_short_percent": "25.00 %",
    # test_general_and_no_queue: nothing answered is "—", not 0
    "general.calls": "2", "general.answer_ms.p50": "20.0 s", "none.calls": "2", "none.answer_ms.p50": "—",
    "none.average_answer_ms": "—", "none.abandon_rate_percent": "100.00 %",
    # test_repeats_callbacks_transfers
    "repeats.numbers": "2", "repeats.calls": "5", "repeats.top.0901": "3", "repeats.top.0921": "2",
    "callbacks.by_status.given_up": "1", "callbacks.by_status.not_needed": "1", "callbacks.by_status.pending": "1",
    "callbacks.by_status.reached": "2", "callbacks.by_last_outcome.none": "2",
    "callbacks.abandon_to_first_attempt.count": "3", "callbacks.abandon_to_first_attempt.average_ms": "60.0 s",
    "callbacks.abandon_to_first_attempt.p90_ms": "90.0 s", "callbacks.abandon_to_reached.average_ms": "210.0 s",
    "callbacks.abandon_to_reached.p90_ms": "300.0 s",
    "transfers.transferred": "1", "transfers.answered_at_target": "1",
    "transfers.first_answer_to_target_answer.average_ms": "69.0 s",
    "transfers.requeue_to_target_answer.average_ms": "15.0 s",
}


def test_the_page_shows_the_kpi_tests_known_answers_and_its_plots(reports: Page):
    reports.goto(f"/supervisor/reports?from_ms={T0}&to_ms={T0 + DAY}")
    sign_in(reports)
    expect(reports.locator("#report")).to_be_visible()
    expect(reports.locator("section.kpi")).to_have_count(SECTIONS)
    for key, text in KNOWN.items():
        shown = cell(reports, key)  # a figure in two tables (answered) shows the same in both
        expect(shown.first).to_have_text(text)
        expect(shown).to_have_text([text] * shown.count())
    # service levels: within 15 s 3/7, within 20 s 5/7, neither target met (said in words and a symbol)
    expect(cell(reports, "overall.service_levels.15")).to_have_text("42.86 % chưa đạt ✗")
    expect(cell(reports, "general.service_levels.20")).to_have_text("100.00 % đạt ✓")
    # X1 and X2 are outside the range: 14 calls, not 16; the hours with no call have no row
    expect(reports.locator('[data-key="overall.calls_per_hour.0"]')).to_have_count(0)
    plots_loaded(reports)
    csv = reports.locator("#csv-link")
    expect(csv).to_have_attribute("href", f"/reports/calls.csv?from_ms={T0}&to_ms={T0 + DAY}")
    assert reports.request.get(csv.get_attribute("href")).text().count("\r\n") == 1 + 14
    expect(reports.locator("#to-wallboard")).to_have_attribute("href", "/supervisor")
    # a definition beside each plot, from docs/kpis.md
    expect(reports.locator("#sec-answer_histogram .definition")).to_contain_text("NENA")


def test_the_range_picker_and_the_language(reports: Page):
    reports.goto(f"/supervisor/reports?from_ms={T0 + 2 * DAY}&to_ms={T0 + 3 * DAY}")  # two days later: no calls
    sign_in(reports)
    expect(cell(reports, "overall.calls").first).to_have_text("0")
    reports.check("#kind-day")
    reports.fill("#range-day", "2026-01-01")  # T0's day in UTC
    reports.press("#range-day", "Enter")
    expect(cell(reports, "overall.calls").first).to_have_text("14")
    assert reports.evaluate("location.search") == f"?from_ms={T0}&to_ms={T0 + DAY}"
    # any range: 08:00 to 10:00 holds P1..P5 only
    reports.check("#kind-range")
    reports.fill("#range-from", "2026-01-01T08:00")
    reports.fill("#range-to", "2026-01-01T10:00")
    reports.click("#range-show")
    expect(cell(reports, "overall.calls").first).to_have_text("5")
    expect(cell(reports, "overall.calls_per_hour.1")).to_have_text("2")
    plots_loaded(reports)
    expect(reports.locator("#title-abandons")).to_have_text("Bỏ máy theo giai đoạn")
    reports.get_by_role("button", name="English").click()
    expect(reports.locator("#title-abandons")).to_have_text("Abandons by stage")
    expect(reports.locator('img[data-plot="abandons"]')).to_have_attribute("src", f"/reports/plots/abandons.png?from_ms={T0 + 8 * 3_600_000}&to_ms={T0 + 10 * 3_600_000}&lang=en")
    plots_loaded(reports)


def test_a_call_taker_is_told_the_reports_are_not_theirs(reports: Page):
    reports.goto("/supervisor/reports")
    sign_in(reports, "lan.nguyen")
    expect(reports.locator("#signin-error")).to_contain_text("call_taker")
    expect(reports.locator("#report")).to_be_hidden()
    assert reports.request.get(f"/reports/plots/abandons.png?from_ms={T0}&to_ms={T0 + DAY}").status == 403
