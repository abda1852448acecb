"""Opens the tour in real JupyterLab in headless Chromium, runs all cells, and checks that the
live chart redraws in place and ends rendered. Saves a screenshot for the README.

Run by tests/jupyterlab/run.sh (it installs what this needs); not part of ./test.sh because it
needs Chromium from Debian's packages and JupyterLab.

Usage: python tour_in_jupyterlab.py TRAINBOOK_BIN SCREENSHOT.png
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ROOT = Path(__file__).resolve().parents[2]
trainbook, screenshot = sys.argv[1], Path(sys.argv[2])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


driver = None


def fail(message):
    if driver is not None:
        driver.save_screenshot("/tmp/trainbook-jupyterlab-failure.png")
        print("screenshot of the failure: /tmp/trainbook-jupyterlab-failure.png")
    log = work / "lab.log"
    if log.exists():
        print(log.read_text()[-3000:])
    print(f"FAIL: {message}")
    sys.exit(1)


def decode_svg(source):
    """The SVG text of an <img> data: URL (base64 or percent-encoded) or of inline SVG."""
    if not source.startswith("data:"):
        return source
    header, _, data = source.partition(",")
    if header.endswith(";base64"):
        return base64.b64decode(data).decode("utf-8", "replace")
    return urllib.parse.unquote(data)


work = Path(tempfile.mkdtemp(prefix="trainbook-lab-"))
env = dict(os.environ, JUPYTER_DATA_DIR=str(work / "data"), JUPYTER_CONFIG_DIR=str(work / "config"),
           JUPYTER_RUNTIME_DIR=str(work / "runtime"))
subprocess.run([trainbook, "install", "--user"], env=env, check=True)
# No "get Jupyter news?" pop-up over the screenshot.
(work / "config" / "labconfig").mkdir(parents=True)
(work / "config" / "labconfig" / "page_config.json").write_text(json.dumps(
    {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
shutil.copy(ROOT / "notebooks" / "00_tour.ipynb", work / "tour.ipynb")
# Start from a notebook without outputs, so everything seen was drawn in this run.
nb = json.loads((work / "tour.ipynb").read_text())
for cell in nb["cells"]:
    if cell["cell_type"] == "code":
        cell["outputs"], cell["execution_count"] = [], None
(work / "tour.ipynb").write_text(json.dumps(nb))

port, token = free_port(), "trainbook-test"
jupyter = shutil.which("jupyter", path=str(ROOT / ".venv" / "bin")) or shutil.which("jupyter")
lab = subprocess.Popen(
    [jupyter, "lab", "--no-browser", f"--port={port}", f"--IdentityProvider.token={token}",
     f"--ServerApp.root_dir={work}", "--ServerApp.ip=127.0.0.1"]
    # CI machines and containers run as root; JupyterLab refuses that without the flag.
    + (["--allow-root"] if os.geteuid() == 0 else []),
    env=env, stdout=subprocess.DEVNULL, stderr=open(work / "lab.log", "w"))
options = Options()
for arg in ["--headless=new", "--no-sandbox", "--window-size=1280,1600", "--disable-gpu"]:
    options.add_argument(arg)
options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                          options=options)
try:
    deadline = time.time() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline:
                fail("JupyterLab did not start; see " + str(work / "lab.log"))
            time.sleep(0.5)
    driver.get(f"http://127.0.0.1:{port}/lab/tree/tour.ipynb?token={token}")

    def wait_for(predicate, seconds, what):
        end = time.time() + seconds
        while time.time() < end:
            try:
                value = predicate()
                if value:
                    return value
            except Exception:
                pass
            time.sleep(0.2)
        fail(f"timed out waiting for {what}")

    # The kernel is ready when the status bar's kernel item says Idle. Only that item: "Idle" in
    # the page source matched before the kernel answered, Run All then queued every cell against a
    # kernel JupyterLab still showed as "Unknown", and nothing ran (seen once in four runs).
    wait_for(lambda: any("Trainbook" in w.text and "Idle" in w.text
                         for w in driver.find_elements(By.CSS_SELECTOR, ".jp-StatusBar-Widget")),
             240, "the Trainbook kernel to become idle")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"), 30, "cells")

    def click_menu(top, item):
        for label in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel"):
            if label.text == top:
                label.click()
                break
        entry = wait_for(lambda: [e for e in driver.find_elements(By.CSS_SELECTOR, ".lm-Menu-itemLabel")
                                  if e.text == item], 10, f"menu item {item}")
        entry[0].click()

    click_menu("Run", "Run All Cells")
    # Watch the live chart: one output area whose SVG changes while the loop runs.
    frames, counts = [], set()
    end = time.time() + 180
    while time.time() < end:
        # JupyterLab shows image/svg+xml as an <img> with a data: URL (or inline <svg>).
        sources = driver.execute_script(
            "return Array.from(document.querySelectorAll('.jp-OutputArea-output')).map(o => {"
            "  const img = o.querySelector('img[src^=\"data:image/svg+xml\"]');"
            "  if (img) return img.getAttribute('src');"
            "  const svg = o.querySelector('svg'); return svg ? svg.outerHTML : null;"
            "}).filter(s => s)")
        svgs = [svg for svg in map(decode_svg, sources) if "validation" in svg]
        if svgs:
            counts.add(len(svgs))
            if not frames or frames[-1] != svgs[0]:
                frames.append(svgs[0])
        busy = driver.execute_script(
            "return Array.from(document.querySelectorAll('.jp-InputArea-prompt'))"
            ".some(p => p.textContent.includes('*'))")
        if svgs and not busy and len(frames) >= 1:
            break
        time.sleep(0.05)
    if not frames:
        fail("the live chart never appeared")
    if counts != {1}:
        fail(f"the chart should be one output updated in place, saw {sorted(counts)} outputs")
    if len(frames) < 3:
        fail(f"the chart should redraw while the loop runs; saw {len(frames)} distinct frames")
    errors = driver.find_elements(By.CSS_SELECTOR, "[data-mime-type='application/vnd.jupyter.stderr']")
    tracebacks = [e.text for e in errors if "Error" in e.text or "panicked" in e.text]
    if tracebacks:
        fail(f"a cell failed: {tracebacks[0][:500]}")
    # Screenshot: the metrics and the final chart.
    # Bring the report, confusion matrix and chart into view.
    driver.execute_script(
        "const imgs = Array.from(document.querySelectorAll("
        "'.jp-OutputArea-output img[src^=\"data:image/svg+xml\"]'));"
        "imgs[imgs.length - 1].closest('.jp-Cell').scrollIntoView({block: 'end'});")
    time.sleep(1)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(screenshot))
    print(f"ok: {len(frames)} distinct chart frames in one output; screenshot {screenshot}")
finally:
    driver.quit()
    lab.terminate()
    lab.wait(timeout=20)
    shutil.rmtree(work, ignore_errors=True)
