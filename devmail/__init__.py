"""The development inbox: an SMTP server that keeps every email in a Maildir, and a web page
to read them (`manage.py run_devmail`, the `mail` process of `make up`; the tests' SMTP server).

A leaf app: it imports nothing of the project, so the test tooling and the benchmarks can read
an inbox without pulling in the chat code.
"""
