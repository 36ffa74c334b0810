"""The Content-Security-Policy every page carries: inline styles and data: images only, never script.

With ``default-src 'none'`` and no ``script-src``, the browser refuses every script, inline or
not, and every network fetch, so a page stays inert even if escaping or sanitising missed
something.
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
