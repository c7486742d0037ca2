"""mkdocs hooks for the API pages made from the docstrings.

- The docstrings write cross-references in Sphinx's style (:class:`x`): shown as plain code.
- They write placeholders such as runs/<game>-<variant> in prose, which Markdown passes on
  as unknown HTML tags that a browser hides: shown as text.
"""

import re

_ROLE = re.compile(r":(?:class|func|mod|meth|attr|data|obj|exc):(?=<code>)")
_PLACEHOLDER = re.compile(r"<([a-z][a-z0-9_]*(?:-[a-z0-9_]+)*)>")  # opening, no attributes
_HTML = set(
    "a abbr article aside audio autoref b blockquote body br button canvas caption cite code col "
    "colgroup dd del details div dl dt em figcaption figure footer form h1 h2 h3 h4 h5 h6 "
    "head header hr html i iframe img input ins kbd label li link main mark meta nav "
    "noscript ol option p path pre q s samp script section select small source span strong "
    "style sub summary sup svg table tbody td template textarea tfoot th thead time title "
    "tr u ul video wbr".split()
)


def _text(match: re.Match) -> str:
    if match.group(1) in _HTML:
        return match.group(0)
    return f"&lt;{match.group(1)}&gt;"


def on_page_content(html, **kwargs):
    return _PLACEHOLDER.sub(_text, _ROLE.sub("", html))
