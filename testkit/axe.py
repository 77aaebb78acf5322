"""axe-core in our pages, for the accessibility tests.

axe-playwright-python ships axe-core (axe.min.js); we only borrow the script.
It is put into the page with `page.evaluate`, which runs through the DevTools
protocol and so is not subject to the page's Content-Security-Policy: the
production CSP (no inline script, no eval) stays as it is, and axe-core needs
neither. A `<script>` tag added by the test would be refused by that CSP.
"""

from __future__ import annotations

from collections import Counter

from axe_playwright_python.base import AXE_SCRIPT

IMPACTS = ("critical", "serious", "moderate", "minor")
BLOCKING = ("critical", "serious")

_RUN = """async (options) => {
  const results = await axe.run(document, options);
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 200), summary: n.failureSummary})),
  }));
}"""


def axe_violations(page, *, rules: list[str] | None = None) -> list[dict]:
    """axe-core's violations on the page as it is now: id, impact, help and the offending nodes."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT)
    options: dict = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    return page.evaluate(_RUN, options)


def impact_counts(violations: list[dict]) -> dict[str, int]:
    """How many offending elements of each impact (every impact present, 0 when none)."""
    counts = Counter()
    for violation in violations:
        counts[violation["impact"] or "minor"] += len(violation["nodes"])
    return {impact: counts[impact] for impact in IMPACTS}


def describe(violations: list[dict], impacts: tuple[str, ...] = IMPACTS) -> list[str]:
    """One line per violation of the given impacts: rule, impact, help and where."""
    return [
        f"{v['id']} ({v['impact']}, {len(v['nodes'])}): {v['help']} at "
        + "; ".join(n["target"] for n in v["nodes"][:4])
        + f" [{' '.join((v['nodes'][0].get('summary') or '').split())[:200]}]"
        for v in violations
        if v["impact"] in impacts
    ]


# Which element makes the page scroll sideways: hiding it (and each ancestor of it) ends the overflow.
# Measured, not guessed from boxes: what a scroll container clips and what escapes it is the browser's call.
_OVERFLOWING = """() => {
  const root = document.documentElement;
  const path = [];
  if (root.scrollWidth <= root.clientWidth) return '';
  let parent = document.body;
  while (parent) {
    const culprit = Array.from(parent.children).find((child) => {
      const before = child.style.display;
      child.style.display = 'none';
      const fits = root.scrollWidth <= root.clientWidth;
      child.style.display = before;
      return fits;
    });
    if (!culprit) break;
    path.push(culprit.tagName.toLowerCase() + (culprit.id ? '#' + culprit.id : '') +
      (culprit.classList.length ? '.' + Array.from(culprit.classList).join('.') : ''));
    parent = culprit;
  }
  return path.join(' > ');
}"""


def overflowing(page) -> str:
    """The element that makes the page scroll sideways, as a path from <body> ("" when none is found)."""
    return page.evaluate(_OVERFLOWING)


def sideways_overflow(page) -> int:
    """By how many CSS pixels the page scrolls sideways (0: it fits its viewport)."""
    return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


# Controls smaller than a thumb (44 x 44 CSS px, WCAG 2.5.5). A link inside a sentence is exempt, as
# WCAG exempts inline targets; a checkbox counts with its label; what is not rendered is skipped.
_SMALL_TARGETS = """(min) => {
  const describe = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    (e.classList.length ? '.' + Array.from(e.classList).join('.') : '') +
    ' "' + (e.getAttribute('aria-label') || e.textContent || e.value || '').trim().slice(0, 30) + '"';
  const inSentence = (e) => {
    const around = e.parentElement ? e.parentElement.textContent.replace(e.textContent, '') : '';
    return getComputedStyle(e).display === 'inline' && /\\w/.test(around);
  };
  const small = [];
  const controls = document.querySelectorAll(
    'a[href], button, summary, input:not([type=hidden]), select, textarea, [tabindex]');
  for (const e of controls) {
    if (!e.getClientRects().length || e.closest('.visually-hidden, [hidden], [inert]')) continue;
    const style = getComputedStyle(e);
    if (style.visibility === 'hidden' || style.opacity === '0') continue;
    if (e.tagName === 'A' && inSentence(e)) continue;
    let box = e.getBoundingClientRect();
    const label = e.closest('label');
    if (label && (e.type === 'checkbox' || e.type === 'radio' || e.type === 'file')) box = label.getBoundingClientRect();
    if (box.width < min - 0.5 || box.height < min - 0.5) {
      small.push(describe(e) + ' ' + Math.round(box.width) + 'x' + Math.round(box.height));
    }
  }
  return small;
}"""

THUMB = 44  # px


def small_targets(page) -> list[str]:
    """The page's controls smaller than THUMB px either way, each with its size."""
    return page.evaluate(_SMALL_TARGETS, THUMB)
