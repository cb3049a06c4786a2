"""The app as a person sees it: `python app.py` on 127.0.0.1, driven by a real Chromium through
Playwright. The tests assert on what is on the page (text, images), not on internal state, and save a
screenshot of every tab under test-artifacts/ (BABYBERT_TEST_ARTIFACTS).

Needs Debian's chromium (`apt-get install chromium`; .ci/run installs it when missing) and the
`playwright` package (requirements-dev.txt). Where no browser can be had, these tests are skipped and
the test summary says so in capitals (conftest.py); with BABYBERT_REQUIRE_BROWSER=1 (.ci/run sets it)
they fail instead, so that CI cannot pass without them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import HUB_TOKENS, WRITE, animal_corpus, start_app_process

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("BABYBERT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("BABYBERT_TEST_ARTIFACTS", ROOT / "test-artifacts"))
WIDTH = 1280  # a laptop screen

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - reported by the skip below
    sync_playwright = None

MISSING = ("the playwright package is not installed" if sync_playwright is None else
           f"no Chromium at {CHROMIUM}" if not Path(CHROMIUM).exists() else None)
REQUIRED = os.environ.get("BABYBERT_REQUIRE_BROWSER") == "1"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(MISSING is not None and not REQUIRED, reason=f"NO BROWSER: {MISSING}")]


@pytest.fixture(scope="module", autouse=True)
def browser_required():
    """Where a browser is required (CI) but missing, every test here fails, before any starts an app."""
    if MISSING is not None:  # (reached only with BABYBERT_REQUIRE_BROWSER=1: skipped otherwise)
        pytest.fail(f"NO BROWSER: {MISSING}, and BABYBERT_REQUIRE_BROWSER=1 (.ci/run) requires the browser tests")


def long_sentence(i: int) -> str:
    """A held-out-like verse of ~60 words, so that the examples table must wrap its sentence column."""
    a, b = ["cow", "dog", "cat", "duck", "sheep", "owl"][i % 6], ["farm", "house", "barn", "pond", "field", "tree"][i % 6]
    return " ".join([f"in the morning the {a} walks slowly from the {b} to the river and back again"] * 4) + "."


def browser_corpus() -> str:
    """The animal corpus, with long sentences second and third in every document: the Train tab
    shows held-out sentence 1, 2, ... at its evaluations."""
    docs = [d.split("\n") for d in animal_corpus(36).strip().split("\n\n")]
    return "\n\n".join("\n".join([d[0], long_sentence(i), long_sentence(i + 1), *d[1:]]) for i, d in enumerate(docs)) + "\n"


def source_files() -> dict[str, float]:
    """The checkout's files and their modification times, without what tools and tests write there."""
    files = {}
    for folder, subfolders, names in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if d not in {".git", ".venv", "test-artifacts", ".pytest_cache", "__pycache__"}]
        files.update({f"{folder}/{name}": os.stat(f"{folder}/{name}").st_mtime for name in names})
    return files


