"""The student's lab prints one line in the terminal: the URL to open (README, "Quick start").

Jupyter announces itself with a file to open, the URL under two host names and a log banner; the filter below
keeps the URL on 127.0.0.1 (with its token) and the format drops the banner. Errors still reach the terminal.
The rest of this lab's configuration is in the JSON file beside this one.
"""
import logging
import re


class _OneURL(logging.Filter):
    """Rewrites Jupyter's "To access the server ..." message to the one URL on 127.0.0.1."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "To access the server" in text:
            url = re.search(r"http://127\.0\.0\.1:\d+/\S*", text)
            if url:
                record.msg, record.args = f"Open DeepGrad's lab: {url.group(0)}", ()
        return True


logging.getLogger("ServerApp").addFilter(_OneURL())

c = get_config()  # noqa: F821 (Jupyter's config loader provides get_config)
c.ServerApp.log_format = "%(message)s"
