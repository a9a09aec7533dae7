"""Traces drawn in the app: a client of Jaeger's query API (jaeger), what the pages make of its
traces (model), and the staff pages /traces/ and /traces/<id>/ (views).

Jaeger's own UI needs assets the Go module proxy does not carry, so staff read traces here.
"""