@pytest.fixture(scope="module")
def hub(module_hub):
    return module_hub


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, hub):
    """`python app.py` as a user starts it, with its runs and the Hub pointed at test places."""
    runs = tmp_path_factory.mktemp("runs")
    log = open(tmp_path_factory.mktemp("log") / "app.log", "w+")
    machine = tmp_path_factory.mktemp("machine")  # the server's home, temporary and Gradio cache folders
    (machine / "tmp").mkdir()
    checkout = source_files()
    server, url = start_app_process(log, BABYBERT_RUNS_DIR=str(runs), HF_ENDPOINT=hub.endpoint, HOME=str(machine / "home"),
                                    TMPDIR=str(machine / "tmp"), GRADIO_TEMP_DIR=str(machine / "gradio"))
    yield url
    # files are written only under the sessions' folders and Gradio's cache (live plots, uploads,
    # downloads), besides matplotlib's font cache: nothing in the checkout, home or /tmp
    elsewhere = [p for p in machine.rglob("*") if p.is_file() and not p.is_relative_to(machine / "gradio")
                 and not p.is_relative_to(machine / "home/.cache/matplotlib")]
    assert not elsewhere, f"the app wrote outside its folders: {elsewhere}"
    assert source_files() == checkout, "the app wrote into the source checkout"
    log.seek(0)
    written = [p.read_bytes() for p in runs.rglob("*") if p.is_file()] + [log.read().encode()]
    for token in HUB_TOKENS:  # no token in the server's log or in any file it wrote
        assert not any(token.encode() in data for data in written), "a Hub token leaked into the app's log or files"
    children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
    server.send_signal(signal.SIGTERM)  # as a Space or systemd stops it
    try:
        server.wait(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
        log.close()
    time.sleep(1)
    assert children, "the app should run its training worker in a process of its own"
    left = [pid for pid in children if Path(f"/proc/{pid}").exists()]
    assert not left, f"processes left behind after SIGTERM: {left}"


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def new_user(browser, url: str):
    """A person opening the app in a browser of their own (own cookies, own Gradio session)."""
    page = browser.new_context(viewport={"width": WIDTH, "height": 900}).new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    expect(page.get_by_role("heading", name="BabyBERT")).to_be_visible(timeout=60_000)
    return page


@pytest.fixture(scope="module")
def page(browser, app_url):
    return new_user(browser, app_url)


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def set_number(page, label: str, value) -> None:
    """A slider's number box, as a person types into it."""
    box = page.get_by_label(f"number input for {label}")
    box.fill(str(value))
    box.press("Enter")


def toast_text(page) -> str:
    """The text of the error toast(s) on screen."""
    toast = page.locator(".toast-body").last
    expect(toast).to_be_visible()
    return toast.inner_text()


def test_train_watch_stop_then_use_the_model(page):
    open_tab(page, "Train")
    page.get_by_label("Corpus", exact=True).fill(browser_corpus())
    expect(page.locator("#corpus-stats")).to_contain_text("36 documents")
    set_number(page, "Time budget (seconds)", 120)
    page.get_by_role("button", name="Start training").click()

    plot = page.locator("#loss-plot img")
    expect(plot).to_be_visible(timeout=90_000)
    first = plot.get_attribute("src")
    expect(plot).not_to_have_attribute("src", first, timeout=30_000)  # the plot changes as training goes on
    expect(page.get_by_text(re.compile(r"step \d+"))).to_be_visible()
    page.get_by_role("button", name="Start training").click()  # clicked twice
    assert "already training; press Stop first" in toast_text(page)
    page.wait_for_timeout(8_000)  # long enough for an evaluation or two
    page.get_by_role("button", name="Stop").click()
    status = page.locator("#train-status")
    expect(status).to_contain_text("finished after", timeout=60_000)
    expect(status).to_contain_text("stopped")
    expect(page.get_by_text("Final held-out metrics", exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_text("whole-word accuracy")).to_be_visible()
    expect(page.get_by_text("Download the checkpoint (zip)")).to_be_visible(timeout=30_000)
    shot(page, "train")


def test_examples_table_shows_truth_and_guess_at_laptop_width(page):
    """With verses of ~60 words the columns that matter stay on screen without scrolling sideways."""
    table = page.locator("#samples")
    table.scroll_into_view_if_needed()
    for header in ("truth", "model's guess"):
        cell = table.get_by_role("columnheader", name=header)
        box = cell.bounding_box()
        assert box is not None and box["width"] > 40, f"the {header!r} column is hidden"
        assert box["x"] + box["width"] <= WIDTH, f"the {header!r} column is off-screen at {WIDTH} px: {box}"
    assert "walks slowly" in table.inner_text()  # long sentences were shown in it


def test_a_second_run_with_another_learning_rate_is_compared_with_the_first(page):
    """Change one setting, train again: the runs table names the setting that changed, the CSV
    is offered, and the plot draws the first run behind the second."""
    open_tab(page, "Train")
    page.get_by_text("Model size", exact=True).click()  # the accordion
    page.get_by_text("from a Hub repo").click()  # the tokenizer choice shows its repository field...
    expect(page.locator("#tokenizer-repo")).to_be_visible()
    expect(page.get_by_label("number input for Vocabulary size (from the tokenizer)")).to_be_disabled()
    page.get_by_text("train a WordPiece on my corpus").click()  # ...and hides it again
    expect(page.locator("#tokenizer-repo")).to_be_hidden()
    runs = page.locator("#runs")
    expect(runs).to_contain_text("run 1")
    page.get_by_text("Training", exact=True).click()  # the accordion
    page.get_by_label("Peak learning rate").fill("0.005")
    set_number(page, "Time budget (seconds)", 6)
    page.get_by_role("button", name="Start training").click()
    expect(page.locator("#train-status")).to_contain_text("time budget used", timeout=120_000)
    expect(runs).to_contain_text("run 2", timeout=30_000)
    expect(runs.get_by_role("columnheader", name="lr")).to_be_visible()
    expect(runs).to_contain_text("5e-3")
    expect(page.locator("#runs-csv").get_by_role("cell", name="babybert-runs.csv")).to_be_visible()
    shot(page, "runs")


def test_fill_mask_with_the_trained_model(page):
    open_tab(page, "Fill-mask")
    expect(page.get_by_label("Model", exact=True).first).to_have_value("the model you trained")
    page.get_by_label("Sentence with one or more [MASK]").fill("every morning the cow says [MASK].")
    page.get_by_role("button", name="Fill the mask").click()
    expect(page.locator("#fill-table")).to_contain_text("trained")
    expect(page.locator("#fill-label")).to_contain_text("%")
    # its examples are the trained model's own held-out text, not the default's world facts
    expect(page.locator("#fill-examples")).not_to_contain_text("capital of japan")
    shot(page, "fill-mask")


def test_next_sentence_with_examples_from_the_models_text(page):
    open_tab(page, "Next sentence")
    examples = page.locator("#nsp-examples")
    expect(examples).not_to_contain_text("capital of peru")  # world facts belong to the default model
    expect(examples).to_contain_text("the")
    page.get_by_label("Sentence A").fill("the cow lives in the farm.")
    page.get_by_label("Sentence B").fill("every morning the cow says moo.")
    page.get_by_role("button", name="Does B follow A?").click()
    expect(page.locator("#nsp-verdict")).to_contain_text("IsNext")
    expect(page.locator("#nsp-verdict")).to_contain_text("%")
    shot(page, "next-sentence")


def test_which_is_more_natural_draws_each_piece_and_another_pair_swaps_in(page):
    open_tab(page, "Next sentence")
    page.get_by_label("Minimal pair: A").fill("every morning the cow says moo.")
    page.get_by_label("Minimal pair: B").fill("morning every cow the moo says.")
    page.get_by_role("button", name="Which is more natural?").click()
    expect(page.locator("#pair-verdict")).to_contain_text("A is more natural")  # the trained model's own sentence
    expect(page.locator("#pair-plot img")).to_be_visible()  # the drawn figure (a spinner is an svg)
    page.get_by_role("button", name="Another pair").click()
    expect(page.locator("#pair-note")).to_contain_text("The grammatical sentence is")
    assert page.get_by_label("Minimal pair: A").input_value() != "every morning the cow says moo."


def test_model_tab_draws_the_diagram_and_attention(page):
    open_tab(page, "Model")
    expect(page.locator("#architecture img")).to_be_visible()  # the drawn figure (a spinner is an svg)
    expect(page.get_by_text("what masking did")).to_be_visible()
    page.get_by_role("button", name="Show attention").click()
    heatmap = page.locator("#attention img")
    expect(heatmap).to_be_visible()
    assert heatmap.bounding_box()["height"] > 100  # a heatmap, not an icon
    page.get_by_label("Text", exact=True).fill("the cow says moo to the barnyard.")
    page.get_by_role("button", name="Tokenize").click()
    expect(page.locator("#pieces")).to_contain_text("##")  # a word this model's vocabulary splits
    expect(page.locator("#vocab-summary")).to_contain_text("split into several pieces")
    page.get_by_label("Word (its nearest neighbours are marked)").fill("cow")
    page.get_by_role("button", name="Show embeddings").click()
    drawing = page.locator("#embeddings img")
    expect(drawing).to_be_visible()
    assert drawing.bounding_box()["height"] > 200
    expect(page.locator("#neighbours")).to_contain_text("cosine similarity")
    expect(page.locator("#neighbours")).to_contain_text(re.compile(r"\b10\s+\S+\s+-?0\.\d+"))  # rank 10, a piece, a cosine
    shot(page, "model")


def test_push_then_pull_through_the_hub_stand_in(page, hub):
    open_tab(page, "Hub")
    page.get_by_label("Repository").first.fill("alice/babybert-browser")
    page.get_by_label("Access token with write access (not needed when signed in)").fill(WRITE)
    page.get_by_role("button", name="Push", exact=True).click()
    expect(page.locator("#push-result")).to_contain_text("Pushed to")
    assert "model.safetensors" in hub.files("alice/babybert-browser")
    page.get_by_label("Repository").nth(1).fill("alice/babybert-browser")
    page.get_by_role("button", name="Pull", exact=True).click()
    expect(page.locator("#pull-result")).to_contain_text("Pulled alice/babybert-browser")
    expect(page.locator("#pull-result")).to_contain_text("made by")
    assert WRITE not in page.content()  # the token never comes back to the page
    assert not any(WRITE.encode() in data for data in hub.files("alice/babybert-browser").values())  # nor into the repo
    shot(page, "hub")


def test_a_bad_upload_gets_a_message_and_the_app_keeps_working(page, tmp_path):
    open_tab(page, "Train")
    binary = tmp_path / "photo.txt"
    binary.write_bytes(bytes(range(256)) * 64)  # not text, whatever its name says
    page.locator("#upload input[type=file]").set_input_files(str(binary))
    assert "not" in toast_text(page).lower() and "text" in toast_text(page).lower()
    shot(page, "bad-upload")
    open_tab(page, "Fill-mask")  # the server is still answering, with the model pulled last
    page.get_by_role("button", name="Fill the mask").click()
    expect(page.locator("#fill-table")).to_contain_text("pulled")


def test_four_users_at_once_each_see_only_their_own_run(browser, app_url):
    """Ana and Ben train, one at a time on this server: Ben is told he waits, and his place in the
    queue, with no plot of Ana's run on his page. Cleo's mistake is told at once, not after the queue.
    Cleo and Dan use the playground meanwhile, and Dan's Stop, with nothing of his running, stops
    nobody's training."""
    ana, ben, cleo, dan = (new_user(browser, app_url) for _ in range(4))
    ana.get_by_label("Corpus", exact=True).fill(browser_corpus())  # Ben keeps the world facts example
    set_number(ana, "Time budget (seconds)", 20)
    set_number(ben, "Time budget (seconds)", 4)
    ana.get_by_role("button", name="Start training").click()
    expect(ana.locator("#loss-plot img")).to_be_visible(timeout=90_000)
    ben.get_by_role("button", name="Start training").click()
    expect(ben.locator("#train-status")).to_contain_text("Waiting for a free training slot")
    expect(ben.locator("#loss-plot")).to_contain_text(re.compile(r"queue: 1/1"))
    expect(ben.locator("#loss-plot img")).to_have_count(0)  # nothing of Ana's run on Ben's page
    cleo.get_by_label("Corpus", exact=True).fill("")
    cleo.get_by_role("button", name="Start training").click()
    assert "corpus is empty" in toast_text(cleo)  # told at once, not after waiting behind Ana and Ben
    assert "finished" not in ana.locator("#train-status").inner_text()
    shot(ben, "four-users-ben-waits")
    open_tab(cleo, "Fill-mask")
    cleo.get_by_role("button", name="Fill the mask").click()
    expect(cleo.locator("#fill-label")).to_contain_text("paris")
    dan.get_by_role("button", name="Stop").click()
    expect(dan.locator("#train-status")).to_contain_text("Nothing is training in this session")
    open_tab(dan, "Next sentence")
    dan.get_by_label("Sentence A").fill("the capital of peru is lima.")
    dan.get_by_label("Sentence B").fill("lima is the largest city in peru.")
    dan.get_by_role("button", name="Does B follow A?").click()
    expect(dan.locator("#nsp-verdict")).to_contain_text("%")

    ana_status = ana.locator("#train-status")
    expect(ana_status).to_contain_text("finished after", timeout=90_000)
    expect(ana_status).to_contain_text("time budget used")  # not "stopped": Dan's Stop was his own
    expect(ben.locator("#loss-plot img")).to_be_visible(timeout=90_000)  # Ben's turn
    ana_plot = ana.locator("#loss-plot img").get_attribute("src")
    expect(ben.locator("#train-status")).to_contain_text("time budget used", timeout=90_000)
    assert ana.locator("#loss-plot img").get_attribute("src") == ana_plot  # Ben's run drew nothing on Ana's page
    assert ben.locator("#loss-plot img").get_attribute("src") != ana_plot
    expect(ana.locator("#samples")).to_contain_text("walks slowly")  # held-out text of Ana's corpus...
    expect(ben.locator("#samples")).to_contain_text("right")
    expect(ben.locator("#samples")).not_to_contain_text("walks slowly")  # ...never on Ben's page
    shot(ana, "four-users-ana")
    shot(ben, "four-users-ben")
